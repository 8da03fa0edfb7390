#!/usr/bin/env bash
# `emopost telegram` as a user starts it: a bad or missing token is a clear error that never shows
# the token; with a Bot API it cannot reach, it keeps retrying, serves its metrics, and SIGTERM ends
# it with exit 0. (The bot's behaviour against a Bot API is tests/test_bot.cpp's.)
# Usage: run.sh EMOPOST_BINARY ARTIFACT_DIR
set -euo pipefail
bin=$1
artifacts=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$artifacts"
mkdir -p "$artifacts"
cd "$artifacts"
token="123456789:AAE-cli_Secret-Token"

rc=0; env -u TELEGRAM_BOT_TOKEN "$bin" telegram --models "$root/models" 2>missing.log || rc=$?
[[ $rc == 2 ]] && grep -q "no bot token: give --token-file PATH or set TELEGRAM_BOT_TOKEN" missing.log \
  || { echo "a missing token: exit $rc"; cat missing.log; exit 1; }
echo "bad token/$token" >bad.token
rc=0; "$bin" telegram --token-file bad.token --models "$root/models" 2>bad.log || rc=$?
[[ $rc == 2 ]] && grep -q "a character a Telegram token cannot have" bad.log && ! grep -q "$token" bad.log \
  || { echo "a malformed token: exit $rc"; cat bad.log; exit 1; }
echo "ok - a missing or malformed token is a clear error that does not show it"

echo "$token" >bot.token
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# Started as a user starts it, without OMP_WAIT_POLICY: emopost sets its wait policy itself.
env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT "$bin" --threads 2 telegram --token-file bot.token --api-url http://127.0.0.1:9 --state state.sqlite \
  --models "$root/models" --metrics-port "$port" --request-timeout 2 2>bot.log &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/metrics" >metrics.txt && break; sleep 0.1; done
grep -q "^# TYPE emopost_bot_replies_total counter" metrics.txt || { echo "no metrics:"; cat metrics.txt bot.log; exit 1; }
tr '\0' '\n' </proc/$pid/environ >environ.txt
grep -qx "OMP_WAIT_POLICY=passive" environ.txt && grep -qx "GOMP_SPINCOUNT=3000" environ.txt \
  || { echo "the bot runs without its OpenMP wait policy:"; cat environ.txt; exit 1; }
echo "ok - started without OMP_WAIT_POLICY, it spins briefly, then sleeps"
for _ in $(seq 1 50); do grep -q "cannot reach the Bot API" bot.log && break; sleep 0.1; done
grep -q "cannot reach the Bot API" bot.log || { echo "no retry logged:"; cat bot.log; exit 1; }
kill -TERM "$pid"
wait "$pid" && rc=0 || rc=$?
trap - EXIT
[[ $rc == 0 ]] || { echo "SIGTERM: exit $rc, not 0"; cat bot.log; exit 1; }
grep -q "signal 15: finishing replies in flight" bot.log || { echo "SIGTERM was not handled as a stop"; cat bot.log; exit 1; }
! grep -q "$token" bot.log state.sqlite* || { echo "the token was written"; exit 1; }
echo "ok - unreachable API retried, metrics served, SIGTERM exits 0, the token written nowhere"
