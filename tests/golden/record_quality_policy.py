"""Record what SAM 3's own memory-selection code chooses, for the "quality" policy's golden.

SAM 3's tracker (github.com/facebookresearch/sam3, ``sam3/model/sam3_tracker_base.py``) runs
only with its own model on CUDA, so its rule is run by itself: the two methods that make it,
``cal_mem_score`` (a tracked frame's score) and ``frame_filter`` (the frames searched back from
the previous one that score above ``mf_threshold``), are taken from the file as written (parsed
with ``ast``, compiled, never copied into our code) and called on a stand-in ``self`` holding
the settings they read (``mf_threshold``, ``max_obj_ptrs_in_encoder``). The cases: clips of 6
to 40 frames, random presence logits and IoUs (some frames absent, some never tracked), both
directions, strides 1 and 2, thresholds 0.01 (SAM 3's default) and 0.3. What the file holds
per case: the inputs, SAM 3's score per tracked frame and its chosen frames.

    python tests/golden/record_quality_policy.py --sam3 /path/to/sam3/checkout

``--sam3``: a git directory (a checkout or a bare mirror) holding the commit below.
"""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

COMMIT = "99d02f2"
SOURCE = "sam3/model/sam3_tracker_base.py"
OUT = Path(__file__).with_name("quality.json")
MAX_OBJ_PTRS = 16  # SAM 2.1's max_obj_ptrs_in_encoder, what SAM 3's tracker uses too


def sam3_methods(repo: Path) -> dict:
    """``cal_mem_score`` and ``frame_filter`` from SAM 3's file at COMMIT, as plain functions."""
    text = subprocess.run(
        ["git", "-C", str(repo), "show", f"{COMMIT}:{SOURCE}"], check=True, capture_output=True, text=True
    ).stdout
    wanted = {}
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef) and node.name in ("cal_mem_score", "frame_filter"):
            wanted[node.name] = node
    module = ast.Module(body=list(wanted.values()), type_ignores=[])
    namespace: dict = {"torch": torch}
    exec(compile(module, SOURCE, "exec"), namespace)
    return {name: namespace[name] for name in wanted}


def cases(rng: np.random.Generator) -> list[dict]:
    out = []
    for _ in range(60):
        num_frames = int(rng.integers(6, 41))
        frame = int(rng.integers(0, num_frames))
        tracked = [t for t in range(num_frames) if t != frame and rng.random() > 0.15]
        out.append(
            {
                "num_frames": num_frames,
                "frame": frame,
                "reverse": bool(rng.random() < 0.5),
                "stride": int(rng.choice([1, 2])),
                "threshold": float(rng.choice([0.01, 0.3])),
                "scores": {  # frame -> (predicted IoU, object-score logit); absent where the logit <= 0
                    str(t): [float(rng.uniform(0, 1)), float(rng.normal(1.0, 3.0))] for t in tracked
                },
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sam3", type=Path, required=True)
    args = parser.parse_args()
    methods = sam3_methods(args.sam3)
    recorded = []
    for case in cases(np.random.default_rng(0)):
        stand_in = SimpleNamespace(mf_threshold=case["threshold"], max_obj_ptrs_in_encoder=MAX_OBJ_PTRS)
        outputs, sam3_scores = {}, {}
        for t, (iou, logit) in case["scores"].items():
            score = methods["cal_mem_score"](stand_in, torch.tensor([[logit]]), torch.tensor([[iou]]))
            outputs[int(t)] = {"eff_iou_score": score}
            sam3_scores[t] = float(score)
        chosen = methods["frame_filter"](
            stand_in,
            {"non_cond_frame_outputs": outputs},
            case["reverse"],
            case["frame"],
            case["num_frames"],
            case["stride"],
        )
        recorded.append({**case, "sam3_scores": sam3_scores, "sam3_chosen": [int(t) for t in chosen]})
    meta = {"source": f"github.com/facebookresearch/sam3 {COMMIT} {SOURCE}", "max_obj_ptrs": MAX_OBJ_PTRS}
    OUT.write_text(json.dumps({"meta": meta, "cases": recorded}, indent=1) + "\n")
    print(f"wrote {len(recorded)} cases to {OUT}")


if __name__ == "__main__":
    main()
