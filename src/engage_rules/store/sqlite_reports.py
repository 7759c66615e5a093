"""The SQLite store's answers to :class:`~.reports.ReportSource`: SQL aggregates.

Every figure is a ``GROUP BY`` in the database; what comes back to Python is counts per
day, week, rule, type, reason, currency or kind — a few hundred rows for any store.  The
definitions are those of :mod:`.reports` (whose Python functions the memory store uses;
both must agree, tests/test_report_sources.py).

*Local days of instants.*  Ledger entries, actions, audit entries and joins are kept
with their instant as whole Unix seconds (``ts``, ``joined``).  Their local day is
``floor((ts + offset) / 86400)`` days after 1970-01-01, where ``offset`` is the time
zone's UTC offset at that instant.  The offset is constant between transitions, so
:class:`LocalDays` finds the few transitions around the period and writes the offset as
a ``CASE`` over ``ts``: exact for every instant within two days of the period, and on
the right side of it for every other one (all any figure asks) — no Python per row.
Activity is kept per local day already (``activity.day``).
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from contextlib import suppress
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from ..model.persons import PERSONS
from .records import zone
from .reports import (
    DAY_RETENTION,
    ActionTally,
    MemberTally,
    ReportQuery,
    dimension_of,
    local_day,
    monday,
    month_start,
    months_between,
    split_exposure,
)

DAY = 86400
#: 1970-01-01, day 0 of the day numbers below.
EPOCH_DAY = date(1970, 1, 1).toordinal()
#: Instants outside these years are not looked up in the time zone database.
_MIN_TS = int(datetime(2, 1, 1, tzinfo=UTC).timestamp())
_MAX_TS = int(datetime(9998, 1, 1, tzinfo=UTC).timestamp())
#: How often the UTC offset is sampled when looking for transitions (zones change their
#: offset at most a few times a year, never twice within hours).
_SAMPLE = 6 * 3600


def day_number(day: date) -> int:
    """Days from 1970-01-01 to ``day``."""
    return day.toordinal() - EPOCH_DAY


class LocalDays:
    """The local day number of a Unix-seconds column, as SQL, around one period.

    :attr:`lo` and :attr:`hi` bound the instants whose local day can fall in the period
    (with two days to spare): ``ts >= lo AND ts < hi`` lets a query skip the rest.
    """

    def __init__(self, tz: ZoneInfo, start: date, end: date) -> None:
        self.start, self.end = day_number(start), day_number(end)
        # Local midnights are within 14 hours of UTC midnight: three days cover them.
        self.lo = self.start * DAY - 3 * DAY
        self.hi = (self.end + 1) * DAY + 3 * DAY
        self.offsets = _offsets(tz, self.lo, self.hi)

    def sql(self, column: str) -> str:
        """The local day number of ``column`` (integer seconds; NULL stays NULL)."""
        offset = str(self.offsets[-1][1])
        if len(self.offsets) > 1:
            branches = " ".join(
                f"WHEN {column} < {since} THEN {off}"
                for (_, off), (since, _) in zip(self.offsets, self.offsets[1:], strict=False)
            )
            offset = f"CASE {branches} ELSE {offset} END"
        local = f"({column} + {offset})"
        if self.lo > DAY:  # every instant near the period is after 1970: / is floor there
            return f"({local} / {DAY})"
        return (
            f"(CASE WHEN {local} >= 0 THEN {local} / {DAY} ELSE ({local} - {DAY - 1}) / {DAY} END)"
        )

    def in_period(self, column: str) -> str:
        """SQL: ``column`` (Unix seconds) falls on a local day of the period."""
        return (
            f"{column} >= {self.lo} AND {column} < {self.hi} "
            f"AND {self.sql(column)} BETWEEN {self.start} AND {self.end}"
        )


def _offset(tz: ZoneInfo, ts: int) -> int:
    ts = min(max(ts, _MIN_TS), _MAX_TS)
    delta = datetime.fromtimestamp(ts, tz).utcoffset()
    return int(delta.total_seconds()) if delta is not None else 0


def _offsets(tz: ZoneInfo, lo: int, hi: int) -> list[tuple[int, int]]:
    """(first second, UTC offset) of each stretch of constant offset in [lo, hi]."""
    out = [(lo, _offset(tz, lo))]
    t = lo
    while t < hi:
        nxt = min(t + _SAMPLE, hi)
        if _offset(tz, nxt) != out[-1][1]:
            a, b = t, nxt  # the offset changes in (a, b]: find the first second of it
            while b - a > 1:
                mid = (a + b) // 2
                if _offset(tz, mid) == out[-1][1]:
                    a = mid
                else:
                    b = mid
            out.append((b, _offset(tz, b)))
        t = nxt
    return out


def _where(q: ReportQuery, *conditions: str) -> tuple[str, dict[str, object]]:
    """A WHERE clause of ``conditions`` and the community filter, and its parameters."""
    params: dict[str, object] = {
        "start": q.start.isoformat(),
        "end": q.end.isoformat(),
        "goal": q.goal,
        "types": orjson.dumps(sorted(q.activity_events)).decode(),
        "passive": orjson.dumps(sorted(q.passive)).decode(),
    }
    parts = list(conditions)
    if q.community is not None:
        parts.append("community = :community")
        params["community"] = q.community
    return (" WHERE " + " AND ".join(parts)) if parts else "", params


def _active(q: ReportQuery, column: str = "type") -> str:
    """SQL: events of ``column``'s type make a member active."""
    if q.activity_events:
        return f"{column} IN (SELECT value FROM json_each(:types))"
    # A type with a colon is bookkeeping (an exposure to an experiment): never activity.
    base = f"substr({column}, 1, 7) <> 'member.' AND instr({column}, ':') = 0"
    if q.passive:
        return f"{base} AND {column} NOT IN (SELECT value FROM json_each(:passive))"
    return base


