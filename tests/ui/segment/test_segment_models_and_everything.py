"""The Segment tab with SAM 2 family models: the picker starts with the fastest installed model and shows the
encode time measured on this computer; "Segment everything" turns objects into layers, and can be cancelled."""

import json
import shutil

import pytest

from app.core.models import registry
from app.core.segment import speed
from tests.core.segment.tiny_sam import save_photo, save_tiny_sam
from tests.core.segment.tiny_sam2 import save_tiny
from tests.ui.segment.test_segment_tab import make_tab, ready, settled, tiny_bytes  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {"edgetam": save_tiny(root / "edgetam", "edgetam"), "sam1": save_tiny_sam(root / "sam_vit_b.pth")}


@pytest.fixture
def installed(models):
    shutil.copytree(models["edgetam"], registry.kind_dir("sam") / "edgetam")
    shutil.copy(models["sam1"], registry.kind_dir("sam") / "sam_vit_b.pth")


@pytest.fixture
def tab_maker(make_tab, installed):
    return lambda settings=None: make_tab(install=False, settings=settings)


def test_picker_starts_with_the_fastest_model_and_remembers_its_encode_time(qtbot, tab_maker, tmp_path):
    tab = tab_maker()
    assert tab.model_path.endswith("edgetam")  # EdgeTAM (by its config) before a SAM 1 checkpoint
    labels = [tab.picker.picker.combo.itemText(i) for i in range(tab.picker.picker.combo.count())]
    assert all("not timed yet" in label for label in labels)
    tab.open_image(save_photo(tmp_path / "p.png"))
    ready(qtbot, tab)
    assert "EdgeTAM on CPU" in tab.picker.info.text() and "per photo here" in tab.picker.info.text()
    (key,) = tab.settings.encode_seconds
    assert key == "sam/edgetam@cpu" and len(tab.settings.encode_seconds[key]["seconds"]) == 1
    label = tab.picker.picker.combo.itemText(tab.picker.picker.combo.currentIndex())
    assert label.startswith("edgetam — ") and label.endswith("/photo")

    tab.add_point(100, 120)
    settled(qtbot, tab)
    assert sum(b.isEnabled() for b in tab.candidates.buttons) == 3

    again = tab_maker(tab.ctx.settings)  # as after a restart: the picker knows the time before loading anything
    assert again.picker.picker.combo.currentText() == label
    assert speed.measured(again.settings.encode_seconds, registry.kind_dir("sam") / "edgetam", "cpu")


def test_segment_everything_adds_layers_exports_them_and_can_be_cancelled(qtbot, tab_maker, tmp_path):
    tab = tab_maker()
    tab.settings.everything_iou = 0.0  # random weights: every candidate's predicted IoU is about 0.5
    tab.settings.everything_stability = 0.0
    tab.everything.min_area.setValue(0)
    assert tab.everything_runner.run() is None and "Open a photo" in tab.status.text()
    tab.open_image(save_photo(tmp_path / "p.png"))
    ready(qtbot, tab)

    tab.settings.everything_points = 64  # 4096 points: long enough to cancel
    tab.everything.button.click()
    handle = tab.everything_runner.handle
    assert handle is not None and tab.everything.button.text() == "Cancel"
    tab.everything.button.click()
    qtbot.waitUntil(lambda: handle.finished, timeout=30000)
    assert handle.status == "cancelled" and len(tab.session.layers) == 1
    assert tab.everything.button.text() == "Segment everything"

    tab.settings.everything_points = 8
    with qtbot.waitSignal(tab.everything_runner.run().sig_finished, timeout=60000):
        pass
    found = [l for l in tab.session.layers if l.prediction is not None]
    assert found and len(found) == len(tab.session.layers) and " in " in tab.everything.result.text()
    assert tab.layers.list.count() == len(found) and tab.overlay_rgba() is not None
    assert tab.settings.everything_min_area == 0

    handle = tab.export_to("coco", tmp_path / "all.json")
    with qtbot.waitSignal(handle.sig_done, timeout=20000):
        pass
    coco = json.loads((tmp_path / "all.json").read_text())
    assert len(coco["annotations"]) == len(found)
    tab.undo_button.click()  # one step takes every found object away
    assert all(l.prediction is None for l in tab.session.layers)
