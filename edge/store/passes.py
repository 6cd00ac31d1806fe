"""Revoked QR passes: a delegate's or visitor's pass the office or a guard took back.

Which passes were *used* is not kept here: a pass is valid on one date only, and today's
events say which of today's passes collected a child (``edge.day.DayLog``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from edge.store.database import Database


class RevokedPasses(Database):
    """The ``revoked_passes`` table (part of ``Store``)."""

    def revoke_pass(self, pass_id: str, by: str) -> bool:
        """Remember a pass the office or a guard revoked; False when it already was."""
        with self.transaction() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO revoked_passes VALUES (?, ?, ?)",
                (pass_id, datetime.now(UTC).isoformat(timespec="seconds"), by),
            )
            return cur.rowcount == 1

    def revoked_passes(self) -> set[str]:
        with self.reading() as db:
            return {row[0] for row in db.execute("SELECT pass_id FROM revoked_passes")}