def communities(db: sqlite3.Connection) -> list[str]:
    """Every community with data, members or activity, sorted."""
    return [
        name
        for (name,) in db.execute(
            "SELECT name FROM communities UNION SELECT community FROM members "
            "UNION SELECT community FROM activity ORDER BY 1"
        )
        if name != PERSONS  # (persons are not a group: docs/reference.md §4.3)
    ]


def newest_day(db: sqlite3.Connection, timezone: str, community: str | None) -> date | None:
    """The newest day with activity (of ``community``), else the day of the clock."""
    if community is None:
        row = db.execute("SELECT max(day) FROM activity").fetchone()
    else:
        row = db.execute(
            "SELECT day FROM activity WHERE community = ? ORDER BY day DESC LIMIT 1", (community,)
        ).fetchone()
    if row is not None and row[0] is not None:
        return date.fromisoformat(row[0])
    return local_day(store_clock(db), zone(timezone))


def store_clock(db: sqlite3.Connection) -> datetime | None:
    """The engine clock the store holds (how far its events and timers reached)."""
    row = db.execute("SELECT value FROM meta WHERE key = 'clock'").fetchone()
    try:
        return datetime.fromisoformat(row[0]) if row and row[0] else None
    except (TypeError, ValueError):  # unreadable: no clock, as local_day reads it
        return None


#: Weeks of a period up to which the members' active weeks are kept as the bits of one
#: integer (beyond, retention joins the activity again: _RETENTION_BY_JOIN).
MASK_WEEKS = 62

#: One row per member (in SQLite's temporary database) with the days the member
#: figures need; dropped when the tally is done.
_MEMBERS_TABLE = """
CREATE TEMP TABLE report_members (
    community TEXT NOT NULL,
    member TEXT NOT NULL,
    first TEXT,          -- the first day with an event
    last_leave TEXT,     -- the last leave up to the period's end
    any_leave INTEGER,   -- left at any time (after the period's end included)
    last_join TEXT,      -- the last join up to the period's end
    last_active TEXT,    -- the last active day up to the period's end
    weeks INTEGER,       -- bit k: active in week k from the period's first Monday
    goal INTEGER,        -- goal events in the period
    last_goal TEXT,      -- the last day with a goal event in the period
    months INTEGER,      -- bit k: active in month k from the period's first month
    joined TEXT,         -- the local day of the state's joined_at
    left_now INTEGER,    -- the state's status is "left"
    seen TEXT,           -- first seen
    cohort TEXT,         -- the Monday of ``seen``, when ``seen`` is in the period
    cohort_week INTEGER, -- its week from the period's first Monday
    belongs INTEGER,     -- a member at the period's end
    before_move TEXT,    -- the last join or leave before the period: day || type
    before_active TEXT,  -- the last active day before the period
    events INTEGER,      -- activity events in the period (member lists: top)
    days INTEGER,        -- days with activity in the period (member lists: top)
    PRIMARY KEY (community, member)
)"""


