"""The main window: five tabs, menus, a message bar, and a status bar with the device, the server switch and the
jobs."""

from __future__ import annotations

import logging

from PySide6.QtCore import QByteArray, QTimer
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QTabWidget, QVBoxLayout, QWidget

import app as hearth
from app.core import paths
from app.core.engines import Engines
from app.core.jobs import Job
from app.core.settings import THEMES, Settings
from app.core.units import format_bytes
from app.ui import theme
from app.ui.bus import AppBus
from app.ui.connections import RemoteModels
from app.ui.context import AppContext
from app.ui.jobs import JobManager
from app.ui.jobs_indicator import JobsIndicator
from app.ui.server.controller import ServerController
from app.ui.server.status import ServerStatus
from app.ui.tabs import TABS, LazyTabs, TabHost, tab_class
from app.ui.widgets import MessageBar

log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    def __init__(self, settings: Settings, jobs: JobManager | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.jobs = jobs or JobManager(self)
        self.device = None  # app.core.devices.DeviceInfo once detected
        self.get_started = None  # the Get started dialog, once opened
        self.setWindowTitle(hearth.APP_NAME)
        self.resize(1200, 800)
        self.engines = Engines(settings)  # the chat and image engines the tabs and the server share
        self.ctx = AppContext(
            settings=settings,
            jobs=self.jobs,
            bus=AppBus(self),
            show_tab=self.show_tab,
            show_message=self.show_message,
            save_settings=self.save_settings,
            engines=self.engines,
        )
        self.ctx.remote = RemoteModels(self.ctx, self)
        self.server = ServerController(self.ctx, self)

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 0)
        self.message_bar = MessageBar()
        layout.addWidget(self.message_bar)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tab_keys: list[str] = []
        # Tabs are built when first shown (or looked up): start-up pays only for the tab the user sees.
        self.tab_widgets = LazyTabs()
        for key, title, module, name in TABS:
            host = TabHost(lambda module=module, name=name: tab_class(module, name)(self.ctx))
            self.tabs.addTab(host, title)
            self.tab_keys.append(key)
            self.tab_widgets.hosts[key] = host
        layout.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        # "Ask about this image" reaches the Chat tab even before it was first built (it connects itself after)
        self.ctx.bus.sig_ask_about_image.connect(
            lambda path: self.tab_widgets["chat"]._on_ask_about_image(path)
            if self.tab_widgets.hosts["chat"].widget is None else None)

        self._build_menus()
        self._build_status_bar()
        self.jobs.sig_job_failed.connect(lambda handle, message: self.show_message(f"{handle.name} failed: {message}"))
        self._first_paint_done = False
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self._restore()
        # Work that can wait runs right after the window's first paint (the frame, menus and tab bar show at once):
        # building the tab in view, and whatever create_window adds; or after a second if the window is not
        # painted (minimized).
        self._after_first_paint = [self._build_current_tab]
        if settings.server.enabled:  # it was on when Hearth last closed
            self._after_first_paint.append(self.server.start)
        QTimer.singleShot(1000, self._run_after_first_paint)

        hints = QApplication.styleHints()
        hints.colorSchemeChanged.connect(self._on_system_scheme_changed)

        # Hardware detection runs nvidia-smi / reads /proc: off the GUI thread, through the job mechanism, and
        # a moment after the window shows, so its imports do not compete with the first paint.
        QTimer.singleShot(300, self._start_device_detection)

    def _start_device_detection(self) -> None:
        from app.core.devices import detect_job

        handle = self.jobs.submit(Job(detect_job, name="Detect hardware"))
        handle.sig_done.connect(self._on_device)
        handle.sig_error.connect(lambda msg: self.device_label.setText("Device: unknown"))

    # ---- menus -------------------------------------------------------------------------------------------------
    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction("Export conversation…", lambda: self._chat().export_conversation())
        file_menu.addAction("Import conversation…", lambda: self._chat().import_conversation())
        file_menu.addAction("Open data folder", lambda: self._open_folder(paths.data_dir()))
        settings_action = QAction("&Settings…", self)
        settings_action.setShortcut("Ctrl+,")
        settings_action.triggered.connect(lambda: self.show_settings())
        file_menu.addAction(settings_action)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut("Ctrl+Q")  # Cmd+Q on macOS
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)

        view_menu = bar.addMenu("&View")
        theme_menu = view_menu.addMenu("Theme")
        self.theme_group = QActionGroup(self)
        self.theme_group.setExclusive(True)
        self.theme_actions: dict[str, QAction] = {}
        for name in THEMES:
            action = QAction(name.capitalize(), self, checkable=True)
            action.setData(name)
            action.triggered.connect(lambda _checked=False, n=name: self.set_theme(n))
            self.theme_group.addAction(action)
            theme_menu.addAction(action)
            self.theme_actions[name] = action

        help_menu = bar.addMenu("&Help")
        help_menu.addAction("Get started…", self.show_get_started)
        help_menu.addAction("About Hearth", self.show_about)
        help_menu.addAction("Open log folder", lambda: self._open_folder(paths.logs_dir()))

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        self.device_label = QLabel("Device: detecting…")
        self.device_label.setObjectName("deviceLabel")
        status.addWidget(self.device_label)
        self.server_status = ServerStatus(self.server, self.settings, self.save_settings)
        status.addPermanentWidget(self.server_status)
        self.jobs_indicator = JobsIndicator(self.jobs)
        status.addPermanentWidget(self.jobs_indicator)

    # ---- actions -----------------------------------------------------------------------------------------------
    def show_tab(self, key: str) -> None:
        if key in self.tab_keys:
            self.tabs.setCurrentIndex(self.tab_keys.index(key))

    def current_tab_key(self) -> str:
        return self.tab_keys[self.tabs.currentIndex()]

    def show_message(self, text: str, kind: str = "error") -> None:
        self.message_bar.show_message(text, kind)

    def set_theme(self, name: str) -> None:
        if name not in THEMES:
            name = "system"
        self.settings.ui.theme = name
        self.theme_actions[name].setChecked(True)
        app = QApplication.instance()
        if app is not None:
            theme.apply_theme(app, name)
        self.save_settings()

    def _on_system_scheme_changed(self, *_args) -> None:
        if self.settings.ui.theme == "system":
            theme.apply_theme(QApplication.instance(), "system")

    def about_text(self) -> str:
        from app.core import libraries  # importlib.metadata: not needed for the first paint

        rows = "".join(
            f"<tr><td>{module}</td><td>&nbsp;{version}</td></tr>" for module, version in libraries.versions().items()
        )
        device = self.device.best if self.device else "detecting…"
        return (
            f"<h3>Hearth {hearth.__version__}</h3>"
            "<p>Local AI on your own computer: chat, documents, images and segmentation, offline.</p>"
            f"<p>Compute device: {device}</p>"
            f"<table>{rows}</table>"
            f"<p>Data: {paths.data_dir()}</p>"
        )

    def show_settings(self, page: str = "server", modal: bool = True):
        """File → Settings…: the server and the connections. Returns the dialog (shown, not run, when not
        `modal`)."""
        from app.ui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.ctx, self.server, self)
        dialog.show_page(page)
        if modal:
            dialog.exec()
        else:
            dialog.show()
        return dialog

    def show_about(self) -> None:
        from PySide6.QtWidgets import QMessageBox

        QMessageBox.about(self, "About Hearth", self.about_text())

    def _chat(self):
        """The Chat tab, shown (File → Export/Import conversation work on it)."""
        self.show_tab("chat")
        return self.tab_widgets["chat"]

    def show_get_started(self):
        """Open Get started (the starter set for this computer); the same panel each time, so a running download
        shows its progress."""
        if self.get_started is None:
            from app.ui.models.get_started import GetStartedDialog

            self.get_started = GetStartedDialog(self.ctx, on_import=self._import_model, parent=self)
        elif not self.get_started.isVisible():
            self.get_started.refresh()
        self.get_started.show()
        self.get_started.raise_()
        return self.get_started

    def offer_get_started(self) -> None:
        """At start: open Get started when nothing is installed and the user never dismissed it."""
        from app.core.models import registry

        if not self.settings.ui.starter_dismissed and not registry.installed():
            self.show_get_started()

    def _import_model(self) -> None:
        self.show_tab("models")
        self.tab_widgets["models"].installed.choose_file()

    def _open_folder(self, folder) -> None:
        from PySide6.QtCore import QUrl
        from PySide6.QtGui import QDesktopServices

        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def _on_device(self, info) -> None:
        self.device = info
        self.device_label.setText(f"Device: {info.best}")
        self.device_label.setToolTip(
            f"CPU: {info.cpu_name} ({', '.join(info.cpu_features) or 'no SIMD extensions found'}), "
            f"{info.physical_cores} cores, {format_bytes(info.ram_bytes)} RAM"
        )

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt naming
        super().paintEvent(event)
        if not self._first_paint_done:
            self._first_paint_done = True
            QTimer.singleShot(0, self._run_after_first_paint)

    def call_after_first_paint(self, fn) -> None:
        self._after_first_paint.append(fn)

    def _run_after_first_paint(self) -> None:
        self._first_paint_done = True
        todo, self._after_first_paint = self._after_first_paint, []
        for fn in todo:
            fn()

    def _build_current_tab(self) -> None:
        self.tabs.currentWidget().ensure()

    def _on_tab_changed(self, index: int) -> None:
        if self._first_paint_done:  # before it, the restored tab waits for the first paint like the default one
            self.tabs.widget(index).ensure()
        self.settings.ui.last_tab = self.tab_keys[index]

    # ---- persistence -------------------------------------------------------------------------------------------
    def _restore(self) -> None:
        ui = self.settings.ui
        if ui.geometry:
            self.restoreGeometry(QByteArray.fromBase64(ui.geometry.encode("ascii")))
        if ui.window_state:
            self.restoreState(QByteArray.fromBase64(ui.window_state.encode("ascii")))
        self.show_tab(ui.last_tab if ui.last_tab in self.tab_keys else "chat")
        self.theme_actions.get(ui.theme, self.theme_actions["system"]).setChecked(True)
        if self.settings.load_notice:
            self.show_message(self.settings.load_notice, "warning")
            self.settings.load_notice = ""

    def save_settings(self) -> None:
        ui = self.settings.ui
        ui.geometry = bytes(self.saveGeometry().toBase64()).decode("ascii")
        ui.window_state = bytes(self.saveState().toBase64()).decode("ascii")
        ui.last_tab = self.current_tab_key()
        try:
            self.settings.save()
        except OSError as exc:
            log.error("could not save settings: %s", exc)
            self.show_message(f"Could not save settings: {exc}")

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt naming
        self.save_settings()
        self.server.stop_now(3.0)  # its requests are cancelled; the switch's state stays in settings
        for widget in self.tab_widgets.built():
            shutdown = getattr(widget, "shutdown", None)
            if callable(shutdown):
                shutdown()
        self.engines.close(0.5)  # what the server loaded when a tab that would free it was never opened
        self.jobs.shutdown(timeout_s=2.5)
        event.accept()
