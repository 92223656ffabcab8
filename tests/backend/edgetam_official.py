"""Run the official EdgeTAM (``edgetam-dimos==1.0.1``) on random weights and save what it computes.

The official package is also imported as ``sam2``, which clashes with the SAM 2 reference in
.venv, so scripts/setup.sh installs it apart in .venv/edgetam-reference and it only ever runs
in a subprocess with that folder first on PYTHONPATH (:func:`run_official`). This module is
both sides: the parent imports it for the paths and the subprocess call (nothing here imports
``sam2`` at import time), the child runs it as ``python -m tests.backend.edgetam_official``:

    python -m tests.backend.edgetam_official OUT.pt [--image-size 256] [--seed 0] [--frames 8]

OUT.pt (``torch.save``): ``state_dict``; ``encoder`` (trunk levels, backbone_fpn and
vision_pos_enc of a seeded image tensor); ``perceiver`` (its latents for a random memory map);
``image`` (SAM2ImagePredictor outputs per prompt of :func:`image_prompts`); ``video`` (every
step of :func:`video_script` through SAM2VideoPredictor). Everything runs in
fp32 on CPU; benchmarks/official_edgetam.py builds its timed model with :func:`build_official`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
REFERENCE_DIR = ROOT / ".venv" / "edgetam-reference"
CONFIG = "configs/edgetam.yaml"
# The memory encoder downsamples by 16 and the perceiver pools that map into a 16x16 grid of
# 2D latents, so the image size must be a multiple of 16 * 16.
SIZE_STEP = 256
OBJECT_SCORE_LIFT = 0.1


def reference_installed() -> bool:
    return (REFERENCE_DIR / "sam2" / "modeling" / "perceiver.py").is_file()


def official_env(threads: int | None = None) -> dict[str, str]:
    """The environment of a subprocess whose ``import sam2`` is EdgeTAM's, and that can import this repository."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REFERENCE_DIR), str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    return env


def run_official(module: str, *args: str, timeout: float | None = None, threads: int | None = None) -> str:
    """Run ``python -m module args`` against the official EdgeTAM; its stdout, or RuntimeError with its stderr."""
    if not reference_installed():
        raise FileNotFoundError(f"{REFERENCE_DIR} is missing: run scripts/setup.sh (it installs edgetam-dimos there)")
    proc = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=official_env(threads),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"the official EdgeTAM run failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc.stdout


# ---------------------------------------------------------------- what both sides run


def image_prompts() -> dict[str, dict]:
    """SAM2ImagePredictor.predict arguments per case, on ``synthetic_image(180, 240)``; "mask"
    also gets the best low-res logits of "points" as ``mask_input``."""
    return {
        "points": dict(point_coords=[[70, 72], [200, 140], [180, 40]], point_labels=[1, 0, 1], multimask_output=True),
        "point": dict(point_coords=[[70, 72]], point_labels=[1], multimask_output=False),
        "box": dict(box=[130, 95, 220, 165], multimask_output=False),
        "box_points": dict(box=[130, 95, 220, 165], point_coords=[[170, 130]], point_labels=[0], multimask_output=True),
        "mask": dict(point_coords=[[70, 72]], point_labels=[1], multimask_output=False),
    }


def video_script(frames: int) -> list[tuple]:
    """The scripted session on ``tests.clips.make_clip(frames)``: (action, frame, obj_id, arguments).

    EdgeTAM's predictor is an older SAM 2 one: it tracks all objects as one batch, where ours
    (like sam2 1.1.0) tracks each object on its own. The script keeps to where both agree;
    each of these changes makes them differ (checked on this script's weights):

    * a first prompt on another frame (object 3's mask on frame 2): the older predictor makes
      every prompted frame a conditioning frame of every object, with a -1024 mask (memory
      encoded from it, an empty-mask pointer) for objects not prompted there;
    * correcting one object only: it re-encodes the memory of every object on a corrected
      frame as a prompted one (binarised masks), so the others' memories change too;
    * propagating from the corrected frame: it keeps a corrected (non-conditioning) frame's
      output when propagation reaches it; 1.1.0 and ours track that frame again.

    So all first prompts are on frame 0, every object gets a correction on the last frame, and
    the backward pass starts just before it.
    """
    from tests.clips import bar

    last = frames - 1
    return [
        ("points", 0, 1, dict(points=[[20, 40], [110, 44]], labels=[1, 0])),  # the disk; a negative click on the square
        ("box", 0, 2, dict(box=[100, 30, 127, 57])),  # the square
        ("mask", 0, 3, dict(mask=bar(0))),  # the bar
        ("propagate", 0, None, dict(reverse=False)),
        ("points", last, 1, dict(points=[[20 + 12 * last, 40], [40, 44]], labels=[1, 0])),
        ("points", last, 2, dict(points=[[58, 44]], labels=[1])),
        ("points", last, 3, dict(points=[[35, 79]], labels=[1])),
        ("propagate", last - 1, None, dict(reverse=True)),
    ]


