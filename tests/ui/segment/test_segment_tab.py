"""The Segment tab with real jobs, a real (tiny) SAM, real Qt offscreen."""

import json
import threading

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from app.core.jobs import Job
from app.core.models import registry
from app.core.segment.jobs import ENCODER
from app.core.settings import Settings
from app.ui.bus import AppBus
from app.ui.context import AppContext
from app.ui.jobs import JobManager
from app.ui.segment.tab import SegmentTab
from tests.core.segment.tiny_sam import photo, save_photo, save_tiny_sam

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def tiny_bytes(tmp_path_factory):
    return save_tiny_sam(tmp_path_factory.mktemp("sam") / "tiny.pth").read_bytes()


class Ctx:
    def __init__(self, settings=None):
        self.messages, self.tabs = [], []
        self.jobs = JobManager()
        self.ctx = AppContext(settings=settings or Settings(), jobs=self.jobs, bus=AppBus(),
                              show_tab=self.tabs.append, show_message=lambda t, k="info": self.messages.append(t))


@pytest.fixture
def make_tab(qtbot, tiny_bytes):
    made = []

    def make(install=True, settings=None):
        if install:
            (registry.kind_dir("sam") / "my-model.pth").write_bytes(tiny_bytes)
        holder = Ctx(settings)
        tab = SegmentTab(holder.ctx)
        tab.holder = holder
        qtbot.addWidget(tab)
        tab.resize(1100, 700)
        tab.show()
        made.append(tab)
        return tab

    yield make
    for tab in made:
        tab.shutdown()
        tab.holder.jobs.shutdown(timeout_s=10)


def ready(qtbot, tab):
    qtbot.waitUntil(lambda: tab.embedding is not None, timeout=30000)


def settled(qtbot, tab):
    qtbot.waitUntil(lambda: not tab.session.pending_layers() and tab._decode is None, timeout=30000)


def test_empty_state_without_a_model_then_work_area_with_one(make_tab):
    tab = make_tab(install=False)
    assert tab.stack.currentWidget() is tab.empty
    assert [b.text() for b in tab.empty.buttons] == ["Open .pth…", "Go to Models"]
    tab.empty.buttons[1].click()
    assert tab.holder.tabs == ["models"]
    (registry.kind_dir("sam") / "x.pth").write_bytes(b"")
    tab.ctx.bus.sig_models_changed.emit()
    assert tab.stack.currentWidget() is tab.work


def test_click_negative_click_box_candidates_and_undo_through_the_canvas(qtbot, make_tab, tmp_path):
    tab = make_tab()
    tab.open_image(save_photo(tmp_path / "p.png"))
    ready(qtbot, tab)
    assert "cpu" in tab.picker.info.text().lower()
    canvas = tab.canvas

    def at(x, y):  # image pixels -> viewport position
        return canvas.mapFromScene(x / canvas.scale_to_image, y / canvas.scale_to_image)

    qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=at(110, 120))
    settled(qtbot, tab)
    layer = tab.session.active
    (x, y, label), = layer.prompts.points
    assert abs(x - 110) < 2 and abs(y - 120) < 2 and label == 1
    assert layer.prediction is not None and canvas.marker_count == 1
    assert sum(b.isEnabled() for b in tab.candidates.buttons) == 3
    assert all("IoU" in b.text() for b in tab.candidates.buttons)
    first = tab.overlay_rgba().copy()
    assert first.shape[:2] == (240, 320)
    tab.toggles.fill.setChecked(False)  # outline only: fewer painted pixels, all opaque
    outline = tab.overlay_rgba()
    assert 0 < (outline[..., 3] > 0).sum() < (first[..., 3] > 0).sum() and set(np.unique(outline[..., 3])) == {0, 255}
    assert tab.settings.show_fill is False
    tab.toggles.fill.setChecked(True)
    np.testing.assert_array_equal(tab.overlay_rgba(), first)

    qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.RightButton, pos=at(250, 60))
    settled(qtbot, tab)
    assert tab.session.active.prompts.points[-1][2] == 0
    qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.AltModifier, pos=at(20, 20))
    settled(qtbot, tab)
    assert [p[2] for p in tab.session.active.prompts.points] == [1, 0, 0]
    assert not np.array_equal(tab.overlay_rgba(), first)

    qtbot.mousePress(canvas.viewport(), Qt.MouseButton.LeftButton, pos=at(30, 40))
    qtbot.mouseMove(canvas.viewport(), at(120, 100))
    qtbot.mouseMove(canvas.viewport(), at(200, 200))
    qtbot.mouseRelease(canvas.viewport(), Qt.MouseButton.LeftButton, pos=at(200, 200))
    settled(qtbot, tab)
    box = tab.session.active.prompts.box
    assert box is not None and abs(box[0] - 30) < 2 and abs(box[3] - 200) < 2

    best = tab.session.active.chosen
    other = (best + 1) % 3
    tab.candidates.buttons[other].click()
    assert tab.session.active.chosen == other and tab.candidates.buttons[other].isChecked()

    for _ in range(4):
        tab.undo_button.click()
    settled(qtbot, tab)
    assert len(tab.session.active.prompts.points) == 1
    np.testing.assert_array_equal(tab.overlay_rgba(), first)
    tab.redo_button.click()
    assert len(tab.session.active.prompts.points) == 2


