#!/usr/bin/env bash
# Starts `emopost serve` on a free loopback port, runs the browser tests against it, then checks
# that SIGTERM lets a request in flight finish before the server exits.
# Usage: run.sh EMOPOST_BINARY ARTIFACT_DIR
set -euo pipefail
bin=$1
artifacts=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$artifacts"
log="$artifacts/serve.log"

# A SIGTERM that comes while the server is still starting must drain it too (exit 0), not kill it.
"$bin" --threads 2 serve --port 0 --models "$root/models" >"$artifacts/early.log" 2>&1 &
early=$!
for _ in $(seq 1 100); do grep -q "serving http" "$artifacts/early.log" && break; sleep 0.05; done
kill -TERM "$early"  # the models are still loading
wait "$early" && rc=0 || rc=$?
[[ $rc == 0 ]] || { echo "a SIGTERM during start-up: exit $rc, not 0"; cat "$artifacts/early.log"; exit 1; }
grep -q "signal 15: finishing requests in flight" "$artifacts/early.log" \
  || { echo "a SIGTERM during start-up was not handled as a stop:"; cat "$artifacts/early.log"; exit 1; }
echo "ok - SIGTERM during start-up stopped the server cleanly"

"$bin" --threads 2 serve --port 0 --models "$root/models" >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  port=$(sed -n 's|.*serving http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$log" | head -1)
  if [[ -n "$port" ]] && curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; then break; fi
  sleep 0.2
done
[[ -n "${port:-}" ]] || { echo "the server did not start:"; cat "$log"; exit 1; }
base="http://127.0.0.1:$port"

if [[ ! -d "$root/node_modules/playwright-core" ]]; then
  echo "node_modules/playwright-core is missing: run scripts/install-deps (it runs npm ci)"
  exit 1
fi
node "$root/tests/e2e/web.mjs" "$base/" "$root/samples" "$artifacts"

# Drain on SIGTERM: a slow request (a long caption, explained word by word) is in flight when the
# signal comes; it must still get its 200, and the server must exit 0.
text=$(printf 'so happy and grateful for this wonderful day %.0s' $(seq 1 6))
curl -s -o "$artifacts/drain.json" -w '%{http_code}' -H 'Content-Type: application/json' \
  -d "{\"text\": \"$text\", \"explain\": true}" "$base/v1/predict" >"$artifacts/drain.status" &
curl_pid=$!
sleep 0.05
kill -TERM "$pid"
wait "$curl_pid"
status=$(cat "$artifacts/drain.status")
wait "$pid" && rc=0 || rc=$?
trap - EXIT
[[ "$status" == 200 ]] || { echo "request in flight at SIGTERM got $status"; cat "$log"; exit 1; }
[[ $rc == 0 ]] || { echo "server exited $rc after SIGTERM"; exit 1; }
# Logged only when a signal really arrived (not when the watcher is woken at a normal exit), and
# before the server's last line.
grep -q "signal 15: finishing requests in flight" "$log" || { echo "no drain message in the log"; exit 1; }
[[ $(grep -n "signal 15" "$log" | cut -d: -f1) -lt $(grep -n "] stopped" "$log" | cut -d: -f1) ]] \
  || { echo "the drain message does not come before the stop"; cat "$log"; exit 1; }
echo "ok - SIGTERM drained the request in flight and exited 0"
