"""SAM 2.1 and EdgeTAM through Hearth's loader and engine: tiny random models saved with save_pretrained, compared
with the raw transformers calls; clear errors for broken or mislabelled folders."""

import json
import shutil

import numpy as np
import pytest
import torch

from app.core.errors import JobCancelled, UserError
from app.core.jobs import JobState
from app.core.models import registry
from app.core.segment.cache import EmbeddingCache
from app.core.segment.predictor import Prompts, SegmentEngine
from app.core.segment.images import from_array
from app.core.segment.model import inspect_checkpoint, load_sam
from tests.core.segment.tiny_sam import build_tiny_sam, photo
from tests.core.segment.tiny_sam2 import save_tiny

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sam2_dir(tmp_path_factory):
    return save_tiny(tmp_path_factory.mktemp("m") / "some-folder-name", "sam2_video")


@pytest.fixture(scope="module")
def edgetam_dir(tmp_path_factory):
    return save_tiny(tmp_path_factory.mktemp("m") / "e", "edgetam")


@pytest.fixture
def image():
    return from_array(photo(320, 240))


def engine_for(path, cache_dir=None):
    engine = SegmentEngine(EmbeddingCache(cache_dir) if cache_dir else None, device="cpu")
    engine.load(path)
    return engine


def test_recognised_by_config_not_by_name(sam2_dir, edgetam_dir, tmp_path):
    arch = inspect_checkpoint(sam2_dir)
    assert (arch.family, arch.model_type, arch.img_size) == ("sam2", "sam2_video", 256)
    assert arch.name.startswith("SAM 2")
    assert inspect_checkpoint(edgetam_dir).name == "EdgeTAM"
    # the released configs are recognised by their Hiera stages
    cfg = json.loads((sam2_dir / "config.json").read_text())
    cfg["vision_config"]["backbone_config"]["blocks_per_stage"] = [1, 2, 7, 2]
    cfg["prompt_encoder_config"]["image_size"] = 1024
    folder = tmp_path / "looks-like-nothing"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(cfg))
    assert inspect_checkpoint(folder).name == "SAM 2 hiera tiny"
    # the models folder lists an installed copy as a SAM model, whatever its name
    installed = registry.kind_dir("sam") / "my-segmenter"
    shutil.copytree(sam2_dir, installed)
    (model,) = registry.installed("sam")
    assert (model.path, model.format) == (installed, "transformers")


def test_click_gives_three_candidates_identical_to_transformers(sam2_dir, image):
    from transformers import Sam2Processor

    engine = engine_for(sam2_dir)
    sam = engine.sam
    emb = engine.encode(image)
    assert [tuple(f.shape) for f in emb.features] == [(1, 32, 16, 16), (1, 4, 64, 64), (1, 8, 32, 32)]
    pred = engine.predict(emb, Prompts(((100, 120, 1),)))
    assert pred.count == 3 and pred.ious.shape == (3,)
    masks = [pred.mask(i) for i in range(3)]
    assert all(m.shape == (240, 320) and m.dtype == bool for m in masks)

    processor = Sam2Processor.from_pretrained(str(sam2_dir))  # the documented raw path, from pixels
    inputs = processor(images=image.rgb, input_points=[[[[100, 120]]]], input_labels=[[[1]]], return_tensors="pt")
    with torch.inference_mode():
        out = sam.model(**inputs)
    raw = processor.post_process_masks(out.pred_masks, inputs["original_sizes"])[0][0]
    np.testing.assert_allclose(pred.ious, out.iou_scores[0, 0].numpy(), rtol=1e-4, atol=1e-5)
    for mine, theirs in zip(masks, raw.numpy()):
        assert (mine == theirs).mean() > 0.999


def test_box_negative_click_and_refinement(edgetam_dir, image):
    engine = engine_for(edgetam_dir)
    emb = engine.encode(image)
    first = engine.predict(emb, Prompts(((100, 120, 1),)))
    refined = engine.predict(emb, Prompts(((100, 120, 1), (250, 60, 0))), mask_input=first.logits(first.best))
    unrefined = engine.predict(emb, Prompts(((100, 120, 1), (250, 60, 0))))
    boxed = engine.predict(emb, Prompts(((100, 120, 1),), (40, 60, 180, 190)))
    for a, b in ((first, refined), (refined, unrefined), (first, boxed)):
        assert not np.array_equal(a.low_res, b.low_res)
    assert engine.predict(emb, Prompts(((100, 120, 1),)), multimask=False).count == 1
    assert boxed.mask(0, (160, 120)).shape == (120, 160)


