"""EdgeTAM: its names, its checkpoint layout and loading (by path and through a fake hub), its
blocks' defining properties, and images in fp32 and bf16.

Numerical parity with the official EdgeTAM code is tested elsewhere (against the official
package in a subprocess); here the model is checked against itself and its own rules.
Small: random weights at image size 256.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from sam2_backend import AutomaticMaskGenerator, ImagePredictor, build_model, get_config, load_model
from sam2_backend.checkpoint import CheckpointError, infer_config, verify_sha256
from sam2_backend.configs import CONFIGS, config_names
from sam2_backend.modeling.latent_rope_attention import LatentRoPEAttention
from tests.backend.fake_hub import FakeHub, state_digest
from tests.backend.reference import randomize_
from tests.clips import make_clip

ROOT = Path(__file__).resolve().parents[2]
FAKE_HUB_SCRIPT = Path(__file__).resolve().with_name("fake_hub.py")
IMAGE_SIZE = 256

# Keys of the official checkpoint outside the trunk, by part, and the trunk's count
# (timm's repvit_m1 features: 676 tensors, num_batches_tracked included): 982 in all.
OFFICIAL_KEY_COUNTS = {"image_encoder.trunk.body": 676, "spatial_perceiver": 44, "memory_attention": 54}
OFFICIAL_SHAPES = {
    "image_encoder.trunk.body.stem.conv1.c.weight": (24, 3, 3, 3),
    "image_encoder.neck.convs.0.conv.weight": (256, 384, 1, 1),
    "image_encoder.neck.convs.3.conv.weight": (256, 48, 1, 1),
    "spatial_perceiver.latents": (256, 64),
    "spatial_perceiver.latents_2d": (256, 64),
    "spatial_perceiver.layers.1.attn.to_kv.weight": (128, 64),
    "spatial_perceiver.layers.0.attn.norm_latents.bias": (64,),
    "spatial_perceiver.layers.0.ff.3.weight": (64, 256),
    "spatial_perceiver.layers.1.self_attn.to_out.weight": (64, 64),
    "spatial_perceiver.layers.1.self_ff.1.weight": (256, 64),
    "spatial_perceiver.norm.weight": (64,),
    "memory_attention.layers.1.cross_attn_image.k_proj.weight": (256, 64),
    "memory_attention.layers.1.self_attn.q_proj.weight": (256, 256),
    "maskmem_tpos_enc": (7, 1, 1, 64),
}


@pytest.fixture(scope="module")
def model():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        m = build_model(get_config("edgetam").replace(image_size=IMAGE_SIZE), device="cpu")
    return randomize_(m, seed=0)


def _skeleton_file(path: Path, model, *, wrap: bool = True) -> Path:
    """The model's keys and shapes as expanded scalars (a tiny file the loader reads like the official one)."""
    gen = torch.Generator().manual_seed(3)
    sd = {
        k: torch.full((), float(torch.randn((), generator=gen)), dtype=v.dtype).expand(v.shape)
        for k, v in model.state_dict().items()
    }
    torch.save({"model": sd} if wrap else sd, path)
    return path


# --------------------------------------------------------------------------- names and config


def test_names_resolve_to_one_config():
    cfg = get_config("edgetam")
    for name in ("EdgeTAM", "facebook/EdgeTAM", "edgetam.pt", " edgetam "):
        assert get_config(name) is cfg
    assert (cfg.hub_repo, cfg.filename, cfg.sha256) == ("facebook/EdgeTAM", "edgetam.pt", None)
    assert config_names()[-1] == "edgetam" and CONFIGS["edgetam"] is cfg
    assert cfg.version == "2.0" and not cfg.no_obj_embed_spatial and not cfg.add_tpos_enc_to_obj_ptrs
    assert cfg.memory_attention_layers == 2 and cfg.num_maskmem == 7 and cfg.spatial_perceiver.tokens_per_memory == 512


@pytest.mark.parametrize("size", [128, 320, 1000])
def test_image_size_must_fit_the_perceiver_grid(size):
    with pytest.raises(ValueError, match="multiple of 256"):
        get_config("edgetam").replace(image_size=size)
    get_config("edgetam").replace(image_size=768)  # 48x48 memory map: 3x3 windows