# ---------------------------------------------------------------- the child (official sam2 imported)


def _check_official_sam2() -> None:
    import sam2

    if not (Path(sam2.__file__).parent / "modeling" / "perceiver.py").is_file():
        found = sam2.__file__
        raise SystemExit(f"`import sam2` found {found}, not EdgeTAM's: PYTHONPATH must start with {REFERENCE_DIR}")


def _no_pretrained_trunk() -> None:
    """The trunk asks timm for pretrained RepViT weights, a download: build it with random ones."""
    import sam2.modeling.backbones.timm as timm_trunk

    create = timm_trunk.create_model
    if getattr(create, "no_pretrained", False):
        return

    def create_random(*args, **kwargs):
        return create(*args, **{**kwargs, "pretrained": False})

    create_random.no_pretrained = True
    timm_trunk.create_model = create_random


def _memory_in_fp32(model) -> None:
    """The official predictor stores memories in bf16 and, outside CUDA autocast, feeds them to fp32
    layers; cast them at the door of the memory attention, keeping the bf16-rounded values (as
    tests.backend.reference.memory_in_fp32 does for SAM 2; EdgeTAM's forward takes one more argument)."""
    forward = model.memory_attention.forward

    def fp32_forward(curr, memory, curr_pos=None, memory_pos=None, **kwargs):
        return forward(curr, memory.float(), curr_pos, memory_pos.float(), **kwargs)

    model.memory_attention.forward = fp32_forward


def _perceiver_per_object(model) -> None:
    """Run the spatial perceiver one object at a time: its 2D latents (``forward_2d``) are
    ``expand``-ed to the batch and then ``view``-ed, which fails for more than one object
    (facebookresearch/EdgeTAM issue 15), so the official predictor cannot track several objects
    as published. Each object's memory is computed on its own anyway (no batch interaction)."""
    forward = model.spatial_perceiver.forward

    def per_object(x, pos=None):
        outs = [forward(x[i : i + 1], None if pos is None else pos[i : i + 1]) for i in range(x.shape[0])]
        latents = torch.cat([latents for latents, _ in outs])
        return latents, None if pos is None else torch.cat([p for _, p in outs])

    model.spatial_perceiver.forward = per_object


def build_official(
    image_size: int = 1024, *, seed: int = 0, weights: str | None = None, video: bool = False
) -> torch.nn.Module:
    """The official EdgeTAM from its yaml at ``image_size``, in eval mode on CPU, with the official
    builders' post-processing settings (hole filling off: it needs the CUDA extension). Its weights:
    ``weights`` (a state dict saved with torch.save) or, without it, seeded random ones."""
    _check_official_sam2()
    _no_pretrained_trunk()
    from hydra import compose
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from tests.backend.reference import randomize_

    if image_size % SIZE_STEP:
        raise ValueError(f"EdgeTAM's image size must be a multiple of {SIZE_STEP}, got {image_size}")
    grid = image_size // 16  # the stride-16 map the memory attention's RoPE covers
    attention = "++model.memory_attention.layer"
    overrides = [
        f"++model.image_size={image_size}",
        f"{attention}.self_attention.feat_sizes=[{grid},{grid}]",
        f"{attention}.cross_attention.q_sizes=[{grid},{grid}]",
        "++model.sam_mask_decoder_extra_args.dynamic_multimask_via_stability=true",
        "++model.sam_mask_decoder_extra_args.dynamic_multimask_stability_delta=0.05",
        "++model.sam_mask_decoder_extra_args.dynamic_multimask_stability_thresh=0.98",
    ]
    if video:
        overrides += [
            "++model._target_=sam2.sam2_video_predictor.SAM2VideoPredictor",
            "++model.binarize_mask_from_pts_for_mem_enc=true",
            "++model.fill_hole_area=0",
        ]
    torch.manual_seed(seed)
    cfg = compose(config_name=CONFIG, overrides=overrides)
    OmegaConf.resolve(cfg)
    model = instantiate(cfg.model, _recursive_=True)
    if weights is None:
        randomize_(model, seed)
        # Random weights score every tracked object near 0 (~ -0.06, "absent": its masks become
        # -1024 everywhere, which would leave little to compare); lift it so most are present.
        model.sam_mask_decoder.pred_obj_score_head.layers[-1].bias.data += OBJECT_SCORE_LIFT
    else:
        model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True), strict=True)
    _perceiver_per_object(model)
    if video:
        _memory_in_fp32(model)
    return model.eval()


