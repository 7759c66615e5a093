"""Lists of members for ``engage-rules report`` (docs/reports.md, "Member lists"): who
went silent in the period, who churned, and the top contributors.

A list is asked for with a :class:`MemberListQuery` (a report's query, the kind of list,
``--churn-after`` and how many members at most) and comes back as an iterator of
:class:`ListedMember`, in the list's order, so an export writes it row by row.  The
SQLite and PostgreSQL stores answer in SQL, sorted and cut by the database
(sqlite_member_lists.py, postgres_member_lists.py); the memory store and any store
without :class:`MemberListSource` (a plugin's), with :func:`list_members` below, the
reference the SQL must agree with (tests/test_report_member_lists.py).

The definitions (with :mod:`.reports`'s *belongs* and *active*):

- *silent* (newly silent): members at the period's end, last active in the period, who
  have not been active for 7 days or more on its last day, but fewer than
  ``churn_days`` (then they are churned); the longest silent first;
- *churned*: members at the period's end, active at some time, not active in the last
  ``churn_days`` days of the period (the report's *churned* figure counts them); the
  most recently active first;
- *top*: members with activity in the period, by their activity events in it, then by
  their active days; with the points awarded to them in the period (every currency).
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ..model.persons import PERSONS
from ..model.state import LedgerEntry
from .records import zone
from .reports import ActivityRow, MemberRow, ReportQuery, _member_days, local_day, member_rows

if TYPE_CHECKING:
    from .base import Store

#: The kinds of list, in the order a report shows them.
LIST_KINDS = ("silent", "churned", "top")
#: Days without activity from which a member counts as silent.
SILENT_DAYS = 7


@dataclass(frozen=True, slots=True)
class MemberListQuery:
    """One list: its kind (:data:`LIST_KINDS`) over a report's query, with the report's
    ``--churn-after`` in days, and at most ``limit`` members (None: all)."""

    report: ReportQuery
    kind: str
    churn_days: int = 30
    limit: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in LIST_KINDS:
            raise ValueError(f"unknown kind of member list {self.kind!r}")

    def last_active_range(self) -> tuple[date, date]:
        """The last active days (inclusive) of the members a silence list holds."""
        end = self.report.end
        if self.kind == "silent":
            return max(self.report.start, end - timedelta(days=self.churn_days - 1)), end - (
                timedelta(days=SILENT_DAYS)
            )
        return date.min, end - timedelta(days=self.churn_days)


@dataclass(frozen=True, slots=True)
class ListedMember:
    """One member of a list: who, and the figures the list shows about them."""

    community: str
    member: str
    name: str | None
    #: The last active day up to the period's end (None: never active).
    last_active: date | None
    #: In the period: activity events, days with activity, points awarded.
    events: int = 0
    active_days: int = 0
    points: int = 0


@runtime_checkable
class MemberListSource(Protocol):
    """A store that lists members for reports itself."""

    def report_member_list(self, query: MemberListQuery) -> Iterator[ListedMember]:
        """The members of one list, in its order (at most ``query.limit``)."""
        ...


# -- the reference implementation, in Python ------------------------------------------------


def _cut(rows: Iterable[ListedMember], limit: int | None) -> Iterator[ListedMember]:
    for i, row in enumerate(rows):
        if limit is not None and i >= limit:
            return
        yield row


def list_members(
    q: MemberListQuery,
    members: Iterable[MemberRow],
    activity: Iterable[ActivityRow],
    names: dict[tuple[str, str], str | None],
    awards: Iterable[tuple[str, str, LedgerEntry]],
) -> Iterator[ListedMember]:
    """:meth:`MemberListSource.report_member_list` from a store's members, activity,
    display names and ledger entries (community, member, entry)."""
    r = q.report
    if q.kind == "top":
        return _cut(_top(r, activity, names, awards), q.limit)
    activity = list(activity)
    low, high = q.last_active_range()
    low_text, high_text = low.isoformat(), high.isoformat()
    found = []
    for (community, member), m in _member_days(r, members, activity).items():
        seen = m.seen
        belongs = (seen is None or seen <= r.end.isoformat()) and not m.left_by_end()
        last = m.last_active
        if belongs and last is not None and low_text <= last <= high_text:
            found.append(
                ListedMember(
                    community, member, names.get((community, member)), date.fromisoformat(last)
                )
            )
    if q.kind == "silent":  # the longest silent first
        found.sort(key=lambda x: (x.last_active or date.min, x.community, x.member))
    else:  # churned: the most recently active first
        found.sort(key=lambda x: (-(x.last_active or date.min).toordinal(), x.community, x.member))
    return _cut(found, q.limit)


def _top(
    r: ReportQuery,
    activity: Iterable[ActivityRow],
    names: dict[tuple[str, str], str | None],
    awards: Iterable[tuple[str, str, LedgerEntry]],
) -> list[ListedMember]:
    start, end = r.start.isoformat(), r.end.isoformat()
    events: Counter[tuple[str, str]] = Counter()
    days: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
    last: dict[tuple[str, str], str] = {}
    for community, member, day, event_type, n in activity:
        if start <= day <= end and r.wants(community) and r.is_activity(event_type):
            key = (community, member)
            events[key] += n
            days[key].add(day)
            last[key] = max(last.get(key, day), day)
    tz = zone(r.timezone)
    points: Counter[tuple[str, str]] = Counter()
    for community, member, e in awards:
        if e.kind == "award" and (community, member) in events:
            awarded = local_day(e.at, tz)
            if awarded is not None and r.start <= awarded <= r.end:
                points[(community, member)] += abs(e.amount)
    ranked = sorted(events, key=lambda k: (-events[k], -len(days[k]), k))
    return [
        ListedMember(
            k[0],
            k[1],
            names.get(k),
            date.fromisoformat(last[k]),
            events[k],
            len(days[k]),
            points[k],
        )
        for k in ranked
    ]


class StoreMemberLists:
    """:class:`MemberListSource` for a store that lists no members itself: the lists
    from its public state, activity and ledgers (what the whole store holds)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def report_member_list(self, query: MemberListQuery) -> Iterator[ListedMember]:
        state = self.store.open()
        names = {
            (name, mid): m.name
            for name, cs in state.communities.items()
            for mid in cs.member_ids()
            if (m := cs.peek(mid)) is not None
        }
        community = query.report.community
        awards: Iterable[tuple[str, str, LedgerEntry]] = ()
        if query.kind == "top":  # a person's awards count for the account of each
            own = self.store.ledgers(community)
            listed = community is not None and PERSONS in state.communities  # (else in own)
            persons = self.store.ledgers(PERSONS) if listed else iter(())
            awards = (
                (*e.origin, e) if e.origin is not None else (c, m, e)
                for c, m, e in itertools.chain(own, persons)
            )
        return list_members(query, member_rows(state), self.store.activity(), names, awards)


def member_list_source(store: Store | MemberListSource) -> MemberListSource:
    """``store`` itself when it lists members, else :class:`StoreMemberLists` over it."""
    if isinstance(store, MemberListSource):
        return store
    return StoreMemberLists(store)