#: CAST(julianday(day) AS INTEGER) - day.toordinal(): the Julian day number of a date at
#: midnight is its proleptic ordinal + 1721424.5.
JULIAN_DAY_OFFSET = 1721424


def _week(day: str) -> str:
    """SQL: the week of ``day`` from the period's first Monday (days since it, over 7)."""
    return f"(CAST(julianday({day}) AS INTEGER) - :first_monday_jd) / 7"


#: Per member, from the activity: one sort by member, and aggregates...
_MEMBERS_ACTIVITY = """
INSERT INTO temp.report_members (community, member, first, last_leave, any_leave, last_join,
    last_active, weeks, goal, before_move, before_active, last_goal, months, events, days)
SELECT community, member, min(day),
    max(CASE WHEN type = 'member.left' AND day <= :end THEN day END),
    max(type = 'member.left'),
    max(CASE WHEN type = 'member.joined' AND day <= :end THEN day END),
    max(CASE WHEN day <= :end AND {active} THEN day END),
    {weeks},
    sum(CASE WHEN type = :goal AND day BETWEEN :start AND :end THEN events END),
    max(CASE WHEN (type = 'member.left' OR type = 'member.joined') AND day < :start
        THEN day || type END),
    max(CASE WHEN day < :start AND {active} THEN day END),
    max(CASE WHEN type = :goal AND day BETWEEN :start AND :end THEN day END),
    {months},
    sum(CASE WHEN day BETWEEN :start AND :end AND {active} THEN events END),
    count(DISTINCT CASE WHEN day BETWEEN :start AND :end AND {active} THEN day END)
FROM activity{where}
GROUP BY community, member"""

#: The distinct weeks (as bits) a member was active in, from the first Monday to the end.
_WEEKS_MASK = (
    f"sum(DISTINCT CASE WHEN day < :first_monday OR day > :end THEN NULL "
    f"WHEN {{active}} THEN 1 << {_week('day')} END)"
)

#: ... then from the members' state (the SELECT of an upsert needs a WHERE) ...
_MEMBERS_STATE = """
INSERT INTO temp.report_members (community, member, joined, left_now)
SELECT community, id, CASE WHEN joined IS NOT NULL THEN date({joined_day} * 86400, 'unixepoch') END,
    status = 'left'
FROM members{where} AND community <> '@persons'
ON CONFLICT (community, member) DO UPDATE SET joined = excluded.joined,
    left_now = excluded.left_now"""

#: ... and what follows from both (an UPDATE sees the row as it was: ``seen`` is
#: written out where it is used).
_SEEN = "CASE WHEN joined IS NULL OR first < joined THEN first ELSE joined END"
_COHORT = (
    f"CASE WHEN {_SEEN} BETWEEN :start AND :end THEN date({_SEEN}, '-6 days', 'weekday 1') END"
)
_MEMBERS_DERIVED = f"""
UPDATE temp.report_members SET
    seen = {_SEEN},
    cohort = {_COHORT},
    cohort_week = {_week(_COHORT)},
    belongs = ({_SEEN} IS NULL OR {_SEEN} <= :end) AND NOT CASE
        WHEN last_leave IS NULL THEN coalesce(left_now, 0) AND NOT coalesce(any_leave, 0)
        ELSE last_join IS NULL OR last_join <= last_leave END"""

#: Long periods: the distinct (member, week) pairs of the cohorts' activity, counted per
#: (cohort, week).  CROSS JOIN keeps activity (scanned by day, its key's prefix) outside.
_RETENTION_BY_JOIN = f"""
SELECT cohort, week - cohort_week, count(*) FROM (
    SELECT DISTINCT r.rowid, r.cohort, r.cohort_week, {_week("a.day")} AS week
    FROM activity AS a CROSS JOIN temp.report_members AS r
        ON r.community = a.community AND r.member = a.member
    WHERE a.day >= :first_monday AND a.day <= :end AND {{active}}
        AND r.cohort IS NOT NULL AND a.day >= r.cohort
)
GROUP BY cohort, week"""


#: Day-N retention: the members first seen on a day of the period active on day + N.
_DAY_RETENTION = """
SELECT r.seen, {n}, count(*) FROM temp.report_members AS r
WHERE r.cohort IS NOT NULL AND date(r.seen, '+{n} days') <= :end AND EXISTS (
    SELECT 1 FROM activity AS a WHERE a.day = date(r.seen, '+{n} days')
        AND a.community = r.community AND a.member = r.member AND {active})
GROUP BY r.seen"""


