"""The PostgreSQL store's answers to :class:`~.reports.ReportSource`: SQL aggregates.

The figures are those of :mod:`.reports` (the Python reference) and of
:mod:`.sqlite_reports`, whose :class:`~.sqlite_reports.LocalDays` gives the local day
of an instant (whole Unix seconds) as SQL both databases run.  PostgreSQL counts
distinct values itself, so the member figures are one pass over a temporary table of
one row per member, and the causes a rule acted on a ``count(DISTINCT cause)``.  Each
method reads one snapshot (a repeatable-read transaction).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import date, datetime
from typing import Any

import psycopg

from ..model.persons import PERSONS
from .records import zone
from .report_breakdowns import BreakdownTally, tally_breakdowns
from .reports import (
    DAY_RETENTION,
    ActionTally,
    MemberTally,
    ReportQuery,
    dimension_of,
    local_day,
    month_start,
    split_exposure,
)
from .sqlite_reports import LocalDays

Snapshot = Callable[[], AbstractContextManager[psycopg.Connection]]
Decoding = Callable[[str], AbstractContextManager[None]]

#: One row per member with the days the member figures need (as in sqlite_reports.py,
#: where the columns are described); dropped when the transaction ends.
_MEMBERS = """
CREATE TEMP TABLE report_members ON COMMIT DROP AS
WITH act AS (
    SELECT community, member, min(day) AS first,
        max(day) FILTER (WHERE type = 'member.left' AND day <= %(end)s) AS last_leave,
        bool_or(type = 'member.left') AS any_leave,
        max(day) FILTER (WHERE type = 'member.joined' AND day <= %(end)s) AS last_join,
        max(day) FILTER (WHERE day <= %(end)s AND {active}) AS last_active,
        sum(events) FILTER (WHERE type = %(goal)s AND day BETWEEN %(start)s AND %(end)s)
            AS goal,
        max(day) FILTER (WHERE type = 'member.left' AND day < %(start)s) AS before_leave,
        max(day) FILTER (WHERE type = 'member.joined' AND day < %(start)s) AS before_join,
        max(day) FILTER (WHERE day < %(start)s AND {active}) AS before_active,
        max(day) FILTER (WHERE type = %(goal)s AND day BETWEEN %(start)s AND %(end)s)
            AS last_goal
    FROM activity{where}
    GROUP BY community, member
), state AS (
    SELECT community, id AS member,
        DATE '1970-01-01' + CAST({joined_day} AS INTEGER) AS joined, status = 'left' AS left_now
    FROM (SELECT * FROM members WHERE community <> '@persons') AS members{where}
), joined AS (
    SELECT coalesce(a.community, s.community) AS community,
        coalesce(a.member, s.member) AS member, a.first, a.last_leave,
        coalesce(a.any_leave, false) AS any_leave, a.last_join, a.last_active, a.goal,
        s.joined, coalesce(s.left_now, false) AS left_now, a.before_leave, a.before_join,
        a.before_active, a.last_goal
    FROM act AS a FULL JOIN state AS s ON a.community = s.community AND a.member = s.member
), seen AS (
    SELECT *, CASE WHEN joined IS NULL OR first < joined THEN first ELSE joined END AS seen
    FROM joined
)
SELECT community, member, last_leave, last_active, goal, seen,
    CASE WHEN seen BETWEEN %(start)s AND %(end)s
        THEN seen - (CAST(extract(isodow FROM seen) AS INTEGER) - 1) END AS cohort,
    (seen IS NULL OR seen <= %(end)s) AND NOT CASE
        WHEN last_leave IS NULL THEN left_now AND NOT any_leave
        ELSE last_join IS NULL OR last_join <= last_leave END AS belongs,
    (seen IS NULL OR seen < %(start)s) AND NOT CASE
        WHEN before_leave IS NULL THEN left_now AND NOT any_leave
        ELSE before_join IS NULL OR before_join <= before_leave END AS at_start,
    before_active, last_goal
FROM seen"""

#: Conversion by dimension (as in sqlite_reports.py).
_DIMENSIONS = """
SELECT m.mark, count(*), count(*) FILTER (WHERE r.last_goal >= m.day)
FROM member_marks AS m JOIN report_members AS r
    ON r.community = m.community AND r.member = m.member
