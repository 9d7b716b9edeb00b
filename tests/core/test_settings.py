import json

from app.core import paths
from app.core.settings import Settings


def test_defaults_when_no_file():
    s = Settings.load()
    assert s.ui.theme == "system"
    assert s.chat.context_cap == 8192
    assert s.load_notice == ""


def test_round_trip_and_unknown_keys_kept():
    path = paths.settings_file()
    path.write_text(json.dumps({
        "version": 1,
        "ui": {"theme": "dark", "last_tab": "images", "future_ui_key": [1, 2]},
        "plugin_section": {"a": 1},
    }))
    s = Settings.load()
    assert s.ui.theme == "dark" and s.ui.last_tab == "images"
    s.chat.context_cap = 4096
    s.save()
    raw = json.loads(path.read_text())
    assert raw["plugin_section"] == {"a": 1}
    assert raw["ui"]["future_ui_key"] == [1, 2]
    assert raw["chat"]["context_cap"] == 4096
    again = Settings.load()
    assert again.chat.context_cap == 4096 and again.ui.theme == "dark"


def test_save_is_atomic_leaves_no_temp_files():
    s = Settings()
    s.ui.theme = "light"
    s.save()
    s.save()
    files = sorted(p.name for p in paths.settings_file().parent.iterdir() if p.is_file())
    assert files == ["settings.json"]


def test_corrupt_file_moved_aside_defaults_used_and_user_told():
    path = paths.settings_file()
    path.write_text("{ this is not json")
    s = Settings.load()
    assert s.ui.theme == "system"
    assert "could not be read" in s.load_notice
    backups = list(path.parent.glob("settings.json.corrupt-*"))
    assert len(backups) == 1 and backups[0].read_text() == "{ this is not json"
    assert not path.exists()
    # told once: a second load finds no file and says nothing
    assert Settings.load().load_notice == ""


def test_wrong_types_are_treated_as_corrupt():
    path = paths.settings_file()
    path.write_text(json.dumps({"chat": {"context_cap": "lots"}}))
    s = Settings.load()
    assert s.chat.context_cap == 8192
    assert "whole number" in s.load_notice


def test_a_version_1_file_s_old_default_chunk_size_becomes_today_s():
    """Version 1 saved every default: its 128-token chunk size was not a choice, so new collections get 200 (the
    size measured better on the dev set); a size the user changed stays."""
    path = paths.settings_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": 1, "documents": {"chunk_tokens": 128, "chunk_overlap": 40}}))
    loaded = Settings.load()
    assert loaded.documents.chunk_tokens == 200 and loaded.version == 2
    path.write_text(json.dumps({"version": 1, "documents": {"chunk_tokens": 300}}))
    assert Settings.load().documents.chunk_tokens == 300
    path.write_text(json.dumps({"version": 2, "documents": {"chunk_tokens": 128}}))
    assert Settings.load().documents.chunk_tokens == 128  # chosen since: kept
