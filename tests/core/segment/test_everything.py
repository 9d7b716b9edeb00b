"""Segment everything: the same masks as the libraries' own generators, objects as layers, minimum area,
cancellation between batches. Tiny random models whose mask heads are scaled up so their masks are decisive
(random heads give logits near zero, which no stability threshold keeps)."""

import numpy as np
import pytest
import torch
from PIL import Image

from app.core.errors import JobCancelled
from app.core.jobs import JobState
from app.core.segment.predictor import SegmentEngine
from app.core.segment.everything import EverythingParams, segment_everything
from app.core.segment.images import from_array
from app.core.segment.jobs import EverythingRequest, everything_job
from app.core.segment.session import SegmentSession
from tests.core.segment.tiny_sam import photo, save_tiny_sam
from tests.core.segment.tiny_sam2 import save_tiny

pytestmark = pytest.mark.slow


def decisive(engine: SegmentEngine, scale: float) -> SegmentEngine:
    with torch.no_grad():
        for name, param in engine.sam.model.named_parameters():
            if "output_hypernetworks_mlps" in name and ("layers.2" in name or "proj_out" in name):
                param.mul_(scale)
    return engine


@pytest.fixture(scope="module")
def sam1(tmp_path_factory):
    engine = SegmentEngine(None, device="cpu")
    engine.load(save_tiny_sam(tmp_path_factory.mktemp("sam") / "t.pth"))
    return decisive(engine, 300)


@pytest.fixture(scope="module")
def sam2(tmp_path_factory):
    engine = SegmentEngine(None, device="cpu")
    engine.load(save_tiny(tmp_path_factory.mktemp("sam2") / "t", "sam2"))
    return decisive(engine, 1e5)


def by_area(masks):
    return sorted(masks, key=lambda m: (-int(m.sum()), m.tobytes()))


def assert_same(mine, theirs):
    assert len(mine) == len(theirs) > 0
    for a, b in zip(by_area(mine), by_area(theirs)):
        assert (a == b).mean() > 0.999


def test_same_masks_as_segment_anythings_generator(sam1):
    from segment_anything import SamAutomaticMaskGenerator

    rgb = photo(256, 192)  # no larger than the encoder input: scored at full size, like the library
    emb = sam1.encode(from_array(rgb))
    for iou, stability, nms in ((0.0, 0.9, 1.0), (0.05, 0.5, 0.9)):
        params = EverythingParams(points_per_side=8, pred_iou_thresh=iou, stability_score_thresh=stability,
                                  box_nms_thresh=nms, min_area=0)
        found = segment_everything(sam1, emb, params)
        raw = SamAutomaticMaskGenerator(sam1.sam.model, points_per_side=8, pred_iou_thresh=iou,
                                        stability_score_thresh=stability, box_nms_thresh=nms).generate(rgb)
        assert_same([o.prediction.mask(0) for o in found], [r["segmentation"] for r in raw])
        assert sorted(o.area for o in found) == sorted(r["area"] for r in raw)


def test_same_masks_as_the_transformers_pipeline(sam2):
    from transformers import pipeline

    rgb = photo(256, 256)  # square: transformers' pipeline places SAM 2 grid points for letterboxed inputs
    emb = sam2.encode(from_array(rgb))
    params = EverythingParams(points_per_side=8, pred_iou_thresh=0.0, stability_score_thresh=0.5, min_area=0,
                              box_nms_thresh=1.0)
    found = segment_everything(sam2, emb, params)
    generator = pipeline("mask-generation", model=sam2.sam.model, image_processor=sam2.sam.backend.processor,
                         device="cpu")
    raw = generator(Image.fromarray(rgb), points_per_crop=8, pred_iou_thresh=0.0, stability_score_thresh=0.5,
                    crops_nms_thresh=1.0)
    assert_same([o.prediction.mask(0) for o in found], [np.asarray(m) for m in raw["masks"]])


def test_objects_become_layers_in_one_undo_step_and_small_ones_are_dropped(sam1):
    emb = sam1.encode(from_array(photo(320, 240)))  # larger than the encoder input: scored at 256 x 192
    params = EverythingParams(points_per_side=8, pred_iou_thresh=0.0, stability_score_thresh=0.9, min_area=0,
                              box_nms_thresh=1.0)  # random heads find the same object everywhere: keep duplicates
    everything = segment_everything(sam1, emb, params)
    assert everything and [o.area for o in everything] == sorted((o.area for o in everything), reverse=True)
    for obj in everything[:3]:
        assert obj.prediction.count == 1 and obj.prediction.mask(0).shape == (240, 320)
        assert abs(int(obj.prediction.mask(0).sum()) - obj.area) < 0.05 * obj.area
    cut = (everything[0].area + everything[-1].area) // 2
    big = segment_everything(sam1, emb, EverythingParams(**{**params.__dict__, "min_area": cut}))
    assert 0 < len(big) < len(everything) and all(o.area >= cut for o in big)

    session = SegmentSession()
    assert session.add_objects([(object_prompts(o), o.prediction) for o in big]) == len(big)
    assert len(session.layers) == len(big)  # the untouched first layer was replaced
    assert all(l.prediction is not None and l.chosen == 0 for l in session.layers)
    assert session.undo() and len(session.layers) == 1 and session.layers[0].prediction is None


def object_prompts(obj):
    from app.core.segment.predictor import Prompts

    return Prompts(((obj.point[0], obj.point[1], 1),))


def test_cancelled_between_batches_with_progress(sam2):
    emb = sam2.encode(from_array(photo(320, 240)))
    seen = []
    params = EverythingParams(points_per_side=8, points_per_batch=16, pred_iou_thresh=0.0,
                              stability_score_thresh=0.5, min_area=0)
    found = segment_everything(sam2, emb, params, JobState(on_progress=lambda f, t: seen.append(f)))
    assert found and seen == sorted(seen) and seen[0] == 0.0 and seen[-1] == 1.0 and len(seen) == 5
    state = JobState(on_progress=lambda f, t: state.cancel() if f and f > 0.2 else None)
    with pytest.raises(JobCancelled):
        segment_everything(sam2, emb, params, state)
    # the job also scales each mask to the screen size off the GUI thread
    done = everything_job(EverythingRequest(sam2, emb, params, (160, 120)), JobState())
    assert done and all((0, (160, 120)) in o.prediction.display for o in done)