def _month(day: str) -> str:
    """SQL: months from year 0 to ``day``'s month."""
    return f"(CAST(substr({day}, 1, 4) AS INTEGER) * 12 + CAST(substr({day}, 6, 2) AS INTEGER))"


#: The distinct months (as bits) a member was active in, from the period's first month
#: to its end.
def _months_mask(q: ReportQuery, active: str) -> str:
    """SQL: the months a member was active in, as bits (month k from the period's first),
    the month found by comparing the day with each month's first day (text)."""
    firsts = []
    month = month_start(q.start)
    while True:
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        if month > q.end:
            break
        firsts.append(month.isoformat())
    bits = " ".join(f"WHEN day < '{first}' THEN {1 << k}" for k, first in enumerate(firsts))
    return (
        f"sum(DISTINCT CASE WHEN day < :first_month OR day > :end OR NOT ({active}) THEN NULL "
        f"{bits} ELSE {1 << len(firsts)} END)"
    )


#: Long periods (over MASK_WEEKS months): the distinct (member, months since the month
#: first seen) pairs of the cohorts' activity, counted per (cohort month, months since).
_MONTHLY_RETENTION = f"""
SELECT cohort, month, count(*) FROM (
    SELECT DISTINCT r.rowid, date(r.seen, 'start of month') AS cohort,
        {_month("a.day")} - {_month("r.seen")} AS month
    FROM activity AS a CROSS JOIN temp.report_members AS r
        ON r.community = a.community AND r.member = a.member
    WHERE a.day >= :first_month AND a.day <= :end AND {{active}}
        AND r.cohort IS NOT NULL AND a.day >= date(r.seen, 'start of month')
)
GROUP BY cohort, month"""

#: Conversion by dimension: per mark, the members marked by the period's end and
#: those of them with a goal event in the period on or after the day they were marked.
_DIMENSIONS = """
SELECT m.mark, count(*), count(CASE WHEN r.last_goal >= m.day THEN 1 END)
FROM member_marks AS m JOIN temp.report_members AS r
    ON r.community = m.community AND r.member = m.member
WHERE m.day <= :end
GROUP BY m.mark"""

#: Churn: the members at the end of the day before the period (``:before``), and those
#: of them not churned then who by the period's end have left or are churned.
_CHURN = """
SELECT count(*), coalesce(sum(CASE
    WHEN before_active IS NOT NULL
        AND julianday(:before) - julianday(before_active) >= :churn THEN 0
    WHEN NOT belongs THEN 1
    WHEN last_active IS NOT NULL AND julianday(:end) - julianday(last_active) >= :churn THEN 1
    ELSE 0 END), 0)
FROM temp.report_members
WHERE (seen IS NULL OR seen <= :before) AND NOT CASE
    WHEN before_move IS NULL THEN coalesce(left_now, 0) AND NOT coalesce(any_leave, 0)
    ELSE substr(before_move, 11) = 'member.left' END"""


def _cohort_figures(
    db: sqlite3.Connection, q: ReportQuery, params: dict[str, object]
) -> tuple[dict[tuple[date, int], int], dict[tuple[date, int], int], int, int]:
    """Day-N and monthly retention, and the churn counts, from the members table."""
    active = _active(q, "a.type")
    days = {
        (date.fromisoformat(day), int(n)): count
        for k in DAY_RETENTION
        for day, n, count in db.execute(_DAY_RETENTION.format(n=k, active=active), params)
    }
    if _months(q) > MASK_WEEKS:
        months = {
            (date.fromisoformat(cohort), int(k)): count
            for cohort, k, count in db.execute(_MONTHLY_RETENTION.format(active=active), params)
        }
    else:
        months = _monthly_from_masks(db, q)
    at_start, churned = db.execute(_CHURN, params).fetchone()
    return days, months, int(at_start), int(churned)


def _months(q: ReportQuery) -> int:
    """The calendar months the period touches."""
    return months_between(q.start, q.end) + 1


def _monthly_from_masks(db: sqlite3.Connection, q: ReportQuery) -> dict[tuple[date, int], int]:
    """(cohort month, months since) -> the cohort's members active that month."""
    n = _months(q)
    columns = ", ".join(f"sum((months >> {k}) & 1)" for k in range(n))
    out: dict[tuple[date, int], int] = {}
    for cohort, *counts in db.execute(
        f"SELECT date(seen, 'start of month') AS m, {columns} FROM temp.report_members "
        "WHERE cohort IS NOT NULL GROUP BY m"
    ):
        first = months_between(q.start, date.fromisoformat(cohort))
        for k in range(first, n):
            if counts[k]:
                out[(date.fromisoformat(cohort), k - first)] = counts[k]
    return out