WHERE m.day <= %(end)s
GROUP BY m.mark"""

#: Day-N retention (as in sqlite_reports.py).
_DAY_RETENTION = """
SELECT r.seen, {n}, count(*) FROM report_members AS r
WHERE r.cohort IS NOT NULL AND r.seen + {n} <= %(end)s AND EXISTS (
    SELECT 1 FROM activity AS a WHERE a.day = r.seen + {n}
        AND a.community = r.community AND a.member = r.member AND {active})
GROUP BY r.seen"""

#: Monthly retention (as in sqlite_reports.py).
_MONTHLY_RETENTION = """
SELECT cohort, month, count(*) FROM (
    SELECT DISTINCT r.community, r.member, CAST(date_trunc('month', r.seen) AS DATE) AS cohort,
        (extract(year FROM a.day) * 12 + extract(month FROM a.day))
        - (extract(year FROM r.seen) * 12 + extract(month FROM r.seen)) AS month
    FROM report_members AS r JOIN activity AS a
        ON a.community = r.community AND a.member = r.member
    WHERE r.cohort IS NOT NULL AND a.day >= date_trunc('month', r.seen)
        AND a.day <= %(end)s AND {active}
) AS months
GROUP BY cohort, month"""

#: Churn (as in sqlite_reports.py).
_CHURN = """
SELECT count(*), count(*) FILTER (WHERE NOT coalesce(
        %(start)s - 1 - before_active >= %(churn)s, false)
    AND (NOT belongs OR coalesce(%(end)s - last_active >= %(churn)s, false)))
FROM report_members WHERE at_start"""

#: The distinct (member, week since the cohort's Monday) pairs of the cohorts' activity.
_RETENTION = """
SELECT cohort, week, count(*) FROM (
    SELECT DISTINCT r.community, r.member, r.cohort, (a.day - r.cohort) / 7 AS week
    FROM report_members AS r JOIN activity AS a
        ON a.community = r.community AND a.member = r.member
    WHERE r.cohort IS NOT NULL AND a.day >= r.cohort AND a.day <= %(end)s AND {active}
) AS weeks
GROUP BY cohort, week"""


#: Memory for the sorts and hashes of one report query (PostgreSQL's default, 4 MB, makes
#: the retention joins of a million events spill to disk): this transaction only.
REPORT_WORK_MEM = "64MB"


def report_members(
    conn: psycopg.Connection, q: ReportQuery, days: LocalDays, params: dict[str, Any]
) -> None:
    """Create the transaction's ``report_members`` table (:data:`_MEMBERS`) and analyse
    it: a temporary table has no statistics until then (autovacuum never visits one),
    and the joins with ``activity`` that read it were planned blind."""
    conn.execute(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'".encode())
    conn.execute(
        _MEMBERS.format(active=_active(q), where=_where(q), joined_day=days.sql("joined")).encode(),
        params,
    )
    conn.execute(b"ANALYZE report_members")


def _params(q: ReportQuery) -> dict[str, Any]:
    return {
        "start": q.start,
        "end": q.end,
        "goal": q.goal,
        "types": sorted(q.activity_events),
        "passive": sorted(q.passive),
        "community": q.community,
        "churn": q.churn_days,
        "first_month": month_start(q.start),
    }


def _where(q: ReportQuery, *conditions: str) -> str:
    """A WHERE clause of ``conditions`` and the community filter."""
    parts = list(conditions)
    if q.community is not None:
        parts.append("community = %(community)s")
    return (" WHERE " + " AND ".join(parts)) if parts else ""


def _active(q: ReportQuery, column: str = "type") -> str:
    """SQL: events of ``column``'s type make a member active."""
    if q.activity_events:
        return f"{column} = ANY(%(types)s)"
    # A type with a colon is bookkeeping (an exposure to an experiment): never activity.
    base = f"left({column}, 7) <> 'member.' AND strpos({column}, ':') = 0"
    if q.passive:
        return f"{base} AND NOT ({column} = ANY(%(passive)s))"
    return base


