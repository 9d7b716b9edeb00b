"""Runs the OpenAI-compatible server inside the app (app/core/server) on the app's own scheduler and engines, so a
request for the chat model queues behind the Chat tab's reply and uses the model the tab loaded.

Starting and stopping are jobs (uvicorn and FastAPI are imported then, off the GUI thread); quitting stops it at
once. The first start makes the API key and saves it in settings.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal

from app.core.jobs import Job

log = logging.getLogger(__name__)

OFF, STARTING, ON, STOPPING = "off", "starting", "on", "stopping"


class ServerController(QObject):
    """The server's state for the window: OFF → STARTING → ON → STOPPING → OFF (sig_state on every change)."""

    sig_state = Signal(str)

    def __init__(self, ctx, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.state = OFF
        self.error = ""
        self.url = ""
        self.warning = ""
        self._thread = None  # app.core.server.serve.ServerThread while on
        self._runtime = None
        self._restart = False

    # ---- what the window shows ---------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.state == ON

    def served(self) -> int:
        """Requests answered since it started."""
        return self._runtime.stats.served if self._runtime is not None else 0

    # ---- switching -----------------------------------------------------------------------------------------------
    def start(self) -> bool:
        """Start with the settings' host, port, key and origins. False when it is already on (or on its way)."""
        if self.state != OFF:
            return False
        from app.core.server.runtime import Runtime
        from app.core.server.serve import ServerThread, check_host, ensure_api_key

        settings = self.ctx.settings
        if ensure_api_key(settings):
            self.ctx.save_settings()
        cfg = settings.server
        self.warning = check_host(cfg.host, allow_network=True)  # the Settings checkbox is the explicit choice
        self._runtime = Runtime(self.ctx.jobs.scheduler, self.ctx.engines, settings)
        self._thread = ServerThread(self._runtime, cfg.host, cfg.port, cfg.api_key, cfg.cors_origins,
                                    cfg.max_body_mb)
        self.error = ""
        self._set(STARTING)
        handle = self.ctx.jobs.submit(Job(lambda thread, _state: thread.start(), self._thread, name="Start server",
                                          resource="server"))
        handle.sig_done.connect(self._on_started)
        handle.sig_error.connect(self._on_failed)
        handle.sig_cancelled.connect(lambda: self._on_failed("cancelled"))
        return True

    def stop(self) -> bool:
        """Stop in the background (its running requests are cancelled). False when it is not on."""
        if self.state not in (ON, STARTING) or self._thread is None:
            return False
        thread, self._thread = self._thread, None
        self._set(STOPPING)
        handle = self.ctx.jobs.submit(Job(lambda t, _state: t.stop(), thread, name="Stop server",
                                          resource="server"))
        handle.sig_finished.connect(self._on_stopped)
        return True

    def _on_stopped(self) -> None:
        if self.state == STOPPING:
            self._set(OFF)
        if self._restart:
            self._restart = False
            self.start()

    def stop_now(self, timeout: float = 3.0) -> None:
        """Stop before the app quits (blocks up to `timeout` seconds)."""
        self._restart = False
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.stop(timeout)
        if self.state != OFF:
            self._set(OFF)

    def restart(self) -> None:
        """Stop and start again with the current settings (after the port, key or origins changed), in the
        background."""
        if self.state in (ON, STARTING):
            self._restart = True
            self.stop()

    # ---- internals ---------------------------------------------------------------------------------------------
    def _on_started(self, url: str) -> None:
        if self.state != STARTING:
            return
        self.url = url
        self._set(ON)
        if self.warning:
            self.ctx.show_message(self.warning.removeprefix("warning: "), "warning")

    def _on_failed(self, message: str) -> None:
        self._thread = None
        self.error = message
        self._set(OFF)
        if message and message != "cancelled":
            self.ctx.show_message(f"The server did not start: {message}", "error")

    def _set(self, state: str) -> None:
        self.state = state
        self.sig_state.emit(state)
