"""Scan in -> lock relay on, with a roster of 1,000 children / 2,000 guardians.

Prints p50/p99 of (a) scan to the lock command and (b) the whole decision path
including the durable write of the event, beside a raw SQLite WAL synchronous=FULL
commit measured in the same run. Budget (DESIGN.md): p99 scan->lock <= 2 ms, i.e.
<= 20 raw commits. Then each reader type's raw read through its decoder to the lock,
and an OSDP card presented at libosdp's own reader side on a pty, through the secure
channel and the driver to the lock, beside bare libosdp on the same kind of line
(``osdp_wire.py``).
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from osdp_wire import raw_libosdp, through_driver

from drivers.base import Feedback, Read
from drivers.gpio import SimulatedGate
from drivers.osdp_proto import card_event, card_read
from drivers.raw import decode_raw
from drivers.rdm6300 import encode_frame
from drivers.wiegand import encode_wiegand26, encode_wiegand34
from edge.clock import VirtualClock
from edge.config import config_from_dict
from edge.gate import Gate
from edge.roster_load import load_roster
from edge.sim.sample import write_roster
from edge.store import Store


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def raw_commits(folder: Path, n: int) -> list[float]:
    db = sqlite3.connect(folder / "raw.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO t (body) VALUES (?)", (f"event {i}" * 8,))
        db.execute("COMMIT")
        out.append(time.perf_counter() - t0)
    db.close()
    return out


class TimedIO(SimulatedGate):
    """The simulated gate, noting the moment the lock is commanded."""

    lock_at: float = 0.0

    def set_lock(self, released: bool) -> None:
        if released:
            self.lock_at = time.perf_counter()
        super().set_lock(released)

    def signal(self, feedback: Feedback) -> None:
        pass  # buzzer patterns run on gpiozero threads; not part of this path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scans", type=int, default=3000)
    parser.add_argument("--osdp", type=int, default=200, help="cards through a pty (default 200)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_roster(folder / "roster", classes=40, children=1000, guardians=2000, staff=50, seed=1)
        roster = load_roster(folder / "roster")
        cfg = config_from_dict(
            {
                "site": {"id": "bench", "timezone": "Asia/Shanghai"},
                "gate": {"id": "main"},
                "store": {"path": str(folder / "gate.db")},
                "roster": {"path": str(folder / "roster")},
            },
            folder / "bench.toml",
        )
        tz = cfg.site.tz
        clock = VirtualClock(
            datetime(2026, 11, 24, 17, 30, tzinfo=tz)
        )  # every class in its pickup window
        io = TimedIO(cfg.gpio.pins())
        store = Store(cfg.store.path, site="bench", gate="main")
        gate = Gate(cfg, roster, io, clock)
        cards = [g.card for g in roster.guardians.values()]
        rng = random.Random(3)
        raw = raw_commits(folder, args.scans)
        to_lock: list[float] = []
        full: list[float] = []
        for _ in range(args.scans):
            card = rng.choice(cards)
            gate.today.collected.clear()  # keep every scan a granted pickup
            t0 = time.perf_counter()
            drafts = gate.scan(Read("entrance", card))
            lock_at = io.lock_at
            store.record(drafts)
            t1 = time.perf_counter()
            if lock_at >= t0:
                to_lock.append(lock_at - t0)
            full.append(t1 - t0)
            clock.advance(6)  # past unlock_seconds: the lock relocks, next scan unlocks again
            store.record(gate.tick())
        per_reader = {}
        for fmt in (*RAW_FORMATS, "osdp"):  # each reader type on a fresh gate, at 17:30 again
            clock = VirtualClock(datetime(2026, 11, 24, 17, 30, tzinfo=tz))
            gate = Gate(cfg, roster, io, clock)
            per_reader[fmt] = through_decoder(gate, io, store, clock, cards, fmt, args.scans // 3)
        clock = VirtualClock(datetime(2026, 11, 24, 17, 30, tzinfo=tz))
        wire = osdp_on_the_wire(Gate(cfg, roster, io, clock), io, store, clock, cards, args.osdp)
        store.close()
        io.close()
    report(raw, to_lock, full)
    base = statistics.median(raw)
    for fmt, samples in per_reader.items():
        name = f"{'osdp event' if fmt == 'osdp' else f'raw {fmt}'} -> decode -> decide -> lock"
        print(
            f"{name:<44} {pct(samples, 50) * 1000:>8.3f} {pct(samples, 99) * 1000:>8.3f} {pct(samples, 99) / base:>22.2f}"
        )
    report_wire(*wire)


RAW_FORMATS = ("rdm6300", "wiegand26", "wiegand34", "line")


def osdp_on_the_wire(
    gate: Gate, io: TimedIO, store: Store, clock: VirtualClock, cards: list[str], n: int
) -> tuple[list[float], list[float]]:
    """A card at a simulated OSDP reader on a pty -> lock command, beside bare libosdp."""
    rng = random.Random("osdp-wire")
    sample = [rng.choice(cards) for _ in range(n)]

    def scan(read: Read) -> float | None:
        gate.today.collected.clear()
        before = io.lock_at
        drafts = gate.scan(read)
        lock_at = io.lock_at if io.lock_at != before else None
        store.record(drafts)
        return lock_at

    def relock() -> None:
        clock.advance(6)
        store.record(gate.tick())

    return raw_libosdp(sample), through_driver(sample, scan, relock)


def report_wire(raw: list[float], ours: list[float]) -> None:
    base = statistics.median(raw)
    print(
        f"{'OSDP over a pty, secure channel':<44} {'p50 ms':>8} {'p99 ms':>8} {'p99 / raw p50':>22}"
    )
    for name, samples in (
        ("raw libosdp: PD card event -> CP callback", raw),
        ("card at the reader -> driver -> lock", ours),
    ):
        print(
            f"{name:<44} {pct(samples, 50) * 1000:>8.3f} {pct(samples, 99) * 1000:>8.3f} {pct(samples, 99) / base:>22.2f}"
        )
    print(f"samples: {len(raw)} raw, {len(ours)} through the driver (lock commands)")


def raw_input(fmt: str, card: str) -> str:
    number = int(card.removeprefix("card:"))
    if fmt == "rdm6300":
        return encode_frame(0x67, number).hex()
    if fmt == "wiegand26":
        return encode_wiegand26((number >> 16) & 0xFF, number & 0xFFFF)
    if fmt == "wiegand34":
        return encode_wiegand34(number >> 16, number & 0xFFFF)
    return str(number)


def through_decoder(
    gate: Gate, io: TimedIO, store: Store, clock: VirtualClock, cards: list[str], fmt: str, n: int
) -> list[float]:
    """Decode + decide + relay for one reader type: raw input to the lock command."""
    rng = random.Random(fmt)
    out = []
    for _ in range(n):
        card = rng.choice(cards)
        event = card_event(raw_input("wiegand26", card)) if fmt == "osdp" else None
        data = raw_input(fmt, card)
        gate.today.collected.clear()
        t0 = time.perf_counter()
        if event is not None:
            drafts = gate.scan(card_read("entrance", event))
        else:
            drafts = gate.scan(decode_raw("entrance", fmt, data))
        if io.lock_at >= t0:
            out.append(io.lock_at - t0)
        store.record(drafts)
        clock.advance(6)
        store.record(gate.tick())
    return out


def report(raw: list[float], to_lock: list[float], full: list[float]) -> None:
    base = statistics.median(raw)
    rows: list[tuple[str, Any, Any, str]] = [
        ("raw SQLite commit (WAL, synchronous=FULL)", pct(raw, 50), pct(raw, 99), "1.0"),
        (
            "scan -> lock command",
            pct(to_lock, 50),
            pct(to_lock, 99),
            f"{pct(to_lock, 99) / base:.2f}",
        ),
        (
            "scan -> lock -> event durable",
            pct(full, 50),
            pct(full, 99),
            f"{pct(full, 99) / base:.1f}",
        ),
    ]
    print(f"{'figure':<44} {'p50 ms':>8} {'p99 ms':>8} {'p99 / raw commit p50':>22}")
    for name, p50, p99, ratio in rows:
        print(f"{name:<44} {p50 * 1000:>8.3f} {p99 * 1000:>8.3f} {ratio:>22}")
    print(
        f"samples: {len(to_lock)} lock commands; budget p99 scan->lock <= 2 ms and <= 20 raw commits"
    )


if __name__ == "__main__":
    main()
