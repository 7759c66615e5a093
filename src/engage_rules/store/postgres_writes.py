"""The PostgreSQL store's batch writes: the rows of one batch (batch_rows.py) into the
tables, in the caller's transaction.

Appends (ledger, traces, the logs) are one ``COPY`` each; the tables whose rows may
already be there (processed ids, the outbox, activity, timers, members) are written by
a binary ``COPY`` into a staging table and one ``INSERT ... SELECT ... ON CONFLICT``
(:func:`_insert`): one round trip per table for a batch of any size.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql

from .batch_rows import Rows


def write_rows(
    cur: psycopg.Cursor[Any],
    rows: Rows,
    outbox: list[tuple[Any, ...]],
    outbox_seq: int | None,
    part: int | None = None,
) -> None:
    """Write a batch: ``rows``, with ``outbox`` (its outbox rows, numbered:
    batch_rows.number_outbox_rows) and the outbox's last sequence number now used.

    A Kafka worker's batch (postgres_worker.py) gives ``part``, the partition whose
    events it holds (its communities and timers are marked with it), and no
    ``outbox_seq``: the clock and timer sequence it keeps in its partition's row, not in
    ``meta``, which every worker shares."""
    processed = [(cause, rows.clock) for cause in dict.fromkeys(rows.causes)]
    _insert(cur, "processed", _PROCESSED, processed, "ON CONFLICT (id) DO NOTHING")
    _copy(cur, "ledger", _LEDGER, rows.ledger)
    _insert(cur, "outbox", _OUTBOX, outbox, "ON CONFLICT (key) DO NOTHING")
    _activity_and_traces(cur, rows)
    _timers_and_logs(cur, rows, part)
    _members_and_communities(cur, rows, part)
    if outbox_seq is not None:
        cur.executemany(
            "INSERT INTO meta (key, value) VALUES (%s, %s) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [*rows.meta, ("outbox_seq", str(outbox_seq))],
        )


def _activity_and_traces(cur: psycopg.Cursor[Any], rows: Rows) -> None:
    _insert(
        cur,
        "activity",
        _ACTIVITY,
        rows.activity,
        "ON CONFLICT (day, community, member, type) "
        "DO UPDATE SET events = activity.events + excluded.events",
    )
    _insert(
        cur,
        "activity_totals",
        _TOTALS,
        rows.totals,
        "ON CONFLICT (day, community, type) "
        "DO UPDATE SET events = activity_totals.events + excluded.events",
    )
    _insert(
        cur,
        "member_marks",
        _MARKS,
        rows.marks,
        "ON CONFLICT (community, member, mark) "
        "DO UPDATE SET day = least(member_marks.day, excluded.day)",
    )
    _copy(cur, "traces", _TRACES, rows.traces)


def _timers_and_logs(cur: psycopg.Cursor[Any], rows: Rows, part: int | None) -> None:
    _insert(
        cur,
        "timers",
        _TIMERS,
        [
            (*row, community, part)
            for row, community in zip(rows.timers_add, rows.timer_communities, strict=True)
        ],
        "ON CONFLICT (id) DO UPDATE SET due = excluded.due, json = excluded.json, "
        "community = excluded.community, part = excluded.part",
    )
    if rows.timers_del:
        cur.execute("DELETE FROM timers WHERE id = ANY(%s)", ([t for (t,) in rows.timers_del],))
    _copy(cur, "errors", ("json",), rows.errors)
    _copy(cur, "audit", ("json", "ts", "community", "action", "reason"), rows.audit)
    _copy(cur, "review", ("json",), rows.review)


def _members_and_communities(cur: psycopg.Cursor[Any], rows: Rows, part: int | None) -> None:
    _insert(
        cur,
        "members",
        _MEMBERS,
        rows.members,
        "ON CONFLICT (community, id) DO UPDATE SET "
        "json = excluded.json, joined = excluded.joined, status = excluded.status",
    )
    if rows.members_gone:
        for table, column in (("members", "id"), ("ledger", "member")):
            cur.executemany(
                sql.SQL("DELETE FROM {} WHERE community = %s AND {} = %s").format(
                    sql.Identifier(table), sql.Identifier(column)
                ),
                rows.members_gone,
            )
    if rows.communities:
        cur.executemany(
            "INSERT INTO communities (name, json, part) VALUES (%s, %s, %s) "
            "ON CONFLICT (name) DO UPDATE SET json = excluded.json, "
            "part = coalesce(excluded.part, communities.part)",
            [(*row, part) for row in rows.communities],
        )
    if rows.communities_seen:
        cur.executemany(
            "INSERT INTO communities (name, json, part) VALUES (%s, %s, %s) "
            "ON CONFLICT (name) DO UPDATE SET part = coalesce(excluded.part, communities.part)",
            [(*row, part) for row in rows.communities_seen],
        )
    if rows.communities_gone:
        cur.execute(
            "DELETE FROM communities WHERE name = ANY(%s)",
            ([n for (n,) in rows.communities_gone],),
        )


_LEDGER = ("community", "member", "seq", "json", "ts", "currency", "kind", "amount")
_TRACES = ("event", "cause", "community", "member", "ts", "json")
#: The columns of the tables written with _insert, and their types.
_PROCESSED = (("id", "text"), ("ts", "float8"))
_OUTBOX = (
    ("seq", "int8"),
    ("key", "text"),
    ("json", "text"),
    ("status", "text"),
    ("ts", "int8"),
    ("community", "text"),
    ("type", "text"),
    ("rule", "text"),
    ("cause", "text"),
    ("member", "text"),
    ("direct", "bool"),
)
_ACTIVITY = (
    ("community", "text"),
    ("member", "text"),
    ("day", "date"),
    ("type", "text"),
    ("events", "int8"),
)
_TOTALS = (
    ("community", "text"),
    ("day", "date"),
    ("type", "text"),
    ("events", "int8"),
)
_MARKS = (
    ("community", "text"),
    ("member", "text"),
    ("mark", "text"),
    ("day", "date"),
)
_TIMERS = (
    ("id", "text"),
    ("due", "float8"),
    ("json", "text"),
    ("community", "text"),
    ("part", "int4"),
)
_MEMBERS = (
    ("community", "text"),
    ("id", "text"),
    ("json", "text"),
    ("joined", "int8"),
    ("status", "text"),
)


def _insert(
    cur: psycopg.Cursor[Any],
    table: str,
    columns: Sequence[tuple[str, str]],
    rows: Sequence[Sequence[Any]],
    conflict: str,
) -> None:
    """Insert ``rows`` into ``table``, resolving conflicts as ``conflict`` says: a binary
    ``COPY`` into a temporary staging table (emptied at each commit, created once per
    connection), then one ``INSERT ... SELECT``.  A round trip for the batch, not one per
    row; ``date`` columns travel as text and are cast in the database."""
    if not rows:
        return
    stage = sql.Identifier(f"stage_{table}")
    wire = ["text" if kind == "date" else kind for _, kind in columns]
    aliases = [sql.Identifier(f"c{n}") for n in range(len(columns))]
    cur.execute(
        sql.SQL("CREATE TEMP TABLE IF NOT EXISTS {} ({}) ON COMMIT DELETE ROWS").format(
            stage,
            sql.SQL(", ").join(
                sql.SQL("{} {}").format(alias, sql.SQL(kind))
                for alias, kind in zip(aliases, wire, strict=True)
            ),
        )
    )
    with cur.copy(sql.SQL("COPY {} FROM STDIN (FORMAT BINARY)").format(stage)) as copy:
        copy.set_types(wire)
        for row in rows:
            copy.write_row(row)
    cur.execute(
        sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} " + conflict).format(
            sql.Identifier(table),
            sql.SQL(", ").join(sql.Identifier(name) for name, _ in columns),
            sql.SQL(", ").join(
                sql.SQL("CAST({} AS {})").format(alias, sql.SQL(kind))
                for alias, (_, kind) in zip(aliases, columns, strict=True)
            ),
            stage,
        )
    )


def _copy(cur: psycopg.Cursor[Any], table: str, columns: Sequence[str], rows: list[Any]) -> None:
    """Append ``rows`` to ``table`` with one ``COPY`` (nothing for no rows)."""
    if not rows:
        return
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with cur.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
