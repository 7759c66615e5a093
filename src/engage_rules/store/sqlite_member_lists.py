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
from .sqlite_reports import LocalDays, member_params, members_table

#: The members of a silence list (the report table's rows, with their display names).
_SILENCE = """
SELECT r.community, r.member, json_extract(m.json, '$.name'), r.last_active
FROM temp.report_members AS r
    LEFT JOIN members AS m ON m.community = r.community AND m.id = r.member
WHERE r.belongs AND r.last_active BETWEEN :low AND :high
ORDER BY r.last_active {order}, r.community, r.member
LIMIT :limit"""

#: The top contributors (the report table's activity in the period), with their awards.
_TOP = """
WITH top AS (
    SELECT community, member, last_active, events, days FROM temp.report_members
    WHERE events > 0
    ORDER BY events DESC, days DESC, community, member
    LIMIT :limit
), awards AS (
    SELECT community, member, sum(points) AS points FROM (
        SELECT l.community, l.member, abs(l.amount) AS points
        FROM ledger AS l JOIN top ON top.community = l.community AND top.member = l.member
        WHERE l.kind = 'award' AND {in_period}
        UNION ALL  -- a person's awards, to the account where each happened (reference §4.3)
        SELECT json_extract(l.json, '$.community'), json_extract(l.json, '$.member'),
            abs(l.amount)
        FROM ledger AS l
        WHERE l.community = '@persons' AND l.kind = 'award' AND {in_period}
    )
    GROUP BY community, member
)
SELECT top.community, top.member, json_extract(m.json, '$.name'), top.last_active,
    top.events, top.days, coalesce(awards.points, 0)
FROM top
    LEFT JOIN awards ON awards.community = top.community AND awards.member = top.member
    LEFT JOIN members AS m ON m.community = top.community AND m.id = top.member
ORDER BY top.events DESC, top.days DESC, top.community, top.member"""


def _name(value: object) -> str | None:
    return value if isinstance(value, str) else None


def member_list(
    db: sqlite3.Connection, q: MemberListQuery, keep: str | None = None
) -> Iterator[ListedMember]:
    """:meth:`~.member_lists.MemberListSource.report_member_list` in SQL, from the
    report's member table (kept by the report's member figures under ``keep``, else
    filled here and dropped)."""
    r = q.report
    params = member_params(r)
    params["limit"] = -1 if q.limit is None else q.limit  # SQLite: a negative LIMIT is none
    try:
        members_table(db, r, params, keep)
        if q.kind == "top":
            days = LocalDays(zone(r.timezone), r.start, r.end)
            rows = db.execute(_TOP.format(in_period=days.in_period("l.ts")), params)
            for community, member, name, last, events, n_days, points in rows:
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
        low, high = q.last_active_range()
        params.update(low=low.isoformat(), high=high.isoformat())
        order = "ASC" if q.kind == "silent" else "DESC"
        for community, member, name, last in db.execute(_SILENCE.format(order=order), params):
            yield ListedMember(community, member, _name(name), date.fromisoformat(last))
    finally:
        if keep is None:
            db.execute("DROP TABLE IF EXISTS temp.report_members")
