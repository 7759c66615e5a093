"""The SQLite store's breakdowns (:meth:`~.reports.ReportSource.report_breakdowns`):
the definitions of report_breakdowns.py as ``GROUP BY`` scans of the period's activity
rows (the activity key begins with the day, so a period reads only its own rows)."""

from __future__ import annotations

import sqlite3
from datetime import date

from .records import CHANNEL_PREFIX, REPLY_TYPE
from .report_breakdowns import DIMENSIONS, BreakdownTally, dimension_of
from .reports import ReportQuery
from .sqlite_reports import _active, _where

#: Per (dimension, value): the members in it by the period's end and, of them, those
#: with a goal event in the period on or after the day they entered it.
_DIMENSIONS = """
SELECT e.type, count(*), count(g.member) FROM (
    SELECT community, member, type, min(day) AS day FROM activity{where_e}
    GROUP BY community, member, type
) AS e LEFT JOIN (
    SELECT community, member, max(day) AS last FROM activity{where_g}
    GROUP BY community, member
) AS g ON g.community = e.community AND g.member = e.member AND g.last >= e.day
GROUP BY e.type"""


def sqlite_breakdowns(db: sqlite3.Connection, q: ReportQuery) -> BreakdownTally:
    """:meth:`ReportSource.report_breakdowns` in SQL: grouped scans of the period's
    activity rows (its key begins with the day)."""
    period = "day BETWEEN :start AND :end"
    where, params = _where(q, period, f"(instr(type, ':') = 0 OR type = '{REPLY_TYPE}')")
    volumes = {
        (date.fromisoformat(day), t): int(n)
        for day, t, n in db.execute(
            f"SELECT day, type, sum(events) FROM activity{where} GROUP BY day, type", params
        )
    }
    where, _ = _where(q, period, _active(q))
    communities = {
        c: (int(n), int(m))
        for c, n, m in db.execute(
            "SELECT community, sum(events), count(DISTINCT member) "
            f"FROM activity{where} GROUP BY community",
            params,
        )
    }
    where, _ = _where(q, period, f"type LIKE '{CHANNEL_PREFIX}%'")
    channels = {
        (c, t[len(CHANNEL_PREFIX) :]): (int(n), int(m))
        for c, t, n, m in db.execute(
            "SELECT community, type, sum(events), count(DISTINCT member) "
            f"FROM activity{where} GROUP BY community, type",
            params,
        )
    }
    markers = " OR ".join(f"type LIKE '{prefix}_%'" for _, prefix in DIMENSIONS)
    where_e, _ = _where(q, f"({markers})", "day <= :end")
    where_g, _ = _where(q, "type = :goal", period)
    dimensions = {}
    for type_, members, converted in db.execute(
        _DIMENSIONS.format(where_e=where_e, where_g=where_g), params
    ):
        marker = dimension_of(type_)
        if marker is not None:
            dimensions[marker] = (int(members), int(converted))
    return BreakdownTally(volumes, communities, channels, dimensions)
