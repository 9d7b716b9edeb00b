"""Running the server: uvicorn in a thread of its own (inside the app, and for `hearth serve`), the API key, and
which addresses it may listen on.

Safe by default: it listens on 127.0.0.1; another address needs the caller's explicit allow_network (the CLI's
`--allow-network`, the Settings checkbox) and comes with a warning; the bearer key is made on first start
(`ensure_api_key`) and kept in settings.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
import socket
import threading
import time

from app.core.errors import UserError

log = logging.getLogger(__name__)

DEFAULT_PORT = 8765
LOOPBACK = "127.0.0.1"


def new_api_key() -> str:
    """A fresh bearer key: "hearth-" and 32 random URL-safe characters (192 bits, secrets.token_urlsafe)."""
    return "hearth-" + secrets.token_urlsafe(24)


def ensure_api_key(settings) -> bool:
    """Give settings.server a key if it has none (the caller saves). True when one was made."""
    if settings.server.api_key:
        return False
    settings.server.api_key = new_api_key()
    return True


def is_loopback(host: str) -> bool:
    """`host` is this computer only (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_host(host: str, allow_network: bool) -> str:
    """"" for a loopback host; the warning to show for another one when `allow_network`. Raises UserError when it
    is not allowed."""
    if is_loopback(host):
        return ""
    if not allow_network:
        raise UserError(f"Listening on {host} would let other computers reach Hearth's models. Add --allow-network "
                        "if that is what you want (they still need the API key), or leave --host out.")
    return (f"warning: Hearth's API listens on {host}: every computer that can reach this one may use it with the "
            "API key. Keep the key secret, and prefer a firewall or a VPN to an open network.")


class ServerThread:
    """The server on (host, port) in a daemon thread: start() returns once it listens (or raises UserError),
    stop() cancels the jobs it submitted and shuts it down."""

    def __init__(self, runtime, host: str = LOOPBACK, port: int = DEFAULT_PORT, api_key: str = "",
                 cors_origins: list[str] | None = None, max_body_mb: int = 32, on_request=None) -> None:
        self.runtime = runtime
        self.host, self.port = host, int(port)
        self.api_key = api_key
        self.cors_origins = list(cors_origins or [])
        self.max_body = int(max_body_mb) << 20
        self.on_request = on_request
        self._server = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._server is not None \
            and self._server.started and not self._server.should_exit

    @property
    def address(self) -> str:
        """host:port it listens on (the port chosen when 0 was asked)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        """The base URL clients use: http://host:port/v1."""
        return f"http://{self.address}/v1"

    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            if exc.errno in (98, 48, 10048):  # EADDRINUSE on Linux, macOS, Windows
                raise UserError(f"Port {self.port} on {self.host} is already in use by another program. Choose "
                                "another port (File → Settings → Server, or hearth serve --port N).") from None
            raise UserError(f"Cannot listen on {self.host}:{self.port}: {exc.strerror or exc}.") from None
        sock.listen(128)
        sock.set_inheritable(True)
        self.port = sock.getsockname()[1]
        return sock

    def start(self, timeout: float = 30.0) -> str:
        """Listen and serve; returns the URL. Raises UserError (port in use, cannot start)."""
        if self.running:
            return self.url
        import uvicorn

        from app.core.server.app import create_app

        app = create_app(self.runtime, self.api_key, self.max_body, self.cors_origins, self.on_request)
        sock = self._bind()
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off", ws="none",
                                timeout_graceful_shutdown=3, timeout_keep_alive=5, server_header=False)
        self._server = server = uvicorn.Server(config)
        self._error = None

        def serve() -> None:
            try:
                server.run(sockets=[sock])
            except BaseException as exc:  # noqa: BLE001 - SystemExit from a failed start included
                self._error = exc
                log.error("the server stopped: %r", exc)
            finally:
                sock.close()

        self._thread = threading.Thread(target=serve, name="hearth-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not server.started:
            self.stop(1.0)
            raise UserError(f"The server could not start on {self.address}"
                            f"{': ' + str(self._error) if self._error else ''}. The details are in the log.")
        log.info("serving the OpenAI-compatible API on %s", self.url)
        return self.url

    def stop(self, timeout: float = 5.0) -> bool:
        """Cancel the server's jobs, close its connections, end the thread; True when it ended within `timeout`."""
        self.runtime.cancel_all()
        server, thread = self._server, self._thread
        if server is not None:
            server.should_exit = True
        stopped = True
        if thread is not None:
            thread.join(timeout)
            stopped = not thread.is_alive()
            if not stopped and server is not None:
                server.force_exit = True
                thread.join(1.0)
                stopped = not thread.is_alive()
        self._server = self._thread = None
        return stopped

    def wait(self) -> None:
        """Block until the server ends (Ctrl-C raises KeyboardInterrupt here, in the main thread)."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(0.5)
