"""Installed models: what the registry lists, with import, delete, reveal, quantize and fp16 conversion."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.jobs import Job
from app.core.models import jobs as models_jobs
from app.core.models import registry
from app.core.units import format_bytes
from app.ui.widgets import EmptyState

COLUMNS = ["Name", "Kind", "Format", "Quantization", "Size", "Source"]


class InstalledView(QWidget):
    sig_changed = Signal()  # the registry changed because of something done here
    sig_browse_catalog = Signal()

    def __init__(self, ctx, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.models: list[registry.InstalledModel] = []
        self.problems: dict[str, str] = {}  # model id -> why it is not a whole model (flagged in the table)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        self.import_file = QPushButton("Import file…")
        self.import_file.clicked.connect(self.choose_file)
        self.import_folder = QPushButton("Import folder…")
        self.import_folder.clicked.connect(self.choose_folder)
        self.delete = QPushButton("Delete")
        self.delete.clicked.connect(self.delete_selected)
        self.reveal = QPushButton("Show in folder")
        self.reveal.clicked.connect(self.reveal_selected)
        self.quantize = QPushButton("Quantize…")
        self.quantize.setToolTip("Make a smaller GGUF (Q8_0, Q5_K_M, Q4_K_M …) from an F32/F16/BF16 GGUF")
        self.quantize.clicked.connect(self.quantize_selected)
        self.fp16 = QPushButton("Convert to fp16")
        self.fp16.setToolTip("Half-size copy of a diffusion .safetensors file or diffusers folder")
        self.fp16.clicked.connect(self.fp16_selected)
        self.import_kind = QComboBox()
        self.import_kind.addItem("kind: auto", None)
        for k in registry.KINDS:
            self.import_kind.addItem(f"as {k}", k)
        self.import_kind.setToolTip("What the imported model is for, when Hearth cannot tell from the file")
        self.link = QCheckBox("Link, don't copy")
        self.link.setToolTip("Keep the file where it is and only link to it from the models folder")
        for b in (self.import_file, self.import_folder, self.import_kind, self.link):
            bar.addWidget(b)
        bar.addStretch(1)
        layout.addLayout(bar)
        actions = QHBoxLayout()
        actions.addWidget(QLabel("Selected model:"))
        for b in (self.delete, self.reveal, self.quantize, self.fp16):
            actions.addWidget(b)
        actions.addStretch(1)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.hide()
        layout.addWidget(self.status)

        self.actions = actions
        self.stack = QStackedWidget()
        self.empty = EmptyState(
            "No models installed yet",
            "Models are the brains of every tab. Download one from the catalog (each entry says whether it fits "
            "this computer), or import a .gguf / .safetensors / .pth file you already have.",
            [("Browse the catalog", self.sig_browse_catalog.emit), ("Import a file…", self.choose_file)],
        )
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.table)
        layout.addWidget(self.stack, 1)
        layout.addLayout(actions)
        self.refresh()

    # ---- listing -----------------------------------------------------------------------------------------------
    def refresh(self) -> None:
        self.models = registry.scan()
        self.problems = {}
        self.table.setRowCount(len(self.models))
        for row, m in enumerate(self.models):
            values = [m.name, m.kind, m.format, m.quantization or "", format_bytes(m.size_bytes), m.source_text]
            for col, value in enumerate(values):
                item = QTableWidgetItem(value)
                if col == 4:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                item.setToolTip(str(m.path))
                self.table.setItem(row, col, item)
        self.stack.setCurrentWidget(self.table if self.models else self.empty)
        self._update_buttons()
        self._check_files()

    def _check_files(self) -> None:
        """Read the listed models' headers off the GUI thread and flag the broken ones (as `hearth models list`)."""
        if not self.models:
            return
        handle = self.ctx.jobs.submit(Job(models_jobs.check_installed, list(self.models), name="Check models",
                                          resource=models_jobs.CHECK))
        shown = [m.id for m in self.models]
        handle.sig_done.connect(lambda found, shown=shown: self._show_problems(shown, found))

    def _show_problems(self, shown: list[str], found: dict) -> None:
        if [m.id for m in self.models] != shown:
            return  # listed again since: that listing's check will answer
        self.problems = dict(found)
        for row, m in enumerate(self.models):
            problem = found.get(m.id)
            if not problem:
                continue
            for col in range(self.table.columnCount()):
                item = self.table.item(row, col)
                if item is None:
                    continue
                item.setForeground(Qt.GlobalColor.red)
                item.setToolTip(f"{m.path}\n{problem}")
            name = self.table.item(row, 0)
            name.setText(f"⚠ {m.name} — broken")

    def selected(self) -> registry.InstalledModel | None:
        rows = self.table.selectionModel().selectedRows()
        return self.models[rows[0].row()] if rows else None

    def select(self, model_id: str) -> None:
        for row, m in enumerate(self.models):
            if m.id == model_id:
                self.table.selectRow(row)

    def _update_buttons(self) -> None:
        m = self.selected()
        for b in (self.delete, self.reveal):
            b.setEnabled(m is not None)
        self.quantize.setEnabled(m is not None and m.format == "gguf")
        self.fp16.setEnabled(m is not None and m.kind in ("diffusion", "controlnet", "vae")
                             and m.format in ("safetensors", "diffusers"))

    def say(self, text: str, kind: str = "info") -> None:
        color = {"error": "#b02a37", "info": "palette(text)"}.get(kind, "palette(text)")
        self.status.setText(f"<span style='color:{color}'>{text}</span>")
        self.status.show()

    # ---- actions -----------------------------------------------------------------------------------------------
    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a model file", str(Path.home()),
                                              "Models (*.gguf *.safetensors *.pth *.pt *.ckpt);;All files (*)")
        if path:
            self.import_path(path, link=self.link.isChecked(), kind=self.import_kind.currentData())

    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Import a model folder", str(Path.home()))
        if path:
            self.import_path(path, link=self.link.isChecked(), kind=self.import_kind.currentData())

    def import_path(self, path: str, link: bool = False, kind: str | None = None):
        handle = self.ctx.jobs.submit(Job(models_jobs.import_model, models_jobs.ImportRequest(path, kind, link),
                                          name=f"Import {Path(path).name}", resource=models_jobs.IMPORT))
        handle.sig_progress.connect(lambda f, t: self.say(t))
        handle.sig_done.connect(lambda m: (self.say(f"Imported {m.name} ({format_bytes(m.size_bytes)})."), self._changed(m)))
        handle.sig_error.connect(lambda msg: self.say(msg, "error"))
        return handle

    def confirm(self, text: str) -> bool:
        answer = QMessageBox.question(self, "Delete model", text)
        return answer == QMessageBox.StandardButton.Yes

    def delete_selected(self) -> None:
        m = self.selected()
        if m is None:
            return
        what = "the link (the file it points to stays)" if m.is_link else f"{format_bytes(m.size_bytes)} from disk"
        if not self.confirm(f"Delete {m.name}? This removes {what}."):
            return
        try:
            registry.remove(m)
        except Exception as exc:  # noqa: BLE001 - UserError or a permission problem: say it, keep going
            self.say(str(exc), "error")
            return
        self.say(f"Deleted {m.name}.")
        self._changed(None)

    def reveal_selected(self) -> None:
        m = self.selected()
        if m is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(m.path.parent)))

    def quantize_selected(self) -> None:
        from app.ui.models.quantize_dialog import QuantizeDialog

        m = self.selected()
        if m is None:
            return
        dialog = QuantizeDialog(self.ctx, m, self)
        dialog.sig_done.connect(lambda out: (self.say(dialog.result_text), self._changed(out)))
        dialog.open()
        self.quantize_dialog = dialog

    def fp16_selected(self):
        m = self.selected()
        if m is None:
            return None
        handle = self.ctx.jobs.submit(Job(models_jobs.convert_fp16, {"src": str(m.path)},
                                          name=f"Convert {m.name} to fp16", resource=models_jobs.CONVERT))
        handle.sig_progress.connect(lambda f, t: self.say(t))
        handle.sig_done.connect(lambda out: (self.say(f"Wrote {Path(out).name}."), self._changed(None)))
        handle.sig_error.connect(lambda msg: self.say(msg, "error"))
        return handle

    def _changed(self, model) -> None:
        self.refresh()
        if model is not None:
            self.select(model.id)
        self.sig_changed.emit()
