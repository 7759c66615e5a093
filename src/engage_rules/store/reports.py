"""What ``engage-rules report`` asks of a store (docs/reports.md): aggregates over one
period of local days, never one object per event, member, action or ledger entry.

A report reads a store through :class:`ReportSource`: each method takes a
:class:`ReportQuery` (the community, the period, the playbook's time zone and activity
types, the conversion goal) and returns counts — per local day, per ISO week, per rule,
action type, audit action and reason, currency and entry kind.  The SQLite store answers
with SQL aggregates (sqlite_reports.py); the memory store, and any store that has no such
methods (:class:`StoreReports`), with the functions below, which also define what every
count means: the two implementations must agree on every store (tests/test_report_sources.py).

The definitions (docs/reports.md, "What the figures mean"): a member is *first seen* on
the local day they first joined (their state's ``joined_at``) or of their first event of
any type, whichever is earlier; a member *belongs* to the community at the period's end
when first seen on or before it and not left by then (a leave is undone by a later join
recorded in the activity; a leave and a join on the same day count as a leave; a member
the state says left, with no leave recorded, has left); a member is *active* on a day
with an event of an activity type that day.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from ..model.decision import ActionRecord
from ..model.persons import PERSONS
from ..model.state import LedgerEntry, State
from .records import (
    EXPOSURE_PREFIX,
    SEGMENT_PREFIX,
    SOURCE_PREFIX,
    TAG_PREFIX,
    ReportContext,
    zone,
)
from .report_breakdowns import BreakdownTally, tally_breakdowns, totals_of_activity

if TYPE_CHECKING:
    from .base import Store

#: (community, member, local day ``YYYY-MM-DD``, event type, events): a store's activity.
ActivityRow = tuple[str, str, str, str, int]
#: (community, member, mark, first day): a member's mark (records.MemberMarks).
MarkRow = tuple[str, str, str, str]
#: (community, member, ``joined_at``, status): what a report needs of a member's state.
MemberRow = tuple[str, str, datetime | None, str]


@dataclass(frozen=True, slots=True)
class ReportQuery:
    """One report's question: a community (None: every one) over the inclusive period
    ``start`` .. ``end`` of local days in ``timezone``."""

    timezone: str
    community: str | None
    start: date
    end: date
    #: The event types that count as activity (empty: every type but ``member.*``).
    activity_events: frozenset[str] = frozenset()
    #: The event type that counts as a conversion.
    goal: str = "purchase"
    #: Counted event types that never make a member active: those the playbook raises
    #: itself (``emit``; ReportContext.passive_events).
    passive: frozenset[str] = frozenset()
    #: Days without activity after which a member counts as churned (``--churn-after``).
    churn_days: int = 30

    def is_activity(self, event_type: str) -> bool:
        """True when events of ``event_type`` make a member active."""
        if self.activity_events:
            return event_type in self.activity_events
        return (
            not event_type.startswith("member.")
            and ":" not in event_type  # bookkeeping (exposures): no event type has one
            and event_type not in self.passive
        )

    def wants(self, community: str) -> bool:
        """True when ``community`` is one the report is about."""
        return self.community is None or community == self.community


@dataclass(slots=True)
class MemberTally:
    """Members counted by what the member figures need (docs/reports.md)."""

    #: Members first seen on each day of the period.
    first_seen: dict[date, int] = field(default_factory=dict)
    #: Members with a leave in the period, by the last day in it they left.
    left: dict[date, int] = field(default_factory=dict)
    #: Every member by (their last active day up to the period's end, or None; whether
    #: they belong to the community at the period's end; whether active in the period).
    by_last_active: dict[tuple[date | None, bool, bool], int] = field(default_factory=dict)
    #: (Monday of the ISO week a member was first seen in the period, weeks since) ->
    #: the members of that cohort active in that week, up to the period's end.
    retention: dict[tuple[date, int], int] = field(default_factory=dict)
    #: Events of the goal type in the period, and the members who had one.
    goal_events: int = 0
    converters: int = 0
    #: (day a member was first seen in the period, N of DAY_RETENTION) -> the members
    #: first seen that day active on day + N, for the days with day + N in the period.
    day_retention: dict[tuple[date, int], int] = field(default_factory=dict)
    #: (first day of the month a member was first seen in the period, months since) ->
    #: the members of that cohort active in that month, up to the period's end.
    monthly_retention: dict[tuple[date, int], int] = field(default_factory=dict)
    #: Members of the community at the end of the day before the period.
    at_start: int = 0
    #: Of them, those not churned then who, by the period's end, have left or are
    #: churned (``ReportQuery.churn_days``).
    churned_in_period: int = 0
    #: community -> its members active in the period.
    active_by_community: dict[str, int] = field(default_factory=dict)
    #: (dimension, value) -> (members in it by the period's end, of them those with a
    #: goal event in the period on or after the day they entered it): :data:`DIMENSIONS`.
    dimensions: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)


#: The dimensions conversion is split by, and the prefix of their marks (records.py):
#: a member is *in* ``(dimension, value)`` from the first day of that mark.
DIMENSIONS = (("source", SOURCE_PREFIX), ("tag", TAG_PREFIX), ("segment", SEGMENT_PREFIX))


def dimension_of(event_type: str) -> tuple[str, str] | None:
    """(dimension, value) of a mark, else None."""
    for dimension, prefix in DIMENSIONS:
        if event_type.startswith(prefix) and len(event_type) > len(prefix):
            return dimension, event_type[len(prefix) :]
    return None


#: The N of day-N retention (次日 / 7日 / 30日留存).
DAY_RETENTION = (1, 7, 30)


def month_start(day: date) -> date:
    """The first day of ``day``'s month."""
    return day.replace(day=1)


