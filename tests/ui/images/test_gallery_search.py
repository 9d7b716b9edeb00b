"""The Images gallery's search by description (CLIP) and "Ask about this image", with real Qt offscreen and a real
transformers CLIP whose embeddings are known (tests/fixtures/tiny_clip.write_colour_clip: a picture embeds as its
mean colour, the words "red", "green", "blue" as those colours)."""

import shutil

import pytest
from PIL import Image

from app.core.clip.index import EmbeddingStore, index_images
from app.core.clip.model import ClipEncoder
from app.core.images.params import GenerationParams
from app.core.models import registry
from app.core.settings import Settings
from app.ui.bus import AppBus
from app.ui.clip_search import PATH_ROLE
from app.ui.context import AppContext
from app.ui.images.gallery import Gallery
from app.ui.jobs import JobManager
from tests.core.clip.conftest import COLOURS, colour_clip_path  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


@pytest.fixture
def make_gallery(qtbot):
    made = []

    def make():
        tabs, asked = [], []
        jobs = JobManager()
        ctx = AppContext(settings=Settings(), jobs=jobs, bus=AppBus(), show_tab=tabs.append)
        ctx.bus.sig_ask_about_image.connect(asked.append)
        gallery = Gallery(ctx)
        gallery.tabs, gallery.asked, gallery.jobs = tabs, asked, jobs
        qtbot.addWidget(gallery)
        gallery.show()
        made.append(gallery)
        return gallery

    yield make
    for gallery in made:
        gallery.search.cancel()
        gallery.jobs.shutdown(timeout_s=10)


@pytest.fixture
def installed_clip(colour_clip_path):  # noqa: F811
    return shutil.copytree(colour_clip_path, registry.kind_dir("clip") / "colour-clip")


def picture(folder, name, colour):
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.png"
    Image.new("RGB", (48, 40), colour).save(path)
    return path


def names(gallery):
    return [gallery.list.item(i).data(PATH_ROLE).rsplit("/", 1)[-1] for i in range(gallery.list.count())]


def idle(qtbot, gallery):
    search = gallery.search
    qtbot.waitUntil(lambda: search._index is None and search._search is None
                    and not search._index_timer.isActive() and not search._search_timer.isActive(), timeout=60000)


def test_without_clip_the_box_is_disabled_and_says_how_to_get_one(make_gallery, tmp_path):
    gallery = make_gallery()
    gallery.add(picture(tmp_path / "out", "red", COLOURS["red"]), GenerationParams(), 1)
    assert not gallery.search.box.isEnabled()
    assert "Models → Catalog: CLIP ViT-B/32" in gallery.search.note.text()


def test_a_clip_installed_later_enables_the_box_and_indexes(qtbot, make_gallery, colour_clip_path,  # noqa: F811
                                                            tmp_path):
    gallery = make_gallery()
    gallery.add(picture(tmp_path / "out", "red", COLOURS["red"]), GenerationParams(), 1)
    assert not gallery.search.box.isEnabled()
    shutil.copytree(colour_clip_path, registry.kind_dir("clip") / "colour-clip")  # a download finished
    gallery.ctx.bus.sig_models_changed.emit()
    assert gallery.search.box.isEnabled()
    idle(qtbot, gallery)
    assert "1 picture ready" in gallery.search.note.text()


def test_description_ranks_the_gallery_and_clearing_restores_the_order(qtbot, make_gallery, installed_clip,
                                                                       tmp_path):
    gallery = make_gallery()
    assert gallery.search.box.isEnabled() and gallery.search.model == installed_clip
    for seed, name in enumerate(("red", "green", "blue")):
        gallery.add(picture(tmp_path / "out", name, COLOURS[name]), GenerationParams(), seed)
    normal = names(gallery)
    assert normal == ["blue.png", "green.png", "red.png"]  # newest first
    idle(qtbot, gallery)
    assert "3 pictures ready" in gallery.search.note.text()

    qtbot.keyClicks(gallery.search.box, "red")  # typed: one search after the pause, not one per key
    for query, first in (("red", "red.png"), ("a green thing", "green.png")):
        gallery.search.box.setText(query)
        with qtbot.waitSignal(gallery.search.sig_order, timeout=60000):
            pass
        assert names(gallery)[0] == first, query
        assert sorted(names(gallery)) == sorted(normal)
        assert f"Best: {first}" in gallery.search.note.text()

    with qtbot.waitSignal(gallery.search.sig_order, timeout=5000) as blocker:
        gallery.search.box.clear()
    assert blocker.args == [None] and names(gallery) == normal


