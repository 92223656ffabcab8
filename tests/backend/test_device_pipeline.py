"""The GPU and MPS data path, checked on the CPU: what each device is given, and that the numbers stay.

* Images go to a non-CPU device as uint8 and are prepared there (``preprocess_uint8``); on the
  CPU the path is unchanged. Which path runs is decided per device; the device-side preparation
  is checked against the CPU path here (the same operations, so the same numbers on one device).
* Where a device lacks a kernel (bicubic / antialiased ``interpolate`` on MPS with older torch)
  the resize runs on the CPU; where it lacks bfloat16 (MPS before macOS 14), memories are stored
  as float32 rounded to bf16 values. Both fallbacks are forced here with patched probes.
* Small host->device copies hidden in the loop are gone (object-pointer positions, point
  scaling), with the same numbers.

What needs a GPU: that the device-side resize differs from the CPU kernel by float rounding only
(the parity tests under SAM2_TEST_DEVICE=cuda, within PARITY_TOL), the syncs CUDA itself reports
per frame (benchmarks/gpu.sh, part "syncs"), and the MPS probes' answers on real Macs.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from sam2_backend import ImagePredictor, device_support, image, transfer
from sam2_backend.inputs import image_to_pixels, image_to_tensor
from sam2_backend.modeling.position_encoding import PositionEmbeddingRandom
from sam2_backend.transforms import coords_to_model, preprocess, preprocess_uint8
from sam2_backend.video import memory_bank, step, tracker
from sam2_backend.video.tracker import VideoTracker
from tests.models import tiny_model

MPS, CUDA, CPU = torch.device("mps"), torch.device("cuda"), torch.device("cpu")


@pytest.fixture
def no_kernels_on_cpu(monkeypatch):
    """Every device made to look like an old-torch MPS: no bicubic or antialiased resize, no bf16."""
    monkeypatch.setattr(device_support, "_COMPLETE", ())
    monkeypatch.setattr(device_support, "_interpolate_works", lambda device, mode, antialias: False)
    monkeypatch.setattr(device_support, "_stores_bf16", lambda device: False)


def _images():
    rng = np.random.default_rng(1)
    yield (rng.random((97, 131, 3)) * 255).astype(np.uint8)
    yield (rng.random((40, 300)) * 255).astype(np.uint8)  # grayscale, upsampled
    yield (rng.random((64, 64, 4)) * 255).astype(np.uint8)  # RGBA


@pytest.mark.parametrize("size", [64, 128])
def test_device_preparation_equals_the_cpu_path(size):
    for img in _images():
        pixels = image_to_pixels(img)
        assert pixels.dtype == torch.uint8 and pixels.shape == (*img.shape[:2], 3)
        expected = preprocess(image_to_tensor(img)[None], size)
        assert torch.equal(preprocess_uint8(pixels, size), expected)
    assert image_to_pixels(np.zeros((4, 4, 3), np.float32)) is None  # float images take the float path


def test_device_preparation_on_the_meta_device():
    # A non-CPU tensor mixed with a CPU one raises on ``meta`` as it would on CUDA.
    out = preprocess_uint8(torch.zeros(97, 131, 3, dtype=torch.uint8, device="meta"), 64)
    assert out.device.type == "meta" and out.shape == (1, 3, 64, 64) and out.dtype == torch.float32


def test_which_path_per_device(monkeypatch):
    assert not device_support.prepares_on_device(CPU)
    assert device_support.prepares_on_device(CUDA)  # decided without touching a GPU
    monkeypatch.setattr(device_support, "_interpolate_works", lambda device, mode, antialias: False)
    assert not device_support.prepares_on_device(MPS)  # no antialiased kernel: the CPU prepares
    monkeypatch.setattr(device_support, "_interpolate_works", lambda device, mode, antialias: True)
    assert device_support.prepares_on_device(MPS)


def test_mps_probe_catches_missing_kernels(monkeypatch):
    device_support._interpolate_works.cache_clear()
    device_support._stores_bf16.cache_clear()

    def refuse(*args, **kwargs):
        raise NotImplementedError("not currently implemented for the MPS device")

    monkeypatch.setattr(device_support.F, "interpolate", refuse)
    monkeypatch.setattr(device_support.torch, "zeros", refuse)
    try:
        assert not device_support.interpolate_works(MPS, "bicubic")
        assert not device_support.stores_bf16(MPS)
        assert device_support.interpolate_works(CPU, "bicubic") and device_support.stores_bf16(CPU)
    finally:
        device_support._interpolate_works.cache_clear()
        device_support._stores_bf16.cache_clear()


class DeviceMoves(TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self.moves = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.Tensor.cpu or (func is torch.Tensor.to and args[1:] and isinstance(args[1], torch.device)):
            self.moves.append(func.__name__)
        return func(*args, **kwargs)


def test_resizes_without_a_kernel_run_on_the_cpu(no_kernels_on_cpu):
    x = torch.randn(1, 8, 7, 7)
    with DeviceMoves() as seen:
        out = device_support.interpolate(x, (14, 14), "bicubic")
    assert seen.moves == ["cpu", "to"]  # there and back
    assert torch.equal(out, F.interpolate(x, size=(14, 14), mode="bicubic", align_corners=False))


def test_bf16_rounding_is_bit_exact():
    gen = torch.Generator().manual_seed(0)
    bits = torch.randint(-(2**31), 2**31 - 1, (1 << 20,), generator=gen, dtype=torch.int64).to(torch.int32)
    special = torch.tensor(
        [0.0, -0.0, 1.0, -1.0, 1 + 2**-8, 1 + 3 * 2**-8, 1 + 2**-8 + 2**-20, 3.3895e38, 3.4028e38, 1e-40, -1e-45]
        + [float("inf"), float("-inf"), float("nan"), -float("nan")]
    )
    for x in (bits.view(torch.float32), special, torch.randn(1000, generator=gen) * 1e3):
        rounded = device_support.round_to_bf16(x)
        expected = x.to(torch.bfloat16).float()
        assert rounded.dtype == torch.float32
        nan = x.isnan()
        assert torch.equal(rounded.isnan(), nan)  # NaN's bits differ between torch's own kernels
        assert torch.equal(rounded[~nan].view(torch.int32), expected[~nan].view(torch.int32))


def test_memories_without_bf16_give_the_same_tracking(monkeypatch):
    model = tiny_model(128)
    clip = (np.random.default_rng(2).random((6, 96, 128, 3)) * 255).astype(np.uint8)

    def run():
        with VideoTracker(model, clip, memory_frames_in_ram=None) as trk:
            trk.add_box(0, 1, [8, 8, 60, 70])
            masks = dict(trk.propagate())
            return masks, [trk.frame_output(f, 1) for f in range(len(clip))], trk._objects[1].non_cond.get(3)

    masks, outputs, state = run()
    assert state.maskmem.dtype == torch.bfloat16
    monkeypatch.setattr(device_support, "_COMPLETE", ())
    monkeypatch.setattr(device_support, "_stores_bf16", lambda device: False)
    masks_fp32, outputs_fp32, state_fp32 = run()
    assert state_fp32.maskmem.dtype == torch.float32
    assert torch.equal(state_fp32.maskmem, state.maskmem.float())
    for f in masks:
        np.testing.assert_array_equal(masks_fp32[f][1], masks[f][1])
        np.testing.assert_array_equal(outputs_fp32[f][0], outputs[f][0])
        assert outputs_fp32[f][1] == outputs[f][1]


def _track(model, clip, monkeypatch, on_device):
    monkeypatch.setattr(tracker, "prepares_on_device", lambda device: on_device)
    with VideoTracker(model, clip) as trk:
        sent = trk._to_input(clip[0])
        trk.add_box(0, 1, [8, 8, 60, 70])
        return sent, dict(trk.propagate())


def test_tracker_sends_uint8_frames_off_the_cpu(monkeypatch):
    """With the device path forced on a CPU model, frames go as uint8 and the masks are the same."""
    model = tiny_model(128)
    clip = (np.random.default_rng(3).random((4, 96, 128, 3)) * 255).astype(np.uint8)
    sent, masks = _track(model, clip, monkeypatch, on_device=False)
    assert sent.dtype == torch.float32 and sent.shape == (1, 3, 128, 128)
    sent_u8, masks_u8 = _track(model, clip, monkeypatch, on_device=True)
    assert sent_u8.dtype == torch.uint8 and sent_u8.shape == (96, 128, 3)
    for f in masks:
        np.testing.assert_array_equal(masks_u8[f][1], masks[f][1])


def test_image_predictor_prepares_on_the_device(monkeypatch):
    model = tiny_model(128)
    img = (np.random.default_rng(4).random((90, 120, 3)) * 255).astype(np.uint8)
    pred = ImagePredictor(model)
    pred.set_image(img)
    embedding = pred.get_image_embedding().clone()
    sent = []
    to_device = transfer.to_device
    monkeypatch.setattr(transfer, "to_device", lambda x, device: sent.append(x.dtype) or to_device(x, device))
    monkeypatch.setattr(image, "prepares_on_device", lambda device: True)
    pred.set_image(img)
    assert sent == [torch.uint8] and pred.orig_hw == (90, 120)
    assert torch.equal(pred.get_image_embedding(), embedding)
    sent.clear()
    pred.set_image(img.astype(np.float32) / 255)  # a float image goes as float32
    assert sent == [torch.float32]


def test_positions_without_a_host_copy():
    for values in [(1,), (3, 1, 2), (-5, 0, 7), (100, -300, 15), (5000,)]:
        got = step._positions(values, CPU)
        assert got.dtype == torch.int64 and torch.equal(got, torch.tensor(values))
    assert step._POSITION_TABLES[CPU].shape[0] > 2 * 5000  # grown as needed


def test_point_scaling_without_a_host_copy():
    coords = torch.rand(2, 5, 2) * torch.tensor([640.0, 480.0])
    pe = PositionEmbeddingRandom(16)
    old = pe._encode((coords * coords.new_tensor([1.0 / 128, 1.0 / 96])).float())
    assert torch.equal(pe.forward_with_coords(coords, (96, 128)), old)
    assert torch.equal(coords_to_model(coords, (480, 640), 1024), coords / coords.new_tensor([640, 480]) * 1024)


@pytest.mark.parametrize("bf16", [True, False])
def test_tracking_steps_mix_no_devices(monkeypatch, bf16):
    """Prompt, then track three frames with the model on ``meta``: a CPU tensor that is not a
    0-dim scalar mixed with a ``meta`` one raises, as it would with a CUDA one."""
    if not bf16:
        monkeypatch.setattr(device_support, "_COMPLETE", ())
        monkeypatch.setattr(device_support, "_stores_bf16", lambda device: False)
    model = tiny_model(128, device="cpu").to("meta")
    meta = torch.device("meta")

    def zeros(*shape):
        return torch.zeros(*shape, device=meta)

    with torch.inference_mode():
        image = preprocess_uint8(torch.zeros(96, 128, 3, dtype=torch.uint8, device=meta), 128)
        assert image.shape == (1, 3, 128, 128)
        high_res = [zeros(1, 32, 32, 32), zeros(1, 64, 16, 16)]
        feats = step.FrameFeatures(zeros(1, 256, 8, 8), zeros(1, 256, 8, 8), high_res)
        memory = memory_bank.ObjectMemory(non_cond=memory_bank.SpillDict(None, None, meta))
        points = (zeros(1, 1, 2), torch.ones(1, 1, dtype=torch.int32, device=meta))
        for frame in range(4):
            out = step.track_step(
                model, frame, feats, memory, is_init_cond=frame == 0, points=points if frame == 0 else None,
                mask=None, num_frames=10, reverse=False,
            )  # fmt: skip
            maskmem = step.encode_memory(model, feats, out.high_res, out.object_score, prompted=frame == 0)
            state = memory_bank.FrameState(out.low_res, out.obj_ptr, out.object_score, maskmem)
            (memory.cond if frame == 0 else memory.non_cond)[frame] = state
    assert maskmem.device == meta and maskmem.dtype == (torch.bfloat16 if bf16 else torch.float32)
