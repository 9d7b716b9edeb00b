"""Segment with CLIP: searching the open folder's photos by description, labelling an object from the user's list
(zero-shot) into its layer name and the COCO export, and "Ask about this image" for the photo and the object's
cut-out. Real Qt offscreen, a real tiny SAM, a real transformers CLIP with known embeddings (a picture embeds as its
mean colour; "red", "green", "blue" as those colours: tests/fixtures/tiny_clip.write_colour_clip)."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from app.core import paths
from app.core.clip.model import ClipEncoder
from app.core.clip.search import load_labels, zero_shot
from app.core.models import registry
from app.ui.clip_search import PATH_ROLE
from tests.core.clip.conftest import COLOURS, colour_clip_path  # noqa: F401
from tests.ui.segment.test_segment_tab import make_tab, ready, settled, tiny_bytes  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


@pytest.fixture
def installed_clip(colour_clip_path):  # noqa: F811
    return shutil.copytree(colour_clip_path, registry.kind_dir("clip") / "colour-clip")


def solid(path, colour, size=(320, 240)):
    path.parent.mkdir(exist_ok=True)
    Image.new("RGB", size, colour).save(path)
    return path


def strip_names(tab):
    lst = tab.photos.list
    return [lst.item(i).data(PATH_ROLE).rsplit("/", 1)[-1] for i in range(lst.count())]


def test_folder_search_ranks_the_photos_and_skips_a_corrupt_one(qtbot, make_tab, installed_clip, tmp_path):
    folder = tmp_path / "photos"
    for name, colour in COLOURS.items():
        solid(folder / f"{name}.png", colour)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    tab = make_tab()
    assert not tab.photos.isVisible()
    tab.open_folder(folder)
    assert tab.photos.isVisible() and strip_names(tab) == ["blue.png", "broken.jpg", "green.png", "red.png"]
    ready(qtbot, tab)
    assert tab.photos.list.currentItem().data(PATH_ROLE) == str(folder / "blue.png")
    items = tab.photos.items  # thumbnails made in the background; the broken file says why it has none
    qtbot.waitUntil(lambda: "is not an image" in items[str(folder / "broken.jpg")].toolTip(), timeout=30000)
    assert all(not items[str(folder / f"{n}.png")].icon().isNull() for n in COLOURS)
    assert items[str(folder / "broken.jpg")].icon().isNull()

    search = tab.photos.search
    search.box.setText("red")
    with qtbot.waitSignal(search.sig_order, timeout=60000):
        pass
    assert strip_names(tab)[0] == "red.png" and strip_names(tab)[-1] == "broken.jpg"
    assert "Skipped 1 file that is not a readable image: broken.jpg" in search.note.text()
    assert tab.folder[0] == folder / "red.png" and tab.folder[tab.folder_index] == folder / "blue.png"
    assert tab.folder_index > 0 and tab.position_label.text().endswith(f"({tab.folder_index + 1} / 4)")  # not 1st

    tab.photos.list.itemClicked.emit(tab.photos.list.item(0))  # open the best match
    qtbot.waitUntil(lambda: tab.opened is not None and tab.opened.image.name == "red.png", timeout=30000)
    assert tab.folder_index == 0 and tab.next_button.isEnabled() and not tab.prev_button.isEnabled()

    tab.photos.list.itemClicked.emit(tab.photos.list.item(3))  # the broken one: a sentence, the tab goes on
    qtbot.waitUntil(lambda: any("broken.jpg" in m for m in tab.holder.messages), timeout=30000)
    assert tab.opened.image.name == "red.png"
    tab.photos.list.itemClicked.emit(tab.photos.list.item(0))
    with qtbot.waitSignal(search.sig_order, timeout=5000):
        search.box.clear()
    assert strip_names(tab) == ["blue.png", "broken.jpg", "green.png", "red.png"]
    assert tab.folder[tab.folder_index] == folder / "red.png" and tab.folder_index == 3

    tab._on_dropped([str(folder / "green.png")])  # a single photo, not from the folder: the list goes
    qtbot.waitUntil(lambda: tab.opened.image.name == "green.png", timeout=30000)
    assert not tab.photos.isVisible()


def test_a_search_still_running_never_orders_the_next_folder(qtbot, make_tab, installed_clip, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    for name, colour in COLOURS.items():
        solid(first / f"{name}.png", colour)
        solid(second / f"{name}-2.png", colour)
    tab = make_tab()
    search = tab.photos.search
    search._search_timer.setInterval(60000)  # searches start only when this test says
    orders = []
    search.sig_order.connect(orders.append)
    tab.open_folder(first)
    search.box.setText("green")
    search._start_search()  # running, for the first folder
    stale = search._search
    tab.open_folder(second)  # before it ends
    qtbot.waitUntil(lambda: stale.finished, timeout=60000)
    qtbot.wait(50)
    assert orders == [] and sorted(tab.folder) == sorted(second.iterdir())
    with qtbot.waitSignal(search.sig_order, timeout=60000) as blocker:
        search._start_search()
    assert blocker.args[0][0] == second / "green-2.png" and strip_names(tab)[0] == "green-2.png"
    assert sorted(tab.folder) == sorted(second.iterdir())


def test_zero_shot_label_names_the_layer_and_the_coco_category(qtbot, make_tab, installed_clip, tmp_path):
    tab = make_tab()
    assert tab.label_box.labels.text() == ", ".join(load_labels())  # the default list
    assert not tab.label_box.label_button.isEnabled()
    tab.open_image(solid(tmp_path / "red.png", COLOURS["red"]))
    ready(qtbot, tab)
    tab.add_point(160, 120)
    settled(qtbot, tab)
    assert tab.label_box.label_button.isEnabled()
    tab.label_box.labels.setText("green, red,  blue")
    tab.label_box.labels.editingFinished.emit()
    assert load_labels() == ["green", "red", "blue"]  # kept for next time

    tab.label_box.label_button.click()
    qtbot.waitUntil(lambda: tab.session.active.name != "object 1", timeout=60000)
    assert tab.session.active.name == "red" and tab.layers.list.item(0).text() == "red"
    assert tab.label_box.result.text().startswith("Most likely: red ")
    cutouts = list((paths.data_dir() / "segment-cutouts").glob("*.png"))
    assert len(cutouts) == 1  # the object's cut-out the label was computed on
    ranked = zero_shot(cutouts[0], ["green", "red", "blue"], ClipEncoder.load(installed_clip, "cpu"))
    assert ranked[0][0] == "red"

    handle = tab.export_to("coco", tmp_path / "c.json")
    with qtbot.waitSignal(handle.sig_done, timeout=20000):
        pass
    coco = json.loads((tmp_path / "c.json").read_text())
    assert [c["name"] for c in coco["categories"]] == ["red"]


def test_label_needs_a_clip_model(qtbot, make_tab, tmp_path):
    tab = make_tab()
    tab.open_image(solid(tmp_path / "red.png", COLOURS["red"]))
    ready(qtbot, tab)
    tab.add_point(160, 120)
    settled(qtbot, tab)
    assert not tab.label_box.label_button.isEnabled()
    assert "CLIP ViT-B/32" in tab.label_box.label_button.toolTip()
    assert tab.label_box.ask_object.isEnabled()  # asking needs no CLIP


def test_ask_about_the_photo_and_the_object_cutout(qtbot, make_tab, tmp_path):
    from tests.core.segment.tiny_sam import save_photo

    tab = make_tab()
    asked = []
    tab.ctx.bus.sig_ask_about_image.connect(asked.append)
    src = save_photo(tmp_path / "p.png")
    assert not tab.label_box.ask_photo.isEnabled()
    tab.open_image(src)
    ready(qtbot, tab)
    assert tab.label_box.ask_photo.isEnabled() and not tab.label_box.ask_object.isEnabled()
    tab.label_box.ask_photo.click()
    assert asked == [str(src)] and tab.holder.tabs == ["chat"]

    tab.add_point(110, 120)
    settled(qtbot, tab)
    tab.label_box.ask_object.click()
    qtbot.waitUntil(lambda: len(asked) == 2, timeout=20000)
    cut = asked[1]
    assert cut.endswith(".png") and "segment-cutouts" in cut and tab.holder.tabs == ["chat", "chat"]
    rgba = np.asarray(Image.open(cut))
    assert rgba.shape[2] == 4
    layer = tab.session.active
    mask = layer.prediction.mask(layer.chosen)
    ys, xs = np.nonzero(mask)
    box = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
    np.testing.assert_array_equal(rgba[..., 3] == 255, mask[box])  # opaque exactly on the object
    photo = np.asarray(Image.open(src).convert("RGB"))
    np.testing.assert_array_equal(rgba[..., :3][mask[box]], photo[box][mask[box]])  # the photo's own pixels
