"""Building models, loading checkpoints by path and from a (fake, local) Hugging Face Hub, and every error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

from sam2_backend import build_model, load_model
from sam2_backend.checkpoint import CheckpointError, infer_config, verify_sha256
from sam2_backend.configs import CONFIGS, get_config
from sam2_backend.devices import resolve_device, resolve_precision
from sam2_backend.modeling import cpu_kernels

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fake_hub import COMMIT_MAIN, COMMIT_V1, FakeHub, file_sha256, state_digest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FAKE_HUB_SCRIPT = Path(__file__).resolve().with_name("fake_hub.py")
TINY = "sam2.1-hiera-tiny"
TINY_REPO = "facebook/sam2.1-hiera-tiny"
TINY_FILE = "sam2.1_hiera_tiny.pt"


class _Opaque:
    """A class weights_only unpickling refuses (pickled by reference to this module)."""


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def tiny_model():
    return build_model(TINY, device="cpu")


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory, tiny_model) -> Path:
    """The tiny model's random weights in the official format, under the official file name."""
    path = tmp_path_factory.mktemp("official") / TINY_FILE
    torch.save({"model": tiny_model.state_dict()}, path)
    return path


def _skeleton(model: torch.nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """A state dict with the model's keys and shapes whose tensors are expanded scalars.

    torch.save writes one element per tensor, so files stay tiny while the loader
    sees exactly the official names and shapes.
    """
    gen = torch.Generator().manual_seed(seed)
    return {
        k: torch.full((), float(torch.randn((), generator=gen)), dtype=v.dtype).expand(v.shape)
        for k, v in model.state_dict().items()
    }


@pytest.fixture(scope="module")
def skel21(tiny_model) -> dict[str, torch.Tensor]:
    return _skeleton(tiny_model, seed=1)


@pytest.fixture(scope="module")
def skel20() -> dict[str, torch.Tensor]:
    return _skeleton(build_model("sam2-hiera-tiny", device="cpu"), seed=2)


def _save(path: Path, obj) -> Path:
    torch.save(obj, path)
    return path


def _equal_state(model: torch.nn.Module, expected: dict[str, torch.Tensor]) -> bool:
    got = model.state_dict()
    return got.keys() == expected.keys() and all(torch.equal(got[k], expected[k]) for k in expected)


# --------------------------------------------------------------------------- devices and dtypes


def test_resolve_device(monkeypatch):
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device(None) == torch.device("cpu")
    with pytest.raises(ValueError, match="CUDA is not available") as e:
        resolve_device("cuda")
    assert "device='cpu'" in str(e.value) and "device='auto'" in str(e.value)
    with pytest.raises(ValueError, match="MPS"):
        resolve_device("mps")
    with pytest.raises(ValueError, match="Invalid device 'gpu'"):
        resolve_device("gpu")


def test_resolve_device_auto_prefers_cuda_then_mps(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")


def test_resolve_precision(monkeypatch):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (8, 0))  # an A100
    assert resolve_precision("auto", cpu) == resolve_precision(None, cpu) == "fp32"
    assert resolve_precision("auto", cuda) == "bf16"  # as the official code, where bf16 is native
    assert resolve_precision("bf16", cpu) == resolve_precision("bfloat16", cuda) == "bf16"
    assert resolve_precision("fp16", cpu) == resolve_precision("half", cpu) == "fp16"
    assert resolve_precision("torch.float32", cuda) == "fp32"
    assert resolve_precision(torch.bfloat16, cpu) == "bf16"
    for bad in ("int8", torch.int64, 3):
        with pytest.raises(ValueError, match="Unsupported precision"):
            resolve_precision(bad, cpu)


def test_build_model(tiny_model):
    assert not tiny_model.training
    assert tiny_model.config == get_config(TINY)
    assert {t.dtype for t in tiny_model.state_dict().values()} == {torch.float32}
    assert {t.device.type for t in tiny_model.state_dict().values()} == {"cpu"}
    assert tiny_model.precision == "fp32" and tiny_model.checkpoint_path is None  # "auto" off CUDA; random weights
    half = build_model("tiny", device="cpu", precision="bf16")
    assert half.precision == "bf16"  # autocast precision; weights stay fp32 ...
    # ... but the CPU encoder's, and the projections of its high-resolution maps, are bf16.
    encoder_side = ("image_encoder.", "sam_mask_decoder.conv_s0.", "sam_mask_decoder.conv_s1.")
    dtypes = {n: t.dtype for n, t in half.named_parameters()}
    assert {d for n, d in dtypes.items() if n.startswith(encoder_side)} == {torch.bfloat16}
    assert {d for n, d in dtypes.items() if not n.startswith(encoder_side)} == {torch.float32}
    # The fast path keeps the state dict's keys: official checkpoints load strictly into it.
    assert list(half.state_dict()) == list(tiny_model.state_dict())
    half.load_state_dict(tiny_model.state_dict(), strict=True)
    with pytest.raises(AttributeError):
        half.precision = "fp32"  # chosen once, when the model is built or loaded
    with pytest.raises(ValueError, match="Valid names: .*sam2-hiera-large"):
        build_model("huge", device="cpu")
    with pytest.raises(ValueError, match="Unsupported precision 'int8'"):
        build_model("tiny", device="cpu", precision="int8")


def test_dtype_is_the_former_name_of_precision():
    cfg = get_config(TINY).replace(image_size=128)
    with pytest.warns(DeprecationWarning, match="dtype= is now called precision="):
        assert build_model(cfg, device="cpu", dtype="bf16").precision == "bf16"
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match="Unsupported precision"):
        build_model(cfg, device="cpu", dtype="int8")
    with pytest.raises(ValueError, match="Pass the precision once"):
        build_model(cfg, device="cpu", precision="fp32", dtype="bf16")


