"""Staff accounts, sessions and lock-out for the guard console.

PINs and passwords are hashed with argon2id. Sessions live in the store
(``edge.store.accounts``): the browser holds a random id, the store only its SHA-256, so
a copy of the database opens no session. Each
session has its own CSRF token, checked on every POST. Repeated failures lock the account
and, separately, the client address, so guessing a PIN at the gate's screen goes nowhere.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from edge.store import Store

ROLES = ("guard", "admin")
MIN_SECRET = 6
MAX_SECRET = 128
_NAME = re.compile(r"^[\w.-]{2,32}$")

SESSION_COOKIE = "kg_session"
LOGIN_COOKIE = "kg_login"  # the CSRF token of the sign-in form, before there is a session
LANG_COOKIE = "kg_lang"


class AuthError(ValueError):
    """An account change that cannot be made as asked."""


@cache
def hasher() -> PasswordHasher:
    # 19 MiB, two passes: the OWASP minimum for argon2id, and small enough for a Pi whose
    # whole daemon should stay under 60 MB.
    return PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


@cache
def _dummy_hash() -> str:
    return hasher().hash(secrets.token_hex(16))


def check_secret(stored_hash: str | None, secret: str) -> bool:
    """True when ``secret`` matches; slow on purpose, so call it off the event loop.

    An unknown user is checked against a dummy hash, so timing does not tell who exists.
    """
    try:
        return hasher().verify(stored_hash or _dummy_hash(), secret) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def hash_secret(secret: str) -> str:
    """An argon2id hash of a PIN or password; slow on purpose, so call it off the loop."""
    return hasher().hash(secret)


def needs_rehash(stored_hash: str) -> bool:
    return hasher().check_needs_rehash(stored_hash)


def validate_new_account(name: str, role: str, secret: str) -> None:
    if not _NAME.match(name):
        raise AuthError("name: 2-32 letters, digits, '.', '-' or '_'")
    if role not in ROLES:
        raise AuthError(f"role: one of {', '.join(ROLES)}")
    if not MIN_SECRET <= len(secret) <= MAX_SECRET:
        raise AuthError(f"PIN or password: {MIN_SECRET} to {MAX_SECRET} characters")


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: str
    disabled: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class Users:
    def __init__(self, store: Store, now: Callable[[], datetime]) -> None:
        self.accounts = store.accounts
        self.now = now

    def add(self, name: str, role: str, secret: str) -> None:
        """Create an account, or set a new role and secret for an existing one.

        Hashes on the calling thread: on the daemon's loop use ``hash_secret`` in a worker
        thread and then ``save``.
        """
        validate_new_account(name, role, secret)
        self.save(name, role, hash_secret(secret))

    def save(self, name: str, role: str, digest: str) -> None:
        """The account, enabled, with this role and hash; sessions with the old secret end."""
        self.accounts.save(name, role, digest, created_at=self.now().isoformat(timespec="seconds"))

    def hash_of(self, name: str) -> tuple[User, str] | None:
        row = self.accounts.get(name)
        if row is None or row.disabled:
            return None
        return User(row.name, row.role, row.disabled), row.hash

    def set_hash(self, name: str, digest: str) -> None:
        self.accounts.set_hash(name, digest)

    def all(self) -> list[User]:
        return [User(r.name, r.role, r.disabled) for r in self.accounts.all()]

    def set_disabled(self, name: str, disabled: bool) -> bool:
        return self.accounts.set_disabled(name, disabled)


@dataclass(frozen=True, slots=True)
class Session:
    id_hash: str
    user: User
    csrf: str
    expires_at: float

    def csrf_ok(self, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(self.csrf, str(given))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Sessions:
    """Server-side sessions that slide: each use moves the end ``idle`` later, up to a cap.

    A page left open on the gate's screen uses its session (its live stream asks every few
    seconds), so the screen never signs itself out before pickup; a phone put away stops
    asking, and its session ends after ``idle_minutes``. None outlives ``cap_minutes``.
    """

    TOUCH_STEP = 60.0  # seconds: a request moves the stored end only when it gains this much

    def __init__(
        self,
        store: Store,
        now: Callable[[], datetime],
        cap_minutes: int,
        idle_minutes: int | None = None,
    ) -> None:
        self.accounts = store.accounts
        self.now = now
        self.seconds = cap_minutes * 60  # the longest a sign-in lasts (the cookie's age too)
        self.idle = min(self.seconds, (idle_minutes or cap_minutes) * 60)

    def create(self, user: User) -> tuple[str, Session]:
        token = secrets.token_urlsafe(32)
        now = self.now().timestamp()
        session = Session(_digest(token), user, secrets.token_urlsafe(32), now + self.idle)
        self.accounts.open_session(
            session.id_hash, user.name, session.csrf, now=now, until=session.expires_at
        )
        return token, session

    def get(self, token: str | None) -> Session | None:
        """The session behind ``token``, its end moved later (it is being used); or None."""
        if not token or len(token) > 100:
            return None
        row = self.accounts.session(_digest(token))
        if row is None:
            return None
        now = self.now().timestamp()
        cap = row.created_at + self.seconds
        ends = min(row.expires_at, cap)
        if ends <= now:
            self.end(token)
            return None
        slid = min(now + self.idle, cap)
        if slid - ends >= self.TOUCH_STEP:
            self.accounts.extend_session(row.id_hash, slid)
            ends = slid
        return Session(row.id_hash, User(row.user, row.role), row.csrf, ends)

    def end(self, token: str | None) -> None:
        if token:
            self.accounts.end_session(_digest(token))


@dataclass
class LockOut:
    """Failures per key ("user:NAME", "addr:IP") within a window lock that key for a while.

    Kept in memory: a restart clears it, but only someone who can restart the daemon can
    do that. The table is bounded so a flood of made-up names cannot grow it forever.
    """

    limit: int
    window: float = 900.0
    duration: float = 900.0
    max_keys: int = 10_000
    _failures: dict[str, list[float]] = field(default_factory=dict)
    _until: dict[str, float] = field(default_factory=dict)

    def locked_for(self, key: str, t: float) -> float:
        """Seconds the key stays locked (0 when it is not)."""
        until = self._until.get(key)
        if until is None:
            return 0.0
        if t >= until:
            del self._until[key]
            return 0.0
        return until - t

    def failure(self, key: str, t: float) -> bool:
        """Count a failure; True when this one locks the key."""
        recent = [s for s in self._failures.get(key, []) if t - s < self.window]
        recent.append(t)
        if len(recent) >= self.limit:
            self._failures.pop(key, None)
            self._until[key] = t + self.duration
            return True
        self._failures[key] = recent
        if len(self._failures) > self.max_keys:
            oldest = min(self._failures, key=lambda k: self._failures[k][-1])
            del self._failures[oldest]
        return False

    def success(self, key: str) -> None:
        self._failures.pop(key, None)


USER_FAILURES = 5
ADDRESS_FAILURES = 20