def months_between(first: date, later: date) -> int:
    """Calendar months from ``first``'s month to ``later``'s."""
    return (later.year - first.year) * 12 + later.month - first.month


@dataclass(slots=True)
class ActionTally:
    """Outbox actions taking effect in the period."""

    #: Live actions (not shadow) by rule: (distinct causes, actions).
    rules: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: Live actions by (type, a direct message: a ``send`` to a member, not a channel).
    types: dict[tuple[str, bool], int] = field(default_factory=dict)
    #: Shadow actions by (rule, type): (actions, distinct members).
    shadow: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)


@runtime_checkable
class ReportSource(Protocol):
    """What a store answers for ``engage-rules report``: aggregates for one query.

    Instants (ledger entries, actions, audit entries, joins) count on their local day in
    ``query.timezone``; activity counts on the day the store recorded it.
    """

    def report_context(self) -> ReportContext:
        """The playbook's name, time zone and activity types (``Store.report_context``)."""
        ...

    def report_communities(self) -> list[str]:
        """Every community the store has data, members or activity of, sorted."""
        ...

    def report_newest_day(self, timezone: str, community: str | None) -> date | None:
        """The newest local day with activity (of ``community``; None: any), else the
        local day of the store's clock, else None."""
        ...

    def report_clock(self) -> datetime | None:
        """The engine clock the store holds (how far its events and timers reached)."""
        ...

    def report_members(self, query: ReportQuery) -> MemberTally:
        """Members by first-seen day, leave day, last activity and retention week, and
        the goal's events and members."""
        ...

    def report_daily_active(self, query: ReportQuery) -> dict[date, int]:
        """Members active on each day of the period (days with none left out)."""
        ...

    def report_actions(self, query: ReportQuery) -> ActionTally:
        """Outbox actions of the period, by rule and type, live and shadow apart."""
        ...

    def report_audit(self, query: ReportQuery) -> dict[tuple[str, str], int]:
        """Audit log entries of the period by (action, reason)."""
        ...

    def report_points(self, query: ReportQuery) -> dict[tuple[str, str], int]:
        """Ledger entries of the period by (currency, kind): the sum of their amounts'
        absolute values."""
        ...

    def report_experiments(self, query: ReportQuery) -> dict[tuple[str, str], tuple[int, int]]:
        """Per (experiment, variant): the members first exposed to it by the period's
        end, and how many of them had a goal event in the period on or after the day of
        their exposure."""
        ...

    def report_breakdowns(self, query: ReportQuery) -> BreakdownTally:
        """Events per day and type (replies apart), and per community and channel
        (store/report_breakdowns.py)."""
        ...


# -- the reference implementation, in Python ------------------------------------------------


