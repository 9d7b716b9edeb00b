"""The Images tab driven like a user would, with a tiny real pipeline installed in the models folder."""

import shutil

import numpy as np
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from app.core.settings import Settings
from app.ui.main_window import MainWindow
from app.ui.widgets import EmptyState

pytestmark = pytest.mark.slow


@pytest.fixture
def window(qtbot, tiny_models, hearth_home):
    shutil.copytree(tiny_models["folder"], hearth_home / "models" / "diffusion" / "tiny-sd")
    w = MainWindow(Settings.load())
    qtbot.addWidget(w)
    w.show()
    w.show_tab("images")
    yield w
    w.jobs.shutdown(timeout_s=10)
    w.tab_widgets["images"].shutdown()


@pytest.fixture
def tab(window):
    t = window.tab_widgets["images"]
    sp = t.settings_panel
    sp.prompt.setPlainText("a cat in a hat")
    sp.size.setCurrentText("64x64")
    sp.steps.setValue(2)
    sp.seed.setValue(5)
    sp.scheduler.setCurrentText("Euler")
    return t


def _run(qtbot, tab, timeout=60000):
    handle = tab.generate()
    assert handle is not None
    with qtbot.waitSignal(handle.sig_finished, timeout=timeout):
        pass
    return handle


def test_installed_model_shows_workspace_and_generates_with_previews(qtbot, tab):
    assert tab.stack.currentIndex() == 1 and tab.findChild(EmptyState) is not None
    assert tab.settings_panel.model.path().endswith("tiny-sd")
    previews = []
    handle = tab.generate()
    handle.sig_partial.connect(lambda v: previews.append(type(v).__name__))
    with qtbot.waitSignal(handle.sig_finished, timeout=60000):
        pass
    assert handle.status == "done", handle.error
    assert previews[0] == "Preview" and previews[-1] == "GeneratedImage"
    assert tab.gallery.count() == 1
    assert tab.canvas.image.width() == 64
    assert "Seed: 5" in tab.gallery.info.toPlainText()
    assert tab.progress.value() == 1000


def test_cancel_stops_job_and_tab_stays_usable(qtbot, tab):
    tab.settings_panel.steps.setValue(200)
    handle = tab.generate()
    qtbot.waitUntil(lambda: (handle.fraction or 0) > 0, timeout=60000)
    assert tab.cancel_button.isEnabled()
    with qtbot.waitSignal(handle.sig_finished, timeout=30000):
        tab.cancel_button.click()
    assert handle.status == "cancelled" and tab.gallery.count() == 0
    tab.settings_panel.steps.setValue(2)
    assert _run(qtbot, tab).status == "done" and tab.gallery.count() == 1


def test_queue_runs_jobs_one_after_another(qtbot, tab):
    first = tab.generate()
    second = tab.generate()
    assert second.status == "queued"
    with qtbot.waitSignal(second.sig_finished, timeout=60000):
        pass
    assert first.status == "done" and second.status == "done" and tab.gallery.count() == 2
    assert tab.queue.count() == 2 and all("done" in tab.queue.item(i).text() for i in range(2))


def test_reuse_parameters_restores_controls(qtbot, tab):
    _run(qtbot, tab)
    sp = tab.settings_panel
    sp.prompt.setPlainText("something else")
    sp.steps.setValue(9)
    sp.seed.setValue(-1)
    tab.gallery.reuse.click()
    assert sp.prompt.toPlainText() == "a cat in a hat" and sp.steps.value() == 2 and sp.seed.value() == 5
    assert sp.size.currentText() == "64x64" and sp.scheduler.currentText() == "Euler"


def test_dropping_an_a1111_png_fills_the_controls(tab, tmp_path):
    info = PngInfo()
    info.add_text("parameters", "a lighthouse\nNegative prompt: fog\nSteps: 17, Sampler: DDIM, CFG scale: 4.5, "
                                "Seed: 99, Size: 512x768, Model: other")
    path = tmp_path / "other.png"
    Image.new("RGB", (8, 8)).save(path, pnginfo=info)
    tab.open_dropped(str(path))
    sp = tab.settings_panel
    assert (sp.prompt.toPlainText(), sp.negative.toPlainText(), sp.steps.value(), sp.seed.value()) == \
        ("a lighthouse", "fog", 17, 99)
    assert sp.scheduler.currentText() == "DDIM" and sp.guidance.value() == 4.5 and sp.size.currentText() == "512x768"


def test_mask_from_segment_sets_up_inpainting_and_generates(qtbot, window, tab, tmp_path):
    image = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(image)
    mask = tmp_path / "mask.png"
    m = np.zeros((64, 64), np.uint8)
    m[10:40, 10:40] = 255
    Image.fromarray(m).save(mask)
    window.ctx.bus.sig_mask_for_inpaint.emit(str(mask), str(image))
    assert tab.settings_panel.current_mode() == "inpaint"
    assert tab.canvas.painting and not tab.canvas.mask_is_empty()
    assert tab.use_segment.isEnabled()
    handle = _run(qtbot, tab)
    assert handle.status == "done", handle.error
    assert handle.result[0].params.mode == "inpaint"


def test_inpaint_without_mask_is_explained(tab, window, tmp_path):
    image = tmp_path / "photo.png"
    Image.new("RGB", (64, 64)).save(image)
    tab.settings_panel.mode.setCurrentIndex(tab.settings_panel.mode.findData("inpaint"))
    tab.set_init_image(str(image))
    assert tab.generate() is None
    assert "Paint the area" in window.message_bar.label.text()


def test_mask_painting_with_brush_and_eraser(qtbot, tab, tmp_path):
    from PySide6.QtCore import QPoint, Qt

    image = tmp_path / "photo.png"
    Image.new("RGB", (64, 64), (50, 50, 50)).save(image)
    tab.settings_panel.mode.setCurrentIndex(tab.settings_panel.mode.findData("inpaint"))
    tab.set_init_image(str(image))
    canvas = tab.canvas
    centre = QPoint(canvas.width() // 2, canvas.height() // 2)
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=centre)
    assert not canvas.mask_is_empty()
    tab.eraser.click()
    tab.brush_size.setValue(256)
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=centre)
    assert canvas.mask_is_empty()


def test_allowing_pickle_files_warns_and_is_saved(tab, window):
    assert not window.settings.images.allow_pickle
    tab.advanced.pickle.setChecked(True)
    assert window.settings.images.allow_pickle and tab.engine.allow_pickle
    assert "weights-only" in window.message_bar.label.text()
    tab.advanced.device.setCurrentText("cpu")
    assert Settings.load().images.device == "cpu"


def test_choosing_a_turbo_model_sets_few_step_defaults_and_generates_with_them(qtbot, tab, tiny_models, tmp_path):
    """Picking a model named like SD-Turbo fills in its settings (1 step, guidance 0, its size) and the note; the
    image is made with them."""
    turbo = tmp_path / "sd-turbo"
    shutil.copytree(tiny_models["folder"], turbo)
    sp = tab.settings_panel
    sp.model.select(str(turbo))
    assert (sp.steps.value(), sp.guidance.value(), sp.scheduler.currentText()) == (1, 0.0, "Euler a")
    assert sp.size.currentText() == "512x512" and "Turbo" in sp.family_label.text()
    sp.size.setCurrentText("64x64")  # the tiny model's size
    handle = _run(qtbot, tab)
    assert handle.status == "done", handle.error
    made = handle.result[0].params
    assert (made.model, made.steps, made.guidance) == (str(turbo), 1, 0.0)