def test_clicks_before_the_embedding_are_queued_and_the_gui_keeps_running(qtbot, make_tab, tmp_path):
    tab = make_tab()
    gate, entered = threading.Event(), threading.Event()

    def busy_encoder(_inputs, state):  # stands in for a slow encoder run holding the resource
        entered.set()
        gate.wait(30)

    blocker = tab.ctx.jobs.submit(Job(busy_encoder, resource=ENCODER))
    qtbot.waitUntil(entered.is_set, timeout=20000)  # (after the model load queued on the same resource)
    tab.open_image(save_photo(tmp_path / "p.png"))
    qtbot.waitUntil(lambda: tab.canvas.has_image, timeout=10000)
    tab.add_point(100, 120)
    tab.add_point(250, 60, positive=False)
    ticks = []
    timer = tab.startTimer(10)
    tab.timerEvent = lambda e: ticks.append(1)
    qtbot.wait(300)
    tab.killTimer(timer)
    assert len(ticks) >= 10  # the event loop kept turning while the encoder was busy
    assert tab.embedding is None and tab.canvas.marker_count == 2 and tab.session.active.pending
    assert "clicks apply when it is ready" in tab.status.text()
    gate.set()
    ready(qtbot, tab)
    settled(qtbot, tab)
    assert tab.session.active.prediction is not None and len(tab.session.active.prompts.points) == 2
    assert blocker.status == "done"


def test_object_layers_and_exports(qtbot, make_tab, tmp_path):
    tab = make_tab()
    tab.open_image(save_photo(tmp_path / "p.png"))
    ready(qtbot, tab)
    tab.add_point(110, 120)
    tab.layers.add_button.click()
    tab.add_point(250, 60)
    settled(qtbot, tab)
    assert tab.layers.list.count() == 2 and tab.layers.list.currentRow() == 1
    tab.toggles.multimask.setChecked(False)  # one mask per prompt
    tab.add_point(260, 70)
    settled(qtbot, tab)
    assert tab.session.active.prediction.count == 1
    assert [b.isVisible() for b in tab.candidates.buttons] == [True, False, False]
    item = tab.layers.list.item(1)
    item.setText("square")
    assert tab.session.layers[1].name == "square"

    out = tmp_path / "out"
    out.mkdir()
    for kind, name in (("mask", "m.png"), ("coco", "c.json"), ("labelme", "l.json"), ("cutout", "cut.png")):
        handle = tab.export_to(kind, out / name)
        with qtbot.waitSignal(handle.sig_done, timeout=20000):
            pass
    mask = np.asarray(Image.open(out / "m.png")) == 255
    assert mask.shape == (240, 320)
    expected = tab.session.active.prediction.mask(tab.session.active.chosen)
    np.testing.assert_array_equal(mask, expected)
    coco = json.loads((out / "c.json").read_text())
    assert [c["name"] for c in coco["categories"]] == ["object 1", "square"]
    labelme = json.loads((out / "l.json").read_text())
    assert labelme["imagePath"] == "../p.png"
    assert Image.open(out / "cut.png").mode == "RGBA"