def image_predictor(model, image_size: int):
    from sam2.sam2_image_predictor import SAM2ImagePredictor

    pred = SAM2ImagePredictor(model)
    s = image_size  # it hard-codes the feature sizes of a 1024 input
    pred._bb_feat_sizes = [(s // 4, s // 4), (s // 8, s // 8), (s // 16, s // 16)]
    return pred


def _encoder_levels(model, image_size: int, seed: int) -> dict:
    image = torch.randn(1, 3, image_size, image_size, generator=torch.Generator().manual_seed(seed))
    out = model.forward_image(image)
    return {
        "input": image,
        "trunk": list(model.image_encoder.trunk(image)),  # to find where a difference starts
        "backbone_fpn": list(out["backbone_fpn"]),
        "vision_pos_enc": list(out["vision_pos_enc"]),
    }


def _perceiver_outputs(model, seed: int) -> dict:
    """The spatial perceiver on a random memory map of two objects at 1024's size (64x64: 4x4
    windows per 2D latent; the test's own image size gives 1x1 windows), with its position encoding."""
    gen = torch.Generator().manual_seed(seed)
    x, pos = (torch.randn(2, 64, 64, 64, generator=gen) for _ in range(2))
    latents, latent_pos = model.spatial_perceiver(x, pos)
    return {"input": x, "pos": pos, "latents": latents, "latent_pos": latent_pos}


def _image_outputs(model, image_size: int) -> dict:
    from tests.images import synthetic_image

    pred = image_predictor(model, image_size)
    scores = []  # the object-score logits the predictor drops, caught at the decoder
    hook = model.sam_mask_decoder.register_forward_hook(lambda _m, _i, out: scores.append(out[3].clone()))
    pred.set_image(synthetic_image(180, 240))
    results = {}
    for name, prompt in image_prompts().items():
        kwargs = {k: np.asarray(v) for k, v in prompt.items() if k != "multimask_output"}
        if name == "mask":
            first = results["points"]
            kwargs["mask_input"] = first["logits"][int(first["iou"].argmax())][None].numpy()
        masks, iou, logits = pred.predict(**kwargs, multimask_output=prompt["multimask_output"])
        object_score = scores[-1].numpy()
        full, _, _ = pred.predict(**kwargs, multimask_output=prompt["multimask_output"], return_logits=True)
        results[name] = {
            "masks": torch.from_numpy(masks.astype(bool)),
            "iou": torch.from_numpy(iou),
            "logits": torch.from_numpy(logits),
            "full": torch.from_numpy(full),
            "object_score": torch.from_numpy(object_score),
        }
    hook.remove()
    return results


def _video_outputs(model, image_size: int, frames: int, folder: Path) -> list[dict]:
    from PIL import Image

    from sam2_backend.inputs import image_to_tensor
    from sam2_backend.transforms import preprocess
    from tests.clips import make_clip

    clip = make_clip(frames)
    for i, frame in enumerate(clip):
        Image.fromarray(frame).save(folder / f"{i}.jpg")
    state = model.init_state(str(folder))
    # Our preprocessing, not the official JPEG loader's, so the comparison is of the models.
    state["images"] = torch.cat([preprocess(image_to_tensor(f)[None], image_size) for f in clip])
    state["cached_features"] = {}

    def record(step, frame, obj_ids, video_logits):
        per_obj = {}
        for idx, obj_id in enumerate(obj_ids):
            out = _stored_output(state, idx, frame)
            per_obj[int(obj_id)] = (
                None if out is None else (out["pred_masks"][0, 0].clone(), float(out["object_score_logits"]))
            )
        ids = [int(i) for i in obj_ids]
        return {"step": step, "frame": int(frame), "ids": ids, "video": video_logits.clone(), "low": per_obj}

    steps = []
    for step, (action, frame, obj_id, args) in enumerate(video_script(frames)):
        if action == "propagate":
            gen = model.propagate_in_video(state, start_frame_idx=frame, reverse=args["reverse"])
            steps += [record(step, f, ids, logits) for f, ids, logits in gen]
            continue
        if action == "mask":
            _, ids, logits = model.add_new_mask(state, frame, obj_id, args["mask"])
        elif action == "box":
            _, ids, logits = model.add_new_points_or_box(state, frame, obj_id, box=np.asarray(args["box"]))
        else:
            _, ids, logits = model.add_new_points_or_box(
                state, frame, obj_id, points=np.asarray(args["points"]), labels=np.asarray(args["labels"])
            )
        steps.append(record(step, frame, ids, logits))
    return steps


def _stored_output(state, obj_idx: int, frame: int):
    for store in (state["temp_output_dict_per_obj"], state["output_dict_per_obj"]):
        for key in ("cond_frame_outputs", "non_cond_frame_outputs"):
            out = store[obj_idx][key].get(frame)
            if out is not None:
                return out
    return None


def main() -> None:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--frames", type=int, default=8)
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    model = build_official(args.image_size, seed=args.seed, video=True)
    result = {
        "image_size": args.image_size,
        "state_dict": model.state_dict(),
        "encoder": _encoder_levels(model, args.image_size, args.seed),
        "image": _image_outputs(model, args.image_size),
        "perceiver": _perceiver_outputs(model, args.seed),
    }
    with tempfile.TemporaryDirectory() as folder, torch.inference_mode():
        result["video"] = _video_outputs(model, args.image_size, args.frames, Path(folder))
    torch.save(result, args.out)


if __name__ == "__main__":
    main()
