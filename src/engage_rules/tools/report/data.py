"""What a report reads from a store: its context, then the period's aggregates.

A report never loads a store's state, activity, outbox or ledger.  It asks the store's
:class:`~engage_rules.store.reports.ReportSource` for counts over the period — per local
day, ISO week, rule, action type, audit reason, currency and entry kind — which the SQLite
store computes in SQL, so the cost of a report grows with the period and the number of
distinct days, rules and types, not with the number of events, members or actions.  The
figures (:mod:`.figures`, :mod:`.outcomes`) are pure functions of those counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from ...errors import ReportDataError as ReportDataError
from ...i18n import _
from ...store import Store
from ...store.report_breakdowns import BreakdownTally
from ...store.reports import (
    ActionTally,
    MemberTally,
    ReportQuery,
    ReportSource,
    report_source,
)
from .figures import Period


@dataclass(slots=True)
class ReportData:
    """What a report knows before it has a period: the playbook, its time zone and
    activity types, the community (None: every one) and the newest day with activity."""

    playbook: str
    timezone: str
    community: str | None  # None: every community
    #: The event types that count as activity (empty: every type but member.* events).
    activity_events: frozenset[str]
    #: The newest local day with any activity, else the day of the store's clock.
    newest_day: date | None = None
    #: Event types counted for goals that never make a member active (emitted ones).
    passive: frozenset[str] = frozenset()
    #: The playbook's experiments and their variants.
    experiments: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: The community's display name (the playbook's ``community.name``), for titles.
    community_name: str = ""
    #: The engine clock the store holds: the day it falls on is not over yet.
    clock: datetime | None = None

    def query(self, period: Period, goal: str, churn_days: int = 30) -> ReportQuery:
        """The store query for ``period`` with the conversion ``goal``."""
        return ReportQuery(
            self.timezone,
            self.community,
            period.start,
            period.end,
            self.activity_events,
            goal,
            self.passive,
            churn_days,
        )


@dataclass(slots=True)
class PeriodData:
    """The aggregates one report is computed from (docs/reports.md defines the figures)."""

    period: Period
    goal: str = "purchase"
    members: MemberTally = field(default_factory=MemberTally)
    #: Members active on each day of the period.
    daily_active: dict[date, int] = field(default_factory=dict)
    actions: ActionTally = field(default_factory=ActionTally)
    #: Audit log entries by (action, reason).
    audit: dict[tuple[str, str], int] = field(default_factory=dict)
    #: Ledger amounts by (currency, kind).
    points: dict[tuple[str, str], int] = field(default_factory=dict)
    #: (experiment, variant) -> (members exposed, of them converted).
    experiments: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    #: Events per day and type, per community and per channel.
    breakdowns: BreakdownTally = field(default_factory=BreakdownTally)


def read_store(store: Store | ReportSource, community: str | None) -> ReportData:
    """What ``store`` says about the report for ``community`` (None: all) before its
    period is chosen.

    Raises :class:`ReportDataError` for a community the store does not know.
    """
    source = report_source(store)
    context = source.report_context()
    if community is not None:
        known = source.report_communities()
        if community not in known:
            listed = ", ".join(known) or _("none yet")
            raise ReportDataError(
                _("the store has no community {name!r} (communities: {listed})").format(
                    name=community, listed=listed
                )
            )
    return ReportData(
        context.playbook,
        context.timezone,
        community,
        frozenset(context.activity_events),
        source.report_newest_day(context.timezone, community),
        context.passive_events,
        context.experiments,
        context.community_name,
        source.report_clock(),
    )


def read_period(
    store: Store | ReportSource,
    data: ReportData,
    period: Period,
    goal: str = "purchase",
    churn_days: int = 30,
) -> PeriodData:
    """The aggregates of ``period`` from ``store`` (one query per kind of figure)."""
    source = report_source(store)
    query = data.query(period, goal, churn_days)
    return PeriodData(
        period,
        goal,
        members=source.report_members(query),
        daily_active=source.report_daily_active(query),
        actions=source.report_actions(query),
        audit=source.report_audit(query),
        points=source.report_points(query),
        experiments=source.report_experiments(query),
        breakdowns=source.report_breakdowns(query),
    )
