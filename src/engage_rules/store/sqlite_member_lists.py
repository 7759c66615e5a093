"""The SQLite store's member lists (:mod:`.member_lists`): sorted and cut by the database.

A silence list (``silent``, ``churned``) is read from the report's table of one row per
member (sqlite_reports.py: its last active day and whether it belongs to the community at
the period's end), ``ORDER BY`` its last active day and ``LIMIT``; the top contributors
from the period's activity grouped per member, with the points awarded to them in the
period, ``ORDER BY`` activity events and ``LIMIT``.  Display names are read for the
listed members only.  The rows come back one at a time from the cursor: an export of a
whole list never holds it in memory.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import date

from .member_lists import ListedMember, MemberListQuery
from .records import zone
from .reports import monday
from .sqlite_reports import LocalDays, _active, _fill_members, _where

#: The members of a silence list (the report table's rows, with their display names).
_SILENCE = """
SELECT r.community, r.member, json_extract(m.json, '$.name'), r.last_active
FROM temp.report_members AS r
    LEFT JOIN members AS m ON m.community = r.community AND m.id = r.member
WHERE r.belongs AND r.last_active BETWEEN :low AND :high
ORDER BY r.last_active {order}, r.community, r.member
LIMIT :limit"""

#: The top contributors: activity per member in the period, and their awards.
_TOP = """
WITH act AS (
    SELECT community, member, sum(events) AS events, count(DISTINCT day) AS days,
        max(day) AS last
    FROM activity{where}
    GROUP BY community, member
), awards AS (
    SELECT community, member, sum(abs(amount)) AS points
    FROM ledger{awards}
    GROUP BY community, member
)
SELECT act.community, act.member, json_extract(m.json, '$.name'), act.last, act.events,
    act.days, coalesce(awards.points, 0)
FROM act
    LEFT JOIN awards ON awards.community = act.community AND awards.member = act.member
    LEFT JOIN members AS m ON m.community = act.community AND m.id = act.member
ORDER BY act.events DESC, act.days DESC, act.community, act.member
LIMIT :limit"""


def _name(value: object) -> str | None:
    return value if isinstance(value, str) else None


def member_list(db: sqlite3.Connection, q: MemberListQuery) -> Iterator[ListedMember]:
    """:meth:`~.member_lists.MemberListSource.report_member_list` in SQL."""
    r = q.report
    limit = -1 if q.limit is None else q.limit  # SQLite: a negative LIMIT is none
    if q.kind == "top":
        where, params = _where(r, "day BETWEEN :start AND :end", _active(r))
        days = LocalDays(zone(r.timezone), r.start, r.end)
        awards, _awards_params = _where(r, "kind = 'award'", days.in_period("ts"))
        params["limit"] = limit
        for community, member, name, last, events, n_days, points in db.execute(
            _TOP.format(where=where, awards=awards), params
        ):
            yield ListedMember(
                community,
                member,
                _name(name),
                date.fromisoformat(last),
                int(events),
                int(n_days),
                int(points),
            )
        return
    _clause, params = _where(r)
    params["first_monday"] = monday(r.start).isoformat()
    db.execute("DROP TABLE IF EXISTS temp.report_members")
    try:
        _fill_members(db, r, params)
        low, high = q.last_active_range()
        params.update(low=low.isoformat(), high=high.isoformat(), limit=limit)
        order = "ASC" if q.kind == "silent" else "DESC"
        for community, member, name, last in db.execute(_SILENCE.format(order=order), params):
            yield ListedMember(community, member, _name(name), date.fromisoformat(last))
    finally:
        db.execute("DROP TABLE IF EXISTS temp.report_members")
