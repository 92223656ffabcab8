"""The CUDA-only tests: collected only with SAM2_TEST_DEVICE=cuda (ignored, not skipped, elsewhere:
CI=true fails skips). Run them with ``SAM2_TEST_DEVICE=cuda bash scripts/test.sh`` or benchmarks/gpu.sh."""

from tests.models import TEST_DEVICE

collect_ignore_glob = [] if TEST_DEVICE.startswith("cuda") else ["test_*.py"]
