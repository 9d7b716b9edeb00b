"""Import checks a model as a download does (app/core/models/validate.py): a truncated GGUF or safetensors file, a
broken SAM checkpoint or an incomplete diffusers folder is refused with the reason and nothing is copied, linked or
registered; the registry flags broken files put in the models folder by hand. Real files throughout."""

import json
import pickle
import struct
import subprocess
import sys

import pytest

from app.core import paths
from app.core.errors import IncompleteFile, UserError
from app.core.models import registry, validate
from tests.core.models.files import diffusers_folder, gguf_bytes, safetensors_bytes, sam_bytes, write


def nothing_imported():
    root = paths.models_dir()
    files = [p for p in root.rglob("*") if p.is_file() and p.name != registry.SOURCES_FILE] if root.exists() else []
    return registry.installed() == [] and files == []


@pytest.mark.parametrize("cut", [0.5, 0.999, 100])
def test_a_truncated_gguf_is_refused_at_import_copy_or_link(tmp_path, cut):
    data = gguf_bytes()
    size = int(len(data) * cut) if cut < 1 else cut  # in the tensor data, the last bytes, inside the header
    src = write(tmp_path / "cut-Q8_0.gguf", data[:size])
    for link in (False, True):
        with pytest.raises(IncompleteFile, match="cut-Q8_0.gguf is incomplete"):
            registry.import_model(src, link=link)
        assert nothing_imported()
    good = write(tmp_path / "whole-Q8_0.gguf", data)
    assert registry.import_model(good).id == "chat/whole-Q8_0.gguf"


def test_a_gguf_with_a_damaged_header_or_another_format_is_refused(tmp_path):
    data = bytearray(gguf_bytes())
    struct.pack_into("<I", data, 24 + 8 + len("general.architecture"), 99)  # the first key's value type
    with pytest.raises(UserError, match="damaged: its GGUF header cannot be read"):
        registry.import_model(write(tmp_path / "bad-type.gguf", bytes(data)))
    page = b"<!DOCTYPE html><html><body>Not found</body></html>"
    with pytest.raises(UserError, match="not a GGUF file.*web page"):
        registry.import_model(write(tmp_path / "page.gguf", page))
    with pytest.raises(IncompleteFile, match="empty"):
        registry.import_model(write(tmp_path / "empty.gguf", b""))
    assert nothing_imported()


def test_safetensors_header_offsets_and_length_are_checked(tmp_path):
    data = safetensors_bytes()
    with pytest.raises(IncompleteFile, match=rf"has {len(data) - 1} of the {len(data)} bytes its header describes"):
        registry.import_model(write(tmp_path / "short.safetensors", data[:-1]))
    with pytest.raises(IncompleteFile, match="ends inside its header"):
        registry.import_model(write(tmp_path / "header-cut.safetensors", data[:40]))
    with pytest.raises(UserError, match="7 unexpected bytes follow the last tensor"):
        registry.import_model(write(tmp_path / "long.safetensors", data + b"garbage"))
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header["layer.bias"]["data_offsets"] = [10, 5]
    raw = json.dumps(header, separators=(",", ":")).encode().ljust(n)
    with pytest.raises(UserError, match="data offsets are out of order"):
        registry.import_model(write(tmp_path / "offsets.safetensors", data[:8] + raw + data[8 + n:]))
    assert nothing_imported()
    assert registry.import_model(write(tmp_path / "ok.safetensors", data)).id == "diffusion/ok.safetensors"


