"""The gate's SQLite store: the only code that opens the gate's database or speaks SQL to it.

``Store`` (``edge.store.core``) is the gate's connection; each group of tables has a
module here: ``log`` (events, outbox, the hash chain), ``state``, ``rosters``,
``passes``, ``nonces``, ``visitors``, ``repairs``, ``accounts``, ``rollcall`` and
``retention``. ``migrations`` builds the schema; ``readonly`` opens a store file for the
tools that must never write it (``verify-log``, ``backup``, ``doctor``).
"""

from edge.store.core import Store
from edge.store.database import StoreError, connect
from edge.store.readonly import ReadOnlyStore
from edge.store.rosters import RosterRecord

__all__ = ["ReadOnlyStore", "RosterRecord", "Store", "StoreError", "connect"]
