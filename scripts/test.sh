#!/usr/bin/env bash
# The test command: set up the toolchain if needed, type-check, check format and lint, run the whole suite, and end
# with one plain "N passed, N failed" line.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$CB_ROOT"
echo "[test] type-checking with $(npx --no-install tsc --version)"
npx --no-install tsc -p tsconfig.json
echo "[test] format and lint with $(npx --no-install biome --version)"
npx --no-install biome check .
echo "[test] running the suite on Node $(node --version)"
results="$CB_ROOT/.tmp/vitest-results.json"
mkdir -p "$(dirname "$results")" && rm -f "$results"
status=0
npx --no-install vitest run --reporter=default --reporter=json --outputFile.json="$results" "$@" || status=$?
if [ -f "$results" ]; then
  node -e 'const r = require(process.argv[1]); console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed`)' "$results"
fi
exit "$status"
