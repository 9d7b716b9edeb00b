"""Starting the GUI: QApplication, logging, settings, theme, main window."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

log = logging.getLogger(__name__)


def _make_app():
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
    app.setApplicationName("Hearth")
    app.setOrganizationName("Hearth")
    app.setApplicationDisplayName("Hearth")
    from PySide6.QtGui import QIcon

    from app.core.resources import resource

    app.setWindowIcon(QIcon(str(resource("icons", "hearth.png"))))
    return app


def create_window(settings=None):
    """Build the QApplication (if needed) and the main window, themed, not yet shown."""
    from app.core.logs import setup_logging
    from app.core.settings import Settings
    from app.ui import theme
    from app.ui.main_window import MainWindow

    app = _make_app()
    settings = settings or Settings.load()
    theme.apply_theme(app, settings.ui.theme)
    window = MainWindow(settings)
    # The rotating file log (logging.handlers pulls in socket, pickle...) is attached after the first paint, so it
    # does not delay it; until then warnings still reach stderr through logging's last resort.
    window.call_after_first_paint(setup_logging)
    return app, window


def _install_startup_probe(app, window) -> None:
    """For tests/benchmarks/startup.py: print the wall-clock time of the first paint, then quit."""
    from PySide6.QtCore import QEvent, QObject, QTimer

    class Probe(QObject):
        def eventFilter(self, obj, event):  # noqa: N802 - Qt naming
            if event.type() == QEvent.Type.Paint:
                print(f"FIRST_PAINT {time.time():.6f}", flush=True)
                obj.removeEventFilter(self)
                QTimer.singleShot(0, app.quit)
            return False

    window._startup_probe = Probe(window)
    window.installEventFilter(window._startup_probe)


def run_gui() -> int:
    app, window = create_window()
    window.call_after_first_paint(window.offer_get_started)  # the first run offers a starter set
    if os.environ.get("HEARTH_STARTUP_PROBE"):
        _install_startup_probe(app, window)
    return exec_window(app, window)


def _install_excepthook(window) -> None:
    """An exception escaping a slot is logged with its traceback and shown in the window; the app keeps running."""
    previous = sys.excepthook

    def hook(exc_type, exc, tb):
        if issubclass(exc_type, KeyboardInterrupt):
            previous(exc_type, exc, tb)
            return
        log.error("unhandled exception", exc_info=(exc_type, exc, tb))
        from app.core.jobs import describe_error

        try:
            window.show_message(f"Something went wrong: {describe_error(exc)} (details in the log)")
        except RuntimeError:  # window already deleted
            pass

    sys.excepthook = hook


def exec_window(app, window) -> int:
    """Show the window and run the event loop. Closing the window cancels jobs and waits for them briefly."""
    _install_excepthook(window)
    window.show()
    code = app.exec()
    if window.jobs.active():  # a job ignored cancellation: do not hang on exit waiting for its thread
        log.warning("exiting with jobs still running")
        logging.shutdown()
        os._exit(code)
    return code


def save_screenshots(directory: Path) -> list[Path]:
    """Render every tab offscreen to DIR/<tab>.png."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app, window = create_window()
    directory.mkdir(parents=True, exist_ok=True)
    window.resize(1200, 800)
    window.show()
    deadline = time.monotonic() + 5
    # Let the status bar show the device (detection starts shortly after the window shows) and start-up jobs end.
    while (window.device is None or window.jobs.active()) and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
    saved = []
    for index, key in enumerate(window.tab_keys):
        window.tabs.setCurrentIndex(index)
        for _ in range(3):
            app.processEvents()
        path = directory / f"{key}.png"
        window.grab().save(str(path))
        saved.append(path)
    window.jobs.shutdown(timeout_s=2.5)
    window.hide()
    return saved