def test_bf16_on_a_cpu_without_bf16_arithmetic_warns(monkeypatch):
    cfg = get_config(TINY).replace(image_size=128)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build_model(cfg, device="cpu", precision="bf16")  # this machine has it: silent
    monkeypatch.setattr(cpu_kernels, "onednn_bf16", lambda: False)
    with pytest.warns(RuntimeWarning, match="no native bf16.*precision='fp32'") as record:
        model = build_model(cfg, device="cpu", precision="bf16")
    assert record[0].filename == __file__  # it names the caller's line
    assert next(model.image_encoder.parameters()).dtype == torch.bfloat16  # still as asked


# --------------------------------------------------------------------------- local files


def test_load_official_file_gives_identical_tensors(tiny_file, tiny_model):
    model = load_model(str(tiny_file), device="cpu")
    assert model.config.name == TINY
    assert not model.training
    assert model.checkpoint_path == str(tiny_file)
    assert _equal_state(model, tiny_model.state_dict())


def test_renamed_file_is_inferred_from_weights(tmp_path, skel21, skel20):
    model = load_model(_save(tmp_path / "my weights.pt", {"model": skel21}), device="cpu")
    assert model.config.name == TINY
    assert _equal_state(model, skel21)
    model = load_model(_save(tmp_path / "older.pth", {"model": skel20}), device="cpu", precision="bf16")
    assert model.config.name == "sam2-hiera-tiny"  # 2.0: no no_obj_embed_spatial
    assert model.precision == "bf16"


def test_bare_state_dict_and_config_override(tmp_path, skel21):
    path = _save(tmp_path / "bare.pt", skel21)
    assert load_model(path, device="cpu").config.name == TINY
    small_images = get_config("tiny").replace(image_size=512)
    model = load_model(path, device="cpu", config=small_images)
    assert model.config.image_size == 512 and _equal_state(model, skel21)


@pytest.mark.parametrize("name", sorted(n for n, c in CONFIGS.items() if not c.is_edgetam))  # EdgeTAM: test_edgetam.py
def test_infer_config_all_sizes(name):
    cfg = CONFIGS[name]
    sd = {"image_encoder.trunk.patch_embed.proj.weight": torch.empty(cfg.trunk.embed_dim, 3, 7, 7)}
    sd.update({f"image_encoder.trunk.blocks.{i}.norm1.weight": torch.empty(1) for i in range(sum(cfg.trunk.stages))})
    if cfg.version == "2.1":
        sd["no_obj_embed_spatial"] = torch.empty(1, 64)
    assert infer_config(sd) is cfg


def test_infer_config_unknown_architecture():
    sd = {"image_encoder.trunk.patch_embed.proj.weight": torch.empty(64, 3, 7, 7)}
    with pytest.raises(CheckpointError, match="64-dim with 0 blocks.*config="):
        infer_config(sd)
    with pytest.raises(CheckpointError, match="does not look like a SAM 2 checkpoint"):
        infer_config({"foo": torch.empty(1)})


