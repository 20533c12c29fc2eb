#!/usr/bin/env bash
# First command for a newcomer: install the Debian packages, build mxclient (build/), and run the
# demo delivery through the local testbed (needs root: the testbed's servers use port 25 and 53).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake --preset dev
cmake --build --preset dev
if [ "${1:-}" != "--no-demo" ]; then
  bash scripts/demo.sh
fi
