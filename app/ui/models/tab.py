"""Models tab: installed models, the curated catalog with hardware fit, Hugging Face search, and downloads."""

from __future__ import annotations

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QLabel, QSplitter, QTabWidget, QVBoxLayout, QWidget

from app.core import paths
from app.core.errors import UserError
from app.core.jobs import Job
from app.core.models import downloads, fit
from app.core.models import jobs as models_jobs
from app.core.units import format_bytes
from app.ui.context import AppContext
from app.ui.models.catalog_view import CatalogView
from app.ui.models.downloads_view import DownloadsPanel
from app.ui.models.installed import InstalledView
from app.ui.models.search_view import SearchView


class ModelsTab(QWidget):

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        layout = QVBoxLayout(self)
        self.pages = QTabWidget()
        self.installed = InstalledView(ctx)
        self.empty = self.installed.empty
        self.catalog = CatalogView()
        self.search = SearchView(ctx)
        self.pages.addTab(self.installed, "Installed")
        self.pages.addTab(self.catalog, "Catalog")
        self.pages.addTab(self.search, "Search Hugging Face")
        self.downloads = DownloadsPanel(ctx)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.pages)
        splitter.addWidget(self.downloads)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        layout.addWidget(splitter, 1)
        self.folder = QLabel(f"Models folder: <a href='open'>{paths.models_dir()}</a> · Hugging Face safetensors "
                             "language models need converting to GGUF first (see the README); most have a "
                             "ready-made GGUF you can find in Search.")
        self.folder.setWordWrap(True)
        self.folder.linkActivated.connect(lambda _link: self.open_models_folder())
        layout.addWidget(self.folder)

        self.installed.sig_changed.connect(self._registry_changed)
        self.installed.sig_browse_catalog.connect(lambda: self.pages.setCurrentWidget(self.catalog))
        self.catalog.sig_download.connect(self.download_catalog)
        self.search.sig_download.connect(self.download_hub_file)
        self.search.sig_download_url.connect(lambda url, sha: self.download_url(url, sha or None))
        self.downloads.sig_installed.connect(lambda model: self._registry_changed())
        self.ctx.bus.sig_models_changed.connect(self._refresh_views)
        self._refresh_views()

        handle = ctx.jobs.submit(Job(models_jobs.detect_memory, name="Detect memory"))
        handle.sig_done.connect(self.catalog.set_memory)

    # ---- downloads ---------------------------------------------------------------------------------------------
    def download_catalog(self, entry, variant):
        memory = self.catalog.memory
        if memory is not None and fit.label(entry.memory_bytes(variant), memory) == fit.WONT_FIT:
            need = format_bytes(entry.memory_bytes(variant))
            if not self.confirm(f"{entry.name} {variant.label} needs about {need} of memory and this computer "
                                f"has {memory.describe}: it will not run here. Download it anyway?"):
                return None
        return self._start(lambda: downloads.spec_from_catalog(entry, variant))

    def confirm(self, text: str) -> bool:
        from PySide6.QtWidgets import QMessageBox

        return QMessageBox.question(self, "Won't fit", text) == QMessageBox.StandardButton.Yes

    def download_hub_file(self, repo: str, filename: str):
        return self._start(lambda: downloads.spec_from_hub_file(repo, filename))

    def download_url(self, url: str, sha256: str | None = None):
        return self._start(lambda: downloads.spec_from_url(url, sha256=sha256))

    def _start(self, make_spec):
        try:
            spec = make_spec()
        except UserError as exc:
            self.ctx.show_message(str(exc), "error")
            return None
        return self.downloads.start(spec)

    # ---- registry changes --------------------------------------------------------------------------------------
    def _registry_changed(self) -> None:
        self.ctx.bus.sig_models_changed.emit()  # every tab's picker re-reads the registry

    def _refresh_views(self) -> None:
        self.installed.refresh()
        self.catalog.set_installed({m.path.name for m in self.installed.models})

    def open_models_folder(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(paths.models_dir())))
