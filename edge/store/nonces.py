"""Command nonces seen, with the ``ts`` of their command (``mqtt.nonces`` keeps the rules)."""

from __future__ import annotations

from edge.store.database import Database


class NonceTable:
    """The ``nonces`` table: ``store.nonces``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def check(self) -> None:
        """Read the whole table once; a table that cannot be read raises ``StoreError``."""
        with self._db.reading() as db:
            db.execute("SELECT count(*), max(ts) FROM nonces").fetchone()

    def remember(self, nonce: str, ts: int, *, forget_before: int) -> bool:
        """Keep ``nonce``; False when it is already kept. Nonces older than ``forget_before``
        are forgotten in the same transaction."""
        with self._db.transaction() as db:
            db.execute("DELETE FROM nonces WHERE ts < ?", (forget_before,))
            cur = db.execute("INSERT OR IGNORE INTO nonces (nonce, ts) VALUES (?, ?)", (nonce, ts))
            return cur.rowcount == 1

    def count(self) -> int:
        with self._db.reading() as db:
            return int(db.execute("SELECT count(*) FROM nonces").fetchone()[0])