# --------------------------------------------------------------------------- local-file errors


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError) as e:
        load_model("sam3-hiera-huge", device="cpu")
    msg = str(e.value)
    assert "Unknown SAM 2 model 'sam3-hiera-huge'" in msg
    for name in CONFIGS:
        assert name in msg
    assert "path of a local SAM 2 checkpoint" in msg


def test_missing_file(tmp_path):
    missing = tmp_path / "nowhere" / TINY_FILE
    with pytest.raises(FileNotFoundError) as e:
        load_model(str(missing), device="cpu")
    assert str(missing) in str(e.value) and f"load_model({TINY!r})" in str(e.value)
    with pytest.raises(FileNotFoundError, match="not found"):
        load_model(tmp_path / "other.pt", device="cpu")
    with pytest.raises(IsADirectoryError, match="is a directory"):
        load_model(tmp_path, device="cpu")


def test_local_file_rejects_hub_options(tmp_path, skel21):
    path = _save(tmp_path / "w.pt", {"model": skel21})
    with pytest.raises(ValueError, match="only apply to downloads"):
        load_model(path, device="cpu", revision="main")


@pytest.mark.parametrize("cut", ["half", "tail", "empty"])
def test_truncated_file(tmp_path, tiny_file, cut):
    data = tiny_file.read_bytes()
    data = {"half": data[: len(data) // 2], "tail": data[:-100], "empty": b""}[cut]
    path = tmp_path / TINY_FILE
    path.write_bytes(data)
    with pytest.raises(CheckpointError) as e:
        load_model(path, device="cpu")
    msg = str(e.value)
    assert "corrupt or truncated" in msg and str(path) in msg and "Download it again" in msg


def test_corrupt_files(tmp_path, skel21):
    legacy = tmp_path / "legacy.pt"
    torch.save({"model": skel21}, legacy, _use_new_zipfile_serialization=False)
    legacy.write_bytes(legacy.read_bytes()[:-50])
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x80\x02" + bytes(range(256)) * 4)
    for path in (legacy, garbage):
        with pytest.raises(CheckpointError, match="corrupt or truncated") as e:
            load_model(path, device="cpu")
        assert str(path) in str(e.value)
        assert e.value.__cause__ is not None  # the original error is chained
    lfs = tmp_path / TINY_FILE
    lfs.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:7402e0\nsize 156008466\n")
    with pytest.raises(CheckpointError, match="Git LFS pointer"):
        load_model(lfs, device="cpu")
    html = tmp_path / "page.pt"
    html.write_text("<!DOCTYPE html><html>Access denied</html>")
    with pytest.raises(CheckpointError, match="HTML"):
        load_model(html, device="cpu")
    other = tmp_path / "model.safetensors"
    other.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00" + b"x" * 40)
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint"):
        load_model(other, device="cpu")


def test_not_a_sam2_checkpoint(tmp_path):
    cases = {
        "list.pt": ([1, 2, 3], "found a list"),
        "dict.pt": ({"state_dict": {"w": torch.ones(1)}, "epoch": 3}, "keys epoch, state_dict"),
        "notdict.pt": ({"model": [torch.ones(1)]}, "'model' entry is a list"),
        "nontensor.pt": ({"model": {"w": torch.ones(1), "step": 3}}, "not name -> tensor pairs ('step')"),
    }
    for name, (obj, expected) in cases.items():
        with pytest.raises(CheckpointError) as e:
            load_model(_save(tmp_path / name, obj), device="cpu")
        assert "is not a SAM 2 checkpoint" in str(e.value) and expected in str(e.value), str(e.value)
    with pytest.raises(CheckpointError, match="Python objects other than tensors"):
        load_model(_save(tmp_path / "pickled.pt", {"model": {"w": torch.ones(1)}, "opt": _Opaque()}), device="cpu")
    with pytest.raises(CheckpointError, match="does not look like a SAM 2 checkpoint"):
        load_model(_save(tmp_path / "other.pt", {"model": {"w": torch.ones(1)}}), device="cpu")


def test_missing_and_unexpected_keys(tmp_path, skel21):
    sd = dict(skel21)
    removed = [k for k in sd if k.startswith("memory_attention.layers.3.")]
    for k in removed:
        del sd[k]
    sd["extra.one"] = torch.zeros(1)
    sd["extra.two"] = torch.zeros(1)
    with pytest.raises(CheckpointError) as e:
        load_model(_save(tmp_path / TINY_FILE, {"model": sd}), device="cpu")
    msg = str(e.value)
    assert f"{len(removed)} missing keys ({', '.join(removed[:5])}, ... ({len(removed) - 5} more))" in msg
    assert "2 unexpected keys (extra.one, extra.two)" in msg
    assert f"config {TINY!r} (from the file name {TINY_FILE!r})" in msg


def test_wrong_model_for_file_name(tmp_path, skel21, skel20):
    # Tiny weights under the small model's file name: the small trunk has 4 more blocks.
    with pytest.raises(CheckpointError) as e:
        load_model(_save(tmp_path / "sam2.1_hiera_small.pt", {"model": skel21}), device="cpu")
    msg = str(e.value)
    assert "missing keys (image_encoder.trunk.blocks.12." in msg
    assert "'sam2.1-hiera-small' (from the file name" in msg
    assert "look like sam2.1-hiera-tiny: pass config='sam2.1-hiera-tiny'" in msg
    # SAM 2.0 weights under a 2.1 file name.
    with pytest.raises(CheckpointError) as e:
        load_model(_save(tmp_path / TINY_FILE, {"model": skel20}), device="cpu")
    msg = str(e.value)
    assert "missing keys (no_obj_embed_spatial, obj_ptr_tpos_proj.weight, obj_ptr_tpos_proj.bias)" in msg
    assert "look like sam2-hiera-tiny" in msg


def test_shape_mismatch(tmp_path, skel21):
    sd = dict(skel21)
    sd["no_mem_embed"] = torch.zeros(1, 1, 128)
    with pytest.raises(CheckpointError) as e:
        load_model(_save(tmp_path / "w.pt", {"model": sd}), device="cpu")
    msg = str(e.value)
    assert "1 tensors have the wrong shape (no_mem_embed: checkpoint (1, 1, 128) vs model (1, 1, 256))" in msg
    assert "(inferred from the weights)" in msg
    wider = get_config("tiny").replace(mem_dim=32)
    with pytest.raises(CheckpointError, match=r"wrong shape \(maskmem_tpos_enc: checkpoint \(7, 1, 1, 64\) vs model"):
        load_model(_save(tmp_path / "w2.pt", {"model": skel21}), device="cpu", config=wider)


def test_verify_sha256(tmp_path):
    path = tmp_path / TINY_FILE
    path.write_bytes(b"not the weights")
    with pytest.raises(CheckpointError, match="is not the official sam2.1_hiera_tiny.pt"):
        verify_sha256(path)
    cfg = get_config("tiny").replace(sha256=file_sha256(path))
    assert verify_sha256(path, cfg) == cfg.sha256
    with pytest.raises(ValueError, match="pass config="):
        verify_sha256(tmp_path)


# --------------------------------------------------------------------------- the hub, for real


def _child(args: dict, env: dict[str, str]) -> dict:
    """Run load_model in a fresh interpreter (huggingface_hub reads HF_* at import)."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith(("HF_", "HUGGINGFACE")) and k.upper() != "TRANSFORMERS_OFFLINE"
    }
    base.update(
        {
            "PYTHONPATH": str(ROOT),
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "HF_HUB_DISABLE_UPDATE_CHECK": "1",
        }
    )
    base.update(env)
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


@pytest.fixture
def hub(tiny_file):
    with FakeHub({(TINY_REPO, TINY_FILE): tiny_file}) as server:
        yield server


def _resolve_path(revision: str) -> str:
    return f"/{TINY_REPO}/resolve/{revision}/{TINY_FILE}"


def test_hub_download_cache_and_offline(hub, tmp_path, tiny_model):
    env = {"HF_ENDPOINT": hub.endpoint, "HF_HOME": str(tmp_path / "hf")}
    expected = state_digest(tiny_model)
    snapshot = tmp_path / "hf" / "hub" / "models--facebook--sam2.1-hiera-tiny" / "snapshots" / COMMIT_MAIN / TINY_FILE

    first = _child({"name": "tiny"}, env)
    assert first["ok"], first
    assert first["digest"] == expected and first["config"] == TINY
    assert Path(first["path"]) == snapshot and snapshot.is_file()
    assert hub.seen("HEAD") == [_resolve_path("main")]
    assert hub.seen("GET") == [_resolve_path("main")]
    assert len(hub.requests) == 2  # nothing else (no Xet, no API calls)

    # Second load: only the metadata request, the bytes come from the cache.
    second = _child({"name": TINY_REPO}, env)
    assert second["ok"] and second["digest"] == expected and Path(second["path"]) == snapshot
    assert hub.seen("GET") == [_resolve_path("main")]
    assert len(hub.seen("HEAD")) == 2

    # Offline with the server gone: served from the cache.
    hub.stop()
    offline = _child({"name": TINY}, {**env, "HF_HUB_OFFLINE": "1"})
    assert offline["ok"] and offline["digest"] == expected and Path(offline["path"]) == snapshot
    assert len(hub.requests) == 3

    # A damaged cache entry: the error names the blob to delete.
    blob = snapshot.resolve()
    blob.write_bytes(blob.read_bytes()[:1000])
    broken = _child({"name": TINY}, {**env, "HF_HUB_OFFLINE": "1"})
    assert not broken["ok"] and broken["type"] == "CheckpointError", broken
    assert "corrupt or truncated" in broken["message"]
    assert f"Delete the cached file {str(blob)!r} and load again to re-download it" in broken["message"]


def _assert_download_error(result: dict, reason: str) -> None:
    assert not result["ok"] and result["type"] == "CheckpointDownloadError", result
    msg = result["message"]
    assert f"Could not load the SAM 2 weights {TINY!r}" in msg
    assert "could not be downloaded and is not in the local cache" in msg
    assert f"download {TINY_FILE} from the Hugging Face repo {TINY_REPO}" in msg
    assert f"load_model('/path/to/{TINY_FILE}')" in msg
    assert reason in msg, msg


def test_hub_offline_not_cached(hub, tmp_path):
    env = {"HF_ENDPOINT": hub.endpoint, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    result = _child({"name": "tiny"}, env)
    _assert_download_error(result, "offline mode is on (HF_HUB_OFFLINE is set)")
    assert result["cause"] == "LocalEntryNotFoundError"
    assert str(tmp_path / "hf" / "hub") in result["message"]  # names the cache it looked in
    assert hub.requests == []


def test_hub_unreachable_not_cached(hub, tmp_path):
    hub.stop()  # the port is closed: connections are refused
    env = {"HF_ENDPOINT": hub.endpoint, "HF_HOME": str(tmp_path / "hf")}
    result = _child({"name": "tiny", "no_sleep": True}, env)
    _assert_download_error(result, "the Hub could not be reached (ConnectError")
    assert "Check your network connection" in result["message"]
    assert len(result["sleeps"]) == 5  # huggingface_hub retried before giving up


def test_hub_revision_and_cache_dir(tmp_path, skel21):
    # A small file in the official format keeps this test quick.
    weights = _save(tmp_path / TINY_FILE, {"model": skel21})
    hub = FakeHub({(TINY_REPO, TINY_FILE): weights}).start()
    try:
        _check_revision_and_cache_dir(hub, tmp_path, skel21)
    finally:
        hub.stop()


def _check_revision_and_cache_dir(hub: FakeHub, tmp_path: Path, skel21) -> None:
    cache = tmp_path / "custom-cache"
    env = {"HF_ENDPOINT": hub.endpoint, "HF_HOME": str(tmp_path / "hf")}
    result = _child({"name": "sam2.1-hiera-tiny", "revision": "v1", "cache_dir": str(cache)}, env)
    assert result["ok"], result
    model = build_model(TINY, device="cpu")
    model.load_state_dict(skel21)
    assert result["digest"] == state_digest(model)
    assert Path(result["path"]) == cache / "models--facebook--sam2.1-hiera-tiny" / "snapshots" / COMMIT_V1 / TINY_FILE
    assert hub.seen() == [_resolve_path("v1"), _resolve_path("v1")]
    assert not (tmp_path / "hf").exists()  # cache_dir= wins over HF_HOME

    bad = _child({"name": "tiny", "revision": "no-such-tag", "cache_dir": str(cache)}, env)
    _assert_download_error(bad, "the revision 'no-such-tag' does not exist in facebook/sam2.1-hiera-tiny")
    assert "at revision 'no-such-tag'" in bad["message"]
    assert hub.seen()[-1] == _resolve_path("no-such-tag")
