#!/usr/bin/env bash
# Create .venv (if missing) and install the project with its test dependencies and
# the official sam2 package that the parity tests and benchmarks compare against.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
# torch and torchvision pinned to the builds our development machines carry locally;
# override with TORCH_SPEC on other machines (e.g. TORCH_SPEC="torch torchvision").
TORCH_SPEC=${TORCH_SPEC:-"torch==2.14.1 torchvision==0.29.1"}

# The browser end-to-end tests (tests/e2e) drive Debian's chromium through Playwright
# (`playwright install` cannot download browsers on our machines). Install it where we
# can; elsewhere those tests skip with the reason (and fail under CI=true).
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# shellcheck disable=SC1091
. .venv/bin/activate
python -m pip install -q --upgrade pip
# shellcheck disable=SC2086
python -m pip install -q $TORCH_SPEC
python -m pip install -q -e '.[test]'
# The reference is an sdist whose setup.py imports torch: build it against ours,
# without its optional CUDA extension.
python -c "import sam2" 2>/dev/null ||
  SAM2_BUILD_CUDA=0 python -m pip install -q --no-build-isolation sam2==1.1.0
# The official EdgeTAM (edgetam-dimos) is also imported as `sam2`, so it lives in its own
# folder, outside site-packages; the EdgeTAM parity test and benchmarks run it in a
# subprocess with that folder first on PYTHONPATH. Its dependencies are ours already.
[ -f .venv/edgetam-reference/sam2/modeling/perceiver.py ] ||
  python -m pip install -q --no-deps --target .venv/edgetam-reference edgetam-dimos==1.0.1