@pytest.mark.slow
def test_sam_checkpoints_are_checked_by_the_segment_loaders_recogniser(tmp_path):
    import torch

    data = sam_bytes()
    with pytest.raises(IncompleteFile, match="archive's directory.*missing"):
        registry.import_model(write(tmp_path / "sam_cut.pth", data[: len(data) // 2]))
    other = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(4, 3, 3, 3)}, other)
    with pytest.raises(UserError, match="not a Segment Anything"):
        registry.import_model(other, kind="sam")
    assert nothing_imported()
    model = registry.import_model(write(tmp_path / "sam_tiny.pth", data))
    assert model.id == "sam/sam_tiny.pth" and model.problem is None


def test_pickle_checkpoints_outside_sam(tmp_path):
    legacy = write(tmp_path / "legacy.ckpt", pickle.dumps({"state_dict": {}}, protocol=2))
    assert validate.check_file(legacy) is False  # nothing to check without unpickling: accepted as it is
    assert registry.import_model(legacy).id == "diffusion/legacy.ckpt"
    with pytest.raises(UserError, match="not a PyTorch checkpoint"):
        registry.import_model(write(tmp_path / "text.ckpt", b"just some text, renamed"))


def test_diffusers_folders_need_every_component(tmp_path):
    def fresh(name):
        return diffusers_folder(tmp_path / name)

    no_unet = fresh("no-unet")
    (no_unet / "unet" / "diffusion_pytorch_model.safetensors").unlink()
    with pytest.raises(UserError, match="no-unet is incomplete: the component 'unet' has no weights file"):
        registry.import_model(no_unet)
    no_vae = fresh("no-vae")
    for p in (no_vae / "vae").iterdir():
        p.unlink()
    (no_vae / "vae").rmdir()
    with pytest.raises(UserError, match="lists the component 'vae' but the folder vae/ is missing"):
        registry.import_model(no_vae)
    cut = fresh("cut-weights")
    weights = cut / "text_encoder" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10])
    with pytest.raises(IncompleteFile, match="text_encoder/model.safetensors is not a valid .safetensors"):
        registry.import_model(cut)
    sharded = fresh("sharded")
    (sharded / "unet" / "diffusion_pytorch_model.safetensors.index.json").write_text(json.dumps(
        {"weight_map": {"a": "diffusion_pytorch_model-00001-of-00002.safetensors",
                        "b": "diffusion_pytorch_model-00002-of-00002.safetensors"}}))
    with pytest.raises(UserError, match="names the shard diffusion_pytorch_model-00001-of-00002.safetensors"):
        registry.import_model(sharded)
    assert nothing_imported()
    model = registry.import_model(fresh("complete"))
    assert model.id == "diffusion/complete" and model.format == "diffusers" and model.problem is None


def test_other_folders_need_weights(tmp_path):
    folder = tmp_path / "embedder"
    write(folder / "modules.json", b"[]")
    write(folder / "config.json", b"{}")
    with pytest.raises(UserError, match="embedder has no weights file"):
        registry.import_model(folder)
    write(folder / "config.json", b'{"architectures": ')
    write(folder / "model.safetensors", safetensors_bytes())
    with pytest.raises(UserError, match="config.json is not valid JSON"):
        registry.import_model(folder)


def test_the_registry_flags_broken_files_put_in_the_folder_by_hand(subprocess_env):
    data = gguf_bytes()
    write(registry.kind_dir("chat") / "good.gguf", data)
    write(registry.kind_dir("chat") / "half.gguf", data[: len(data) // 2])
    write(registry.kind_dir("diffusion") / "short.safetensors", safetensors_bytes()[:-4])
    found = {m.id: m.problem for m in registry.installed()}
    assert found["chat/good.gguf"] is None
    assert "half.gguf is incomplete" in found["chat/half.gguf"]
    assert "short.safetensors is not a valid .safetensors" in found["diffusion/short.safetensors"]
    r = subprocess.run([sys.executable, "-m", "app", "models", "list"], env=subprocess_env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and "! broken: half.gguf is incomplete" in r.stdout, r.stdout + r.stderr
    assert r.stdout.count("! broken") == 2
    r = subprocess.run([sys.executable, "-m", "app", "models", "list", "--json"], env=subprocess_env,
                       capture_output=True, text=True, timeout=120)
    rows = {row["id"]: row["problem"] for row in json.loads(r.stdout)}
    assert rows["chat/good.gguf"] is None and "incomplete" in rows["chat/half.gguf"]


def test_import_from_the_cli_refuses_with_the_reason(subprocess_env, tmp_path):
    data = gguf_bytes()
    src = write(tmp_path / "cli-cut.gguf", data[: len(data) // 3])
    r = subprocess.run([sys.executable, "-m", "app", "models", "import", str(src)], env=subprocess_env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "\nerror: cli-cut.gguf is incomplete" in r.stderr
    assert "Traceback" not in r.stderr and nothing_imported()


@pytest.mark.slow
def test_a_sam2_folder_is_checked_as_one_model(tmp_path):
    """A Hugging Face SAM-family folder (a tiny EdgeTAM, built by transformers) imports: its model.safetensors is
    checked as safetensors, not read as a SAM 1 checkpoint, and its config.json must name a SAM-family model."""
    import shutil

    from tests.core.segment.tiny_sam2 import save_tiny

    folder = save_tiny(tmp_path / "edgetam", "edgetam")
    model = registry.import_model(folder)
    assert (model.id, model.format, model.problem) == ("sam/edgetam", "transformers", None)
    other = shutil.copytree(folder, tmp_path / "not-sam")
    config = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "model_type": "bert"}))
    with pytest.raises(UserError, match="not Segment Anything"):
        registry.import_model(other, kind="sam")
    assert [m.id for m in registry.installed()] == ["sam/edgetam"]