def test_a_new_image_is_indexed_and_ranked_in(qtbot, make_gallery, installed_clip, tmp_path):
    gallery = make_gallery()
    gallery.add(picture(tmp_path / "out", "red", COLOURS["red"]), GenerationParams(), 1)
    gallery.add(picture(tmp_path / "out", "green", COLOURS["green"]), GenerationParams(), 2)
    idle(qtbot, gallery)
    assert "2 pictures ready" in gallery.search.note.text()
    blue = picture(tmp_path / "out", "blue", COLOURS["blue"])
    gallery.add(blue, GenerationParams(), 3)  # generated while the tab is open
    idle(qtbot, gallery)
    assert "3 pictures ready" in gallery.search.note.text()
    store = EmbeddingStore()  # the background job cached it: nothing left to embed
    again = index_images([blue], ClipEncoder.load(installed_clip, "cpu"), store)
    store.close()
    assert (again.embedded, len(again.files)) == (0, 1)

    gallery.search.box.setText("blue")
    with qtbot.waitSignal(gallery.search.sig_order, timeout=60000):
        pass
    assert names(gallery)[0] == "blue.png"
    gallery.add(picture(tmp_path / "out", "red2", COLOURS["red"]), GenerationParams(), 4)  # while a query is on
    qtbot.waitUntil(lambda: len(gallery.search.order or []) == 4, timeout=60000)
    assert names(gallery)[0] == "blue.png" and names(gallery)[-2:] in (["red.png", "red2.png"],
                                                                         ["red2.png", "red.png"])


def test_unreadable_picture_is_skipped_with_a_note(qtbot, make_gallery, installed_clip, tmp_path):
    gallery = make_gallery()
    gallery.add(picture(tmp_path / "out", "red", COLOURS["red"]), GenerationParams(), 1)
    broken = tmp_path / "out" / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n not really")
    gallery.search.add_files([broken])
    gallery.search.box.setText("red")
    with qtbot.waitSignal(gallery.search.sig_order, timeout=60000) as blocker:
        pass
    assert blocker.args[0] == [tmp_path / "out" / "red.png", broken]
    assert "Skipped 1 file that is not a readable image: broken.png" in gallery.search.note.text()


def test_ask_about_this_image_from_the_button_and_the_menu(qtbot, make_gallery, tmp_path):
    gallery = make_gallery()
    assert not gallery.ask.isEnabled()
    path = picture(tmp_path / "out", "red", COLOURS["red"])
    gallery.add(path, GenerationParams(), 1)
    gallery.add(picture(tmp_path / "out", "green", COLOURS["green"]), GenerationParams(), 2)
    with qtbot.waitSignal(gallery.ctx.bus.sig_ask_about_image, timeout=2000) as blocker:
        gallery.ask.click()  # the current (newest) image
    assert blocker.args == [str(tmp_path / "out" / "green.png")] and gallery.tabs == ["chat"]
    menu = gallery.context_menu(gallery.list.item(1))  # right click on the older one
    ask = next(a for a in menu.actions() if a.text() == "Ask about this image")
    with qtbot.waitSignal(gallery.ctx.bus.sig_ask_about_image, timeout=2000) as blocker:
        ask.trigger()
    assert blocker.args == [str(path)] and gallery.tabs == ["chat", "chat"]
    assert Image.open(blocker.args[0]).size == (48, 40)


def test_ranking_keeps_the_selected_image_and_its_details(qtbot, make_gallery, installed_clip, tmp_path):
    gallery = make_gallery()
    for seed, name in enumerate(("red", "green", "blue")):
        gallery.add(picture(tmp_path / "out", name, COLOURS[name]), GenerationParams(prompt=name), seed)
    gallery.list.setCurrentRow(1)  # green
    gallery.search.box.setText("red")
    with qtbot.waitSignal(gallery.search.sig_order, timeout=60000):
        pass
    assert names(gallery)[0] == "red.png"
    assert gallery.list.currentItem().data(PATH_ROLE).endswith("green.png")
    assert "green" in gallery.info.toPlainText() and gallery.ask.isEnabled() and gallery.reuse.isEnabled()
