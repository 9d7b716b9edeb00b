"""Object layers, candidate choice and undo/redo of every prompt change, with real predictions."""

import numpy as np
import pytest

from app.core.segment.predictor import SegmentEngine
from app.core.segment.images import from_array
from app.core.segment.session import SegmentSession
from tests.core.segment.tiny_sam import photo


@pytest.fixture(scope="module")
def predictor(tiny_sam_path):
    engine = SegmentEngine(None, device="cpu")
    engine.load(tiny_sam_path)
    emb = engine.encode(from_array(photo()))

    def run(session):
        """Predict every pending layer, feeding back the previous logits, like the GUI does."""
        for layer in session.pending_layers():
            pred = engine.predict(emb, layer.prompts, session.feed_for(layer))
            assert session.attach(layer.vid, pred)
    return run


def test_undo_redo_every_prompt_change_restores_the_mask(predictor):
    s = SegmentSession()
    s.add_point(100, 120)
    predictor(s)
    first = s.active.prediction.mask(s.active.chosen).copy()
    s.add_point(250, 60, positive=False)
    assert s.feed_for(s.active) is not None  # the refinement input is the previous step's logits
    predictor(s)
    second = s.active.prediction.mask(s.active.chosen)
    assert not np.array_equal(first, second)
    s.set_box(40, 40, 200, 200)
    predictor(s)
    assert len(s.active.prompts.points) == 2 and s.active.prompts.box == (40, 40, 200, 200)

    assert s.undo() and s.active.prompts.box is None
    assert s.undo()
    assert s.active.prompts.points == ((100.0, 120.0, 1),)
    np.testing.assert_array_equal(s.active.prediction.mask(s.active.chosen), first)  # no new decoder run needed
    assert s.undo() and s.active.prompts.empty
    assert not s.undo()
    assert s.redo() and s.redo() and s.redo() and not s.redo()
    assert s.active.prompts.box is not None
    s.undo()
    s.add_point(10, 10)  # a new change drops the redo branch
    assert not s.can_redo


def test_candidate_choice_is_undoable(predictor):
    s = SegmentSession()
    s.add_point(100, 120)
    predictor(s)
    best = s.active.chosen
    other = (best + 1) % 3
    s.choose(other)
    assert s.active.chosen == other and not s.active.pending  # the same prediction, another candidate
    s.undo()
    assert s.active.chosen == best
    with pytest.raises(ValueError):
        s.choose(7)


def test_several_named_layers(predictor):
    s = SegmentSession()
    s.add_point(100, 120)
    s.add_layer("box")
    s.add_point(250, 60)
    predictor(s)
    assert [l.name for l in s.layers] == ["object 1", "box"] and s.active_index == 1
    assert all(l.prediction is not None for l in s.layers)
    assert s.layers[0].color != s.layers[1].color
    s.rename_layer(0, "disc")
    s.set_active(0)
    assert s.active.name == "disc"
    s.remove_layer(1)
    assert [l.name for l in s.layers] == ["disc"]
    s.undo()
    assert [l.name for l in s.layers] == ["disc", "box"]
    s.undo()
    assert [l.name for l in s.layers] == ["object 1", "box"]
    s.clear_prompts()
    assert s.active.prompts.empty and s.active.prediction is None


def test_a_late_prediction_lands_on_its_own_version(predictor):
    s = SegmentSession()
    s.add_point(100, 120)
    old = s.active
    s.add_point(200, 100)  # clicked again before the first answer came
    assert len(s.pending_layers()) == 1
    predictor(s)
    assert s.active.prediction is not None
    s.undo()
    assert s.active.vid == old.vid and s.active.pending
