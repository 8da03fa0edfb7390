#!/usr/bin/env bash
# scripts/eval-shipped on the evaluation sample (tests/data/eval-sample), against the figures committed
# in expected.json: every key there, and no other, with the same value. A changed model, a changed
# reading or a key that moved makes it fail; after a deliberate change, rerun with UPDATE=1 and commit
# the new expectation with the change.
set -euo pipefail
bin_dir=$1 work=$2
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
rm -rf "$work" && mkdir -p "$work"
DATA="$root/tests/data/eval-sample" OUT="$work/out" BUILD="$bin_dir" MODELS="$root/models" FACE_CACHE="$work/faces" \
  "$root/scripts/eval-shipped" > "$work/figures.json"
if [[ ${UPDATE:-0} == 1 ]]; then cp "$work/figures.json" "$here/expected.json"; fi
python3 - "$work/figures.json" "$here/expected.json" <<'PY'
import json, sys
got, want = (json.load(open(f)) for f in sys.argv[1:3])
problems = [f"missing key {k}" for k in want if k not in got] + [f"unexpected key {k}" for k in got if k not in want]
for k in sorted(set(got) & set(want)):
    g, w = got[k], want[k]
    same = abs(g - w) <= 1e-6 if isinstance(w, float) and isinstance(g, (int, float)) else g == w
    if not same:
        problems.append(f"{k}: got {g}, expected {w}")
if problems:
    sys.exit("eval-shipped on the sample differs from tests/eval-shipped/expected.json:\n  " + "\n  ".join(problems))
print(f"eval-shipped: {len(want)} figures as expected")
PY
