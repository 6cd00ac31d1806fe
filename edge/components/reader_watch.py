"""Which readers are down, and how many bad reads they held back: pure, time passed in.

What a reader's silence means depends on its kind. A card reader (``line``, ``rdm6300``,
``keyboard``, ``wiegand``) says nothing while no card is shown: silence is normal, and
only a fault its driver can see makes it *down*: a device that cannot be opened, that
vanished or hung up (a FIFO removed, a USB adapter unplugged, an evdev device gone), a
Wiegand data line held low (``drivers.wiegand``). A source that talks all the time is
down when it falls silent, and watches that itself: an OSDP reader answers its polls
(``drivers.osdp``: no answer, or no secure channel), the camera sends frames
(``drivers.camera``: no frame, or a frozen picture).

A fault becomes a ``reader_down`` event once it has lasted ``grace`` seconds, so a cable
re-plugged or a FIFO replaced is only logged; the first read or reopened device after
it is ``reader_up``. Bad reads a reader held back reach the gate as counts (at most once
a second); they are logged as one ``bad_reads_suppressed`` per reader and ``window``.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.health import ReaderHealth, SilenceWatch

DOWN_AFTER_SECONDS = 10.0
COUNT_WINDOW_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Suppressed:
    reader: str
    count: int


class ReaderWatch:
    """Fed the drivers' reports and reads with the time; says what the gate should log."""

    def __init__(
        self, *, grace: float = DOWN_AFTER_SECONDS, window: float = COUNT_WINDOW_SECONDS
    ) -> None:
        self.grace = grace
        self.window = window
        self.health: dict[str, ReaderHealth] = {}  # as the events tell it
        self._watches: dict[str, SilenceWatch] = {}
        self._faults: dict[str, str] = {}  # what the driver said when the fault began
        self._counts: dict[str, int] = {}
        self._counting_since: dict[str, float] = {}

    def _watch(self, reader: str) -> SilenceWatch:
        watch = self._watches.get(reader)
        if watch is None:
            watch = self._watches[reader] = SilenceWatch(reader, self.grace)
        return watch

    # --- health -------------------------------------------------------------------------

    def reported(self, health: ReaderHealth, now: float) -> ReaderHealth | None:
        """A driver's report of its device; returns a ``reader_up`` to log, if any."""
        watch = self._watch(health.reader)
        if not health.ok:
            watch.error(now, health.detail)
            self._faults.setdefault(health.reader, health.detail)
            return None
        self._faults.pop(health.reader, None)
        back = watch.heard(now)
        if back is not None or health.reader not in self.health:
            self.health[health.reader] = health
        return health if back is not None else None

    def heard(self, reader: str, now: float) -> ReaderHealth | None:
        """A read came from ``reader``: it works. Returns a ``reader_up`` to log, if any."""
        back = self._watch(reader).heard(now)
        self._faults.pop(reader, None)
        if back is not None:
            self.health[reader] = back
        return back

    def check(self, now: float) -> list[ReaderHealth]:
        """Faults that have now lasted ``grace``: each a ``reader_down`` to log, once."""
        down = [
            ReaderHealth(h.reader, False, self._faults.get(h.reader, h.detail))
            for watch in self._watches.values()
            if (h := watch.check(now)) is not None
        ]
        for health in down:
            self.health[health.reader] = health
        return down

    # --- bad reads held back ------------------------------------------------------------

    def suppressed(self, reader: str, count: int, now: float) -> None:
        if count <= 0:
            return
        self._counts[reader] = self._counts.get(reader, 0) + count
        self._counting_since.setdefault(reader, now)

    def due(self, now: float, *, all_: bool = False) -> list[Suppressed]:
        """The counts whose window has passed (every count with ``all_``), taken."""
        out = []
        for reader, since in sorted(self._counting_since.items()):
            if all_ or now - since >= self.window:
                out.append(Suppressed(reader, self._counts.pop(reader)))
                del self._counting_since[reader]
        return out

    def pending(self) -> dict[str, int]:
        """Counts not yet logged (kept by the daemon across a restart)."""
        return dict(sorted(self._counts.items()))
