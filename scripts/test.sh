#!/usr/bin/env bash
# The test command: set up the toolchain if needed, type-check, run the whole suite.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$CB_ROOT"
echo "[test] type-checking with $(npx --no-install tsc --version)"
npx --no-install tsc -p tsconfig.json
echo "[test] running the suite on Node $(node --version)"
exec npx --no-install vitest run "$@"