def test_timm_is_imported_only_for_edgetam():
    code = (
        "import sys; from sam2_backend import build_model, get_config; "
        "build_model(get_config('tiny').replace(image_size=128), device='cpu'); "
        "assert 'timm' not in sys.modules; "
        "build_model(get_config('edgetam').replace(image_size=256), device='cpu'); "
        "assert 'timm' in sys.modules"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr


# --------------------------------------------------------------------------- the checkpoint layout


def test_state_dict_has_the_official_layout(model):
    sd = model.state_dict()
    assert len(sd) == 982
    for prefix, count in OFFICIAL_KEY_COUNTS.items():
        assert sum(k.startswith(prefix + ".") for k in sd) == count, prefix
    for key, shape in OFFICIAL_SHAPES.items():
        assert tuple(sd[key].shape) == shape, key
    # SAM 2.0-style: no 2.1 parameters, and the pointer time projection is an identity.
    assert not any(k.startswith(("no_obj_embed_spatial", "obj_ptr_tpos_proj")) for k in sd)
    assert isinstance(model.memory_attention.layers[0].cross_attn_image, LatentRoPEAttention)


def test_load_local_file_by_name_inference_and_bare(model, tmp_path):
    official = _skeleton_file(tmp_path / "edgetam.pt", model)
    expected = torch.load(official, weights_only=True)["model"]
    renamed = _skeleton_file(tmp_path / "renamed.pth", model)
    bare = _skeleton_file(tmp_path / "bare.pt", model, wrap=False)
    for path in (official, renamed, bare):
        loaded = load_model(path, device="cpu")
        assert loaded.config is get_config("edgetam"), path
        got = loaded.state_dict()
        assert all(torch.equal(got[k], v) for k, v in expected.items())
    small = load_model(official, device="cpu", config=get_config("edgetam").replace(image_size=512))
    assert small.image_size == 512


def test_infer_config_and_strict_errors(model, tmp_path):
    sd = dict(model.state_dict())
    assert infer_config(sd) is get_config("edgetam")
    sd.pop("spatial_perceiver.latents")
    with pytest.raises(CheckpointError, match="RepViT trunk like EdgeTAM but no 'spatial_perceiver.latents'"):
        infer_config(sd)
    path = tmp_path / "edgetam.pt"
    torch.save({"model": sd}, path)
    with pytest.raises(CheckpointError, match=r"1 missing keys \(spatial_perceiver.latents\)"):
        load_model(path, device="cpu")
    # A SAM 2 file under EdgeTAM's name: every key differs, and the hint names the right model.
    tiny = build_model(get_config("tiny").replace(image_size=128), device="cpu")
    torch.save({"model": tiny.state_dict()}, path)
    with pytest.raises(CheckpointError, match="look like sam2.1-hiera-tiny"):
        load_model(path, device="cpu")


def test_sha256_is_unknown_so_verification_refuses(model, tmp_path):
    path = _skeleton_file(tmp_path / "edgetam.pt", model)
    with pytest.raises(ValueError, match="No sha256 of the official edgetam.pt is recorded"):
        verify_sha256(path)


def test_load_by_name_through_the_hub(model, tmp_path):
    path = _skeleton_file(tmp_path / "edgetam.pt", model)
    expected = state_digest(load_model(path, device="cpu"))
    with FakeHub({("facebook/EdgeTAM", "edgetam.pt"): path}) as hub:
        env = {"HF_ENDPOINT": hub.endpoint, "HF_HOME": str(tmp_path / "hf")}
        # "edgetam" and the other names resolve to the same config (test_names_resolve_to_one_config).
        result = _hub_child({"name": "facebook/EdgeTAM"}, env)
        assert result["ok"], result
        assert result["config"] == "edgetam" and result["digest"] == expected
        assert result["path"].endswith("edgetam.pt") and "models--facebook--EdgeTAM" in result["path"]
        assert hub.seen("GET") == ["/facebook/EdgeTAM/resolve/main/edgetam.pt"]


def _hub_child(args: dict, env: dict[str, str]) -> dict:
    base = {k: v for k, v in os.environ.items() if not k.upper().startswith(("HF_", "HUGGINGFACE"))}
    base.update(
        {
            "PYTHONPATH": str(ROOT),
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "OMP_NUM_THREADS": "1",
            **env,
        }
    )
    proc = subprocess.run(
        [sys.executable, str(FAKE_HUB_SCRIPT), json.dumps(args)],
        env=base,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("FAKE_HUB_RESULT ")]
    assert proc.returncode == 0 and lines, f"child failed (rc={proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return json.loads(lines[-1].split(" ", 1)[1])


# --------------------------------------------------------------------------- the blocks


def test_perceiver_local_latents_see_only_their_window(model):
    perceiver = model.spatial_perceiver
    side = IMAGE_SIZE // 16  # 16x16 memory map, 16x16 latent grid: one pixel per window
    gen = torch.Generator().manual_seed(0)
    x, pos = torch.randn(1, 64, side, side, generator=gen), torch.randn(1, 64, side, side, generator=gen)
    with torch.no_grad():
        base = perceiver(x, pos)
        y = x.clone()
        y[0, :, 3, 5] += 1.0
        changed = (perceiver(y, pos) - base).abs().amax(-1)[0]  # (512,)
    assert base.shape == (1, 512, 64)
    assert (changed[:256] > 0).all()  # every global latent reads the whole map
    local = changed[256:].view(side, side)
    assert local[3, 5] > 0 and local.count_nonzero() == 1  # one local latent per window
    latent_pos = perceiver.latent_pos(2, x.device)
    assert latent_pos.shape == (2, 512, 64) and not latent_pos[:, :256].any() and latent_pos[:, 256:].abs().sum() > 0


def test_latent_rope_rotates_only_the_local_grid():
    torch.manual_seed(0)
    attn = LatentRoPEAttention(32, 1, num_global=4, grid=2, kv_in_dim=16).eval()
    q = torch.randn(1, 9, 32)  # a 3x3 query grid
    frames = torch.randn(1, 2, 8, 16)  # two memory frames of 4 global + 2x2 local latents
    pointers = torch.randn(1, 3, 16)

    def run(f, p=pointers):
        k = torch.cat([f.flatten(1, 2), p], dim=1)
        return attn(q, k, k, num_k_exclude_rope=p.shape[1])

    with torch.no_grad():
        base = run(frames)
        # Every frame is rotated alike, so the order of frames does not matter...
        assert torch.allclose(run(frames.flip(1)), base, atol=1e-5)
        # ...nor the order of the global latents within a frame, nor of the pointers (unrotated)...
        assert torch.allclose(run(frames[:, :, [2, 0, 3, 1, 4, 5, 6, 7]]), base, atol=1e-5)
        assert torch.allclose(run(frames, pointers.flip(1)), base, atol=1e-5)
        # ...but the local latents carry their grid position.
        assert not torch.allclose(run(frames[:, :, [0, 1, 2, 3, 7, 6, 5, 4]]), base, atol=1e-3)
        with pytest.raises(ValueError, match="not whole frames of 8"):
            attn(q, frames.flatten(1, 2)[:, :7], frames.flatten(1, 2)[:, :7])


# --------------------------------------------------------------------------- images


def test_image_predictor_and_automask(model):
    image = make_clip(1)[0]
    predictor = ImagePredictor(model)
    predictor.set_image(image)
    pred = predictor.predict([[20, 40]], [1])
    assert pred.masks.shape == (3, *image.shape[:2]) and pred.masks.dtype == bool
    assert pred.masks.any() and not pred.masks.all()
    masks = AutomaticMaskGenerator(model, points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.0).generate(
        image
    )
    assert masks and all(m["segmentation"].shape == image.shape[:2] for m in masks)


@pytest.mark.cpu_only("EdgeTAM's bf16 fast CPU path")
def test_bf16_on_cpu_is_close_to_fp32(model):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        half = build_model(get_config("edgetam").replace(image_size=IMAGE_SIZE), device="cpu", precision="bf16")
    randomize_(half, seed=0)
    assert half.precision == "bf16" and type(half) is not type(model)  # the fast CPU path (fast_cpu_edgetam.py)
    image = make_clip(1)[0]
    logits = []
    for m in (model, half):
        predictor = ImagePredictor(m)
        predictor.set_image(image)
        logits.append(predictor.predict([[20, 40]], [1], return_logits=True).masks)
    exact, approx = logits
    assert np.linalg.norm(approx - exact) / np.linalg.norm(exact) < 0.05
