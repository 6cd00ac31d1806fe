"""What the OSDP tests share: a pty line, libosdp's PD as the reader, our driver as the gate.

Every wait is on a condition with a deadline; the deadlines are generous because the
secure channel handshake and libosdp's polling run on threads of a loaded machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from drivers.base import InputChange, Read
from drivers.health import ReaderHealth
from drivers.osdp import OsdpReader
from drivers.osdp_key import create_scbk
from drivers.osdp_sim import PtyLine, SimulatedOsdpReader
from tests.conftest import wait_for
from tests.reader_support import Log

ADDRESS = 5
WAIT = 30.0  # seconds: far above what any of these takes, even on a busy machine
AGAIN = 5.0  # seconds without a result before the card is shown again


def until_seen(present: Callable[[], None], seen: Callable[[], object]) -> None:
    """Show a card as a person does: again when nothing came of it within AGAIN seconds.

    On a heavily loaded machine libosdp can lose a card event (a reply later than its
    200 ms response timeout); a person at the reader then shows the card again. A
    card that is never read still fails, after WAIT seconds.
    """
    deadline = time.monotonic() + WAIT
    while True:
        present()
        try:
            wait_for(seen, AGAIN, "the card to be read")
            return
        except AssertionError:
            if time.monotonic() >= deadline:
                raise


def led_commands(commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for c in commands if c.get("command") == 2]


class Rig:
    """A reader (libosdp PD) on a pty line, and the gate's driver talking to it."""

    def __init__(
        self,
        tmp_path: Path,
        *,
        reader: str = "ours",  # "ours" | "wrong_key" | "new" (no key yet) | "none"
        install_mode: bool = False,
        enforce_secure: bool = True,
    ) -> None:
        self.key_file = tmp_path / "secrets" / "entrance.scbk"
        self.key: bytes | None = None if install_mode else create_scbk(self.key_file)
        self.line = PtyLine(tmp_path / "ttyOSDP")
        self.commands = Log[dict[str, Any]]()
        self.reads = Log[Read]()
        self.health = Log[ReaderHealth]()
        self.inputs = Log[InputChange]()
        self._enforce = enforce_secure
        self.pd: SimulatedOsdpReader | None = None
        if reader != "none":
            keys = {"ours": self.key, "wrong_key": bytes(range(100, 116)), "new": None}
            self.plug_in_reader(keys[reader])
        self.driver = OsdpReader(
            "entrance",
            str(self.line.path),
            address=ADDRESS,
            scbk_file=self.key_file,
            install_mode=install_mode,
            on_read=self.reads,
            on_health=self.health,
            on_input=self.inputs,
        )

    def plug_in_reader(self, key: bytes | None) -> SimulatedOsdpReader:
        self.pd = SimulatedOsdpReader(
            self.line,
            address=ADDRESS,
            scbk=key,
            on_command=self.commands,
            enforce_secure=self._enforce,
        )
        self.pd.start()
        return self.pd

    def read_card(self, bits: str, *, wiegand: bool = True) -> Read:
        """Show a card at the reader until the driver reports a read; that read."""
        before = len(self.reads.items)
        until_seen(
            lambda: self.reader().present(bits, wiegand=wiegand),
            lambda: len(self.reads.items) > before,
        )
        return self.reads.items[before]

    def reader(self) -> SimulatedOsdpReader:
        assert self.pd is not None
        return self.pd

    def wait_up(self, after: int = 0) -> None:
        self.health.wait_for(lambda items: any(h.ok for h in items[after:]), WAIT)

    def wait_down(self, after: int = 0) -> ReaderHealth:
        self.health.wait_for(lambda items: any(not h.ok for h in items[after:]), WAIT)
        return next(h for h in self.health.items[after:] if not h.ok)

    def close(self) -> None:
        self.driver.close()
        if self.pd is not None:
            self.pd.close()
        self.line.unplug()
