#!/usr/bin/env bash
# Builds the libFuzzer targets (preset `fuzz`: clang, ASan + UBSan) and fuzzes the GGUF reader.
#   scripts/fuzz.sh [SECONDS]      (default 60)
# The committed seeds in fuzz/corpus are copied to build/fuzz-corpus, which grows as the fuzzer
# finds new inputs (not in git). Crashes land in build/fuzz-artifacts; the script then exits non-zero.
set -euo pipefail

seconds="${1:-60}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz --target gguf_fuzzer

corpus="$root/build/fuzz-corpus"
artifacts="$root/build/fuzz-artifacts"
mkdir -p "$corpus" "$artifacts"
cp -n fuzz/corpus/* "$corpus"/ 2>/dev/null || true

jobs_flag=()
if [[ -n "${FUZZ_JOBS:-}" ]]; then jobs_flag=(-jobs="$FUZZ_JOBS" -workers="$FUZZ_JOBS"); fi

set +e
"$root/build/fuzz/fuzz/gguf_fuzzer" "$corpus" \
  -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
  -artifact_prefix="$artifacts/" -print_final_stats=1 "${jobs_flag[@]}"
status=$?
set -e

if [[ $status -ne 0 ]]; then
  echo "fuzz.sh: the fuzzer found a problem (exit $status); reproducers in $artifacts" >&2
  exit "$status"
fi
echo "fuzz.sh: no findings in ${seconds}s"
