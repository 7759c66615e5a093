"""The report's breakdowns (docs/reports.md): events per type and day (replies apart from
posts), activity per community and per channel, and conversion by where members came
from and by tag — what a store answers with :meth:`ReportSource.report_breakdowns`.

They read only the activity counts (store/records.py): an event's own type, and the
bookkeeping rows the counter keeps beside it (``kind:reply``, ``channel:<id>``,
``source:<name>``, ``tag:<name>``).  :func:`tally_breakdowns` is the definition, in
Python (the memory store's); sqlite_breakdowns.py and postgres_reports.py compute the
same in SQL, grouped scans of the period's activity rows: tests/test_report_sources.py
checks that they agree.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from .records import CHANNEL_PREFIX, REPLY_TYPE, SOURCE_PREFIX, TAG_PREFIX

#: (community, member, local day, type, events): reports.ActivityRow.
ActivityRow = tuple[str, str, str, str, int]


class PeriodQuery(Protocol):
    """What the breakdowns read of a :class:`~.reports.ReportQuery` (reports.py imports
    this module: it cannot import that one back)."""

    @property
    def start(self) -> date: ...
    @property
    def end(self) -> date: ...
    @property
    def goal(self) -> str: ...
    def wants(self, community: str) -> bool: ...
    def is_activity(self, event_type: str) -> bool: ...


#: The dimensions conversion is split by, and the bookkeeping prefix that marks each:
#: a member is *in* ``(dimension, value)`` from the first day of a row of that type.
DIMENSIONS = (("source", SOURCE_PREFIX), ("tag", TAG_PREFIX))


@dataclass(slots=True)
class BreakdownTally:
    """The period's breakdowns (docs/reports.md, "Volumes", "Communities and channels",
    "Conversion by source and by tag")."""

    #: (day, event type) -> events that day; ``kind:reply`` counts the replies among
    #: the ``message.posted`` events.  Bookkeeping types are left out.
    volumes: dict[tuple[date, str], int] = field(default_factory=dict)
    #: community -> (events of activity types, members active) in the period.
    communities: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: (community, channel) -> (events in the channel, distinct members who had one).
    channels: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    #: (dimension, value) -> (members in it by the period's end, of them those with a
    #: goal event in the period on or after the day they entered it).
    dimensions: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)


def is_volume_type(event_type: str) -> bool:
    """An event type the volumes count: an event's own type, or the replies."""
    return ":" not in event_type or event_type == REPLY_TYPE


def dimension_of(event_type: str) -> tuple[str, str] | None:
    """(dimension, value) of a bookkeeping type marking one, else None."""
    for dimension, prefix in DIMENSIONS:
        if event_type.startswith(prefix) and len(event_type) > len(prefix):
            return dimension, event_type[len(prefix) :]
    return None


def tally_breakdowns(q: PeriodQuery, activity: Iterable[ActivityRow]) -> BreakdownTally:
    """:meth:`ReportSource.report_breakdowns` from a store's activity."""
    start, end = q.start.isoformat(), q.end.isoformat()
    volumes: Counter[tuple[str, str]] = Counter()
    events: Counter[str] = Counter()
    active: defaultdict[str, set[str]] = defaultdict(set)
    channel_events: Counter[tuple[str, str]] = Counter()
    channel_members: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
    entered: dict[tuple[str, str, str, str], str] = {}  # (dim, value, community, member)
    last_goal: dict[tuple[str, str], str] = {}
    kinds: dict[str, bool] = {}
    for community, member, day, event_type, n in activity:
        if not q.wants(community) or day > end:
            continue
        marker = dimension_of(event_type)
        if marker is not None:
            key = (*marker, community, member)
            if key not in entered or day < entered[key]:
                entered[key] = day
            continue
        if day < start:
            continue
        if event_type == q.goal and last_goal.get((community, member), "") < day:
            last_goal[(community, member)] = day
        if is_volume_type(event_type):
            volumes[(day, event_type)] += n
        if event_type.startswith(CHANNEL_PREFIX):
            channel = (community, event_type[len(CHANNEL_PREFIX) :])
            channel_events[channel] += n
            channel_members[channel].add(member)
        is_active = kinds.get(event_type)
        if is_active is None:
            is_active = kinds[event_type] = q.is_activity(event_type)
        if is_active:
            events[community] += n
            active[community].add(member)
    dimensions: dict[tuple[str, str], tuple[int, int]] = {}
    for (dimension, value, community, member), day in entered.items():
        members, converted = dimensions.get((dimension, value), (0, 0))
        converted += last_goal.get((community, member), "") >= day
        dimensions[(dimension, value)] = (members + 1, converted)
    return BreakdownTally(
        {(date.fromisoformat(day), t): n for (day, t), n in volumes.items()},
        {c: (n, len(active[c])) for c, n in events.items()},
        {ch: (n, len(channel_members[ch])) for ch, n in channel_events.items()},
        dimensions,
    )
