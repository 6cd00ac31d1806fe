"""sd_notify without a dependency: tell systemd we are ready, alive or stopping.

systemd passes ``$NOTIFY_SOCKET`` (a path, or ``@name`` in the abstract namespace) to a
``Type=notify`` service and ``$WATCHDOG_USEC`` when ``WatchdogSec=`` is set. Outside
systemd both are absent and every call here is a no-op, so the daemon runs the same by
hand and under the service manager. A failed send is logged, never raised: losing the
service manager must not take the gate down with it.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)

MAX_STATUS = 200  # systemctl shows one line; keep a status short


def _address(raw: str) -> str | bytes:
    # An abstract socket's name starts with a NUL byte on the wire, "@" in the variable.
    if raw.startswith("@"):
        return b"\0" + raw[1:].encode()
    return raw


def send(message: str, *, environ: Mapping[str, str] | None = None) -> bool:
    """Send one notification (``KEY=VALUE`` lines); False when not under systemd or failed."""
    env = os.environ if environ is None else environ
    target = env.get("NOTIFY_SOCKET", "")
    if not target or target[0] not in "/@":
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            # Never wait: a service manager that is not reading must not stall the loop
            # that drives the lock. A dropped ping is what a stalled manager gets anyway.
            sock.sendto(message.encode(), socket.MSG_DONTWAIT, _address(target))
    except OSError as err:
        log.warning("sd_notify %r to %s failed: %s", message.split("\n", 1)[0], target, err)
        return False
    return True


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds between watchdog pings (half of ``WATCHDOG_USEC``), or None when not asked.

    ``WATCHDOG_PID`` names the process systemd watches; a child that inherited the
    variables must not ping on its parent's behalf.
    """
    env = os.environ if environ is None else environ
    pid = env.get("WATCHDOG_PID")
    if pid and pid != str(os.getpid()):
        return None
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    return usec / 2 / 1_000_000


def _status_line(text: str) -> str:
    return "STATUS=" + " ".join(text.split())[:MAX_STATUS]


class Notifier:
    """The four messages the daemon sends; the environment is read at construction."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = dict(os.environ if environ is None else environ)

    @property
    def enabled(self) -> bool:
        return bool(self.environ.get("NOTIFY_SOCKET"))

    def ready(self, status: str = "") -> bool:
        lines = ["READY=1"]
        if status:
            lines.append(_status_line(status))
        return send("\n".join(lines), environ=self.environ)

    def watchdog(self) -> bool:
        return send("WATCHDOG=1", environ=self.environ)

    def status(self, text: str) -> bool:
        return send(_status_line(text), environ=self.environ)

    def stopping(self, status: str = "") -> bool:
        lines = ["STOPPING=1"]
        if status:
            lines.append(_status_line(status))
        return send("\n".join(lines), environ=self.environ)
