"""Calendar periods in a community's time zone: the days, ISO weeks and months that caps,
leaderboards and message limits count in (docs/reference.md §5.3, §5.5, §5.8).

A period is named by a key that sorts in time order — ``2026-03-02``, ``2026-W10``,
``2026-03`` — and starts and ends at local midnights, DST-correct.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo


def period_key(local: datetime, per: str) -> str:
    """The calendar period (``2026-03-02``, ``2026-W10``, ``2026-03``) of a local time."""
    if per == "day":
        return local.date().isoformat()
    if per == "week":
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{local.year}-{local.month:02d}"


#: Seconds within which the local calendar date cannot change: every UTC offset and
#: every DST shift is a whole number of quarter hours, so local midnight always falls on
#: a quarter hour of UTC, and a quarter hour of UTC lies within one local day.
QUARTER_HOUR = 900


class PeriodCache:
    """The period of an instant, remembered for the quarter hour of UTC it falls in:
    consecutive events mostly share it, so the time-zone conversion is done about once
    per quarter hour instead of once per award."""

    __slots__ = ("end", "key", "per", "start", "tz")

    def __init__(self, tz: Any, per: str) -> None:
        self.tz = tz
        self.per = per
        #: The quarter hour remembered, ``start <= at_ts < end`` (epoch s; none yet).
        self.start = self.end = -1.0
        self.key = ""

    def of(self, at: datetime, at_ts: float) -> str:
        if not self.start <= at_ts < self.end:
            self.key = period_key(at.astimezone(self.tz), self.per)
            self.start = at_ts // QUARTER_HOUR * QUARTER_HOUR
            self.end = self.start + QUARTER_HOUR
        return self.key


def period_bounds(at: datetime, period: str, tz: ZoneInfo) -> tuple[str, datetime, datetime]:
    """The calendar period containing ``at`` in ``tz``: its key (``2026-03-02``,
    ``2026-W10``, ``2026-03``) and its start and end as local midnights.  Local
    midnights are DST-correct: a day is 23 or 25 hours long across a change."""
    local = at.astimezone(tz)
    day = local.date()
    if period == "day":
        start, end = day, day + timedelta(days=1)
    elif period == "week":
        start = day - timedelta(days=day.weekday())
        end = start + timedelta(days=7)
    else:
        start = day.replace(day=1)
        end = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    key = period_key(local, period)
    return key, _midnight(start, tz), _midnight(end, tz)


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    # fold=0: a midnight skipped by a DST gap maps to the instant the gap ends.
    return datetime.combine(day, time(0), tzinfo=tz)
