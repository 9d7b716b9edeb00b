"""Loading SAM checkpoints: architecture from tensor shapes, safe unpickling only, clear errors."""

import pickle

import pytest
import torch

from app.core.errors import UserError
from app.core.segment.model import build_sam, infer_arch, inspect_checkpoint, load_sam, read_state_dict


@pytest.mark.parametrize("name,embed,depth,heads,globals_", [
    ("vit_b", 768, 12, 12, (2, 5, 8, 11)),
    ("vit_l", 1024, 24, 16, (5, 11, 17, 23)),
    ("vit_h", 1280, 32, 16, (7, 15, 23, 31)),
])
def test_official_architectures_are_read_from_shapes(name, embed, depth, heads, globals_):
    from segment_anything import sam_model_registry

    with torch.device("meta"):  # shapes only, no memory
        state = sam_model_registry[name]().state_dict()
    arch = infer_arch(state)
    assert (arch.embed_dim, arch.depth, arch.num_heads, arch.global_attn_indexes) == (embed, depth, heads, globals_)
    assert (arch.img_size, arch.patch_size, arch.window_size, arch.prompt_embed_dim) == (1024, 16, 14, 256)
    assert arch.name == name
    with torch.device("meta"):
        rebuilt = build_sam(arch).state_dict()
    assert {k: tuple(v.shape) for k, v in rebuilt.items()} == {k: tuple(v.shape) for k, v in state.items()}


def test_tiny_model_with_a_misleading_name_loads_through_the_same_code(tiny_sam_path):
    arch = inspect_checkpoint(tiny_sam_path)
    assert (arch.embed_dim, arch.depth, arch.num_heads, arch.global_attn_indexes) == (64, 2, 2, (1,))
    assert (arch.img_size, arch.window_size, arch.prompt_embed_dim) == (256, 4, 32)
    assert arch.name.startswith("custom")
    sam = load_sam(tiny_sam_path, "cpu")
    original = torch.load(tiny_sam_path, weights_only=True)
    loaded = sam.model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in original.items())
    assert sam.model.image_encoder.img_size == 256 and sam.device == "cpu"


def test_wrapped_and_prefixed_state_dicts_load(tiny_sam_path, tmp_path):
    state = torch.load(tiny_sam_path, weights_only=True)
    wrapped = tmp_path / "wrapped.pth"
    torch.save({"model": {f"module.{k}": v for k, v in state.items()}, "epoch": 3}, wrapped)
    assert load_sam(wrapped, "cpu").fingerprint == load_sam(tiny_sam_path, "cpu").fingerprint


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_malicious_pickle_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "sam_vit_b.pth"
    torch.save({"image_encoder.patch_embed.proj.weight": torch.zeros(1), "x": _Payload(marker)}, evil)
    assert not marker.exists()
    with pytest.raises(UserError, match="run code"):
        load_sam(evil, "cpu")
    assert not marker.exists()
    # a plain (non-torch) pickle with the same trick
    raw = tmp_path / "raw.pth"
    raw.write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(UserError):
        read_state_dict(raw)
    assert not marker.exists()


def test_not_a_sam_checkpoint_is_a_clear_error(tmp_path):
    other = tmp_path / "resnet.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, other)
    with pytest.raises(UserError, match="not a Segment Anything"):
        load_sam(other, "cpu")


@pytest.mark.parametrize("content", [b"", b"\x00garbage" * 100, b"PK\x03\x04truncated zip"])
def test_corrupt_checkpoint_is_a_clear_error(tmp_path, content):
    bad = tmp_path / "broken.pth"
    bad.write_bytes(content)
    with pytest.raises(UserError, match="broken.pth"):
        load_sam(bad, "cpu")


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_sam(tmp_path / "nope.pth")
    with pytest.raises(UserError, match="folder"):
        load_sam(tmp_path)


def test_truncated_weights_are_reported(tiny_sam_path, tmp_path):
    state = torch.load(tiny_sam_path, weights_only=True)
    state.pop("mask_decoder.iou_token.weight")
    partial = tmp_path / "partial.pth"
    torch.save(state, partial)
    with pytest.raises(UserError, match="missing"):
        load_sam(partial, "cpu")
