"""Cron slots in a time zone, exactly once each across DST changes (docs/reference.md §5.6).

A schedule is a sequence of *slots*: local wall-clock times that match the cron
expression, computed by croniter on wall-clock time alone (a naive time treated as if it
were UTC, so croniter never sees a DST change).  Each slot is then mapped to one instant:

* a wall time that occurs twice (the autumn fall-back) maps to its first occurrence;
* a wall time skipped by a spring-forward gap maps to the first instant after the gap.

Iterating wall-clock slots rather than instants is what makes "fires once per slot"
hold: croniter iterating aware times fires 02:30 twice on the autumn DST day.  A slot is
named by its wall time (``2026-10-25T02:30:00``), which is part of the schedule's fire
key, so a slot never fires twice, whatever happens to its timer.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from croniter import croniter

from ..i18n import _

#: Macros accepted besides five-field expressions.
CRON_MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
#: How far back of a time we start looking for the first slot after it: more than any
#: DST shift, so that no slot whose instant is after the time is missed.
_LOOKBACK = timedelta(hours=3)
#: A fixed start for load-time checks (so validation is deterministic).
_CHECK_START = datetime(2026, 1, 1, tzinfo=UTC)


def check_cron(expr: object) -> None:
    """Raise ValueError unless ``expr`` is a usable cron expression."""
    if not isinstance(expr, str) or not expr.strip():
        raise ValueError(_('`cron` needs an expression such as "0 20 * * FRI"'))
    text = expr.strip()
    if text.startswith("@"):
        if text.lower() not in CRON_MACROS:
            raise ValueError(
                _("unknown cron macro {text!r} (use one of {macros})").format(
                    text=text, macros=", ".join(CRON_MACROS)
                )
            )
    elif len(text.split()) != 5:
        raise ValueError(
            _(
                "cron expression {text!r} has {n} fields; write five: "
                'minute hour day-of-month month day-of-week, e.g. "0 20 * * FRI"'
            ).format(text=text, n=len(text.split()))
        )
    if not croniter.is_valid(text):
        raise ValueError(_("{text!r} is not a valid cron expression").format(text=text))
    try:
        croniter(text, _CHECK_START).get_next(datetime)
    except Exception:  # croniter raises its own errors for dates that never come
        raise ValueError(_("cron expression {text!r} never fires").format(text=text)) from None


def to_instant(wall: datetime, tz: ZoneInfo) -> datetime:
    """The instant of a naive local wall time: its first occurrence when it occurs twice,
    the first instant after the gap when a DST gap skips it.  Returned in UTC (aware
    times of an ambiguous wall time never compare equal across zones, PEP 495)."""
    first = wall.replace(tzinfo=tz, fold=0)
    utc = first.astimezone(UTC)
    if utc.astimezone(tz).replace(tzinfo=None) == wall:
        return utc
    # Skipped by a gap.  fold=1 reads the wall time with the offset after the gap, giving
    # an instant before the transition; fold=0 (above) one at or after it.  The first
    # instant after the gap is the transition itself: find it to the second.
    lo = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    hi = utc
    after = hi.astimezone(tz).utcoffset()
    while (hi - lo) > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        mid = mid.replace(microsecond=0)
        if mid.astimezone(tz).utcoffset() == after:
            hi = mid
        else:
            lo = mid
    return hi


@lru_cache(maxsize=4096)
def _instant_cached(wall: datetime, tz: ZoneInfo) -> datetime:
    return to_instant(wall, tz)


class CronSchedule:
    """The slots of one cron expression in one time zone."""

    __slots__ = ("expr", "tz")

    def __init__(self, expr: str, tz: ZoneInfo) -> None:
        check_cron(expr)
        self.expr = expr.strip()
        self.tz = tz

    def _iter(self, after_wall: datetime) -> croniter:
        # The wall time as if it were UTC: croniter then does pure wall-clock arithmetic.
        return croniter(self.expr, after_wall.replace(tzinfo=UTC))

    def next_slot(self, slot: datetime) -> datetime:
        """The wall-clock slot after ``slot`` (naive)."""
        nxt: datetime = self._iter(slot).get_next(datetime)
        return nxt.replace(tzinfo=None, fold=0)

    def instant(self, slot: datetime) -> datetime:
        """When ``slot`` (a naive wall time) fires."""
        return _instant_cached(slot, self.tz)

    def first_after(self, at: datetime) -> datetime:
        """The first slot whose instant is strictly after the instant ``at``."""
        wall = at.astimezone(self.tz).replace(tzinfo=None) - _LOOKBACK
        slot = self.next_slot(wall)
        while self.instant(slot) <= at:
            slot = self.next_slot(slot)
        return slot

    def latest_at_or_before(self, at: datetime) -> datetime:
        """The last slot whose instant is at or before ``at``."""
        it = self._iter(at.astimezone(self.tz).replace(tzinfo=None) + _LOOKBACK)
        while True:
            slot: datetime = it.get_prev(datetime).replace(tzinfo=None, fold=0)
            if self.instant(slot) <= at:
                return slot

    def slots_between(self, first: datetime, until: datetime) -> list[datetime]:
        """Slots from ``first`` (a slot, included) whose instant is at or before ``until``."""
        out = []
        slot = first
        while self.instant(slot) <= until:
            out.append(slot)
            slot = self.next_slot(slot)
        return out


def slot_name(slot: datetime) -> str:
    """A slot's name in fire keys and bookkeeping: its wall time, ISO 8601 without offset."""
    return slot.isoformat(timespec="minutes")


def parse_slot(name: str) -> datetime:
    return datetime.fromisoformat(name)