def local_day(value: Any, tz: ZoneInfo) -> date | None:
    """The local day of an aware datetime or ISO text; None for anything else."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(tz).date()
    return None


def monday(day: date) -> date:
    """The Monday of ``day``'s ISO week."""
    return day - timedelta(days=day.weekday())


class _Days:
    """ISO day texts as dates, each parsed once."""

    __slots__ = ("_cache",)

    def __init__(self) -> None:
        self._cache: dict[str, date] = {}

    def __call__(self, text: str) -> date:
        day = self._cache.get(text)
        if day is None:
            day = self._cache[text] = date.fromisoformat(text)
        return day


@dataclass(slots=True)
class _Member:
    """One member's days (ISO texts) as the member figures need them."""

    joined: str | None = None  # the state's joined_at, as a local day
    left_now: bool = False  # the state's status is "left"
    first: str | None = None  # the first day of any event
    any_leave: bool = False  # a leave at any time (after the period's end included)
    last_leave: str | None = None  # up to the period's end
    last_join: str | None = None  # up to the period's end
    last_active: str | None = None  # up to the period's end
    #: Active days from the Monday of the period's first week (or the first day of its
    #: first month, if earlier) to its end (retention).
    active_days: set[str] = field(default_factory=set)
    goal_events: int = 0  # in the period
    last_goal: str | None = None  # the last day with a goal event in the period
    #: The last leave, join and active day before the period (churn rate).
    before_leave: str | None = None
    before_join: str | None = None
    before_active: str | None = None

    @property
    def seen(self) -> str | None:
        if self.joined is None or (self.first is not None and self.first < self.joined):
            return self.first
        return self.joined

    def note_in_period(
        self, event_type: str, day: str, active: bool, first_monday: str, start: str
    ) -> None:
        """Note a day of activity up to the period's end: joins, leaves, activity."""
        before = day < start
        if event_type == "member.left":
            if self.last_leave is None or day > self.last_leave:
                self.last_leave = day
            if before and (self.before_leave is None or day > self.before_leave):
                self.before_leave = day
        elif event_type == "member.joined":
            if self.last_join is None or day > self.last_join:
                self.last_join = day
            if before and (self.before_join is None or day > self.before_join):
                self.before_join = day
        if active:
            if self.last_active is None or day > self.last_active:
                self.last_active = day
            if before and (self.before_active is None or day > self.before_active):
                self.before_active = day
            if day >= first_monday:
                self.active_days.add(day)

    def left_by_end(self) -> bool:
        return self._left(self.last_leave, self.last_join)

    def left_before_start(self) -> bool:
        return self._left(self.before_leave, self.before_join)

    def _left(self, leave: str | None, join: str | None) -> bool:
        if leave is None:
            return self.left_now and not self.any_leave
        return join is None or join <= leave


def _member_days(
    q: ReportQuery, members: Iterable[MemberRow], activity: Iterable[ActivityRow]
) -> dict[tuple[str, str], _Member]:
    tz = zone(q.timezone)
    start, end = q.start.isoformat(), q.end.isoformat()
    first_monday = min(monday(q.start), month_start(q.start)).isoformat()
    out: dict[tuple[str, str], _Member] = {}
    for community, member, joined_at, status in members:
        if q.wants(community):
            joined = local_day(joined_at, tz)
            out[(community, member)] = _Member(
                joined=None if joined is None else joined.isoformat(), left_now=status == "left"
            )
    kinds: dict[str, bool] = {}
    for community, member, day, event_type, events in activity:
        if not q.wants(community):
            continue
        m = out.get((community, member))
        if m is None:
            m = out[(community, member)] = _Member()
        if m.first is None or day < m.first:
            m.first = day
        if event_type == "member.left":
            m.any_leave = True
        if day > end:
            continue
        if event_type == q.goal and day >= start:
            m.goal_events += events
            if m.last_goal is None or day > m.last_goal:
                m.last_goal = day
        active = kinds.get(event_type)
        if active is None:
            active = kinds[event_type] = q.is_activity(event_type)
        m.note_in_period(event_type, day, active, first_monday, start)
    return out


