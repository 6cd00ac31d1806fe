"""What the reader tests share: a log of what a reader thread reported."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Log(Generic[T]):
    """Things reported by a reader thread; ``wait_for`` blocks until they match."""

    def __init__(self) -> None:
        self.items: list[T] = []
        self._cond = threading.Condition()

    def __call__(self, item: T) -> None:
        with self._cond:
            self.items.append(item)
            self._cond.notify_all()

    def wait_for(self, match: int | Callable[[list[T]], bool], timeout: float = 5.0) -> None:
        """Until ``match(items)`` holds, or (given a number) that many items arrived."""
        check = (lambda items: len(items) >= match) if isinstance(match, int) else match
        with self._cond:
            assert self._cond.wait_for(lambda: check(self.items), timeout), self.items
