"""Record the authors' SAMURAI and DAM4SAM on random weights: the goldens of test_memory_policies.py.

    .venv/bin/python tests/golden/record_memory_policies.py \
        --samurai PATH --dam4sam PATH --vendor DIR [--vendor DIR ...]

PATH: a git directory (or a checkout) of github.com/yangchris11/samurai and of
github.com/jovanavidenovic/DAM4SAM; the commits below are exported to a temporary folder,
run there, and deleted: nothing of the authors' code enters this repository. DIR: folders
holding DAM4SAM's extra packages (vot-toolkit 0.7.1 with attributee 0.1.9, opencv), put at
the END of sys.path so they never replace this environment's numpy or torch, e.g.
``pip install --target DIR vot-toolkit==0.7.1 opencv-python-headless`` and
``pip install --target DIR2 --no-deps attributee==0.1.9`` (given first).

Every author runs in a child process (their packages are called ``sam2``, as the official
one is) on the official SAM 2.1 tiny with the random weights of tests/backend/reference.py
(``build_reference``, seed 0, image size 128), one object at a time (both are single-object
trackers), on the first frames of tests/clips.py with a mask prompt on frame 0.

Patched at the door, so that their code runs on a CPU and sees exactly our inputs:

* both: their model is built from their own hydra config (SAMURAI's
  ``configs/samurai/sam2.1_hiera_t.yaml``, DAM4SAM's ``sam21pp_hiera_t.yaml``) with the
  reference's overrides (image size, post-processing as the official video builder, hole
  filling off), then loads the reference's state dict strictly; frames are our preprocessing
  of each frame; their memory attention gets its bf16 memories cast to fp32 at its door
  (``memory_in_fp32``, as the parity tests do for the official predictor);
  ``torch.Tensor.cuda`` returns the tensor itself (DAM4SAM moves memories with ``.cuda()``).
* SAMURAI: ``loguru`` (a logging import) is a stand-in when absent; the options below are
  passed as hydra overrides of their config.
* DAM4SAM: ``build_sam2_video_predictor`` returns the model above; ``torch.device`` seen by
  their tracker module maps "cuda" to the CPU; ``_prepare_image`` returns our preprocessing;
  their tracker counts the frames seen as the clip's length (a stream), which changes the
  object pointers' temporal encoding: their propagation is given the clip's length, as our
  tracker knows it; the thresholds that are literals in their ``track`` are rewritten to the
  values below (in the exported copy) where the recording needs other ones.

What is recorded, per author and object (``tests/golden/<author>.npz``, no pickles): the
low-res mask logits, object-score logits and the kept mask's predicted IoU per frame, the
video-resolution masks (bit-packed), the index of the kept candidate and of SAM 2's choice
(highest predicted IoU), and the spatial memories each tracked frame read (frame, temporal
encoding index), found from the tensors given to the memory attention (memory_probe.py).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import types
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent
COMMITS = {
    "samurai": "76ba195984892b0d1e3db5d9c9f90bb62175680a",
    "dam4sam": "9c954504b39ebca4c412f207be0787c26bfac85a",
}
# The parts of their trees that run (the rest, e.g. demo videos, is not needed).
PATHS = {
    "samurai": ["sam2/sam2"],
    "dam4sam": ["sam2", "utils", "dam4sam_tracker.py", "dam4sam_config.yaml"],
}
MODEL = "sam2.1-hiera-tiny"
IMAGE_SIZE = 128
NUM_FRAMES = 16
# Objects prompted with their mask on frame 0 (tests/clips.py shapes).
OBJECTS = {1: "disk", 2: "square"}
# The recording's options, in our names (sam2_backend/video/memory_policies): chosen so that on
# random weights the policies decide differently from SAM 2 on some frames in 16 frames.
# SAMURAI's: the filter is trusted after 3 stable frames (15 by default), so in 16 frames it
# chooses a mask other than SAM 2's (frame 4 here).
SAMURAI_OPTIONS = {"stable_frames": 3}
# DAM4SAM's: random weights predict IoUs of ~0.54 and masks filling most of the frame, so the
# DRM rule needs looser bounds to add a frame (frame 4 here; the default bounds add none).
DAM4SAM_OPTIONS: dict[str, float] = {"min_iou": 0.0, "max_box_iou": 0.97, "size_ratio": 0.5}
# Their names for our options.
SAMURAI_KEYS = {
    "stable_frames": "stable_frames_threshold",
    "stable_iou": "stable_ious_threshold",
    "motion_weight": "kf_score_weight",
    "iou_threshold": "memory_bank_iou_threshold",
    "object_threshold": "memory_bank_obj_score_threshold",
    "visible_above": "min_obj_score_logits",
}
# DAM4SAM's literals in ``DAM4SAMTracker.track``: (our option, the source text, its template).
DAM4SAM_LITERALS = {
    "min_iou": ("m_iou > 0.8", "m_iou > {}"),
    "max_box_iou": ("np.min(np.array(ious)) <= 0.7", "np.min(np.array(ious)) <= {}"),
    "min_gap": ("self.frame_index - self.last_added > 5", "self.frame_index - self.last_added > {}"),
    "size_ratio": (
        "obj_sizes_ratio >= 0.8 and obj_sizes_ratio <= 1.2",
        "obj_sizes_ratio >= 1 - {0} and obj_sizes_ratio <= 1 + {0}",
    ),
}


def clip() -> np.ndarray:
    sys.path.insert(0, str(ROOT))
    from tests.clips import make_clip

    return make_clip(NUM_FRAMES)


def prompt_masks() -> dict[int, np.ndarray]:
    from tests import clips

    return {obj_id: getattr(clips, name)(0) for obj_id, name in OBJECTS.items()}


def export(source: Path, commit: str, paths: list[str], dest: Path) -> None:
    """``paths`` of the author's tree at ``commit`` into ``dest`` (from a git directory or a checkout)."""
    git_dir = source if (source / "objects").is_dir() else source / ".git"
    dest.mkdir(parents=True)
    cmd = ["git", f"--git-dir={git_dir}", "archive", commit, "--", *paths]
    archive = subprocess.run(cmd, check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)