def _clock(conn: Any) -> datetime | None:
    """The engine clock the store's ``meta`` holds."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'clock'").fetchone()
    try:
        return datetime.fromisoformat(row[0]) if row and row[0] else None
    except (TypeError, ValueError):  # unreadable: no clock, as local_day reads it
        return None


class PostgresReports:
    """The report aggregates over one store's connection (``snapshot``: a consistent
    read of it; ``decoding``: errors of stored data named by table)."""

    def __init__(self, snapshot: Snapshot, decoding: Decoding) -> None:
        self._snapshot = snapshot
        self._decoding = decoding

    def _rows(self, query: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        with self._snapshot() as conn:
            return conn.execute(query.encode(), params).fetchall()

    def communities(self) -> list[str]:
        """Every community with data, members or activity, sorted."""
        return [
            name
            for (name,) in self._rows(
                "SELECT name FROM communities UNION SELECT community FROM members "
                "UNION SELECT community FROM activity ORDER BY 1"
            )
            if name != PERSONS  # (persons are not a group: docs/reference.md §4.3)
        ]

    def clock(self) -> datetime | None:
        """The engine clock the store holds."""
        with self._snapshot() as conn, self._decoding("meta"):
            return _clock(conn)

    def newest_day(self, timezone: str, community: str | None) -> date | None:
        """The newest day with activity (of ``community``), else the day of the clock."""
        with self._snapshot() as conn:
            if community is None:
                row = conn.execute("SELECT max(day) FROM activity").fetchone()
            else:
                row = conn.execute(
                    "SELECT max(day) FROM activity WHERE community = %s", (community,)
                ).fetchone()
            if row is not None and row[0] is not None:
                day: date = row[0]
                return day
            with self._decoding("meta"):
                return local_day(_clock(conn), zone(timezone))

    def members(self, q: ReportQuery) -> MemberTally:
        """:meth:`~.reports.ReportSource.report_members` in SQL."""
        days = LocalDays(zone(q.timezone), q.start, q.end)
        params = _params(q)
        with self._snapshot() as conn:
            report_members(conn, q, days, params)
            first_seen: dict[date, int] = dict(
                conn.execute(
                    "SELECT seen, count(*) FROM report_members WHERE cohort IS NOT NULL "
                    "GROUP BY seen"
                ).fetchall()
            )
            left: dict[date, int] = dict(
                conn.execute(
                    "SELECT last_leave, count(*) FROM report_members "
                    "WHERE last_leave >= %(start)s GROUP BY last_leave",
                    params,
                ).fetchall()
            )
            by_last_active: defaultdict[tuple[date | None, bool, bool], int] = defaultdict(int)
            for last, belongs, active, n in conn.execute(
                "SELECT last_active, belongs, coalesce(last_active >= %(start)s, false), "
                "count(*) FROM report_members GROUP BY 1, 2, 3",
                params,
            ):
                by_last_active[(last, bool(belongs), bool(active))] += n
            goal_events, converters = conn.execute(
                "SELECT coalesce(sum(goal), 0), count(goal) FROM report_members"
            ).fetchone() or (0, 0)
            retention = {
                (cohort, int(week)): n
                for cohort, week, n in conn.execute(
                    _RETENTION.format(active=_active(q, "a.type")).encode(), params
                )
            }
            active = _active(q, "a.type")
            day_retention = {
                (day, int(n)): int(count)
                for k in DAY_RETENTION
                for day, n, count in conn.execute(
                    _DAY_RETENTION.format(n=k, active=active).encode(), params
                )
            }
            monthly = {
                (cohort, int(k)): int(count)
                for cohort, k, count in conn.execute(
                    _MONTHLY_RETENTION.format(active=active).encode(), params
                )
            }
            at_start, churned = conn.execute(_CHURN.encode(), params).fetchone() or (0, 0)
            active_by_community = {
                c: int(n)
                for c, n in conn.execute(
                    "SELECT community, count(*) FROM report_members "
                    "WHERE last_active >= %(start)s GROUP BY community",
                    params,
                )
            }
            dimensions = {}
            for type_, n, converted in conn.execute(_DIMENSIONS.encode(), params):
                split = dimension_of(type_)
                if split is not None:
                    dimensions[split] = (int(n), int(converted))
        return MemberTally(
            first_seen,
            left,
            dict(by_last_active),
            retention,
            int(goal_events),
            int(converters),
            day_retention,
            monthly,
            int(at_start),
            int(churned),
            active_by_community,
            dimensions,
        )

    def breakdowns(self, q: ReportQuery) -> BreakdownTally:
        """:meth:`~.reports.ReportSource.report_breakdowns` from the day totals."""
        where = _where(q, "day BETWEEN %(start)s AND %(end)s")
        rows = self._rows(
            f"SELECT community, day, type, events FROM activity_totals{where}", _params(q)
        )
        return tally_breakdowns(q, ((c, day.isoformat(), t, int(n)) for c, day, t, n in rows))

    def daily_active(self, q: ReportQuery) -> dict[date, int]:
        """:meth:`~.reports.ReportSource.report_daily_active` in SQL."""
        where = _where(q, "day BETWEEN %(start)s AND %(end)s", _active(q))
        return dict(
            self._rows(
                "SELECT day, count(*) FROM "
                f"(SELECT DISTINCT day, community, member FROM activity{where}) AS d "
                "GROUP BY day",
                _params(q),
            )
        )

    def experiments(self, q: ReportQuery) -> dict[tuple[str, str], tuple[int, int]]:
        """:meth:`~.reports.ReportSource.report_experiments` in SQL."""
        where_e = _where(q, "type LIKE 'experiment:%%'", "day <= %(end)s")
        where_g = _where(q, "type = %(goal)s", "day BETWEEN %(start)s AND %(end)s")
        out: dict[tuple[str, str], tuple[int, int]] = {}
        for type_, exposed, converted in self._rows(
            "SELECT e.type, count(*), count(g.member) FROM ("
            f"SELECT community, member, type, min(day) AS day FROM activity{where_e} "
            "GROUP BY community, member, type) AS e LEFT JOIN ("
            f"SELECT community, member, max(day) AS last FROM activity{where_g} "
            "GROUP BY community, member) AS g ON g.community = e.community "
            "AND g.member = e.member AND g.last >= e.day GROUP BY e.type",
            _params(q),
        ):
            split = split_exposure(type_)
            if split is not None:
                out[split] = (int(exposed), int(converted))
        return out

    def actions(self, q: ReportQuery) -> ActionTally:
        """:meth:`~.reports.ReportSource.report_actions` in SQL."""
        days = LocalDays(zone(q.timezone), q.start, q.end)
        where = _where(q, days.in_period("ts"))
        params = _params(q)
        with self._snapshot() as conn:
            rules = {
                rule: (int(causes), int(n))
                for rule, n, causes in conn.execute(
                    "SELECT rule, count(*), count(DISTINCT cause) FROM outbox"
                    f"{where} AND status <> 'shadow' GROUP BY rule".encode(),
                    params,
                )
            }
            types = {
                (type_, bool(direct)): int(n)
                for type_, direct, n in conn.execute(
                    "SELECT type, coalesce(direct, false), count(*) FROM outbox"
                    f"{where} AND status <> 'shadow' GROUP BY 1, 2".encode(),
                    params,
                )
            }
            shadow = {
                (rule, type_): (int(n), int(members))
                for rule, type_, n, members in conn.execute(
                    "SELECT rule, type, count(*), count(DISTINCT member) FROM outbox"
                    f"{where} AND status = 'shadow' GROUP BY rule, type".encode(),
                    params,
                )
            }
        return ActionTally(rules, types, shadow)

    def audit(self, q: ReportQuery) -> dict[tuple[str, str], int]:
        """:meth:`~.reports.ReportSource.report_audit` in SQL."""
        days = LocalDays(zone(q.timezone), q.start, q.end)
        where = _where(q, days.in_period("ts"))
        return {
            (action, reason): int(n)
            for action, reason, n in self._rows(
                f"SELECT action, reason, count(*) FROM audit{where} GROUP BY action, reason",
                _params(q),
            )
        }

    def points(self, q: ReportQuery) -> dict[tuple[str, str], int]:
        """:meth:`~.reports.ReportSource.report_points` in SQL."""
        days = LocalDays(zone(q.timezone), q.start, q.end)
        # A person's entry counts in the group where it happened (docs/reference.md §4.3).
        where = _where(replace(q, community=None), days.in_period("ts"))
        if q.community is not None:
            where += (
                " AND (community = %(community)s OR (community = '@persons' "
                "AND (json::jsonb ->> 'community') = %(community)s))"
            )
        return {
            (currency, kind): int(total)
            for currency, kind, total in self._rows(
                "SELECT coalesce(currency, ''), coalesce(kind, ''), sum(abs(amount)) "
                f"FROM ledger{where} GROUP BY 1, 2",
                _params(q),
            )
        }
