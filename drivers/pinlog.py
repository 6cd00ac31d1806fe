"""Simulated pins whose every state is also appended to a file.

gpiozero's ``MockPin`` keeps its history in memory, which dies with the process. For a
simulated gate run as a real daemon, this log keeps the history outside it: one line
per state, ``PID PIN STATE``, written with a single ``write`` on an ``O_APPEND`` file,
so the lines of a process killed with SIGKILL are all there. It shows, for instance,
that a restarted gate's lock relay comes up locked, without a pulse.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from gpiozero.pins.mock import MockFactory, MockPin


def recording_factory(path: str | os.PathLike[str]) -> MockFactory:
    """A MockFactory whose pins log every state to ``path``."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    class RecordingPin(MockPin):
        def __init__(self, factory: Any, info: Any) -> None:
            super().__init__(factory, info)
            self._log()

        def _change_state(self, value: bool) -> bool:
            changed = bool(super()._change_state(value))
            if changed:
                self._log()
            return changed

        def _log(self) -> None:
            os.write(fd, f"{os.getpid()} {self.info.name} {int(self._state)}\n".encode())

    return MockFactory(pin_class=RecordingPin)


def read_log(path: str | os.PathLike[str]) -> dict[int, dict[str, list[int]]]:
    """The log as {pid: {pin name: [states...]}}, in the order written."""
    out: dict[int, dict[str, list[int]]] = {}
    for line in Path(path).read_text().splitlines():
        pid, pin, state = line.split()
        out.setdefault(int(pid), {}).setdefault(pin, []).append(int(state))
    return out
