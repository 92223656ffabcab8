"""Device and precision handling that can be checked without a GPU."""

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from sam2_backend import ImagePredictor, SAM2Model, VideoTracker, build_model
from sam2_backend.devices import resolve_device
from sam2_backend.modeling.sam2 import build_sam2
from tests.images import synthetic_image
from tests.models import tiny_model

ROOT = Path(__file__).resolve().parents[2]


def test_cpu_model_never_touches_cuda():
    # A fresh interpreter, so nothing else in the test session can have initialised CUDA.
    code = textwrap.dedent("""
        import torch, numpy as np
        import sam2_backend as sb
        from tests.models import tiny_model
        model = tiny_model(128, device="cpu")
        pred = sb.ImagePredictor(model)
        pred.set_image(np.zeros((40, 50, 3), np.uint8))
        pred.predict(points=[[10, 10]], labels=[1])
        trk = sb.VideoTracker(model, np.zeros((3, 40, 50, 3), np.uint8))
        trk.add_points(0, 1, [[10, 10]], [1])
        list(trk.propagate())
        trk.close()
        assert not torch.cuda.is_initialized(), "CUDA was initialised by a CPU model"
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("ok")


def test_auto_device_on_a_machine_without_gpu():
    expected = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert resolve_device("auto").type == expected


def test_importing_the_backend_leaves_torchvision_out():
    # torchvision costs ~1 s to import; only the automatic mask generator needs it, on first use.
    code = "import sys, sam2_backend; print('torchvision' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


@pytest.mark.cpu_only("bf16 autocast on the CPU against the test model")
def test_plain_bf16_autocast_on_cpu_is_close():
    """A bf16 model without the fast CPU path (as on CUDA): fp32 weights under bf16 autocast."""
    model = tiny_model(256)
    autocast = build_sam2(model.config, precision="bf16").eval()
    autocast.load_state_dict(model.state_dict())
    assert autocast.precision == "bf16" and type(autocast) is SAM2Model
    image = synthetic_image(100, 120)
    exact, fast = ImagePredictor(model), ImagePredictor(autocast)
    exact.set_image(image)
    fast.set_image(image)
    a = exact.predict(points=[[50, 40]], labels=[1]).logits
    b = fast.predict(points=[[50, 40]], labels=[1]).logits
    assert exact.get_image_embedding().dtype == torch.float32
    assert not (a == b).all()  # bf16 really ran
    assert abs(a - b).max() < 0.5


def test_model_precision_option():
    exact = tiny_model(128, precision="fp32")
    fast = tiny_model(128, precision="bf16")
    fast.load_state_dict(exact.state_dict())
    assert tiny_model(128).precision == "fp32"  # bf16 on a CPU is opt-in
    assert fast.precision == "bf16" and fast.no_mem_embed.dtype == torch.float32
    outs = []
    for model in (exact, fast):
        pred = ImagePredictor(model)
        pred.set_image(synthetic_image(40, 50))
        outs.append(pred.predict(points=[[10, 10]], labels=[1]).logits)
    assert 0 < abs(outs[0] - outs[1]).max() < 0.5  # bf16 ran, and stayed close
    with pytest.raises(ValueError, match="Unsupported precision"):
        build_model("tiny", device="cpu", precision="int8")


def test_predictors_take_the_precision_from_the_model():
    model = tiny_model(128)
    clip = np.zeros((2, 40, 50, 3), np.uint8)
    for make in (lambda: ImagePredictor(model, autocast="bf16"), lambda: VideoTracker(model, clip, autocast=False)):
        with pytest.raises(TypeError, match=r"no longer an argument.*load_model\(name, precision='bf16'\)"):
            make()
