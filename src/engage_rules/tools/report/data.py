"""What a report reads from a store, as plain data in the playbook's local days.

The figures (:mod:`.figures`) never touch a store: this module reads the store once —
daily activity counts, members, the outbox, the audit log and the ledgers — converts every
instant to the calendar day in the playbook's time zone, and keeps only the community the
report is about.  That keeps the figures pure, testable on hand-written data, and makes
the cost of a report one pass over each of the store's lists.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from ...errors import ReportDataError as ReportDataError
from ...store import Store
from ...store.records import zone


@dataclass(slots=True)
class MemberFacts:
    """What the state says about one member: when they first joined and their status."""

    community: str
    member: str
    joined: date | None  # the local day of the first member.joined, if any
    status: str  # active | muted | banned | left


@dataclass(slots=True)
class ActionFact:
    """One outbox action, on the local day it takes effect."""

    community: str
    type: str
    member: str | None
    rule: str
    cause: str
    day: date
    status: str  # pending | sending | delivered | failed | shadow
    direct: bool  # a `send` addressed to a member (a direct message), not to a channel


@dataclass(slots=True)
class AuditFact:
    """One audit log entry, as the report counts it."""

    community: str
    action: str  # message_suppressed, message_deferred, mute, ...
    reason: str
    day: date


@dataclass(slots=True)
class LedgerFact:
    """One ledger entry, as the report counts it."""

    community: str
    member: str
    currency: str
    kind: str  # award | spend | revoke | expire
    amount: int
    day: date


@dataclass(slots=True)
class ReportData:
    """Everything a report is computed from, for one community or all of them."""

    playbook: str
    timezone: str
    community: str | None  # None: every community
    #: The event types that count as activity (empty: every type but member.* events).
    activity_events: frozenset[str]
    #: (community, member, day, event type, events)
    activity: list[tuple[str, str, date, str, int]] = field(default_factory=list)
    members: list[MemberFacts] = field(default_factory=list)
    actions: list[ActionFact] = field(default_factory=list)
    audit: list[AuditFact] = field(default_factory=list)
    ledger: list[LedgerFact] = field(default_factory=list)
    #: The newest local day with any activity, else the day of the store's clock.
    newest_day: date | None = None

    def is_activity(self, event_type: str) -> bool:
        if self.activity_events:
            return event_type in self.activity_events
        return not event_type.startswith("member.")


def _day(value: Any, tz: ZoneInfo) -> date | None:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(tz).date()
    return None


def communities_of(store: Store) -> list[str]:
    """Every community the store has members or activity of, sorted."""
    names = set(store.open().communities)
    names.update(row[0] for row in store.activity())
    return sorted(names)


def read_store(store: Store, community: str | None) -> ReportData:
    """Read everything a report needs from ``store``, for ``community`` (None: all).

    Raises :class:`ReportDataError` for a community the store does not know.
    """
    context = store.report_context()
    tz = zone(context.timezone)
    state = store.open()
    known = set(state.communities)
    rows = store.activity()
    known.update(r[0] for r in rows)
    if community is not None and community not in known:
        listed = ", ".join(sorted(known)) or "none yet"
        raise ReportDataError(f"the store has no community {community!r} (communities: {listed})")

    def wanted(name: str) -> bool:
        return community is None or name == community

    data = ReportData(
        context.playbook, context.timezone, community, frozenset(context.activity_events)
    )
    newest: date | None = None
    day_cache: dict[str, date] = {}
    for c, member, day_text, event_type, events in rows:
        if not wanted(c):
            continue
        day = day_cache.get(day_text)
        if day is None:
            day = day_cache[day_text] = date.fromisoformat(day_text)
        data.activity.append((c, member, day, event_type, events))
        if newest is None or day > newest:
            newest = day
    for name, cs in state.communities.items():
        if not wanted(name):
            continue
        for mid in cs.member_ids():
            m = cs.peek(mid)
            if m is None:
                continue
            data.members.append(MemberFacts(name, m.id, _day(m.joined_at, tz), m.status))
    for name, mid, e in store.ledgers(community):
        entry_day = _day(e.at, tz)
        if entry_day is not None:
            data.ledger.append(LedgerFact(name, mid, e.currency, e.kind, abs(e.amount), entry_day))
    data.actions = list(_actions(store, tz, wanted))
    data.audit = list(_audit(store.audit_log(), tz, wanted))
    if newest is None:
        newest = _day(state.clock, tz)
    data.newest_day = newest
    return data


def _actions(store: Store, tz: ZoneInfo, wanted: Any) -> Iterable[ActionFact]:
    days: dict[datetime, date] = {}
    for item in store.outbox():
        a = item.action
        if not wanted(a.community):
            continue
        day = days.get(a.at)
        if day is None:
            day = days[a.at] = a.at.astimezone(tz).date()
        direct = a.type == "send" and a.member is not None and not a.params.get("channel")
        yield ActionFact(a.community, a.type, a.member, a.rule, a.cause, day, item.status, direct)


def _audit(entries: list[dict[str, Any]], tz: ZoneInfo, wanted: Any) -> Iterable[AuditFact]:
    for e in entries:
        community = str(e.get("community") or "default")
        day = _day(e.get("at"), tz)
        if day is None or not wanted(community):
            continue
        yield AuditFact(community, str(e.get("action", "")), str(e.get("reason") or ""), day)