def _member_breakdowns(
    db: sqlite3.Connection, q: ReportQuery, params: dict[str, object]
) -> tuple[dict[str, int], dict[tuple[str, str], tuple[int, int]]]:
    """Members active in the period per community, and conversion by dimension."""
    active = dict(
        db.execute(
            "SELECT community, count(*) FROM temp.report_members WHERE last_active >= :start "
            "GROUP BY community",
            params,
        )
    )
    dimensions = {}
    for type_, n, converted in db.execute(_DIMENSIONS, params):
        split = dimension_of(type_)
        if split is not None:
            dimensions[split] = (int(n), int(converted))
    return active, dimensions


def _weeks(q: ReportQuery) -> int:
    """The ISO weeks the period touches."""
    return (monday(q.end) - monday(q.start)).days // 7 + 1


def _fill_members(db: sqlite3.Connection, q: ReportQuery, params: dict[str, object]) -> None:
    days = LocalDays(zone(q.timezone), q.start, q.end)
    where, _ = _where(q)
    weeks = _WEEKS_MASK.format(active=_active(q)) if _weeks(q) <= MASK_WEEKS else "NULL"
    months = _months_mask(q, _active(q)) if _months(q) <= MASK_WEEKS else "NULL"
    db.execute(_MEMBERS_TABLE)
    db.execute(
        _MEMBERS_ACTIVITY.format(
            active=_active(q),
            where=where,
            weeks=weeks,
            months=months,
        ),
        params,
    )
    db.execute(
        _MEMBERS_STATE.format(joined_day=days.sql("joined"), where=where or " WHERE true"),
        params,
    )
    db.execute(_MEMBERS_DERIVED, params)


def _retention(
    db: sqlite3.Connection, q: ReportQuery, params: dict[str, object]
) -> dict[tuple[date, int], int]:
    """(cohort, weeks since) -> the cohort's members active that week."""
    table = "temp.report_members"
    n = _weeks(q)
    if n > MASK_WEEKS:
        rows = db.execute(_RETENTION_BY_JOIN.format(active=_active(q, "a.type")), params)
        return {(date.fromisoformat(cohort), k): count for cohort, k, count in rows}
    columns = ", ".join(f"sum((weeks >> {k}) & 1)" for k in range(n))
    out: dict[tuple[date, int], int] = {}
    for cohort, first, *counts in db.execute(
        f"SELECT cohort, cohort_week, {columns} FROM {table} "
        "WHERE cohort IS NOT NULL GROUP BY cohort"
    ):
        for k in range(first, n):
            if counts[k]:
                out[(date.fromisoformat(cohort), k - first)] = counts[k]
    return out


def member_params(q: ReportQuery) -> dict[str, object]:
    """The parameters of the member table's statements (:func:`members_table`)."""
    _, params = _where(q)
    params["first_monday"] = monday(q.start).isoformat()
    # CAST(julianday(day) AS INTEGER) of the first Monday: days since it, without a
    # julianday() call per row for the constant.
    params["first_monday_jd"] = monday(q.start).toordinal() + JULIAN_DAY_OFFSET
    params["first_month"] = month_start(q.start).isoformat()
    params["first_month_number"] = q.start.year * 12 + q.start.month
    params["before"] = date.fromordinal(q.start.toordinal() - 1).isoformat()
    params["churn"] = q.churn_days
    return params


def members_table(
    db: sqlite3.Connection, q: ReportQuery, params: dict[str, object], keep: str | None
) -> None:
    """Fill ``temp.report_members`` for ``q``.  With ``keep`` (a key naming the query and
    the state of the store), the table is kept after use, and not filled again while the
    kept one has the same key: the member lists of a report (sqlite_member_lists.py) read
    the table its member figures filled."""
    if keep is not None:
        with suppress(sqlite3.OperationalError):  # no kept table
            row = db.execute("SELECT key FROM temp.report_members_key").fetchone()
            if row is not None and row[0] == keep:
                return
    db.execute("DROP TABLE IF EXISTS temp.report_members_key")
    db.execute("DROP TABLE IF EXISTS temp.report_members")
    _fill_members(db, q, params)
    if keep is not None:
        db.execute("CREATE TEMP TABLE report_members_key (key TEXT NOT NULL)")
        db.execute("INSERT INTO temp.report_members_key VALUES (?)", (keep,))


