"""Predictions with the real segment_anything modules (tiny model): prompts, candidates, refinement, cache."""

import numpy as np
import pytest

from app.core.errors import JobCancelled, UserError
from app.core.jobs import JobState
from app.core.segment.cache import EmbeddingCache
from app.core.segment.predictor import Prompts, SegmentEngine
from app.core.segment.images import from_array, load_image
from app.core.segment.jobs import preencode_job
from tests.core.segment.tiny_sam import photo, save_photo, save_tiny_sam


@pytest.fixture
def engine(tiny_sam_path, tmp_path):
    e = SegmentEngine(EmbeddingCache(tmp_path / "cache"), device="cpu")
    e.load(tiny_sam_path)
    return e


@pytest.fixture
def image():
    return from_array(photo(320, 240))


def test_click_gives_image_sized_masks_identical_to_sam_predictor(engine, image):
    from segment_anything import SamPredictor

    emb = engine.encode(image)
    pred = engine.predict(emb, Prompts(((100, 120, 1),)))
    assert pred.count == 3 and pred.ious.shape == (3,)
    masks = [pred.mask(i) for i in range(3)]
    assert all(m.shape == (240, 320) and m.dtype == bool for m in masks)
    raw = SamPredictor(engine.sam.model)
    raw.set_image(image.rgb)
    raw_masks, raw_ious, _ = raw.predict(np.array([[100, 120]]), np.array([1]))
    np.testing.assert_allclose(pred.ious, raw_ious, rtol=1e-5, atol=1e-6)
    for mine, theirs in zip(masks, raw_masks):
        assert (mine == theirs).mean() > 0.999


def test_negative_click_box_and_refinement_change_the_mask(engine, image):
    emb = engine.encode(image)
    first = engine.predict(emb, Prompts(((100, 120, 1),)))
    with_neg = engine.predict(emb, Prompts(((100, 120, 1), (250, 60, 0))), mask_input=first.logits(first.best))
    assert not np.array_equal(first.low_res, with_neg.low_res)
    assert not np.array_equal(first.mask(first.best), with_neg.mask(with_neg.best))
    boxed = engine.predict(emb, Prompts(box=(200, 40, 290, 130)))
    assert boxed.mask(boxed.best).shape == (240, 320)
    assert not np.array_equal(boxed.low_res, first.low_res)
    combo = engine.predict(emb, Prompts(((100, 120, 1),), (40, 60, 180, 190)))
    assert not np.array_equal(combo.low_res, boxed.low_res)
    # feeding back the previous logits is part of the prediction (same prompts, different result)
    same_prompts = engine.predict(emb, Prompts(((100, 120, 1), (250, 60, 0))))
    assert not np.array_equal(same_prompts.low_res, with_neg.low_res)


def test_single_mask_mode_and_display_sized_masks(engine, image):
    emb = engine.encode(image)
    single = engine.predict(emb, Prompts(((100, 120, 1),)), multimask=False)
    assert single.count == 1
    small = single.mask(0, (160, 120))
    assert small.shape == (120, 160)
    with pytest.raises(UserError):
        engine.predict(emb, Prompts())


def test_cache_hit_after_restart_runs_the_encoder_zero_times(tiny_sam_path, tmp_path, image):
    cache_dir = tmp_path / "cache"
    first = SegmentEngine(EmbeddingCache(cache_dir), device="cpu")
    first.load(tiny_sam_path)
    emb = first.encode(image)
    expected = first.predict(emb, Prompts(((100, 120, 1),)))
    assert first.encoder_runs == 1
    first.encode(image)
    assert first.encoder_runs == 1

    restarted = SegmentEngine(EmbeddingCache(cache_dir), device="cpu")  # a new process, same disk cache
    restarted.load(tiny_sam_path)
    again = restarted.encode(from_array(image.rgb.copy()))
    assert restarted.encoder_runs == 0 and again.from_cache
    got = restarted.predict(again, Prompts(((100, 120, 1),)))
    np.testing.assert_array_equal(got.low_res, expected.low_res)


def test_another_model_does_not_reuse_embeddings(tiny_sam_path, tmp_path, image):
    cache = EmbeddingCache(tmp_path / "cache")
    a = SegmentEngine(cache, device="cpu")
    a.load(tiny_sam_path)
    a.encode(image)
    b = SegmentEngine(cache, device="cpu")
    b.load(save_tiny_sam(tmp_path / "other.pth", seed=7))
    b.encode(image)
    assert b.encoder_runs == 1


def test_cache_cap_evicts_least_recently_used(tiny_sam_path, tmp_path):
    cache = EmbeddingCache(tmp_path / "cache")
    engine = SegmentEngine(cache, device="cpu")
    engine.load(tiny_sam_path)
    images = [from_array(photo(320, 240, seed=s)) for s in range(3)]
    engine.encode(images[0])
    one = cache.total_bytes()
    cache.max_bytes = int(one * 2.5)  # room for two entries
    engine.encode(images[1])
    import time
    # make image 0 the most recently used, then add a third: image 1 must go
    engine._memory.clear()
    time.sleep(0.02)
    engine.encode(images[0])
    engine.encode(images[2])
    assert len(cache.entries()) == 2
    fp = engine.sam.fingerprint
    assert (images[0].key, fp) in cache and (images[2].key, fp) in cache and (images[1].key, fp) not in cache


def test_damaged_cache_entry_is_recomputed(tiny_sam_path, tmp_path, image):
    cache = EmbeddingCache(tmp_path / "cache")
    engine = SegmentEngine(cache, device="cpu")
    engine.load(tiny_sam_path)
    engine.encode(image)
    path, _, _ = cache.entries()[0]
    path.write_bytes(b"not an npz")
    fresh = SegmentEngine(cache, device="cpu")
    fresh.load(tiny_sam_path)
    fresh.encode(image)
    assert fresh.encoder_runs == 1


def test_encoding_reports_progress_and_can_be_cancelled(engine, image):
    seen = []
    engine.encode(image, JobState(on_progress=lambda f, t: seen.append(f)))
    assert seen[0] == 0.0 and seen[-1] == 1.0 and len(seen) >= 3  # one step per encoder block

    other = from_array(photo(320, 240, seed=9))
    state = JobState(on_progress=lambda f, t: state.cancel() if f and f > 0 else None)
    with pytest.raises(JobCancelled):
        engine.encode(other, state)
    assert (other.key, engine.sam.fingerprint) not in engine.cache


def test_preencode_fills_the_cache_and_stops_when_cancelled(engine, tmp_path):
    files = [save_photo(tmp_path / f"{n}.png", seed=n) for n in range(3)]
    (tmp_path / "broken.png").write_bytes(b"\x89PNG broken")
    done = preencode_job((engine, files[:2] + [tmp_path / "broken.png"]), JobState())
    assert done == 2 and engine.encoder_runs == 2
    state = JobState()
    state.cancel()
    with pytest.raises(JobCancelled):
        preencode_job((engine, files[2:]), state)
    assert engine.encoder_runs == 2
    engine.encode(load_image(files[0]))
    assert engine.encoder_runs == 2
