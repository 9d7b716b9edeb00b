import json
import subprocess
import sys
import textwrap
import time

import pytest
from PySide6.QtWidgets import QApplication

from app.core import paths
from app.core.jobs import Job
from app.core.settings import Settings
from app.ui.main_window import MainWindow
from app.ui.widgets import EmptyState

HEAVY = ["torch", "diffusers", "transformers", "llama_cpp", "chromadb", "sentence_transformers", "segment_anything"]


@pytest.fixture
def window(qtbot):
    w = MainWindow(Settings.load())
    qtbot.addWidget(w)
    w.show()
    yield w
    w.jobs.shutdown(timeout_s=5)


def test_five_tabs_each_with_an_empty_state_that_says_what_to_do(window):
    titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert titles == ["Chat", "Documents", "Images", "Segment", "Models"]
    for key in window.tab_keys:
        empty = window.tab_widgets[key].findChild(EmptyState)
        assert empty is not None, key
        assert empty.title.text() and len(empty.text.text()) > 40
        assert empty.buttons, f"{key} empty state offers no first step"
    assert "Models" in window.tab_widgets["chat"].findChild(EmptyState).text.text()


def test_only_the_tab_in_view_is_built_at_start_the_others_when_first_shown(qtbot):
    settings = Settings.load()
    settings.ui.last_tab = "segment"
    w = MainWindow(settings)
    qtbot.addWidget(w)
    w.show()
    assert w.current_tab_key() == "segment"
    qtbot.waitUntil(lambda: bool(w.tab_widgets.built()), timeout=5000)  # built right after the first paint
    assert [type(t).__name__ for t in w.tab_widgets.built()] == ["SegmentTab"]
    w.show_tab("models")
    assert {type(t).__name__ for t in w.tab_widgets.built()} == {"SegmentTab", "ModelsTab"}
    assert w.tabs.currentWidget().widget is w.tab_widgets["models"]
    w.close()  # shuts down only the tabs that exist


def test_go_to_models_button_switches_tab(window, qtbot):
    button = window.tab_widgets["chat"].findChild(EmptyState).buttons[0]
    button.click()
    assert window.current_tab_key() == "models"


def test_status_bar_shows_device_and_jobs(window, qtbot):
    qtbot.waitUntil(lambda: "detecting" not in window.device_label.text(), timeout=10000)
    text = window.device_label.text()
    assert text.startswith("Device: ") and ("CPU" in text or "CUDA" in text or "Metal" in text)


def test_jobs_indicator_lists_running_job_with_cancel(window, qtbot):
    def slow(inputs, state):
        state.progress(0.25, "a quarter")
        while not state.cancelled:
            time.sleep(0.01)

    handle = window.jobs.submit(Job(slow, name="Slow thing"))
    qtbot.waitUntil(lambda: handle.fraction == 0.25, timeout=5000)
    indicator = window.jobs_indicator
    assert "Slow thing" in indicator.label.text() and "a quarter" in indicator.label.text()
    rows = [r for r in indicator.rows() if r.handle is handle]
    assert rows and rows[0].bar.value() == 250
    with qtbot.waitSignal(handle.sig_cancelled, timeout=5000):
        rows[0].cancel.click()
    qtbot.waitUntil(lambda: indicator.label.text() == "No jobs running", timeout=5000)


def test_failed_job_shows_readable_message_in_window(window, qtbot):
    def fails(inputs, state):
        raise OSError("disk unplugged")

    handle = window.jobs.submit(Job(fails, name="Save image"))
    with qtbot.waitSignal(handle.sig_finished, timeout=5000):
        pass
    assert window.message_bar.isVisible()
    assert window.message_bar.label.text() == "Save image failed: OSError: disk unplugged"


def test_geometry_last_tab_and_theme_restored_on_restart(qtbot):
    first = MainWindow(Settings.load())
    qtbot.addWidget(first)
    first.show()
    first.resize(700, 500)
    first.move(20, 30)
    first.show_tab("segment")
    first.set_theme("dark")
    first.close()
    saved = json.loads(paths.settings_file().read_text())
    assert saved["ui"]["last_tab"] == "segment" and saved["ui"]["theme"] == "dark"

    second = MainWindow(Settings.load())
    qtbot.addWidget(second)
    second.show()
    assert second.current_tab_key() == "segment"
    assert (second.width(), second.height()) == (700, 500)
    assert second.theme_actions["dark"].isChecked()
    assert QApplication.instance().property("hearth_theme") == "dark"
    second.set_theme("light")
    assert QApplication.instance().property("hearth_theme") == "light"
    second.close()


