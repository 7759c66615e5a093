"""The hand-off between sources (any thread) and the service loop (one thread).

A source submits the events of one delivery and gets a future that completes once they
are committed: ``accepted`` (processed now), ``duplicate`` (every event id was processed
before), ``replayed`` (the delivery's key was seen before: nothing done) or
``quarantined`` (refused as a whole, with a reason code: nothing done, nothing recorded).
"""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass

from ..adapters.sources import Outcome as Outcome
from ..errors import IntakeFull as IntakeFull
from ..errors import ServiceStopping as ServiceStopping
from ..model.events import Event


@dataclass(slots=True)
class Submission:
    """Events handed to the loop by a source, with the future of their outcome."""

    events: list[Event]
    #: The processed id that records this delivery (``webhook-delivery:<id>``...), so
    #: that a second delivery with the same key is ``replayed``; None: not recorded.
    key: str | None
    future: Future[Outcome]
    #: ``(name, value)``: how far the source got, committed with this submission's
    #: transaction whatever its outcome (``State.cursors``; adapters/sources.py).
    cursor: tuple[str, str] | None = None


class Intake:
    """A bounded queue of submissions; :meth:`submit` blocks while it is full."""

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._items: deque[Submission] = deque()
        self._cv = threading.Condition()
        self._closed = False
        self._wakeups = 0

    def submit(
        self,
        events: list[Event],
        key: str | None = None,
        *,
        block: bool = True,
        cursor: tuple[str, str] | None = None,
    ) -> Future[Outcome]:
        """Queue the events of one delivery (``key``, ``cursor``: see
        :class:`Submission`).  While the queue is full this waits, or with
        ``block=False`` raises :class:`IntakeFull` (for a caller that must not block,
        like the webhook server's event loop)."""
        future: Future[Outcome] = Future()
        with self._cv:
            while len(self._items) >= self.capacity and not self._closed:
                if not block:
                    raise IntakeFull("the runtime's intake queue is full")
                self._cv.wait(0.5)
            if self._closed:
                future.set_exception(ServiceStopping("the runtime is shutting down"))
                return future
            self._items.append(Submission(events, key, future, cursor))
            self._cv.notify_all()
        return future

    def take(self, limit: int, timeout: float) -> list[Submission]:
        """Up to ``limit`` submissions; waits up to ``timeout`` for the first one (or for
        :meth:`wake`)."""
        with self._cv:
            if not self._items and not self._wakeups and timeout > 0:
                self._cv.wait(timeout)
            self._wakeups = 0
            out: list[Submission] = []
            while self._items and len(out) < limit:
                out.append(self._items.popleft())
            if out:
                self._cv.notify_all()
            return out

    def wake(self) -> None:
        """Make a waiting :meth:`take` return now."""
        with self._cv:
            self._wakeups += 1
            self._cv.notify_all()

    def close(self) -> None:
        """Refuse further submissions (those queued stay to be taken)."""
        with self._cv:
            self._closed = True
            self._cv.notify_all()

    def __len__(self) -> int:
        with self._cv:
            return len(self._items)