def tally_members(
    q: ReportQuery,
    members: Iterable[MemberRow],
    activity: Iterable[ActivityRow],
    marks: Iterable[MarkRow] = (),
) -> MemberTally:
    """:meth:`ReportSource.report_members` from a store's members and activity."""
    start, end = q.start.isoformat(), q.end.isoformat()
    days = _Days()
    first_seen: Counter[date] = Counter()
    left: Counter[date] = Counter()
    by_last_active: Counter[tuple[date | None, bool, bool]] = Counter()
    retention: Counter[tuple[date, int]] = Counter()
    day_retention: Counter[tuple[date, int]] = Counter()
    monthly: Counter[tuple[date, int]] = Counter()
    goal_events = converters = at_start = churned_in_period = 0
    before = (q.start - timedelta(days=1)).isoformat()
    every = _member_days(q, members, activity)
    active_by_community, dimensions = _member_breakdowns(q, every, marks)
    for m in every.values():
        if m.goal_events:
            goal_events += m.goal_events
            converters += 1
        seen = m.seen
        if _member_at_start(m, before):
            at_start += 1
            if not _churned(m.before_active, before, q.churn_days):
                churned_in_period += m.left_by_end() or _churned(m.last_active, end, q.churn_days)
        if m.last_leave is not None and m.last_leave >= start:  # the last leave in the period
            left[days(m.last_leave)] += 1
        belongs = (seen is None or seen <= end) and not m.left_by_end()
        if m.last_active is None:
            by_last_active[(None, belongs, False)] += 1
        else:  # active in the period: last active on or after its first day
            last_active = m.last_active
            by_last_active[(days(last_active), belongs, last_active >= start)] += 1
        if seen is None or not start <= seen <= end:
            continue
        first_seen[days(seen)] += 1
        cohort = monday(days(seen))
        cohort_text = cohort.isoformat()
        weeks = {(days(d) - cohort).days // 7 for d in m.active_days if d >= cohort_text}
        for week in weeks:
            retention[(cohort, week)] += 1
        seen_day = days(seen)
        for n in DAY_RETENTION:
            later = (seen_day + timedelta(days=n)).isoformat()
            if later <= end and later in m.active_days:
                day_retention[(seen_day, n)] += 1
        first_of_month = month_start(seen_day)
        first_text = first_of_month.isoformat()
        months = {months_between(first_of_month, days(d)) for d in m.active_days if d >= first_text}
        for month in months:
            monthly[(first_of_month, month)] += 1
    return MemberTally(
        dict(first_seen),
        dict(left),
        dict(by_last_active),
        dict(retention),
        goal_events,
        converters,
        dict(day_retention),
        dict(monthly),
        at_start,
        churned_in_period,
        active_by_community,
        dimensions,
    )


def _member_breakdowns(
    q: ReportQuery, every: dict[tuple[str, str], _Member], marks: Iterable[MarkRow]
) -> tuple[dict[str, int], dict[tuple[str, str], tuple[int, int]]]:
    """Members active in the period per community, and conversion by dimension (the
    members marked by the period's end)."""
    start, end = q.start.isoformat(), q.end.isoformat()
    active: Counter[str] = Counter()
    for (community, _member), m in every.items():
        if m.last_active is not None and m.last_active >= start:
            active[community] += 1
    dimensions: dict[tuple[str, str], tuple[int, int]] = {}
    for community, member, mark, day in marks:
        marked = every.get((community, member))
        split = dimension_of(mark)
        if marked is None or split is None or day > end or not q.wants(community):
            continue
        n, converted = dimensions.get(split, (0, 0))
        converted += marked.last_goal is not None and marked.last_goal >= day
        dimensions[split] = (n + 1, converted)
    return dict(active), dimensions


def _churned(last_active: str | None, day: str, churn_days: int) -> bool:
    """Active some time up to ``day`` but not in the ``churn_days`` days up to it."""
    if last_active is None:
        return False
    idle = (date.fromisoformat(day) - date.fromisoformat(last_active)).days
    return idle >= churn_days


def _member_at_start(m: _Member, before: str) -> bool:
    """A member at the end of the day before the period (``before``)."""
    seen = m.seen
    return (seen is None or seen <= before) and not m.left_before_start()


def tally_daily_active(q: ReportQuery, activity: Iterable[ActivityRow]) -> dict[date, int]:
    """:meth:`ReportSource.report_daily_active` from a store's activity."""
    start, end = q.start.isoformat(), q.end.isoformat()
    active: defaultdict[str, set[tuple[str, str]]] = defaultdict(set)
    for community, member, day, event_type, _ in activity:
        if start <= day <= end and q.wants(community) and q.is_activity(event_type):
            active[day].add((community, member))
    days = _Days()
    return {days(day): len(ms) for day, ms in active.items()}


def split_exposure(activity_type: str) -> tuple[str, str] | None:
    """(experiment, variant) of an exposure's activity type, else None."""
    if not activity_type.startswith(EXPOSURE_PREFIX):
        return None
    name, sep, variant = activity_type[len(EXPOSURE_PREFIX) :].partition("=")
    return (name, variant) if sep else None


def tally_experiments(
    q: ReportQuery, activity: Iterable[ActivityRow]
) -> dict[tuple[str, str], tuple[int, int]]:
    """:meth:`ReportSource.report_experiments` from a store's activity."""
    start, end = q.start.isoformat(), q.end.isoformat()
    exposed: dict[tuple[str, str, str], str] = {}  # (community, member, type) -> day
    last_goal: dict[tuple[str, str], str] = {}
    for community, member, day, event_type, _ in activity:
        if not q.wants(community):
            continue
        if event_type.startswith(EXPOSURE_PREFIX):
            if day <= end:
                key = (community, member, event_type)
                if key not in exposed or day < exposed[key]:
                    exposed[key] = day
        elif (
            event_type == q.goal
            and start <= day <= end
            and last_goal.get((community, member), "") < day
        ):
            last_goal[(community, member)] = day
    out: dict[tuple[str, str], tuple[int, int]] = {}
    for (community, member, event_type), day in exposed.items():
        split = split_exposure(event_type)
        if split is None:
            continue
        n, converted = out.get(split, (0, 0))
        converted += last_goal.get((community, member), "") >= day
        out[split] = (n + 1, converted)
    return out


def tally_actions(q: ReportQuery, items: Iterable[tuple[ActionRecord, str]]) -> ActionTally:
    """:meth:`ReportSource.report_actions` from outbox items as (action, status)."""
    tz = zone(q.timezone)
    days: dict[datetime, date | None] = {}
    causes: defaultdict[str, set[str]] = defaultdict(set)
    actions: Counter[str] = Counter()
    types: Counter[tuple[str, bool]] = Counter()
    shadow: Counter[tuple[str, str]] = Counter()
    shadow_members: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
    for a, status in items:
        if a.at in days:
            day = days[a.at]
        else:
            day = days[a.at] = local_day(a.at, tz)
        if day is None or not q.start <= day <= q.end or not q.wants(a.community):
            continue
        if status == "shadow":
            shadow[(a.rule, a.type)] += 1
            if a.member is not None:
                shadow_members[(a.rule, a.type)].add(a.member)
            continue
        causes[a.rule].add(a.cause)
        actions[a.rule] += 1
        types[(a.type, is_direct(a))] += 1
    return ActionTally(
        {rule: (len(causes[rule]), n) for rule, n in actions.items()},
        dict(types),
        {key: (n, len(shadow_members[key])) for key, n in shadow.items()},
    )


def is_direct(a: ActionRecord) -> bool:
    """A direct message: a ``send`` to a member, not to a channel."""
    return a.type == "send" and a.member is not None and not a.params.get("channel")


def audit_fields(entry: dict[str, Any]) -> tuple[str, str, str]:
    """An audit entry's (community, action, reason), as a report counts it."""
    return (
        str(entry.get("community") or "default"),
        str(entry.get("action", "")),
        str(entry.get("reason") or ""),
    )


def tally_audit(q: ReportQuery, entries: Iterable[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """:meth:`ReportSource.report_audit` from audit log entries."""
    tz = zone(q.timezone)
    out: Counter[tuple[str, str]] = Counter()
    for e in entries:
        community, action, reason = audit_fields(e)
        day = local_day(e.get("at"), tz)
        if day is not None and q.start <= day <= q.end and q.wants(community):
            out[(action, reason)] += 1
    return dict(out)


def tally_points(
    q: ReportQuery, entries: Iterable[tuple[str, LedgerEntry]]
) -> dict[tuple[str, str], int]:
    """:meth:`ReportSource.report_points` from (community, entry) pairs, each entry once."""
    tz = zone(q.timezone)
    out: Counter[tuple[str, str]] = Counter()
    for community, e in entries:
        if e.origin is not None:  # a person's entry: in the group where it happened
            community = e.origin[0]
        day = local_day(e.at, tz)
        if day is not None and q.start <= day <= q.end and q.wants(community):
            out[(e.currency, e.kind)] += abs(e.amount)
    return dict(out)


def points_entries(
    ledgers: Callable[[str | None], Iterator[tuple[str, str, LedgerEntry]]], query: ReportQuery
) -> Iterator[tuple[str, LedgerEntry]]:
    """(community, entry) of every ledger entry a report of ``query.community`` counts:
    ``ledgers(community)`` lists a store's entries (:meth:`Store.ledgers`); a person's
    entries count in the group where they happened (docs/reference.md §4.3)."""
    persons = ledgers(PERSONS) if query.community is not None else iter(())
    for name, _, e in itertools.chain(ledgers(query.community), persons):
        if query.wants(e.origin[0] if e.origin is not None else name):
            yield name, e


def newest_day(
    timezone: str, community: str | None, activity: Iterable[ActivityRow], clock: Any
) -> date | None:
    """:meth:`ReportSource.report_newest_day` from a store's activity and clock."""
    newest = max(
        (day for c, _, day, _, _ in activity if community is None or c == community), default=None
    )
    if newest is not None:
        return date.fromisoformat(newest)
    return local_day(clock, zone(timezone))


def member_rows(state: State) -> Iterator[MemberRow]:
    """What a report needs of every member of ``state``."""
    for name, cs in state.communities.items():
        if name == PERSONS:  # persons are not members of a group (docs/reference.md §4.3)
            continue
        for mid in cs.member_ids():  # stored members too, read one at a time
            m = cs.peek(mid)
            if m is not None:
                yield name, m.id, m.joined_at, m.status


class StoreReports:
    """:class:`ReportSource` for a store that computes no reports itself (a plugin's):
    the aggregates from its public lists, read once — the whole state included, so it
    costs what the store holds, not what the period holds."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._state: State | None = None
        self._activity: list[ActivityRow] | None = None

    def _read(self) -> tuple[State, list[ActivityRow]]:
        if self._state is None or self._activity is None:
            self._state = self.store.open()
            self._activity = self.store.activity()
        return self._state, self._activity

    def report_context(self) -> ReportContext:
        return self.store.report_context()

    def report_communities(self) -> list[str]:
        state, activity = self._read()
        return sorted((set(state.communities) - {PERSONS}) | {row[0] for row in activity})

    def report_newest_day(self, timezone: str, community: str | None) -> date | None:
        state, activity = self._read()
        return newest_day(timezone, community, activity, state.clock)

    def report_clock(self) -> datetime | None:
        return self._read()[0].clock

    def report_members(self, query: ReportQuery) -> MemberTally:
        state, activity = self._read()
        marks = getattr(self.store, "member_marks", None)
        return tally_members(
            query, member_rows(state), activity, marks() if callable(marks) else ()
        )

    def report_daily_active(self, query: ReportQuery) -> dict[date, int]:
        return tally_daily_active(query, self._read()[1])

    def report_actions(self, query: ReportQuery) -> ActionTally:
        return tally_actions(query, ((i.action, i.status) for i in self.store.outbox()))

    def report_audit(self, query: ReportQuery) -> dict[tuple[str, str], int]:
        return tally_audit(query, self.store.audit_log())

    def report_experiments(self, query: ReportQuery) -> dict[tuple[str, str], tuple[int, int]]:
        return tally_experiments(query, self._read()[1])

    def report_breakdowns(self, query: ReportQuery) -> BreakdownTally:
        totals = getattr(self.store, "activity_totals", None)
        if callable(totals):
            return tally_breakdowns(query, totals())
        return tally_breakdowns(query, totals_of_activity(self._read()[1]))

    def report_points(self, query: ReportQuery) -> dict[tuple[str, str], int]:
        return tally_points(query, points_entries(self.store.ledgers, query))


def report_source(store: Store | ReportSource) -> ReportSource:
    """``store`` itself when it answers reports, else :class:`StoreReports` over it."""
    if isinstance(store, ReportSource):
        return store
    return StoreReports(store)
