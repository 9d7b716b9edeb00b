"""The Chat settings panel's "Answers from documents" switches are the ChatSettings the next reply uses."""

from app.core.chat.conversation import TurnOptions
from app.core.settings import ChatSettings
from app.ui.chat.settings_panel import ChatSettingsPanel


def test_answer_switches_show_and_change_the_chat_settings(qtbot):
    cs = ChatSettings()
    panel = ChatSettingsPanel(cs)
    qtbot.addWidget(panel)
    assert panel.rewrite.isChecked() and not panel.hyde.isChecked()
    assert panel.prompt_lookup.isChecked() == cs.prompt_lookup
    reloads = []
    panel.sig_reload_needed.connect(lambda: reloads.append(1))
    panel.rewrite.setChecked(False)
    panel.hyde.setChecked(True)
    panel.prompt_lookup.setChecked(not cs.prompt_lookup)
    assert (cs.rewrite_followups, cs.hyde) == (False, True) and reloads == [1]  # prompt lookup needs a reload
    options = TurnOptions.for_conversation({"collections": ["manual"]}, cs)
    request = options.documents_request()
    assert (request.rewrite, request.hyde) == (False, True)
