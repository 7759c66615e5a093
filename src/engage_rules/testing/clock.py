"""A clock that only moves when a test moves it, and builds events at its instant."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from ..model.events import Event
from .builders import T0, event, event_obj


class FrozenClock:
    """``now()`` returns the same instant until :meth:`advance` or :meth:`set` moves it.

    Pass ``clock.now`` wherever a component takes a ``Callable[[], datetime]`` clock (the
    runtime, the dispatcher's backoff), and ``clock.sleep`` where it takes a sleeper:
    sleeping advances the clock instead of waiting, and is recorded in :attr:`slept`.

    :meth:`event` and :meth:`event_obj` build events dated at the clock's instant, so a
    test that moves through time reads in order::

        clock = FrozenClock()
        engine.process(clock.event("member.joined", "u1"))
        clock.advance(hours=5)
        engine.advance_to(clock.now())
    """

    def __init__(self, start: datetime = T0) -> None:
        if start.tzinfo is None:
            raise ValueError("a FrozenClock needs a time with a UTC offset")
        self._now = start
        #: Every duration passed to :meth:`sleep`, in seconds.
        self.slept: list[float] = []

    def now(self) -> datetime:
        return self._now

    def time(self) -> float:
        """``now()`` as seconds since the epoch (a ``time.time`` replacement)."""
        return self._now.timestamp()

    def advance(self, delta: timedelta | float | None = None, **kw: float) -> datetime:
        """Move forward by ``delta`` (a timedelta or seconds) or by ``timedelta(**kw)``
        (``advance(minutes=5)``); returns the new instant."""
        step = delta if isinstance(delta, timedelta) else timedelta(seconds=delta or 0)
        step += timedelta(**kw)
        if step < timedelta(0):
            raise ValueError("a clock does not go back; use set() for that")
        self._now += step
        return self._now

    def set(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("a FrozenClock needs a time with a UTC offset")
        self._now = instant

    def sleep(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("cannot sleep a negative time")
        self.slept.append(seconds)
        self._now += timedelta(seconds=seconds)

    def event(self, type: str, member: str | Mapping[str, Any] | None = "u1", **kw: Any) -> Event:
        """:func:`~engage_rules.testing.event` dated :meth:`now` (other arguments as there)."""
        return event(type, member, self._now, **kw)

    def event_obj(
        self, type: str, member: str | Mapping[str, Any] | None = "u1", **kw: Any
    ) -> dict[str, Any]:
        """:func:`~engage_rules.testing.event_obj` dated :meth:`now`."""
        return event_obj(type, member, self._now, **kw)