def member_tally(db: sqlite3.Connection, q: ReportQuery, keep: str | None = None) -> MemberTally:
    """:meth:`~.reports.ReportSource.report_members` in SQL (``keep``: see
    :func:`members_table`)."""
    params = member_params(q)
    table = "temp.report_members"
    try:
        members_table(db, q, params, keep)
        first_seen = {
            date.fromisoformat(day): n
            for day, n in db.execute(
                f"SELECT seen, count(*) FROM {table} WHERE cohort IS NOT NULL GROUP BY seen"
            )
        }
        left = {
            date.fromisoformat(day): n
            for day, n in db.execute(
                f"SELECT last_leave, count(*) FROM {table} WHERE last_leave >= :start "
                "GROUP BY last_leave",
                params,
            )
        }
        by_last_active: defaultdict[tuple[date | None, bool, bool], int] = defaultdict(int)
        for last, belongs, active, n in db.execute(
            f"SELECT last_active, belongs, coalesce(last_active >= :start, 0), count(*) "
            f"FROM {table} GROUP BY 1, 2, 3",
            params,
        ):
            day = None if last is None else date.fromisoformat(last)
            by_last_active[(day, bool(belongs), bool(active))] += n
        goal_events, converters = db.execute(
            f"SELECT coalesce(sum(goal), 0), count(goal) FROM {table}"
        ).fetchone()
        retention = _retention(db, q, params)
        day_retention, monthly, at_start, churned = _cohort_figures(db, q, params)
        active_by_community, dimensions = _member_breakdowns(db, q, params)
    finally:
        if keep is None:
            db.execute(f"DROP TABLE IF EXISTS {table}")
    return MemberTally(
        first_seen,
        left,
        dict(by_last_active),
        retention,
        int(goal_events),
        int(converters),
        day_retention,
        monthly,
        at_start,
        churned,
        active_by_community,
        dimensions,
    )


def daily_active(db: sqlite3.Connection, q: ReportQuery) -> dict[date, int]:
    """:meth:`~.reports.ReportSource.report_daily_active` in SQL (grouped by day, the
    activity key's prefix: no sort)."""
    where, params = _where(q, "day BETWEEN :start AND :end", _active(q))
    return {
        date.fromisoformat(day): n
        for day, n in db.execute(
            "SELECT day, count(DISTINCT json_array(community, member)) "
            f"FROM activity{where} GROUP BY day",
            params,
        )
    }


#: Per exposure type: the members first exposed by the end, and those of them with a goal
#: event in the period on or after their exposure's day.
_EXPERIMENTS = """
SELECT e.type, count(*), count(g.member) FROM (
    SELECT community, member, type, min(day) AS day FROM activity{where_e}
    GROUP BY community, member, type
) AS e LEFT JOIN (
    SELECT community, member, max(day) AS last FROM activity{where_g}
    GROUP BY community, member
) AS g ON g.community = e.community AND g.member = e.member AND g.last >= e.day
GROUP BY e.type"""


def experiment_tally(
    db: sqlite3.Connection, q: ReportQuery
) -> dict[tuple[str, str], tuple[int, int]]:
    """:meth:`~.reports.ReportSource.report_experiments` in SQL."""
    where_e, params = _where(q, "type LIKE 'experiment:%'", "day <= :end")
    where_g, _ = _where(q, "type = :goal", "day BETWEEN :start AND :end")
    out: dict[tuple[str, str], tuple[int, int]] = {}
    for type_, exposed, converted in db.execute(
        _EXPERIMENTS.format(where_e=where_e, where_g=where_g), params
    ):
        split = split_exposure(type_)
        if split is not None:
            out[split] = (exposed, converted)
    return out


