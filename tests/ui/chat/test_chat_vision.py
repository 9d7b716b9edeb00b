"""Vision chat in the real window, offscreen: attach (button method, paste, drop), thumbnails before and after
sending, a reply from the tiny LM + projector on real llama.cpp, the conversation reopened with its images, the
refusals that keep the text and images, and "Ask about this image" from the bus."""

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QUrl
from PySide6.QtGui import QColor, QImage

from app.core.chat.store import ConversationStore, images_folder
from app.ui.chat.messages import thumbnails_in
from tests.fixtures.tiny_gguf import write_tiny_llama
from tests.ui.chat.test_chat_tab import load, window  # noqa: F401 - the real window, offscreen
from tests.fixtures.tiny_vlm import write_tiny_vlm

pytestmark = pytest.mark.slow
REPLY_MS = 180_000


@pytest.fixture(scope="module")
def vlm(tmp_path_factory):
    return write_tiny_vlm(tmp_path_factory.mktemp("ui-vlm"))


def photo(path, colour=(200, 30, 30)):
    arr = np.zeros((300, 400, 3), np.uint8)
    arr[:] = colour
    Image.fromarray(arr).save(path)
    return path


def test_attach_send_and_reopen_a_conversation_with_images(qtbot, window, vlm, tmp_path):
    tab = window.tab_widgets["chat"]
    load(qtbot, tab, vlm[0])
    assert " · vision" in tab.model_bar.info.text()
    tab.panel.temperature.setValue(0)
    tab.panel.max_tokens.setValue(4)

    first = photo(tmp_path / "red.png")
    tab.choose_images([str(first)])  # what "Image…" does with the chosen files
    pasted = QImage(50, 40, QImage.Format.Format_RGB32)
    pasted.fill(QColor("blue"))
    mime = QMimeData()
    mime.setImageData(pasted)
    assert tab.composer.canInsertFromMimeData(mime)
    tab.composer.insertFromMimeData(mime)  # paste (and drop) end here
    dropped = QMimeData()
    dropped.setUrls([QUrl.fromLocalFile(str(first))])
    tab.composer.insertFromMimeData(dropped)  # the same file again: attached once
    assert len(tab.attachments.items()) == 2 and len(tab.attachments.thumbnails()) == 2
    assert tab.attachments.isVisible() and tab.composer.toPlainText() == ""

    with qtbot.waitSignal(tab.sig_reply_finished, timeout=REPLY_MS) as done:
        assert tab.send("what is this")
    assert done.args[0] == "done", tab.stats.text()
    assert tab.attachments.items() == [] and not tab.attachments.isVisible()
    user, reply = tab.model.rows
    assert len(user.images) == 2 and reply.content
    assert all(p.startswith(str(images_folder())) for p in user.images)
    width = tab.delegate._width()
    assert thumbnails_in(tab.delegate.document(user, width)) == ["hearth-image:0", "hearth-image:1"]
    window.grab().save(str(tmp_path / "chat-vision.png"))

    first.unlink()  # the conversation keeps its own copies
    cid = tab.conv_id
    tab.new_conversation()
    assert tab.model.rows == []
    tab.open_conversation(cid)
    user = tab.model.rows[0]
    assert len(user.images) == 2 and thumbnails_in(tab.delegate.document(user, width))
    assert not QImage(user.images[0]).isNull()


def test_text_only_model_and_bad_image_keep_the_message(qtbot, window, vlm, tmp_path):
    tab = window.tab_widgets["chat"]
    plain = write_tiny_llama(tmp_path / "plain-F32.gguf")
    load(qtbot, tab, plain)
    assert "vision" not in tab.model_bar.info.text()
    tab.composer.setPlainText("what is this")
    tab.attach_images([photo(tmp_path / "a.png")])
    assert tab.send() is False
    assert "reads text only" in window.message_bar.label.text()
    assert tab.composer.toPlainText() == "what is this" and len(tab.attachments.items()) == 1
    assert ConversationStore().list() == []

    load(qtbot, tab, vlm[0])
    tab.attachments.clear()
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a photo")
    tab.attach_images([str(broken)])
    assert tab.send() is False
    assert "broken.jpg" in window.message_bar.label.text()
    assert tab.composer.toPlainText() == "what is this" and tab.attachments.items() == [str(broken)]
    assert ConversationStore().list() == []


def test_ask_about_image_opens_a_new_chat_with_it(qtbot, window, tmp_path):
    tab = window.tab_widgets["chat"]
    picture = photo(tmp_path / "gallery.png", (20, 160, 20))
    window.ctx.bus.sig_ask_about_image.emit(str(picture))
    assert window.current_tab_key() == "chat"
    assert tab.conv_id is None and tab.attachments.items() == [str(picture)]
    assert tab.composer.hasFocus() or not window.isActiveWindow()
    tab.ask_about_image(str(picture))
    assert tab.attachments.items() == [str(picture)]
