#!/bin/bash
# infera and llama.cpp (llama-cpp-python) on the same files, one model at a time, infera first,
# 2 threads, under real-time priority when allowed (chrt -f 1 shields the runs from other load on a
# shared host; without root it falls back to normal priority). Prints both tools' tables.
#
#   bench/side_by_side.sh [MODEL:N_GEN:REPS[:DEPTH] ...]
# DEPTH: tokens already in the context for both tools' tests (-d), 0 when left out.
# Default: the models of bench/RESULTS.md "Latest" (synthetic ones from
# tools/make_synthetic_model.py --arch-preset P --type T --seed 1 --out /tmp/<name>.gguf).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
INFERA=${INFERA:-$ROOT/build/release/infera}
PY=${PY:-/work/refvenv/bin/python}
MODELS_DIR=${INFERA_MODELS_DIR:-$HOME/.cache/infera/models}
PRIO=()
if chrt -f 1 true 2>/dev/null; then PRIO=(chrt -f 1); fi

if [ $# -eq 0 ]; then
  set -- "$MODELS_DIR/SmolLM2-135M-Instruct.Q4_1.gguf:128:3" \
    "$MODELS_DIR/gemma-3-270m-q4_k_m.gguf:128:3" \
    /tmp/llama1b-Q4_0.gguf:64:2 /tmp/llama1b-Q4_K_M.gguf:64:2 /tmp/llama1b-Q8_0.gguf:64:2 \
    /tmp/llama1b-F16.gguf:32:2 /tmp/qwen05b-Q4_0.gguf:64:2 /tmp/qwen05b-Q4_K_M.gguf:64:2
fi

echo "=== read bandwidth"
"${PRIO[@]}" "$INFERA" bench -m "${1%%:*}" -p 0 -n 16 -t 2 -r 1 2>/dev/null | tail -4
for spec in "$@"; do
  IFS=: read -r model n_gen reps depth <<<"$spec"
  depth=${depth:-0}
  if [ ! -f "$model" ]; then
    echo "=== $model: not found, skipped" >&2
    continue
  fi
  echo "=== $model pp512 tg$n_gen r$reps d$depth $(date -u +%H:%M:%S)"
  "${PRIO[@]}" "$INFERA" bench -m "$model" -p 512 -n "$n_gen" -d "$depth" -t 2 -r "$reps" \
    --no-probe 2>/dev/null | grep "|"
  "${PRIO[@]}" "$PY" "$ROOT/tools/bench_llama_cpp.py" -m "$model" -p 512 -n "$n_gen" -d "$depth" \
    -t 2 -r "$reps" 2>/dev/null | grep -E "pp|tg"
done
