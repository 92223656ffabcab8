#!/usr/bin/env bash
# Set up (scripts/setup.sh) and open the main demo, examples/01_image.ipynb, in JupyterLab.
# Extra arguments go to JupyterLab (e.g. --no-browser --port 8899).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Jupyter refuses to run as root unless told (containers, CI machines often are root).
root_flag=()
[ "$(id -u)" = 0 ] && root_flag=(--allow-root)
exec .venv/bin/python -m jupyter lab "${root_flag[@]}" examples/01_image.ipynb "$@"
