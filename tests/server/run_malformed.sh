#!/usr/bin/env bash
# Runs the malformed-request corpus (tests/server/malformed_corpus.py) against `infera serve` on
# the real default model, then an authentication phase with --api-key. Each phase starts the server
# on a free port (--port 0; the port is read from its "serving ... on" line), waits for /health,
# runs the corpus, stops the server with SIGTERM and requires exit status 0 and no sanitizer report
# on its stderr. Under an ASan+UBSan build, a leak or undefined behaviour therefore fails the test.
# Usage: tests/server/run_malformed.sh INFERA_BINARY
# Model: $INFERA_DATA_DIR/models (default ~/.cache/infera/models). Needs only python3's stdlib.
set -euo pipefail
if [[ $# -ne 1 ]]; then
  echo "usage: $0 INFERA_BINARY" >&2
  exit 2
fi
here="$(cd "$(dirname "$0")" && pwd)"
infera="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
model="${INFERA_DATA_DIR:-$HOME/.cache/infera}/models/SmolLM2-135M-Instruct.Q4_1.gguf"
ctx=512
max_body_mb=1
if [[ ! -x "$infera" ]]; then
  echo "infera: $infera is not an executable" >&2
  exit 1
fi
if [[ ! -f "$model" ]]; then
  echo "infera: $model missing; run tools/fetch_models.sh" >&2
  exit 1
fi
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

work="$(mktemp -d)"
pid=""
cleanup() {
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# start_server NAME ARGS...: starts `infera serve`, sets pid and port, waits for /health.
start_server() {
  local name="$1"
  shift
  : >"$work/$name.out"
  "$infera" serve -m "$model" --port 0 -c "$ctx" --max-body-mb "$max_body_mb" \
    --shutdown-timeout 5 "$@" >"$work/$name.out" 2>"$work/$name.err" &
  pid=$!
  port=""
  for _ in $(seq 1 600); do  # up to 120 s: a sanitizer build loads slowly
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "infera serve ($name) exited while starting:" >&2
      cat "$work/$name.err" >&2
      return 1
    fi
    port="$(sed -n 's|.* on http://[^:]*:\([0-9]*\) .*|\1|p' "$work/$name.out" | head -n 1)"
    if [[ -n "$port" ]] && python3 - "$port" <<'PY' 2>/dev/null; then
import sys, urllib.request
url = f"http://127.0.0.1:{sys.argv[1]}/health"
sys.exit(0 if urllib.request.urlopen(url, timeout=5).status == 200 else 1)
PY
      return 0
    fi
    sleep 0.2
  done
  echo "infera serve ($name) did not become healthy" >&2
  return 1
}

# stop_server NAME: SIGTERM, then exit status 0 and a clean stderr are required.
stop_server() {
  local name="$1" rc=0 ok=1
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" || rc=$?
  pid=""
  if [[ $rc -ne 0 ]]; then
    echo "FAIL infera serve ($name) exited with status $rc after SIGTERM" >&2
    ok=0
  fi
  if grep -q -e 'runtime error:' -e 'AddressSanitizer' -e 'LeakSanitizer' "$work/$name.err"; then
    echo "FAIL infera serve ($name) reported a sanitizer error" >&2
    ok=0
  fi
  if [[ $ok -eq 0 ]]; then
    echo "--- stderr of infera serve ($name), last 80 lines:" >&2
    tail -n 80 "$work/$name.err" >&2
    return 1
  fi
}

status=0
echo "== malformed corpus against $infera"
start_server corpus
python3 "$here/malformed_corpus.py" --port "$port" --max-body-mb "$max_body_mb" --ctx-size "$ctx" ||
  status=1
stop_server corpus || status=1

echo "== authentication cases (--api-key)"
key="sk-malformed-$RANDOM$RANDOM"
start_server auth --api-key "$key"
python3 "$here/malformed_corpus.py" --port "$port" --api-key "$key" || status=1
stop_server auth || status=1

if [[ $status -eq 0 ]]; then
  echo "server_malformed_corpus: PASS"
else
  echo "server_malformed_corpus: FAIL"
fi
exit $status
