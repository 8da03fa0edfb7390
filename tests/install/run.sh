#!/usr/bin/env bash
# Installs emopost into a temporary prefix, then runs `predict` and `serve` from another folder with
# no --models: the installed binary must find its installed models (share/emopost/models).
# Usage: run.sh BUILD_DIR WORK_DIR
set -euo pipefail
build=$1
work=$2
rm -rf "$work"
mkdir -p "$work/prefix" "$work/elsewhere"
cmake --install "$build" --prefix "$work/prefix" >"$work/install.log"
bin="$work/prefix/bin/emopost"
[[ -x "$bin" ]] || { echo "no binary at $bin"; exit 1; }
[[ -f "$work/prefix/share/emopost/models/text/model.safetensors" ]] || { echo "models not installed"; exit 1; }
cd "$work/elsewhere"
unset EMOPOST_MODELS

# predict: a clear verdict, read by the installed models
"$bin" --threads 2 predict --text "I am so happy today, this is wonderful" --json >predict.json
grep -q '"label": "joy"' predict.json || { echo "predict from elsewhere:"; cat predict.json; exit 1; }
grep -q "share/emopost/models" <("$bin" predict --help) || { echo "--help does not say where models come from"; exit 1; }

# Numeric options are checked before anything loads, with a message that names the option.
refused() {  # refused OPTION ARGS...: emopost ARGS must fail, naming OPTION
  local option=$1
  shift
  local rc=0
  "$bin" "$@" >bad.out 2>&1 || rc=$?
  [[ $rc == 2 ]] || { echo "emopost $* exited $rc, not 2 (invalid_input)"; exit 1; }
  grep -q -- "$option" bad.out || { echo "emopost $*: the message does not name $option:"; cat bad.out; exit 1; }
}
refused --batch-size predict --batch-size 0 --text hi
refused --http-threads serve --http-threads 0
refused --port serve --port 70000
refused --threads --threads -1 predict --text hi

# serve: ready on the installed models, answers a post
"$bin" --threads 2 serve --port 0 >serve.log 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
port=""
for _ in $(seq 1 150); do
  port=$(sed -n 's|.*serving http://127.0.0.1:\([0-9]*\)/.*|\1|p' serve.log | head -1)
  if [[ -n "$port" ]] && curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; then break; fi
  sleep 0.2
done
curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { echo "the installed server did not get ready:"; cat serve.log; exit 1; }
answer=$(curl -s -H 'Content-Type: application/json' -d '{"text": "this is terrifying, I am so scared"}' \
  "http://127.0.0.1:$port/v1/predict")
grep -q '"label":"fear"' <<<"$answer" || { echo "serve from elsewhere answered: $answer"; exit 1; }
grep -q '"path":"'"$work/prefix/share/emopost/models/text"'"' <(curl -s "http://127.0.0.1:$port/v1/models") \
  || { echo "the server did not read the installed models"; exit 1; }
kill -TERM "$pid"
wait "$pid"
trap - EXIT
echo "ok - installed emopost predicts and serves from another folder"
