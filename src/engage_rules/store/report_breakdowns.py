"""The report's breakdowns (docs/reports.md): events per type and day (replies apart from
posts), events per community and per channel, and each segment's size per day — what a
store answers with :meth:`ReportSource.report_breakdowns`.

They read only the day totals the store keeps beside the members' activity
(records.DayTotals: events per community, local day and type, with ``kind:reply``,
``channel:<id>`` and the daily snapshot's ``segment:<name>``): a few rows per day, whatever
the number of members or events, so every store fetches the period's totals and
:func:`tally_breakdowns` sums them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from .records import CHANNEL_PREFIX, REPLY_TYPE, SEGMENT_PREFIX

#: (community, local day, type, events): a row of a store's day totals.
TotalRow = tuple[str, str, str, int]


class PeriodQuery(Protocol):
    """What the breakdowns read of a :class:`~.reports.ReportQuery` (reports.py imports
    this module: it cannot import that one back)."""

    @property
    def start(self) -> date: ...
    @property
    def end(self) -> date: ...
    def wants(self, community: str) -> bool: ...
    def is_activity(self, event_type: str) -> bool: ...


@dataclass(slots=True)
class BreakdownTally:
    """The period's breakdowns (docs/reports.md, "Volumes", "Communities and channels")."""

    #: (day, event type) -> events that day; ``kind:reply`` counts the replies among
    #: the ``message.posted`` events.
    volumes: dict[tuple[date, str], int] = field(default_factory=dict)
    #: community -> events of activity types in the period.
    communities: dict[str, int] = field(default_factory=dict)
    #: (community, channel) -> events in the channel in the period (joins and leaves
    #: apart).
    channels: dict[tuple[str, str], int] = field(default_factory=dict)
    #: (day, segment) -> its members at the end of that day, summed over the communities
    #: (the daily snapshot, features/segment_snapshot.py); a day without one is absent.
    segments: dict[tuple[date, str], int] = field(default_factory=dict)


def is_volume_type(event_type: str) -> bool:
    """A type the volumes count: an event's own type, or the replies."""
    return ":" not in event_type or event_type == REPLY_TYPE


def tally_breakdowns(q: PeriodQuery, totals: Iterable[TotalRow]) -> BreakdownTally:
    """:meth:`ReportSource.report_breakdowns` from a store's day totals (any rows: those
    outside the period or the query's community are skipped)."""
    start, end = q.start.isoformat(), q.end.isoformat()
    volumes: Counter[tuple[date, str]] = Counter()
    events: Counter[str] = Counter()
    channels: Counter[tuple[str, str]] = Counter()
    segments: Counter[tuple[date, str]] = Counter()
    kinds: dict[str, bool] = {}
    days: dict[str, date] = {}
    for community, day, event_type, n in totals:
        if not start <= day <= end or not q.wants(community):
            continue
        if event_type.startswith(CHANNEL_PREFIX):
            channels[(community, event_type[len(CHANNEL_PREFIX) :])] += int(n)
            continue
        if event_type.startswith(SEGMENT_PREFIX):
            if day not in days:
                days[day] = date.fromisoformat(day)
            segments[(days[day], event_type[len(SEGMENT_PREFIX) :])] += int(n)
            continue
        if is_volume_type(event_type):
            if day not in days:
                days[day] = date.fromisoformat(day)
            volumes[(days[day], event_type)] += int(n)
        active = kinds.get(event_type)
        if active is None:
            active = kinds[event_type] = q.is_activity(event_type)
        if active:
            events[community] += int(n)
    return BreakdownTally(dict(volumes), dict(events), dict(channels), dict(segments))


def totals_of_activity(activity: Iterable[tuple[str, str, str, str, int]]) -> list[TotalRow]:
    """Day totals from member activity rows, for a store that keeps none (a plugin's):
    every type but exposures, without replies or channels."""
    out: Counter[tuple[str, str, str]] = Counter()
    for community, _member, day, event_type, n in activity:
        if ":" not in event_type:
            out[(community, day, event_type)] += n
    return [(c, day, t, n) for (c, day, t), n in out.items()]