def _sums(
    db: sqlite3.Connection,
    keys: tuple[str, ...],
    values: tuple[str, ...],
    select: str,
    params: dict[str, object],
) -> list[tuple[Any, ...]]:
    """``select`` (its key columns, then its value columns) summed per key — in a small
    keyed table, one lookup per row, which beats sorting every row for a ``GROUP BY``."""
    key = ", ".join(keys)
    db.execute("DROP TABLE IF EXISTS temp.report_sums")
    db.execute(
        f"CREATE TEMP TABLE report_sums ({key}, {', '.join(values)}, PRIMARY KEY ({key})) "
        "WITHOUT ROWID"
    )
    try:
        db.execute(
            f"INSERT INTO temp.report_sums {select} ON CONFLICT ({key}) DO UPDATE SET "
            + ", ".join(f"{v} = {v} + excluded.{v}" for v in values),
            params,
        )
        return db.execute("SELECT * FROM temp.report_sums").fetchall()
    finally:
        db.execute("DROP TABLE temp.report_sums")


def action_tally(db: sqlite3.Connection, q: ReportQuery) -> ActionTally:
    """:meth:`~.reports.ReportSource.report_actions` in SQL.

    The distinct causes a rule acted on are counted from ``first`` (batch_rows.first_flags): the
    rows flagged 1 are each the one first row of their (rule, cause); the pairs of rows
    flagged NULL are gathered apart, and counted once.
    """
    days = LocalDays(zone(q.timezone), q.start, q.end)
    where, params = _where(q, days.in_period("ts"))
    counts = _sums(
        db,
        ("shadow", "rule", "type", "direct"),
        ("n", "firsts", "unflagged"),
        "SELECT status = 'shadow', coalesce(rule, ''), coalesce(type, ''), "
        "CASE WHEN status = 'shadow' THEN 0 ELSE coalesce(direct, 0) END, 1, "
        f"coalesce(first, 0), first IS NULL FROM outbox{where}",
        params,
    )
    actions: defaultdict[str, int] = defaultdict(int)
    causes: defaultdict[str, int] = defaultdict(int)
    types: defaultdict[tuple[str, bool], int] = defaultdict(int)
    shadow: dict[tuple[str, str], tuple[int, int]] = {}
    unflagged = 0
    for is_shadow, rule, type_, direct, n, firsts, nulls in counts:
        if is_shadow:
            shadow[(rule, type_)] = (n, 0)
        else:
            actions[rule] += n
            causes[rule] += firsts
            types[(type_, bool(direct))] += n
            unflagged += nulls
    if unflagged:
        for rule, n in _unflagged_causes(db, where, params).items():
            causes[rule] += n
    if shadow:
        for rule, type_, members in db.execute(
            "SELECT rule, type, count(DISTINCT member) FROM outbox"
            f"{where} AND status = 'shadow' GROUP BY rule, type",
            params,
        ):
            shadow[(rule, type_)] = (shadow[(rule, type_)][0], members)
    rules = {rule: (causes[rule], n) for rule, n in actions.items()}
    return ActionTally(rules, dict(types), shadow)


def _unflagged_causes(
    db: sqlite3.Connection, where: str, params: dict[str, object]
) -> dict[str, int]:
    """Per rule, the causes of live rows flagged NULL that no row flagged 1 counts."""
    live = f"{where} AND status <> 'shadow'"
    db.execute("DROP TABLE IF EXISTS temp.report_pairs")
    db.execute(
        "CREATE TEMP TABLE report_pairs (rule, cause, PRIMARY KEY (rule, cause)) WITHOUT ROWID"
    )
    try:
        db.execute(
            "INSERT OR IGNORE INTO temp.report_pairs SELECT coalesce(rule, ''), "
            f"coalesce(cause, '') FROM outbox{live} AND first IS NULL",
            params,
        )
        out = dict(db.execute("SELECT rule, count(*) FROM temp.report_pairs GROUP BY rule"))
        if out:
            for rule, n in db.execute(
                f"SELECT rule, count(*) FROM outbox{live} AND first = 1 AND EXISTS "
                "(SELECT 1 FROM temp.report_pairs AS p WHERE p.rule = outbox.rule "
                "AND p.cause = outbox.cause) GROUP BY rule",
                params,
            ):
                out[rule] -= n
        return out
    finally:
        db.execute("DROP TABLE temp.report_pairs")


def audit_tally(db: sqlite3.Connection, q: ReportQuery) -> dict[tuple[str, str], int]:
    """:meth:`~.reports.ReportSource.report_audit` in SQL."""
    days = LocalDays(zone(q.timezone), q.start, q.end)
    where, params = _where(q, days.in_period("ts"))
    return {
        (action, reason): n
        for action, reason, n in db.execute(
            f"SELECT action, reason, count(*) FROM audit{where} GROUP BY action, reason", params
        )
    }


