"""Command nonces, remembered across restarts in the store's ``nonces`` table.

A nonce is accepted once. Entries whose ``ts`` is older than the acceptance window (plus
the same again, as a margin for a clock stepped back a little) are pruned: a command with
that ``ts`` would be refused as stale before its nonce is even looked at, so keeping the
row could never matter. A table that cannot be read is an error at start, never a silent
reset (a reset would let every command seen in the last window be replayed).

The nonce table is written on the daemon's loop only (the command handler runs there),
so the store keeps its one writer of gate state.
"""

from __future__ import annotations

from edge.store import Store, StoreError

MAX_NONCE_LEN = 128


class NonceStoreError(RuntimeError):
    """The nonce table could not be read or written."""


def valid_nonce(nonce: object) -> bool:
    return (
        isinstance(nonce, str)
        and 8 <= len(nonce) <= MAX_NONCE_LEN
        and nonce.isascii()
        and nonce.isprintable()
    )


class Nonces:
    def __init__(self, store: Store, window_seconds: int) -> None:
        self.store = store
        self.window = window_seconds
        self._check_readable()

    def _check_readable(self) -> None:
        try:
            self.store.nonces.check()
        except StoreError as err:
            raise NonceStoreError(f"the nonce table cannot be read: {err}") from err

    def use(self, nonce: str, ts: int, now: float) -> bool:
        """Remember ``nonce``; False when it was seen before (a replay)."""
        horizon = int(now) - 2 * self.window
        try:
            return self.store.nonces.remember(nonce, int(ts), forget_before=horizon)
        except StoreError as err:
            raise NonceStoreError(f"the nonce table cannot be written: {err}") from err

    def count(self) -> int:
        return self.store.nonces.count()
