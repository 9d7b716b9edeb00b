"""The Segment tab's "Segment everything": the button (Cancel while it runs), the minimum area, and the job that
turns every object SAM finds into a layer (one undo step)."""

from __future__ import annotations

import time

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout

from app.core.jobs import Job
from app.core.segment import jobs as sj
from app.core.segment.predictor import Prompts

RUN_TEXT = "Segment everything"


class EverythingBox(QGroupBox):
    sig_run = Signal()  # run, or cancel the run in progress

    def __init__(self, min_area: int, points: int, parent=None) -> None:
        super().__init__("Every object", parent)
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        self.button = QPushButton(RUN_TEXT)
        self.button.setToolTip(f"Find every object (SAM's automatic mask generator: a {points}×{points} grid of "
                               "points, predicted-IoU and stability thresholds, duplicates removed). Each object "
                               "becomes a layer; Undo removes them all.")
        self.min_area = QSpinBox()
        self.min_area.setRange(0, 10_000_000)
        self.min_area.setSingleStep(50)
        self.min_area.setSuffix(" px")
        self.min_area.setValue(min_area)
        self.min_area.setToolTip("Objects smaller than this (in photo pixels) are left out")
        row.addWidget(self.button, 1)
        row.addWidget(QLabel("min."))
        row.addWidget(self.min_area)
        layout.addLayout(row)
        self.result = QLabel("")
        self.result.setWordWrap(True)
        self.result.setObjectName("everythingResult")
        self.result.hide()  # shown once there is something to say
        layout.addWidget(self.result)
        self.button.clicked.connect(self.sig_run.emit)

    def set_running(self, running: bool) -> None:
        self.button.setText("Cancel" if running else RUN_TEXT)


class EverythingController:
    """Runs segment everything for a SegmentTab (its engine, session, embedding, progress bar and settings)."""

    def __init__(self, tab, box: EverythingBox) -> None:
        self.tab, self.box = tab, box
        self.handle = None
        self._started = 0.0
        box.sig_run.connect(self.toggle)
        box.min_area.valueChanged.connect(self._remember_area)

    def _remember_area(self, value: int) -> None:
        self.tab.settings.everything_min_area = int(value)

    def toggle(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
            return
        self.run()

    def run(self):
        """Start on the current photo's embedding; returns the job handle (None when nothing to do yet)."""
        from app.core.segment.everything import EverythingParams

        tab = self.tab
        if tab.opened is None:
            tab._set_status("Open a photo first.")
            return None
        if tab.embedding is None:
            tab._set_status("Wait until the photo is prepared, then segment everything.")
            return None
        s = tab.settings
        params = EverythingParams(points_per_side=s.everything_points, pred_iou_thresh=s.everything_iou,
                                  stability_score_thresh=s.everything_stability, min_area=self.box.min_area.value())
        display = (tab.opened.display.shape[1], tab.opened.display.shape[0])
        req = sj.EverythingRequest(tab.engine, tab.embedding, params, display)
        session, embedding = tab.session, tab.embedding
        handle = tab.ctx.jobs.submit(Job(sj.everything_job, req, name="Segment everything", resource=sj.DECODER),
                                     replace="segment-everything")
        self.handle, self._started = handle, time.monotonic()
        self.box.set_running(True)
        self.box.result.hide()
        tab._set_status("Finding every object…")
        tab.progress.setValue(0)
        tab.progress.show()
        handle.sig_progress.connect(lambda f, t: (tab.progress.setValue(int((f or 0) * 1000)), tab._set_status(t)))
        handle.sig_done.connect(lambda found: self._done(session, embedding, found))
        handle.sig_error.connect(lambda msg: tab.ctx.show_message(f"Segment everything failed: {msg}", "error"))
        handle.sig_cancelled.connect(lambda: tab._set_status("Segment everything cancelled."))
        handle.sig_finished.connect(lambda h=handle: self._finished(h))
        return handle

    def _done(self, session, embedding, found: list) -> None:
        tab = self.tab
        if session is not tab.session or embedding is not tab.embedding:
            return  # another photo since
        seconds = time.monotonic() - self._started
        objects = [(Prompts(((o.point[0], o.point[1], 1),)), o.prediction) for o in found]
        tab._change(lambda: tab.session.add_objects(objects))
        what = "1 object" if len(found) == 1 else f"{len(found)} objects"
        text = (f"{what} in {seconds:.1f} s — each is a layer; Undo removes them." if found else
                "No objects found: lower the minimum area, or click on the objects instead.")
        self.box.result.setText(text)
        self.box.result.show()
        tab._set_status(text)

    def _finished(self, handle) -> None:
        if self.handle is handle:
            self.handle = None
            self.box.set_running(False)
            if self.tab._encode is None:
                self.tab.progress.hide()

    def cancel(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