def test_send_mask_to_images(qtbot, make_tab, tmp_path):
    tab = make_tab()
    got = []
    tab.ctx.bus.sig_mask_for_inpaint.connect(lambda m, i: got.append((m, i)))
    src = save_photo(tmp_path / "p.png")
    tab.open_image(src)
    ready(qtbot, tab)
    tab.add_point(110, 120)
    settled(qtbot, tab)
    tab.exports.inpaint_button.click()
    qtbot.waitUntil(lambda: bool(got), timeout=20000)
    mask_path, image_path = got[0]
    assert image_path == str(src) and Image.open(mask_path).size == (320, 240)
    assert tab.holder.tabs == ["images"]


def test_reopen_after_restart_and_folder_preencoding_skip_the_encoder(qtbot, make_tab, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for n in range(4):
        save_photo(folder / f"{n}.png", seed=n)
    tab = make_tab()
    tab.open_folder(folder)
    ready(qtbot, tab)
    # (the background preparation of the next photos may already be running: counted once it has finished)
    assert not tab.embedding.from_cache and tab.position_label.text().endswith("(1 / 4)")
    qtbot.waitUntil(lambda: tab._preencode is not None and tab._preencode.finished, timeout=30000)
    assert tab.engine.encoder_runs == 3  # the next two photos were prepared in the background
    tab.next_button.click()
    ready(qtbot, tab)
    assert tab.embedding.image_key and tab.engine.encoder_runs == 3
    assert "(2 / 4)" in tab.position_label.text()

    restarted = make_tab()  # a new engine and cache object: as after restarting the app
    restarted.open_image(folder / "1.png")
    ready(qtbot, restarted)
    assert restarted.engine.encoder_runs == 0 and restarted.embedding.from_cache
    assert "from cache" in restarted.status.text()


def test_moving_on_cancels_background_preparation(qtbot, make_tab, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for n in range(5):
        save_photo(folder / f"{n}.png", seed=n)
    tab = make_tab()
    tab.settings.preencode = 3
    tab.open_folder(folder)
    ready(qtbot, tab)
    qtbot.waitUntil(lambda: tab._preencode is not None, timeout=10000)
    pre = tab._preencode
    tab.step(1)
    assert pre.state.cancelled
    ready(qtbot, tab)


def test_bad_files_and_unsafe_models_give_clear_messages(qtbot, make_tab, tmp_path):
    tab = make_tab()
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    tab.open_image(text)
    qtbot.waitUntil(lambda: bool(tab.holder.messages), timeout=10000)
    assert "notes.txt is not an image" in tab.holder.messages[-1]
    assert tab.opened is None

    marker = tmp_path / "marker"
    from tests.core.segment.test_model_loading import _Payload
    import torch

    evil = tmp_path / "sam_vit_h.pth"
    torch.save({"w": _Payload(marker)}, evil)
    tab.use_model(str(evil))
    qtbot.waitUntil(lambda: "run code" in " ".join(tab.holder.messages), timeout=20000)
    assert not marker.exists()
    assert "Could not load" in tab.picker.info.text()


def test_paste_and_large_photo_display_copy(qtbot, make_tab):
    tab = make_tab()
    from app.ui.qimage import rgb_to_qimage

    QGuiApplication.clipboard().setImage(rgb_to_qimage(photo(320, 240)))
    tab.paste()
    ready(qtbot, tab)
    assert tab.opened.image.size == (320, 240) and tab.opened.image.path is None

    big = np.zeros((4000, 6000, 3), np.uint8)
    big[1000:3000, 2000:4000] = 200
    tab._open_source(big)
    ready(qtbot, tab)
    assert tab.opened.display.shape[1] <= 2560 and tab.opened.image.size == (6000, 4000)
    tab.add_point(3000, 2000)
    settled(qtbot, tab)
    assert tab.overlay_rgba().shape[:2] == tab.opened.display.shape[:2]
    tab.canvas.zoom(4.0)
    tab.canvas.fit()


def test_drop_a_file_or_a_folder_on_the_canvas(qtbot, make_tab, tmp_path):
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    tab = make_tab()
    folder = tmp_path / "photos"
    folder.mkdir()
    for n in range(2):
        save_photo(folder / f"{n}.png", seed=n)

    def drop(path):
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(path))])
        event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                           Qt.KeyboardModifier.NoModifier)
        tab.canvas.dropEvent(event)

    drop(folder / "1.png")
    ready(qtbot, tab)
    assert tab.opened.image.name == "1.png" and not tab.folder
    drop(folder)
    ready(qtbot, tab)
    assert tab.opened.image.name == "0.png" and len(tab.folder) == 2 and tab.next_button.isEnabled()
