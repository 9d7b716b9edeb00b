import numpy as np
import pytest
from PIL import Image

from app.core.errors import UserError
from app.core.images import policy, preprocess
from app.core.settings import ImagesSettings


def test_policy_on_this_cpu_machine_and_overrides(monkeypatch):
    monkeypatch.setattr(policy, "_accelerators", lambda: (False, 0, False, 16 * 2**30))
    plan = policy.choose(ImagesSettings())
    assert (plan.device, plan.dtype, plan.cpu_offload, plan.attention_slicing) == ("cpu", "float32", False, False)
    assert policy.choose(ImagesSettings(device="cuda")).device == "cpu"  # asked for a GPU that is not there


def test_policy_for_gpus(monkeypatch):
    monkeypatch.setattr(policy, "_accelerators", lambda: (True, 8 * 2**30, False, 32 * 2**30))
    small = policy.choose(ImagesSettings(), "sd1")
    assert (small.device, small.dtype, small.cpu_offload, small.vae_slicing) == ("cuda", "float16", True, True)
    assert not policy.choose(ImagesSettings(cpu_offload="off")).cpu_offload
    monkeypatch.setattr(policy, "_accelerators", lambda: (True, 24 * 2**30, False, 32 * 2**30))
    assert not policy.choose(ImagesSettings(), "sdxl").cpu_offload
    monkeypatch.setattr(policy, "_accelerators", lambda: (False, 0, True, 16 * 2**30))
    mac = policy.choose(ImagesSettings())
    assert (mac.device, mac.dtype, mac.attention_slicing) == ("mps", "float16", True)
    monkeypatch.setattr(policy, "_accelerators", lambda: (False, 0, True, 96 * 2**30))
    assert not policy.choose(ImagesSettings()).attention_slicing
    assert policy.choose(ImagesSettings(precision="float32")).dtype == "float32"


def test_canny_thresholds_change_edges_and_scribble_is_white_on_black(tmp_path):
    rng = np.random.default_rng(0)
    arr = (rng.random((64, 64)) > 0.5).astype(np.uint8) * 255
    arr[:, :32] = 128
    path = tmp_path / "in.png"
    Image.fromarray(arr).convert("RGB").save(path)
    loose = np.asarray(preprocess.control_image("canny", str(path), 64, 64, 10, 50))
    strict = np.asarray(preprocess.control_image("canny", str(path), 64, 64, 500, 1000))
    assert loose.shape == (64, 64, 3) and (loose > 0).sum() >= (strict > 0).sum()
    with pytest.raises(UserError, match="low < high"):
        preprocess.control_image("canny", str(path), 64, 64, 200, 100)
    page = np.full((64, 64), 255, np.uint8)
    page[30:34, :] = 0  # a dark stroke on a white page
    Image.fromarray(page).save(tmp_path / "s.png")
    out = np.asarray(preprocess.control_image("scribble", str(tmp_path / "s.png"), 64, 64))
    assert out[31, 10, 0] == 255 and out[5, 5, 0] == 0


def test_depth_without_depth_model_is_explained(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    with pytest.raises(UserError, match="depth model"):
        preprocess.control_image("depth", str(tmp_path / "a.png"), 64, 64)
