"""Pages of stored timers, for states that load timers on demand (model/state.py
``TimerSource``): the earliest pending timers from a time on, and the due time up to
which the page holds every stored timer.  The stores run the queries; the paging rule is
here, once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import orjson

from ..model.state import Timer

#: Stored timers as the queries give them: (due, JSON text).
TimerRows = Sequence[tuple[float, str]]


def timer_page(
    first: TimerRows,
    limit: int,
    due_at: Callable[[float], TimerRows],
    due_after: Callable[[float], float | None],
) -> tuple[list[Timer], float]:
    """The page of timers from ``first``, the first ``limit + 1`` stored timers due at or
    after the page's start, earliest first.

    The page holds the first ``limit`` of them that fall before the due time of the one
    after them, which is where the page ends; when more than ``limit`` share the first
    due time, it holds all of those (``due_at``) and ends at the next due time
    (``due_after``).  A page that holds every stored timer ends at ``math.inf``.
    """
    rows = first
    until = math.inf
    if len(rows) > limit:
        until = rows[limit][0]
        rows = [r for r in rows if r[0] < until]
        if not rows:
            due = until
            rows = due_at(due)
            after = due_after(due)
            until = math.inf if after is None else after
    return [Timer.from_json(orjson.loads(js)) for _, js in rows], until
