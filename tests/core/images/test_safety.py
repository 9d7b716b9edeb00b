"""Only safetensors by default: pickle checkpoints are refused without being executed; bad files → clear errors."""

import json
import pickle

import pytest

from app.cli import main as cli_main
from app.core.errors import UserError
from app.core.images.jobs import ImageEngine
from app.core.images.params import GenerationParams
from app.core.images.safety import check_model_path
from app.core.jobs import JobState
from app.core.settings import ImagesSettings


class _Evil:
    """Unpickling this creates a marker file: what a booby-trapped checkpoint would do (and worse)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture
def evil_ckpt(tmp_path):
    marker = tmp_path / "PWNED"
    path = tmp_path / "model.ckpt"
    with open(path, "wb") as fh:
        pickle.dump({"state_dict": {"model.diffusion_model.x": _Evil(marker)}}, fh)
    # Sanity: the file really is malicious (unpickling it runs the payload).
    with open(path, "rb") as fh:
        pickle.load(fh)
    assert marker.exists()
    marker.unlink()
    return path, marker


def test_malicious_ckpt_refused_by_default_without_running_it(evil_ckpt):
    path, marker = evil_ckpt
    engine = ImageEngine(ImagesSettings())
    with pytest.raises(UserError, match=r"pickle-based.*\.ckpt.*safetensors"):
        engine.generate(GenerationParams(prompt="x", model=str(path)), JobState())
    assert not marker.exists()


def test_malicious_ckpt_allowed_by_setting_is_still_not_executed(evil_ckpt):
    path, marker = evil_ckpt
    engine = ImageEngine(ImagesSettings(allow_pickle=True))
    with pytest.raises(UserError, match="weights-only"):
        engine.generate(GenerationParams(prompt="x", model=str(path)), JobState())
    assert not marker.exists()


def test_cli_refuses_malicious_ckpt_with_one_line_error(evil_ckpt, tmp_path, capsys):
    path, marker = evil_ckpt
    rc = cli_main(["image", "--model", str(path), "a cat", "--out", str(tmp_path / "o.png")])
    err = capsys.readouterr().err
    assert rc == 1 and "error:" in err and "pickle" in err and "Traceback" not in err
    assert not marker.exists() and not (tmp_path / "o.png").exists()


@pytest.mark.slow
def test_plain_ckpt_loads_weights_only_when_allowed(tiny_models, tmp_path):
    import numpy as np
    import torch
    from PIL import Image

    from tests.core.images import tiny

    ckpt = tmp_path / "tiny.ckpt"
    torch.save({"state_dict": tiny.ldm_state_dict(tiny.build_components())}, ckpt)
    params = GenerationParams(prompt="a cat", model=str(ckpt), config=str(tiny_models["config"]), steps=2,
                              width=64, height=64, seed=3, scheduler="Euler")
    with pytest.raises(UserError, match="pickle"):
        ImageEngine(ImagesSettings()).generate(params, JobState())
    result = ImageEngine(ImagesSettings(allow_pickle=True, preview="off")).generate(params, JobState())[0]
    params.model = str(tiny_models["single"])
    same = ImageEngine(ImagesSettings(preview="off")).generate(params, JobState())[0]
    assert np.array_equal(np.asarray(Image.open(result.path)), np.asarray(Image.open(same.path)))


def test_missing_file_says_not_found(tmp_path):
    with pytest.raises(UserError, match="not found"):
        check_model_path(tmp_path / "nope.safetensors")


def test_truncated_safetensors_says_incomplete(tiny_models, tmp_path):
    data = tiny_models["single"].read_bytes()
    bad = tmp_path / "half.safetensors"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="incomplete or corrupt"):
        ImageEngine().generate(GenerationParams(prompt="x", model=str(bad)), JobState())


def test_random_bytes_safetensors_says_not_valid(tmp_path):
    bad = tmp_path / "junk.safetensors"
    bad.write_bytes(b"\x00\x01garbage" * 100)
    with pytest.raises(UserError, match="not a valid .safetensors"):
        check_model_path(bad)


def test_safetensors_that_is_not_a_checkpoint_says_so(tmp_path):
    import torch
    from safetensors.torch import save_file

    lora_like = tmp_path / "lora.safetensors"
    save_file({"lora_unet_down.weight": torch.zeros(2, 2)}, str(lora_like))
    with pytest.raises(UserError, match="not a Stable Diffusion checkpoint"):
        ImageEngine().generate(GenerationParams(prompt="x", model=str(lora_like), config="x"), JobState())


@pytest.mark.slow
def test_folder_with_missing_weights_gives_clear_error(tiny_models, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_models["folder"], broken)
    (broken / "unet" / "diffusion_pytorch_model.safetensors").unlink()
    with pytest.raises(UserError, match="Could not load broken"):
        ImageEngine().generate(GenerationParams(prompt="x", model=str(broken), width=64, height=64, steps=1),
                               JobState())


def test_folder_with_only_pickle_weights_refused(tmp_path):
    folder = tmp_path / "old-model"
    (folder / "unet").mkdir(parents=True)
    (folder / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    (folder / "unet" / "diffusion_pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(UserError, match="pickle-based"):
        check_model_path(folder)


@pytest.mark.parametrize("change,message", [
    (dict(mode="inpaint", init_image="a.png"), "mask"),
    (dict(mode="img2img"), "starting image"),
    (dict(width=500), "multiples of 8"),
    (dict(steps=0), "Steps"),
    (dict(control="canny"), "ControlNet"),
    (dict(scheduler="Nope"), "Unknown scheduler"),
    (dict(model=""), "Choose an image model"),
])
def test_bad_requests_are_explained(change, message):
    params = GenerationParams(prompt="x", model="m.safetensors")
    for k, v in change.items():
        setattr(params, k, v)
    with pytest.raises(UserError, match=message):
        ImageEngine().generate(params, JobState())


def _hf_cache_link(blob_source, tmp_path, name):
    """The Hugging Face cache layout: snapshots/<rev>/<name> is a link to blobs/<sha256> (no suffix, no name)."""
    import shutil

    blob = tmp_path / "hub" / "blobs" / "9f2c41d0e7"
    blob.parent.mkdir(parents=True)
    shutil.copy2(blob_source, blob)
    link = tmp_path / "hub" / "snapshots" / "0123abc" / name
    link.parent.mkdir(parents=True)
    link.symlink_to(blob)
    return link


def test_a_link_keeps_its_name_and_suffix(tiny_models, tmp_path):
    link = _hf_cache_link(tiny_models["single"], tmp_path, "sd_turbo.safetensors")
    checked = check_model_path(link)
    assert checked == link and checked.suffix == ".safetensors"
    folder_link = tmp_path / "linked-folder"
    folder_link.symlink_to(tiny_models["folder"], target_is_directory=True)
    assert check_model_path(folder_link) == folder_link


def test_a_safetensors_link_to_a_pickle_blob_is_not_unpickled(evil_ckpt, tmp_path):
    path, marker = evil_ckpt
    link = _hf_cache_link(path, tmp_path, "model.safetensors")
    for allow in (False, True):
        with pytest.raises(UserError, match="not a valid .safetensors"):
            ImageEngine(ImagesSettings(allow_pickle=allow)).generate(GenerationParams(prompt="x", model=str(link)),
                                                                     JobState())
    assert not marker.exists()


@pytest.mark.slow
def test_a_checkpoint_linked_from_the_hugging_face_cache_loads(tiny_models, tmp_path):
    """Was: the loader followed the link to blobs/<sha256>, saw no .safetensors suffix and took the pickle path
    ("could not be read weights-only"), although the file is safetensors and pickle files were not allowed."""
    link = _hf_cache_link(tiny_models["single"], tmp_path, "v1-5-pruned-emaonly.safetensors")
    params = GenerationParams(prompt="a cat", model=str(link), config=str(tiny_models["config"]), steps=1,
                              width=64, height=64, seed=3, scheduler="Euler")
    engine = ImageEngine(ImagesSettings(preview="off"))
    assert engine.generate(params, JobState())[0].path.exists()
    assert engine.cache.model.path == link and engine.cache.model.family == "sd1"
