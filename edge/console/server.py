"""The console as a daemon component: uvicorn on the daemon's loop, TCP and a unix socket.

Both sockets are made here, before uvicorn sees them: a port already taken is reported
at start instead of uvicorn calling ``sys.exit`` inside a task, and the unix socket gets
its 0600 mode before it listens (uvicorn would make it 0666 first). uvicorn's own signal
handling is switched off: the daemon owns SIGTERM and SIGINT and stops its components.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Generator
from contextlib import suppress
from pathlib import Path

import uvicorn

from edge.console.app import create_app
from edge.console.context import Console, build_console
from edge.console.routes_local import LocalOnly
from edge.host import GateHost

log = logging.getLogger(__name__)

SOCKET_NAME = "console.sock"
SWEEP_SECONDS = 30.0
MAX_UNIX_PATH = 107


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # the daemon's handlers stay in place


def socket_path(store_path: str | os.PathLike[str]) -> Path:
    return Path(store_path).resolve().parent / SOCKET_NAME


def tcp_socket(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(64)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def unix_socket(path: Path) -> socket.socket:
    """A listening unix socket at ``path``, mode 0600 before anyone can connect."""
    if len(str(path)) > MAX_UNIX_PATH:
        raise OSError(f"socket path too long for a unix socket: {path}")
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.unlink(missing_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(tmp))
        os.chmod(tmp, 0o600)  # before listen(): until then every connect is refused
        os.replace(tmp, path)
        sock.listen(16)
    except OSError:
        sock.close()
        tmp.unlink(missing_ok=True)
        raise
    sock.setblocking(False)
    return sock


class ConsoleComponent:
    """``start()`` and ``stop()`` are called on the daemon's loop, in its start order."""

    def __init__(self, host: GateHost) -> None:
        self.host = host
        self.console: Console | None = None
        self.servers: list[_Server] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.sweeper: asyncio.Task[None] | None = None
        self.path = socket_path(host.cfg.store.path)
        self.port: int | None = None

    def start(self) -> None:
        cfg = self.host.cfg.console
        # uvicorn's info lines ("Started server process") say nothing the daemon's log does not.
        logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
        self.console = build_console(self.host)
        app = create_app(self.host, console=self.console)
        try:
            tcp = tcp_socket(cfg.host, cfg.port)
        except OSError as err:
            # The gate works without its console; a guard still has the CLI and the office.
            log.error("console: cannot listen on %s:%s: %s", cfg.host, cfg.port, err)
            self.console.close()
            self.console = None
            return
        self.port = tcp.getsockname()[1]
        self._serve(app, tcp)
        try:
            self._serve(LocalOnly(app), unix_socket(self.path))
        except OSError as err:
            log.error("console: no local socket for `kindergate guard`: %s", err)
        self.sweeper = asyncio.get_running_loop().create_task(self._sweep())
        log.info("console: listening on %s:%s and %s", cfg.host, self.port, self.path)

    def _serve(self, app: object, sock: socket.socket) -> None:
        config = uvicorn.Config(
            app,  # type: ignore[arg-type]
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
            proxy_headers=False,
        )
        server = _Server(config)
        self.servers.append(server)
        self.tasks.append(asyncio.get_running_loop().create_task(server.serve(sockets=[sock])))

    async def _sweep(self) -> None:
        """Overstaying visitors are reported while the console runs."""
        while True:
            if self.console is not None:
                try:
                    self.console.visitors.sweep()
                except Exception:
                    log.exception("console: visitor sweep failed")
            await asyncio.sleep(SWEEP_SECONDS)

    def stop(self) -> None:
        if self.console is not None:
            self.console.close()  # ends live streams, so uvicorn is not kept waiting on them
        for server in self.servers:
            server.should_exit = True
            for listener in getattr(server, "servers", []):
                listener.close()  # no new connections from here on
        if self.sweeper is not None:
            self.sweeper.cancel()
        with suppress(OSError):
            self.path.unlink()