def parent(args) -> None:
    sys.path.insert(0, str(ROOT))
    from sam2_backend.inputs import image_to_tensor
    from sam2_backend.transforms import preprocess
    from tests.backend.reference import build_reference

    with tempfile.TemporaryDirectory(prefix="record_policies_") as tmp:
        tmp = Path(tmp)
        ref = build_reference(MODEL, image_size=IMAGE_SIZE, video=True, device="cpu")
        torch.save(ref.state_dict(), tmp / "weights.pt")
        frames = clip()
        torch.save(torch.cat([preprocess(image_to_tensor(f)[None], IMAGE_SIZE) for f in frames]), tmp / "images.pt")
        for author in args.authors:
            code = tmp / author
            export(Path(getattr(args, author)), COMMITS[author], PATHS[author], code)
            env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
            cmd = [sys.executable, __file__, "--child", author, "--code", str(code), "--work", str(tmp)]
            cmd += [x for v in args.vendor for x in ("--vendor", v)]
            subprocess.run(cmd, check=True, env=env)
            print(f"recorded {GOLDEN / (author + '.npz')}")


# -- in the child: the author's code ------------------------------------------------------------


def _on_cpu() -> None:
    torch.Tensor.cuda = lambda self, *a, **k: self  # DAM4SAM moves stored memories with .cuda()


def _build(config_name: str, extra: list[str], weights: dict) -> torch.nn.Module:
    from hydra import compose
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from tests.backend.reference import memory_in_fp32

    overrides = [
        f"++model.image_size={IMAGE_SIZE}",
        "++model.sam_mask_decoder_extra_args.dynamic_multimask_via_stability=true",
        "++model.sam_mask_decoder_extra_args.dynamic_multimask_stability_delta=0.05",
        "++model.sam_mask_decoder_extra_args.dynamic_multimask_stability_thresh=0.98",
        "++model._target_=sam2.sam2_video_predictor.SAM2VideoPredictor",
        "++model.binarize_mask_from_pts_for_mem_enc=true",
        "++model.fill_hole_area=0",
        *extra,
    ]
    cfg = compose(config_name=config_name, overrides=overrides)
    OmegaConf.resolve(cfg)
    model = instantiate(cfg.model, _recursive_=True)
    model.load_state_dict(weights, strict=True)
    model = model.eval()
    memory_in_fp32(model)
    return model