def test_cache_hit_on_reopen_decodes_identically(sam2_dir, image, tmp_path):
    first = engine_for(sam2_dir, tmp_path / "cache")
    emb = first.encode(image)
    assert emb.seconds is not None and not emb.from_cache
    expected = first.predict(emb, Prompts(((100, 120, 1),), (40, 60, 180, 190)))
    restarted = engine_for(sam2_dir, tmp_path / "cache")  # a new process, same disk cache
    again = restarted.encode(from_array(image.rgb.copy()))
    assert restarted.encoder_runs == 0 and again.from_cache and again.seconds is None
    assert [tuple(f.shape) for f in again.features] == [tuple(f.shape) for f in emb.features]
    got = restarted.predict(again, Prompts(((100, 120, 1),), (40, 60, 180, 190)))
    np.testing.assert_array_equal(got.low_res, expected.low_res)


def test_encoding_reports_progress_and_can_be_cancelled(edgetam_dir, image):
    engine = engine_for(edgetam_dir)
    seen = []
    engine.encode(image, JobState(on_progress=lambda f, t: seen.append(f)))
    assert seen[0] == 0.0 and seen[-1] == 1.0 and len(seen) >= 4
    other = from_array(photo(320, 240, seed=4))
    state = JobState(on_progress=lambda f, t: state.cancel() if f else None)
    with pytest.raises(JobCancelled):
        engine.encode(other, state)


def test_a_folder_with_a_missing_file_is_a_clear_error(sam2_dir, tmp_path):
    no_weights = shutil.copytree(sam2_dir, tmp_path / "no-weights")
    (no_weights / "model.safetensors").unlink()
    with pytest.raises(UserError, match="missing model.safetensors"):
        load_sam(no_weights, "cpu")
    no_config = shutil.copytree(sam2_dir, tmp_path / "no-config")
    (no_config / "config.json").unlink()
    with pytest.raises(UserError, match="holds weights but no config.json"):
        load_sam(no_config, "cpu")
    truncated = shutil.copytree(sam2_dir, tmp_path / "truncated")
    data = (truncated / "model.safetensors").read_bytes()
    (truncated / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="could not be loaded|not a readable safetensors"):
        load_sam(truncated, "cpu")
    pickled = shutil.copytree(sam2_dir, tmp_path / "pickled")
    (pickled / "model.safetensors").rename(pickled / "pytorch_model.bin")
    with pytest.raises(UserError, match="safetensors only"):
        load_sam(pickled, "cpu")


def test_sam1_weights_made_to_look_like_sam2_are_refused(sam2_dir, tmp_path):
    from safetensors.torch import save_file

    fake = shutil.copytree(sam2_dir, tmp_path / "sam2.1-hiera-tiny")
    state = {k: v.contiguous() for k, v in build_tiny_sam().state_dict().items()}
    save_file(state, str(fake / "model.safetensors"))
    with pytest.raises(UserError, match="original Segment Anything \\(SAM 1\\) weights"):
        load_sam(fake, "cpu")
    # Meta's own SAM 2 .pt layout, and a transformers weights file on its own, say what to open instead
    meta = tmp_path / "sam2.1_hiera_tiny.pt"
    torch.save({"model": {"image_encoder.trunk.patch_embed.proj.weight": torch.zeros(2, 3, 7, 7)}}, meta)
    with pytest.raises(UserError, match="Meta's original format"):
        load_sam(meta, "cpu")
    with pytest.raises(UserError, match="open the folder"):
        load_sam(sam2_dir / "model.safetensors", "cpu")


def test_another_kind_of_model_folder_is_refused(tmp_path):
    folder = tmp_path / "bert"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(UserError, match="'bert' model, not Segment Anything"):
        load_sam(folder, "cpu")


def test_edgetam_fused_encoder_matches_the_plain_transformers_model(edgetam_dir, image):
    from transformers import EdgeTamModel, Sam2Processor

    engine = engine_for(edgetam_dir)
    pred = engine.predict(engine.encode(image), Prompts(((100, 120, 1),)))
    raw_model = EdgeTamModel.from_pretrained(str(edgetam_dir)).eval()  # not re-parameterized
    processor = Sam2Processor.from_pretrained(str(edgetam_dir))
    inputs = processor(images=image.rgb, input_points=[[[[100, 120]]]], input_labels=[[[1]]], return_tensors="pt")
    with torch.inference_mode():
        out = raw_model(**inputs)
    np.testing.assert_allclose(pred.low_res, out.pred_masks[0, 0].numpy(), atol=1e-4)
    np.testing.assert_allclose(pred.ious, out.iou_scores[0, 0].numpy(), atol=1e-5)