def test_corrupt_settings_are_reported_once_in_the_window(qtbot):
    paths.settings_file().write_text("\x00\x01 garbage")
    w = MainWindow(Settings.load())
    qtbot.addWidget(w)
    w.show()
    assert w.message_bar.isVisible() and "could not be read" in w.message_bar.label.text()
    w.close()
    again = MainWindow(Settings.load())
    qtbot.addWidget(again)
    assert not again.message_bar.label.text()
    again.close()


def test_about_lists_engine_versions(window):
    text = window.about_text()
    for module in ["llama_cpp", "torch", "diffusers", "chromadb", "segment_anything", "PySide6"]:
        assert module in text


def test_window_opens_without_importing_heavy_engines(subprocess_env):
    code = textwrap.dedent(f"""
        import sys
        from app.ui.app import create_window
        app, w = create_window()
        w.show()
        app.processEvents()
        loaded = [m for m in {HEAVY!r} if m in sys.modules]
        print(loaded)
        w.jobs.shutdown()
        sys.exit(1 if loaded else 0)
    """)
    result = subprocess.run([sys.executable, "-c", code], env=subprocess_env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_quitting_mid_job_exits_quickly_and_cleanly(subprocess_env):
    code = textwrap.dedent("""
        import sys, time
        from PySide6.QtCore import QTimer
        from app.core.jobs import Job
        from app.ui.app import create_window, exec_window

        def long_job(inputs, state):
            while not state.cancelled:
                time.sleep(0.01)

        app, w = create_window()
        for name in ("first", "second"):
            w.jobs.submit(Job(long_job, name=name, resource=name))
        w.jobs.submit(Job(long_job, name="queued", resource="first"))
        QTimer.singleShot(500, w.close)
        sys.exit(exec_window(app, w))
    """)
    t0 = time.monotonic()
    result = subprocess.run([sys.executable, "-c", code], env=subprocess_env, capture_output=True, text=True, timeout=30)
    elapsed = time.monotonic() - t0
    assert result.returncode == 0, result.stderr
    assert "QThread: Destroyed" not in result.stderr
    assert elapsed < 3 + 4  # 3 s to quit after the close at 0.5 s, plus interpreter + Qt start on a slow machine


def test_quitting_with_a_job_that_ignores_cancel_still_exits(subprocess_env):
    code = textwrap.dedent("""
        import sys, time
        from PySide6.QtCore import QTimer
        from app.core.jobs import Job
        from app.ui.app import create_window, exec_window

        def stubborn(inputs, state):
            time.sleep(60)   # a native call that cannot be interrupted

        app, w = create_window()
        w.jobs.submit(Job(stubborn))
        QTimer.singleShot(300, w.close)
        sys.exit(exec_window(app, w))
    """)
    t0 = time.monotonic()
    result = subprocess.run([sys.executable, "-c", code], env=subprocess_env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - t0 < 15
    assert "QThread: Destroyed" not in result.stderr


def test_exception_in_a_slot_is_shown_and_logged_not_fatal(subprocess_env, hearth_home):
    code = textwrap.dedent("""
        import sys
        from PySide6.QtCore import QTimer
        from app.ui.app import create_window, exec_window

        app, w = create_window()
        def boom():
            raise ValueError("slot blew up")
        def check():
            print("BAR:", w.message_bar.label.text(), flush=True)
            w.close()
        QTimer.singleShot(100, boom)
        QTimer.singleShot(400, check)
        sys.exit(exec_window(app, w))
    """)
    result = subprocess.run([sys.executable, "-c", code], env=subprocess_env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "BAR: Something went wrong: ValueError: slot blew up" in result.stdout
    log_text = (hearth_home / "logs" / "hearth.log").read_text()
    assert "Traceback" in log_text and "slot blew up" in log_text
