"""OSDP over a pty, timed: libosdp's own round trip, and ours up to the lock command.

Used by ``bench_scan.py``. A card is presented at a simulated reader (libosdp's
PeripheralDevice) at t0. The raw baseline is a bare libosdp ControlPanel on the same
kind of line, secure channel on, timing the card event's arrival in its callback.
Ours is the gate's driver (``drivers/osdp.py``) handing the read to ``Gate.scan``,
timed to the lock relay command. Both include libosdp's polling (a poll every 50 ms
at most, each side's thread waking every 20 ms), which is most of the figure.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import osdp
from osdp import Event, LibFlag, LogLevel, PDInfo

from drivers.base import Read
from drivers.osdp import OsdpReader
from drivers.osdp_key import create_scbk
from drivers.osdp_link import SerialChannel
from drivers.osdp_sim import PtyLine, SimulatedOsdpReader
from drivers.wiegand import encode_wiegand26

WAIT = 30.0


def _bits(card: str) -> str:
    number = int(card.removeprefix("card:"))
    return encode_wiegand26((number >> 16) & 0xFF, number & 0xFFFF)


def raw_libosdp(cards: list[str]) -> list[float]:
    """PD card event -> a bare ControlPanel's event callback, secure channel on."""
    with tempfile.TemporaryDirectory() as tmp:
        key = create_scbk(Path(tmp) / "k")
        line = PtyLine(Path(tmp) / "tty")
        pd = SimulatedOsdpReader(line, address=1, scbk=key)
        arrived = threading.Event()
        stamp: list[float] = []

        def on_event(_pd: int, event: dict[str, Any]) -> int:
            if event.get("event") == Event.CardRead:
                stamp.append(time.perf_counter())
                arrived.set()
            return 0

        channel = SerialChannel(str(line.path), 9600)
        flags = [LibFlag.EnforceSecure]
        cp = osdp.ControlPanel(
            [PDInfo(1, channel, scbk=key, flags=flags)],
            log_level=LogLevel.Critical,
            event_handler=on_event,
        )
        pd.start()
        cp.start()
        try:
            deadline = time.monotonic() + WAIT
            while not cp.is_sc_active(1):
                if time.monotonic() > deadline:
                    raise RuntimeError("no secure channel")
                arrived.wait(0.01)
            out = []
            for card in cards:
                arrived.clear()
                t0 = time.perf_counter()
                pd.present(_bits(card))
                if not arrived.wait(WAIT):
                    raise RuntimeError("card event lost")
                out.append(stamp[-1] - t0)
            return out
        finally:
            cp.teardown()
            pd.close()
            channel.close()
            line.unplug()


def through_driver(
    cards: list[str], scan: Callable[[Read], float | None], relock: Callable[[], None]
) -> list[float]:
    """PD card event -> our driver -> ``scan`` (decide, lock) -> the lock command's time."""
    with tempfile.TemporaryDirectory() as tmp:
        key_file = Path(tmp) / "k"
        key = create_scbk(key_file)
        line = PtyLine(Path(tmp) / "tty")
        pd = SimulatedOsdpReader(line, address=1, scbk=key)
        done = threading.Event()
        locked: list[float | None] = []

        def on_read(read: Read) -> None:
            locked.append(scan(read))
            done.set()

        up = threading.Event()
        driver = OsdpReader(
            "entrance",
            str(line.path),
            address=1,
            scbk_file=key_file,
            on_read=on_read,
            on_health=lambda h: up.set() if h.ok else None,
        )
        pd.start()
        driver.start()
        try:
            if not up.wait(WAIT):
                raise RuntimeError("no secure channel")
            out = []
            for card in cards:
                done.clear()
                t0 = time.perf_counter()
                pd.present(_bits(card))
                if not done.wait(WAIT):
                    raise RuntimeError("read lost")
                lock_at = locked[-1]
                if lock_at is not None and lock_at >= t0:
                    out.append(lock_at - t0)
                relock()
            return out
        finally:
            driver.close()
            pd.close()
            line.unplug()
