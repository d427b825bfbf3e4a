#!/usr/bin/env bash
# Runs the cluster-backup command on the project's toolchain (installed on first use).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
exec node "$CB_ROOT/bin/cluster-backup.js" "$@"
