"""The gate's local truth: one SQLite file, WAL mode, ``synchronous=FULL``.

``Store`` is the gate's connection: the event log with its outbox (``edge.store.log``),
small state, roster versions and revoked passes are its own methods, because the daemon
works with them on every path. The tables that belong to one feature hang off it, named
after it: ``store.nonces`` (MQTT commands), ``store.visitors`` (the visitor register),
``store.repairs``, ``store.accounts`` (console accounts and sessions), ``store.rollcall``
and ``store.retention`` (the purge's changes to the log).
"""

from __future__ import annotations

from pathlib import Path

from edge.store.accounts import AccountTable
from edge.store.log import EventLog
from edge.store.migrations import migrate
from edge.store.nonces import NonceTable
from edge.store.passes import RevokedPasses
from edge.store.repairs import RepairTable
from edge.store.retention import LogRetention
from edge.store.rollcall import RollCallTicks
from edge.store.rosters import RosterVersions
from edge.store.state import SmallState
from edge.store.visitors import VisitorRegister


class Store(EventLog, SmallState, RosterVersions, RevokedPasses):
    def __init__(
        self, path: str | Path, *, site: str, gate: str, synchronous: str = "FULL"
    ) -> None:
        super().__init__(path, synchronous=synchronous)
        self.site = site
        self.gate = gate
        migrate(self.db)
        self.nonces = NonceTable(self)
        self.visitors = VisitorRegister(self)
        self.repairs = RepairTable(self)
        self.accounts = AccountTable(self)
        self.rollcall = RollCallTicks(self)
        self.retention = LogRetention(self)

    def drain_connection(self) -> Store:
        """A second connection to the same file, for the publisher's drain thread.

        It commits with ``synchronous=NORMAL``: losing the last few outbox deletes in a
        power cut only means those events are published again, and the collector drops
        duplicates by event id. An in-memory store cannot be opened twice: it is its own.
        The caller closes what it got when it is not this store.
        """
        if str(self.path) == ":memory:":
            return self
        return Store(self.path, site=self.site, gate=self.gate, synchronous="NORMAL")
