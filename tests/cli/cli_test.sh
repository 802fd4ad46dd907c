#!/usr/bin/env bash
# The `infera` command line, end to end on the real default model: each check runs the binary as a
# user would and looks at its exit code and output. Usage: cli_test.sh INFERA_BINARY
set -uo pipefail
infera="$1"
model="${INFERA_MODELS_DIR:-$HOME/.cache/infera/models}/SmolLM2-135M-Instruct.Q4_1.gguf"
[[ -f "$model" ]] || { echo "missing $model: run tools/fetch_models.sh"; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
failures=0
passes=0

check() {  # check NAME EXPECTED_EXIT PATTERN -- COMMAND...
  local name="$1" want_exit="$2" pattern="$3"
  shift 4
  local out rc
  out="$("$@" 2>&1)"
  rc=$?
  if [[ $rc -ne $want_exit ]] || ! grep -qE -- "$pattern" <<<"$out"; then
    echo "FAIL $name: exit $rc (want $want_exit), output:"
    head -c 2000 <<<"$out"
    echo
    failures=$((failures + 1))
  else
    echo "ok   $name"
    passes=$((passes + 1))
  fi
}

check "inspect shows the architecture" 0 "llama" -- "$infera" inspect "$model"
printf 'GGUF\x03\x00\x00\x00garbage' >"$tmp/bad.gguf"
check "inspect rejects a truncated file" 1 "^infera: error: .*bad.gguf" -- "$infera" inspect "$tmp/bad.gguf"
check "inspect names a missing file" 1 "infera: error: .*no-such.gguf" -- "$infera" inspect "$tmp/no-such.gguf"
check "run answers Paris" 0 "Paris" -- "$infera" run -m "$model" -p "The capital of France is" --greedy -n 8 -t 2
check "run reports loading" 0 "infera: loaded .*SmolLM2.* \(llama, 94 MiB\)" -- "$infera" run -m "$model" -p "Hello" --greedy -n 1
check "run answers Paris from the mapped file (--mmap)" 0 "Paris" -- "$infera" run -m "$model" -p "The capital of France is" --greedy -n 8 -t 2 --mmap
check "run prints its summary" 0 "generated 8 tokens" -- "$infera" run -m "$model" -p "Hello" --greedy -n 8
check "run rejects top-p 2" 1 "top_p" -- "$infera" run -m "$model" -p "Hello" --top-p 2
check "run rejects a bad model file" 1 "infera: error" -- "$infera" run -m "$tmp/bad.gguf" -p "Hello"
check "run rejects a prompt over the context" 1 "does not fit" -- "$infera" run -m "$model" -p "$(printf 'word %.0s' {1..300})" -c 64
check "chat from stdin answers Paris" 0 "Paris" -- bash -c "printf 'What is the capital of France?\n' | '$infera' chat -m '$model' --greedy -n 32 --system 'You are a helpful assistant. Answer in one sentence.'"
check "chat handles several turns" 0 "reused" -- bash -c "printf 'Hi\nWhat is 2+2?\n' | '$infera' chat -m '$model' --greedy -n 16"
# 4-bit weights read 66 MB of layer matrices per token; dequantized to f32 at load, 425 MB.
check "bench reads f32 weights with --f32-weights" 0 '"layer_matrices":42[0-9]{7},' -- "$infera" bench -m "$model" -p 0 -n 1 -r 1 --no-probe --json --f32-weights
check "bench reads the file's weights by default" 0 '"layer_matrices":66[0-9]{6},' -- "$infera" bench -m "$model" -p 0 -n 1 -r 1 --no-probe --json
check "bench runs each test at each depth" 0 '"name":"tg2 @ d16","kind":"tg","n_tokens":2,"n_depth":16' -- "$infera" bench -m "$model" -p 0 -n 2 -d 0,16 -r 1 --no-probe --json
check "bench rejects a negative depth" 105 "n-depth" -- "$infera" bench -m "$model" -p 0 -n 1 -d -1 --no-probe
check "serve rejects a batch smaller than --parallel" 1 "batch-size must be at least --parallel" -- "$infera" serve -m "$model" --port 0 --parallel 8 --batch-size 4
check "serve rejects a KV cache below one context" 1 "must hold at least one whole context" -- "$infera" serve -m "$model" --port 0 -c 1024 --kv-cache-tokens 100
check "serve names a missing API key file" 1 "cannot read the API key file" -- "$infera" serve -m "$model" --port 0 --api-key-file "$tmp/no-such-key"

echo "$passes passed, $failures failed"
[[ $failures -eq 0 ]]
