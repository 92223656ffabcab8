#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the demo. Extra arguments go to the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python examples/image_demo.py "$@"