def points_tally(db: sqlite3.Connection, q: ReportQuery) -> dict[tuple[str, str], int]:
    """:meth:`~.reports.ReportSource.report_points` in SQL (the first version of each
    entry: later versions of a reversed entry have no ``ts``)."""
    days = LocalDays(zone(q.timezone), q.start, q.end)
    # A person's entry counts in the group where it happened (docs/reference.md §4.3).
    where, params = _where(replace(q, community=None), days.in_period("ts"))
    if q.community is not None:
        where += (
            " AND (community = :community OR (community = '@persons' "
            "AND json_extract(json, '$.community') = :community))"
        )
        params["community"] = q.community
    return {
        (currency, kind): int(total)
        for currency, kind, total in _sums(
            db,
            ("currency", "kind"),
            ("n",),
            f"SELECT coalesce(currency, ''), coalesce(kind, ''), abs(amount) FROM ledger{where}",
            params,
        )
    }


# -- the columns reports read (schema 4) -----------------------------------------------------


def _iso_seconds(text: str) -> str:
    """SQL: batch_rows.unix_seconds of ISO text as ``isoformat`` writes it (NULL without
    a UTC offset).  The fraction is dropped first: SQLite would round it."""
    bare = (
        f"CASE WHEN substr({text}, 20, 1) = '.' "
        f"THEN substr({text}, 1, 19) || substr({text}, 27) ELSE {text} END"
    )
    return (
        f"CASE WHEN {text} GLOB '*[+-][0-9][0-9]:[0-9][0-9]' "
        f"THEN CAST(strftime('%s', {bare}) AS INTEGER) END"
    )


def _truthy(path: str) -> str:
    """SQL: the JSON value at ``path`` of ``json`` is truthy as Python sees it."""
    v = f"json_extract(json, '{path}')"
    return (
        f"CASE json_type(json, '{path}') WHEN 'text' THEN {v} <> '' "
        f"WHEN 'integer' THEN {v} <> 0 WHEN 'real' THEN {v} <> 0 WHEN 'true' THEN 1 "
        f"WHEN 'array' THEN {v} <> '[]' WHEN 'object' THEN {v} <> '{{}}' ELSE 0 END"
    )


def report_columns_upgrade() -> str:
    """Schema 4: the columns reports aggregate, filled from the rows' JSON.

    Each ledger entry counts once: only the first version of an entry (a reversed entry
    is written again, docs/running.md) gets them.
    """

    def at(key: str) -> str:
        return _iso_seconds(f"json_extract(json, '$.{key}')")

    def add(table: str, *columns: str) -> str:
        return "".join(f"ALTER TABLE {table} ADD COLUMN {c};\n" for c in columns)

    return (
        add("members", "joined INTEGER", "status TEXT")
        + add("ledger", "ts INTEGER", "currency TEXT", "kind TEXT", "amount INTEGER")
        + add(
            "outbox",
            "ts INTEGER",
            "community TEXT",
            "type TEXT",
            "rule TEXT",
            "cause TEXT",
            "member TEXT",
            "direct INTEGER",
            "first INTEGER",
        )
        + add("audit", "ts INTEGER", "community TEXT", "action TEXT", "reason TEXT")
        + f"UPDATE members SET joined = {at('joined_at')}, "
        "status = coalesce(json_extract(json, '$.status'), 'active');\n"
        f"UPDATE ledger SET ts = {at('at')}, currency = json_extract(json, '$.currency'), "
        "kind = json_extract(json, '$.kind'), amount = json_extract(json, '$.amount') "
        "WHERE rid IN (SELECT min(rid) FROM ledger GROUP BY community, member, seq);\n"
        f"UPDATE outbox SET ts = {at('at')}, "
        "community = coalesce(json_extract(json, '$.community'), 'default'), "
        "type = json_extract(json, '$.type'), rule = json_extract(json, '$.rule'), "
        "cause = json_extract(json, '$.cause'), member = json_extract(json, '$.member');\n"
        "UPDATE outbox SET direct = type = 'send' AND member IS NOT NULL "
        f"AND NOT ({_truthy('$.params.channel')});\n"
        f"UPDATE audit SET ts = {at('at')}, "
        "community = coalesce(nullif(json_extract(json, '$.community'), ''), 'default'), "
        "action = coalesce(json_extract(json, '$.action'), ''), "
        "reason = coalesce(nullif(json_extract(json, '$.reason'), ''), '');\n"
    )