class _Recorder:
    """Per object: what the author's model computed on each frame."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.frame = -1
        self.choices: dict[int, tuple[int, int]] = {}  # frame -> (kept candidate, SAM 2's)
        self.ious: dict[int, float] = {}  # frame -> predicted IoU of the kept mask
        self.probe = None
        self.model = model
        track_step = model.track_step
        heads = model._forward_sam_heads

        def tracked(*a, **k):
            self.frame = k["frame_idx"] if "frame_idx" in k else a[0]
            return track_step(*a, **k)

        def forward_heads(*a, **k):
            out = heads(*a, **k)
            ious, kept = out[2], out[3]
            multimasks = out[0]
            if multimasks.shape[1] > 1:
                kept_i = next(i for i in range(multimasks.shape[1]) if torch.equal(multimasks[0, i], kept[0, 0]))
                self.choices[self.frame] = (kept_i, int(torch.argmax(ious[0])))
                self.ious[self.frame] = float(ious[0, kept_i])
            return out

        model.track_step = tracked
        model._forward_sam_heads = forward_heads

    def start_probe(self):
        sys.path.insert(0, str(GOLDEN))
        from memory_probe import MemoryProbe

        self.probe = MemoryProbe(self.model, lambda: self.frame)


def _collect(rec: _Recorder, output_dict: dict, video_masks: dict[int, np.ndarray]) -> dict[str, np.ndarray]:
    outs = {**output_dict["non_cond_frame_outputs"], **output_dict["cond_frame_outputs"]}
    frames = sorted(outs)
    assert frames == list(range(NUM_FRAMES)), frames
    low = np.stack([outs[t]["pred_masks"][0, 0].float().numpy() for t in frames])
    score = np.array([float(outs[t]["object_score_logits"]) for t in frames], np.float32)
    stored = {t: outs[t]["maskmem_features"].flatten(2).permute(2, 0, 1) for t in frames}
    pos = outs[0]["maskmem_pos_enc"][-1].flatten(2).permute(2, 0, 1).float()
    read = rec.probe.frames(stored, pos)
    memory = np.full((NUM_FRAMES, 16, 2), -1, np.int16)
    for t, pairs in read.items():
        memory[t, : len(pairs)] = pairs
    choices = np.full((NUM_FRAMES, 2), -1, np.int8)
    for t, pair in rec.choices.items():
        choices[t] = pair
    masks = np.stack([video_masks[t] for t in frames])
    iou = np.array([rec.ious.get(t, np.nan) for t in frames], np.float32)
    return {
        "low_res": low,
        "object_score": score,
        "iou": iou,
        "memory": memory,
        "choices": choices,
        "masks": np.packbits(masks, axis=-1),
    }


def run_samurai(code: Path, work: Path, weights: dict, images: torch.Tensor) -> dict[str, np.ndarray]:
    sys.path.insert(0, str(code / "sam2"))
    if "loguru" not in sys.modules:
        try:
            import loguru  # noqa: F401
        except ImportError:
            stub = types.ModuleType("loguru")
            stub.logger = types.SimpleNamespace(info=print, warning=print, debug=print)
            sys.modules["loguru"] = stub
    import sam2  # noqa: F401  (their package: initialises their hydra config module)

    assert Path(sam2.__file__).is_relative_to(code), sam2.__file__
    extra = [f"++model.{SAMURAI_KEYS[k]}={v}" for k, v in SAMURAI_OPTIONS.items()]
    from PIL import Image

    frames_dir = work / "samurai_frames"
    frames_dir.mkdir(exist_ok=True)
    for i, frame in enumerate(clip()):
        Image.fromarray(frame).save(frames_dir / f"{i}.jpg")
    out = {}
    for obj_id, mask in prompt_masks().items():
        model = _build("configs/samurai/sam2.1_hiera_t.yaml", extra, weights)  # a fresh filter per object
        rec = _Recorder(model)
        rec.start_probe()
        with torch.inference_mode():
            state = model.init_state(str(frames_dir))
            state["images"] = images
            state["cached_features"] = {}
            rec.frame = 0
            model.add_new_mask(state, 0, obj_id, mask)
            video = {}
            for t, _, logits in model.propagate_in_video(state):
                video[t] = (logits[0, 0] > 0).numpy()
        for key, value in _collect(rec, state["output_dict"], video).items():
            out[f"{obj_id}/{key}"] = value
    return out


def run_dam4sam(code: Path, work: Path, weights: dict, images: torch.Tensor) -> dict[str, np.ndarray]:
    source = (code / "dam4sam_tracker.py").read_text()
    for option, value in DAM4SAM_OPTIONS.items():
        text, template = DAM4SAM_LITERALS[option]
        assert source.count(text) == 1, text
        source = source.replace(text, template.format(value))
    (code / "dam4sam_tracker.py").write_text(source)
    sys.path.insert(0, str(code))
    import sam2  # noqa: F401

    assert Path(sam2.__file__).is_relative_to(code), sam2.__file__
    import dam4sam_tracker
    from PIL import Image

    real_torch = dam4sam_tracker.torch

    class CpuTorch(types.ModuleType):
        def __getattr__(self, name):
            return getattr(real_torch, name)

        @staticmethod
        def device(*a, **k):
            return real_torch.device("cpu")

    dam4sam_tracker.torch = CpuTorch("torch")
    out = {}
    pictures = [Image.fromarray(f) for f in clip()]
    index = {id(p): i for i, p in enumerate(pictures)}
    for obj_id, mask in prompt_masks().items():
        model = _build("sam21pp_hiera_t.yaml", [], weights)
        dam4sam_tracker.build_sam2_video_predictor = lambda *a, model=model, **k: model
        rec = _Recorder(model)
        rec.start_probe()
        tracker = dam4sam_tracker.DAM4SAMTracker("sam21pp-T")
        tracker._prepare_image = lambda picture: images[index[id(picture)]]
        propagate = model.propagate_in_video

        def known_length(state, *a, propagate=propagate, **k):
            state["num_frames"] = NUM_FRAMES
            yield from propagate(state, *a, **k)

        model.propagate_in_video = known_length
        rec.frame = 0
        video = {0: tracker.initialize(pictures[0], mask.astype(np.uint8))["pred_mask"].astype(bool)}
        added = []
        for t in range(1, NUM_FRAMES):
            before = tracker.last_added
            video[t] = tracker.track(pictures[t])["pred_mask"].astype(bool)
            if tracker.last_added != before:
                added.append(t)
        for key, value in _collect(rec, tracker.inference_state["output_dict"], video).items():
            out[f"{obj_id}/{key}"] = value
        out[f"{obj_id}/drm_added"] = np.array(added, np.int16)
    return out


def child(args) -> None:
    for folder in args.vendor:
        sys.path.append(folder)
    sys.path.insert(0, str(ROOT))
    _on_cpu()
    torch.manual_seed(0)
    work = Path(args.work)
    weights = torch.load(work / "weights.pt")
    images = torch.load(work / "images.pt")
    run = {"samurai": run_samurai, "dam4sam": run_dam4sam}[args.child]
    arrays = run(Path(args.code), work, weights, images)
    options = SAMURAI_OPTIONS if args.child == "samurai" else DAM4SAM_OPTIONS
    meta = {"commit": COMMITS[args.child], "model": MODEL, "image_size": IMAGE_SIZE, "num_frames": NUM_FRAMES}
    meta |= {"objects": OBJECTS, "options": options}
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez_compressed(GOLDEN / f"{args.child}.npz", **arrays)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--samurai", help="git directory or checkout of yangchris11/samurai")
    p.add_argument("--dam4sam", help="git directory or checkout of jovanavidenovic/DAM4SAM")
    p.add_argument("--vendor", action="append", default=[], help="extra package folder (appended to sys.path)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--code", help=argparse.SUPPRESS)
    p.add_argument("--work", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args)
        return
    args.authors = [a for a in ("samurai", "dam4sam") if getattr(args, a)]
    if not args.authors:
        p.error("give --samurai and/or --dam4sam")
    parent(args)


if __name__ == "__main__":
    main()
