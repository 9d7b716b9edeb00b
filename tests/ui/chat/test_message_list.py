"""The message list without a model: Markdown rendering, throttled streaming re-renders one row, 1,000 rows."""

from app.ui.chat.messages import MessageDelegate, MessageModel, MessageView, Row

MARKDOWN = """# Heading

- one
- two

| a | b |
|---|---|
| 1 | 2 |

```python
print("hi")
```
"""


def make_view(qtbot, n=0):
    view = MessageView()
    model = MessageModel(view)
    view.setModel(model)
    delegate = MessageDelegate(view)
    view.setItemDelegate(delegate)
    qtbot.addWidget(view)
    view.resize(700, 500)
    model.set_rows([Row(i, "user" if i % 2 == 0 else "assistant", f"message {i} " * 20) for i in range(n)])
    view.show()
    qtbot.waitExposed(view)
    return view, model, delegate


def test_markdown_is_rendered_with_tables_lists_and_monospace_code(qtbot):
    view, model, delegate = make_view(qtbot)
    model.append(Row(1, "assistant", MARKDOWN))
    doc = delegate.document(model.rows[0], 600)
    text = doc.toPlainText()
    assert "# Heading" not in text and "Heading" in text  # a heading, not raw markdown
    assert doc.rootFrame().childFrames(), "the table should be a frame"
    code_block = next(doc.findBlock(i) for i in range(doc.characterCount()) if "print" in doc.findBlock(i).text())
    assert code_block.charFormat().fontFixedPitch() or code_block.blockFormat().nonBreakableLines()


def test_streaming_rerenders_only_the_growing_row(qtbot):
    view, model, delegate = make_view(qtbot, 30)
    view.scrollToBottom()
    qtbot.wait(50)
    i = model.append(Row(None, "assistant", "", streaming=True))
    qtbot.wait(50)
    keys_before = {k: v[0] for k, v in delegate._docs.items()}
    for piece in ["Hello", " there", ", friend", "."] * 5:
        model.append_text(i, piece)
        view.viewport().repaint()
    changed = [k for k, v in delegate._docs.items() if k in keys_before and v[0] != keys_before[k]]
    assert changed == [id(model.rows[i])]
    assert model.rows[i].content.startswith("Hello there, friend.")


def test_a_thousand_messages_lay_out_once_and_scroll(qtbot):
    view, model, delegate = make_view(qtbot, 1000)
    qtbot.wait(100)
    built = delegate.builds
    assert built >= 1000  # every row measured once for the scroll bar
    bar = view.verticalScrollBar()
    for value in range(0, bar.maximum(), max(1, bar.maximum() // 50)):
        bar.setValue(value)
        view.viewport().repaint()
    assert delegate.builds == built  # scrolling re-used the cached layouts


def test_a_message_with_code_has_a_copy_code_button_that_copies_only_the_code(qtbot):
    from PySide6.QtCore import Qt

    from app.ui.chat.tab import _code_blocks

    view, model, delegate = make_view(qtbot)
    model.append(Row(1, "assistant", MARKDOWN))
    model.append(Row(2, "user", "no code here"))
    qtbot.wait(50)
    assert "copy_code" not in [k for k, _ in delegate.actions(model.rows[1], 1)]
    index = model.index(0)
    rect = view.visualRect(index)
    button = next(r for key, _label, r in delegate._action_rects(rect, model.rows[0], 0) if key == "copy_code")
    actions = []
    delegate.sig_action.connect(lambda key, row: actions.append((key, row)))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=button.center())
    assert actions == [("copy_code", 0)]
    assert _code_blocks(model.rows[0].content) == 'print("hi")'
