"""The PostgreSQL store's member lists (:mod:`.member_lists`): sorted and cut by the
database, as the SQLite store's (sqlite_member_lists.py).

A silence list (``silent``, ``churned``) is read from the table of one row per member the
report's member figures use (postgres_reports.py), ``ORDER BY`` the last active day and
``LIMIT``; the top contributors from the period's activity grouped per member, ``ORDER
BY`` activity events and ``LIMIT``, with the points awarded to them in the period.
Display names are read for the listed members only, and the rows come through a
server-side cursor: an export of a whole list never holds it in memory.  Each list reads
one snapshot.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from .member_lists import ListedMember, MemberListQuery
from .postgres_reports import Decoding, Snapshot, _active, _params, _where, report_members
from .records import zone
from .sqlite_reports import LocalDays

#: The members of a silence list, with their display names.
_SILENCE = """
SELECT r.community, r.member, m.json::json ->> 'name', r.last_active
FROM report_members AS r
    LEFT JOIN members AS m ON m.community = r.community AND m.id = r.member
WHERE r.belongs AND r.last_active BETWEEN %(low)s AND %(high)s
ORDER BY r.last_active {order}, r.community, r.member
LIMIT %(limit)s"""

#: The top contributors: activity per member in the period, and their awards.
_TOP = """
WITH top AS (
    SELECT community, member, sum(events) AS events, count(DISTINCT day) AS days,
        max(day) AS last
    FROM activity{where}
    GROUP BY community, member
    ORDER BY events DESC, days DESC, community, member
    LIMIT %(limit)s
), awards AS (
    SELECT community, member, sum(points) AS points FROM (
        SELECT l.community, l.member, abs(l.amount) AS points
        FROM ledger AS l JOIN top ON top.community = l.community AND top.member = l.member
        WHERE l.kind = 'award' AND {in_period}
        UNION ALL  -- a person's awards, to the account where each happened (reference §4.3)
        SELECT l.json::jsonb ->> 'community', l.json::jsonb ->> 'member', abs(l.amount)
        FROM ledger AS l
        WHERE l.community = '@persons' AND l.kind = 'award' AND {in_period}
    ) AS a
    GROUP BY community, member
)
SELECT top.community, top.member, m.json::json ->> 'name', top.last, top.events, top.days,
    coalesce(awards.points, 0)
FROM top
    LEFT JOIN awards ON awards.community = top.community AND awards.member = top.member
    LEFT JOIN members AS m ON m.community = top.community AND m.id = top.member
ORDER BY top.events DESC, top.days DESC, top.community, top.member"""


class PostgresMemberLists:
    """The member lists over one store's connection (``snapshot``: a consistent read of
    it; ``decoding``: errors of stored data named by table)."""

    def __init__(self, snapshot: Snapshot, decoding: Decoding) -> None:
        self._snapshot = snapshot
        self._decoding = decoding

    def member_list(self, q: MemberListQuery) -> Iterator[ListedMember]:
        """:meth:`~.member_lists.MemberListSource.report_member_list` in SQL."""
        r = q.report
        days = LocalDays(zone(r.timezone), r.start, r.end)
        params = {**_params(r), "limit": q.limit}
        with self._snapshot() as conn, self._decoding("activity"):
            if q.kind == "top":
                where = _where(r, "day BETWEEN %(start)s AND %(end)s", _active(r))
                query = _TOP.format(where=where, in_period=days.in_period("l.ts"))
            else:
                report_members(conn, r, days, params)
                params["low"], params["high"] = q.last_active_range()
                order = "ASC" if q.kind == "silent" else "DESC"
                query = _SILENCE.format(order=order)
            with conn.cursor(name="report_member_list") as cursor:
                cursor.execute(query.encode(), params)
                for row in cursor:
                    yield _listed(q.kind, row)


def _listed(kind: str, row: tuple[object, ...]) -> ListedMember:
    community, member, name, last = str(row[0]), str(row[1]), row[2], row[3]
    assert isinstance(last, date)
    name = name if isinstance(name, str) else None
    if kind != "top":
        return ListedMember(community, member, name, last)
    events, n_days, points = (int(str(v)) for v in row[4:7])
    return ListedMember(community, member, name, last, events, n_days, points)
