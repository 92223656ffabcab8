#!/usr/bin/env bash
# Set up (scripts/setup.sh) and open the main demo, examples/01_image.ipynb, in JupyterLab.
# Extra arguments go to JupyterLab (e.g. --no-browser --port 8899).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m jupyter lab examples/01_image.ipynb "$@"
