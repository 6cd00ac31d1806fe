"""Console accounts and their sessions (``edge.console.auth`` keeps the rules).

An account holds an argon2id hash, never a PIN; a session row holds the SHA-256 of the
browser's session id, never the id itself, so a copy of the database opens no session.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.store.database import Database


@dataclass(frozen=True, slots=True)
class AccountRow:
    name: str
    role: str
    disabled: bool
    hash: str


@dataclass(frozen=True, slots=True)
class SessionRow:
    id_hash: str
    user: str
    role: str
    csrf: str
    expires_at: float
    created_at: float


class AccountTable:
    """The ``console_users`` and ``console_sessions`` tables: ``store.accounts``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def save(self, name: str, role: str, digest: str, *, created_at: str) -> None:
        """Create an account or give it a new role and hash, enabled; its sessions end."""
        with self._db.transaction() as db:
            db.execute(
                "INSERT INTO console_users (name, role, hash, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET role = excluded.role, hash = excluded.hash, "
                "disabled = 0",
                (name, role, digest, created_at),
            )
            # A new secret ends the sessions opened with the old one.
            db.execute("DELETE FROM console_sessions WHERE user = ?", (name,))

    def get(self, name: str) -> AccountRow | None:
        with self._db.reading() as db:
            row = db.execute(
                "SELECT name, role, disabled, hash FROM console_users WHERE name = ?", (name,)
            ).fetchone()
        return None if row is None else AccountRow(row[0], row[1], bool(row[2]), row[3])

    def set_hash(self, name: str, digest: str) -> None:
        with self._db.transaction() as db:
            db.execute("UPDATE console_users SET hash = ? WHERE name = ?", (digest, name))

    def all(self) -> list[AccountRow]:
        with self._db.reading() as db:
            rows = db.execute(
                "SELECT name, role, disabled, hash FROM console_users ORDER BY name"
            ).fetchall()
        return [AccountRow(r[0], r[1], bool(r[2]), r[3]) for r in rows]

    def set_disabled(self, name: str, disabled: bool) -> bool:
        """Disable (ending its sessions) or enable an account; False when there is none."""
        with self._db.transaction() as db:
            changed = db.execute(
                "UPDATE console_users SET disabled = ? WHERE name = ?", (int(disabled), name)
            ).rowcount
            if disabled:
                db.execute("DELETE FROM console_sessions WHERE user = ?", (name,))
        return bool(changed)

    # --- sessions -----------------------------------------------------------------------

    def open_session(self, id_hash: str, user: str, csrf: str, *, now: float, until: float) -> None:
        """A new session; sessions that ran out by ``now`` are removed on the way."""
        with self._db.transaction() as db:
            db.execute("DELETE FROM console_sessions WHERE expires_at <= ?", (now,))
            db.execute(
                "INSERT INTO console_sessions VALUES (?, ?, ?, ?, ?)",
                (id_hash, user, csrf, now, until),
            )

    def session(self, id_hash: str) -> SessionRow | None:
        """The session with this id hash, of an enabled account (expired or not)."""
        with self._db.reading() as db:
            row = db.execute(
                "SELECT s.id_hash, u.name, u.role, s.csrf, s.expires_at, s.created_at "
                "FROM console_sessions s "
                "JOIN console_users u ON u.name = s.user WHERE s.id_hash = ? AND u.disabled = 0",
                (id_hash,),
            ).fetchone()
        return None if row is None else SessionRow(*row)

    def extend_session(self, id_hash: str, until: float) -> None:
        """A session in use lasts until ``until`` now (sliding expiry)."""
        with self._db.transaction() as db:
            db.execute(
                "UPDATE console_sessions SET expires_at = ? WHERE id_hash = ?", (until, id_hash)
            )

    def end_session(self, id_hash: str) -> None:
        with self._db.transaction() as db:
            db.execute("DELETE FROM console_sessions WHERE id_hash = ?", (id_hash,))
