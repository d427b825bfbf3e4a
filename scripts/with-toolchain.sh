#!/usr/bin/env bash
# Runs CMD ARGS... on the project's toolchain (Node 24, etcd 3.5 and node_modules/.bin first on
# PATH, installed on first use): npm runs its scripts with the machine's own Node, which may be
# too old to run the TypeScript sources.
set -euo pipefail
[ "$#" -gt 0 ] || { echo "usage: bash scripts/with-toolchain.sh CMD [ARGS...]" >&2; exit 2; }
. "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
export PATH="$CB_ROOT/node_modules/.bin:$PATH"
exec "$@"
