#!/usr/bin/env bash
# Runs the OpenAI-SDK integration test of `infera serve` against the real default model.
# Usage: tests/server/run.sh BUILD_DIR   (BUILD_DIR holds the `infera` binary)
# Uses the repository's .venv (scripts/install_deps.sh) and installs the `openai` package there
# when it is missing. Model: $INFERA_DATA_DIR/models (default ~/.cache/infera/models).
set -euo pipefail
if [[ $# -ne 1 ]]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="$(cd "$1" && pwd)"
py="$root/.venv/bin/python"
if [[ ! -x "$py" ]]; then
  echo "infera: $py missing; run scripts/install_deps.sh" >&2
  exit 1
fi
if ! "$py" -c "import openai" 2>/dev/null; then
  "$py" -m pip install --quiet --disable-pip-version-check "openai>=1.40,<3"
fi
exec "$py" "$here/test_openai_sdk.py" --infera "$build/infera"
