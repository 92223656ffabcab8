"""benchmarks/gpu.sh --dry-run: every part of the GPU run that a CPU can run (issue 13).

The GPU run itself (parity on CUDA, fps, syncs, GPU memory) needs a GPU; here the same script and
the same benchmark code run on the CPU with the tiny model, and the tables must come out whole.
"""

import os
import subprocess
import warnings
from pathlib import Path

import torch

from benchmarks.gpu_counters import SYNC_WARNING, SyncCounter, peak_memory_mib

ROOT = Path(__file__).resolve().parent.parent
ROWS = [
    "| tiny | no | ",  # image: set_image and click, ours / reference, and the fp32 logit difference
    "| tiny | 1 | no | ",  # video fps, 1 object
    "| tiny | 3 | no | ",  # and 3
    "| 1 | n/a | n/a |",  # syncs per frame: measured on CUDA only
    "| 3 | n/a | n/a |",
    "| tiny | ours | 2, 4 | n/a | n/a | n/a |",  # peak memory: CUDA only
    "| tiny | ref | 2, 4 | n/a | n/a | n/a |",
]


def test_dry_run_prints_every_table_row(tmp_path):
    out_file = tmp_path / "gpu_results.md"
    env = {**os.environ, "GPU_BENCH_OUT": str(out_file), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
    env.pop("SAM2_TEST_DEVICE", None)
    run = subprocess.run(
        ["bash", "benchmarks/gpu.sh", "--dry-run"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "tests collected" in run.stdout  # the parity selection collects as a GPU run would
    table = out_file.read_text()
    assert table in run.stdout  # printed, and written for benchmarks/README.md
    for row in ROWS:
        assert row in table, row
    assert "skipped" not in table
    image_row = next(line for line in table.splitlines() if line.startswith(ROWS[0]))
    parity = float(image_row.rstrip(" |").rsplit("|", 1)[1])
    assert parity <= 1e-4  # ours and the reference in exact fp32 on the CPU


def test_sync_counter_counts_the_sync_warnings_and_says_when_it_measured():
    with SyncCounter("cpu") as syncs:
        for _ in range(2):  # the same call site twice: both counted
            warnings.warn(SYNC_WARNING, stacklevel=1)
        warnings.warn("something else", stacklevel=1)
    assert syncs.warned == 2
    assert syncs.count is None  # torch counts syncs on CUDA only
    assert peak_memory_mib(torch.device("cpu")) is None


def test_tables_say_which_rows_were_skipped_or_failed():
    from benchmarks.bench_gpu import markdown

    error = {"error": "OutOfMemoryError: CUDA out of memory"}
    results = {
        "image": {("large", "no"): error, ("large", "yes"): None},
        "video": {("large", 3, "no"): error, ("tiny", 1, "yes"): {"ours": {"fps": 50.0}}},
        "syncs": {1: {"ours": 4.0, "ref": 1.0}, 3: None},
        "memory": {("tiny", "ours"): {"early": 50, "frames": 500, "peaks": {50: 100.0, 500: 102.0}}},
    }
    table = markdown(results, "header")
    assert "| large | no | OutOfMemoryError: CUDA out of memory |" in table
    assert "| large | yes | skipped (budget) |" in table
    assert "| large | 3 | no | OutOfMemoryError" in table
    assert "| tiny | 1 | yes | 50.00 | n/a | n/a |" in table  # compiled: ours only
    assert "| 1 | 4.0 | 1.0 |" in table and "| 3 | skipped (budget) | |" in table
    assert "| tiny | ours | 50, 500 | 100.0 | 102.0 | 1.02x |" in table
