"""Search Hugging Face for GGUF repositories; list a repository's files with size and quantization."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.jobs import Job
from app.core.models import jobs as models_jobs
from app.core.units import format_bytes


class SearchView(QWidget):
    sig_download = Signal(str, str)  # repo, file
    sig_download_url = Signal(str, str)  # url, sha256 ("" when not given)

    def __init__(self, ctx, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        self.query = QLineEdit()
        self.query.setPlaceholderText("Search GGUF models on Hugging Face, e.g. 'qwen2.5 coder'")
        self.query.returnPressed.connect(self.search)
        self.go = QPushButton("Search")
        self.go.clicked.connect(self.search)
        self.download = QPushButton("Download file")
        self.download.setEnabled(False)
        self.download.clicked.connect(self.download_selected)
        bar.addWidget(self.query, 1)
        bar.addWidget(self.go)
        bar.addWidget(self.download)
        layout.addLayout(bar)
        self.state = QLabel("Results come from huggingface.co. Expand a repository to see its files.")
        self.state.setWordWrap(True)
        layout.addWidget(self.state)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Repository / file", "Quantization", "Size", "Downloads"])
        self.tree.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.tree.itemExpanded.connect(self._expand)
        self.tree.itemSelectionChanged.connect(
            lambda: self.download.setEnabled(bool(self.selected_file())))
        self.tree.itemDoubleClicked.connect(lambda *_: self.download_selected())
        layout.addWidget(self.tree, 1)
        url_bar = QHBoxLayout()
        self.url = QLineEdit()
        self.url.setPlaceholderText("…or paste the https:// address of a model file")
        self.sha = QLineEdit()
        self.sha.setPlaceholderText("SHA-256 (optional, checked after download)")
        self.url_go = QPushButton("Download URL")
        self.url_go.clicked.connect(lambda: self.sig_download_url.emit(self.url.text().strip(), self.sha.text().strip()))
        url_bar.addWidget(self.url, 2)
        url_bar.addWidget(self.sha, 1)
        url_bar.addWidget(self.url_go)
        layout.addLayout(url_bar)
        self.offline = False

    def search(self):
        query = self.query.text().strip()
        if not query:
            return None
        self.state.setText("Searching…")
        handle = self.ctx.jobs.submit(Job(models_jobs.search_hub, query, name="Search Hugging Face"), replace="models-search")
        handle.sig_done.connect(self._on_results)
        handle.sig_error.connect(self._on_error)
        return handle

    def _on_results(self, repos) -> None:
        self.offline = False
        self.tree.clear()
        for repo in repos:
            item = QTreeWidgetItem([repo.id, "", "", f"{repo.downloads:,}"])
            item.setData(0, Qt.ItemDataRole.UserRole, ("repo", repo.id))
            item.setChildIndicatorPolicy(QTreeWidgetItem.ChildIndicatorPolicy.ShowIndicator)
            self.tree.addTopLevelItem(item)
        self.state.setText(f"{len(repos)} repositories." if repos else "No GGUF repositories match.")

    def _on_error(self, message: str) -> None:
        self.offline = message.startswith("No network")
        self.tree.clear()
        self.state.setText(f"<b>{'Offline' if self.offline else 'Search failed'}.</b> {message}")

    def _expand(self, item: QTreeWidgetItem) -> None:
        kind, repo_id = item.data(0, Qt.ItemDataRole.UserRole)
        if kind != "repo" or item.childCount():
            return
        handle = self.ctx.jobs.submit(Job(models_jobs.list_hub_files, repo_id, name=f"List {repo_id}"))
        handle.sig_done.connect(lambda files, it=item: self._on_files(it, files))
        handle.sig_error.connect(self._on_error)

    def _on_files(self, item: QTreeWidgetItem, files) -> None:
        repo_id = item.data(0, Qt.ItemDataRole.UserRole)[1]
        for f in files:
            child = QTreeWidgetItem([f.path, f.quantization or "", format_bytes(f.size_bytes), ""])
            child.setData(0, Qt.ItemDataRole.UserRole, ("file", repo_id, f.path))
            item.addChild(child)
        if not files:
            item.addChild(QTreeWidgetItem(["(no .gguf files)"]))

    def selected_file(self):
        items = self.tree.selectedItems()
        data = items[0].data(0, Qt.ItemDataRole.UserRole) if items else None
        return data if data and data[0] == "file" else None

    def download_selected(self) -> None:
        data = self.selected_file()
        if data:
            self.sig_download.emit(data[1], data[2])
