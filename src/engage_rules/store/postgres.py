"""The PostgreSQL store (docs/running.md, "PostgreSQL"): ``postgresql://USER@HOST/DB``.

The same contract as the SQLite store (sqlite.py), in one schema of a PostgreSQL
database (``?schema=NAME``, default ``engage_rules``; tables: postgres_schema.py), over
one connection (psycopg 3):

- Opening creates the schema and its tables, or upgrades an older schema in place
  (versioned migrations, one transaction); a schema written by a newer version is
  refused.
- :meth:`PostgreSQLStore.commit` is one transaction per batch (group commit): the rows
  of batch_rows.py, appended with ``COPY`` or ``executemany`` (pipelined); durable when
  it returns.  :meth:`PostgreSQLStore.commit_async` commits and returns a completed
  future.
- State on demand: :meth:`PostgreSQLStore.open` reads the clock, the communities and
  the timers, never the members, the ledger or the ids; members are read when first
  needed (:meth:`PostgreSQLStore.load_member`).  Processed ids and action keys have
  unique indexes and are looked up, never loaded; ids older than the dedup window are
  deleted, oldest first, and ``meta.dedup_horizon`` records up to when.
- One writer at a time per schema: the first write takes a session-level advisory lock
  (``pg_try_advisory_lock``), held until the store is closed or its connection ends
  (a killed process's lock is released by the server).  A second writer is refused with
  a message naming the first (meta ``writer``).  Readers (``report``, ``explain``,
  ``audit``, ``review list``) take no lock; each read sees one snapshot.
- Reports are SQL aggregates (postgres_reports.py).
- Worker mode (``worker=True``, postgres_worker.py): several Kafka workers write the
  schema at once, each the partitions of the topic it was assigned: no writer lock
  (a shared one instead, which keeps a single writer out), outbox numbers from a
  database sequence, the clock and timer sequence per partition, and each commit
  fenced by its partition's epoch (:class:`~engage_rules.errors.FencedError`).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager, suppress
from datetime import date, datetime
from typing import Any

import orjson
import psycopg
from psycopg import sql

from ..errors import FencedError, StoreError
from ..model.decision import Decision, RuleFailure
from ..model.state import LedgerEntry, MemberState, State, Timer
from .base import (
    OutboxItem,
    check_outbox_query,
    completed,
    ledgers_from_rows,
    link_reversals,
    log_entries,
    rule_error_from_json,
)
from .batch_rows import (
    OUTBOX_COLUMNS,
    Rows,
    cursors_from_meta,
    number_outbox_rows,
    outbox_item,
    serialise,
)
from .lock import busy, writer_info
from .member_lists import ListedMember, MemberListQuery
from .postgres_member_lists import PostgresMemberLists
from .postgres_reports import PostgresReports
from .postgres_schema import lock_key, migrate
from .postgres_text import use_escaped_text
from .postgres_url import parse_url
from .postgres_worker import (
    Fence,
    claim_partition,
    fence_partitions,
    number_from_sequence,
    partition_timers,
)
from .postgres_writes import write_rows
from .records import (
    DEFAULT_DEDUP_WINDOW,
    DEFAULT_TRACE_RETENTION,
    ActivityCounter,
    ReportContext,
)
from .report_breakdowns import BreakdownTally
from .reports import ActionTally, MemberTally, ReportQuery

#: The most processed ids one commit forgets (a store opened after a long pause catches
#: up over a few commits, none of them slow).
FORGET_AT_ONCE = 20_000

#: Seconds to wait for the server when connecting, unless the URL says otherwise.
CONNECT_TIMEOUT = 10


class PostgreSQLStore:
    """A :class:`~engage_rules.store.base.Store` in one schema of a PostgreSQL database.

    ``url`` is a libpq URL with an optional ``schema`` parameter.  The store may be
    shared by threads (the engine loop and the dispatcher): calls are serialised.  One
    process at a time may write a schema, or (``worker``) any number of Kafka workers,
    each its own partitions (postgres_worker.py).
    """

    #: Members kept in memory after a commit (the rest are loaded again on demand).
    member_cache = 50_000

    def __init__(self, url: str, *, worker: bool = False) -> None:
        parsed = parse_url(url)
        self.worker = worker
        self.url = parsed.shown
        self.schema = parsed.schema
        self._lock = threading.Lock()
        self._closed = False
        self._broken: str | None = None
        self._writer = False
        self._loaded = False
        self._outbox_next = 1
        self._dedup_window: float | None = DEFAULT_DEDUP_WINDOW
        self._horizon: float | None = None
        self._forgotten_to = -1e18
        self._counter = ActivityCounter()
        self._trace_retention: float | None = DEFAULT_TRACE_RETENTION
        self._pruned_at = -1e18
        self._conn = self._connect(parsed.conninfo)
        try:
            migrate(self._conn, self.schema, self.url)
            self._conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
        except psycopg.Error as err:
            self._conn.close()
            raise StoreError(f"cannot open PostgreSQL store {self.url}: {_text(err)}") from err
        except BaseException:
            self._conn.close()
            raise
        self._reports = PostgresReports(self._snapshot, self._decoding)
        self._member_lists = PostgresMemberLists(self._snapshot, self._decoding)

    def _connect(self, conninfo: str) -> psycopg.Connection:
        options: dict[str, Any] = {"application_name": "engage-rules", "client_encoding": "utf8"}
        if "connect_timeout" not in conninfo:
            options["connect_timeout"] = CONNECT_TIMEOUT
        try:
            conn = psycopg.connect(conninfo, autocommit=True, **options)
        except psycopg.Error as err:
            raise StoreError(
                f"cannot connect to PostgreSQL store {self.url}: {_text(err)}"
            ) from err
        use_escaped_text(conn)
        return conn

    # -- the connection -----------------------------------------------------------------
    @contextmanager
    def _use(self, *, write: bool = False) -> Iterator[psycopg.Connection]:
        """The connection, for one call (locked).  ``write``: the call writes, so this
        store must be the schema's one writer."""
        with self._lock:
            if self._closed:
                raise StoreError(f"PostgreSQL store {self.url} is closed")
            if self._broken is not None:
                raise StoreError(self._broken)
            try:
                if write and not self._writer:
                    self._become_writer()
                yield self._conn
            except psycopg.Error as err:
                if self._conn.broken or self._conn.closed:
                    self._broken = (
                        f"PostgreSQL store {self.url}: the connection was lost ({_text(err)}); "
                        "reopen the store"
                    )
                    raise StoreError(self._broken) from err
                raise StoreError(f"PostgreSQL store {self.url}: {_text(err)}") from err

    def _become_writer(self) -> None:
        """Take the schema's writer lock, or raise StoreError naming its holder; then
        close the range of a replay whose process died (see :meth:`begin_replay`)."""
        conn = self._conn
        key = lock_key(self.schema, "writer")
        if self.worker:  # shared among workers; a single writer holds it exclusively
            (got,) = conn.execute("SELECT pg_try_advisory_lock_shared(%s)", (key,)).fetchone() or (
                False,
            )
            if not got:
                raise StoreError(
                    f"PostgreSQL store {self.url} (schema {self.schema}) is being written by "
                    "a single writer (run or replay): Kafka workers cannot write it meanwhile"
                )
            self._writer = True
            return
        (got,) = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone() or (False,)
        if not got:
            row = conn.execute("SELECT value FROM meta WHERE key = 'writer'").fetchone()
            try:
                holder = orjson.loads(row[0]) if row else {}
            except orjson.JSONDecodeError:
                holder = {}
            if not isinstance(holder, dict):
                holder = {}
            raise busy(f"{self.url} (schema {self.schema})", holder)
        try:
            with conn.transaction():
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('writer', %s) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (orjson.dumps(writer_info()).decode(),),
                )
                conn.execute(
                    "UPDATE replays SET last_seq = (SELECT coalesce(max(seq), 0) FROM outbox) "
                    "WHERE last_seq IS NULL"
                )
        except BaseException:
            with suppress(psycopg.Error):
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
            raise
        self._writer = True

    @contextmanager
    def _snapshot(self) -> Iterator[psycopg.Connection]:
        """The connection in one repeatable-read transaction: a consistent snapshot."""
        with self._use() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            yield conn

    @contextmanager
    def _decoding(self, table: str) -> Iterator[None]:
        """Turn a row that cannot be decoded into a StoreError naming the table."""
        try:
            yield
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise StoreError(f"{self.url}: corrupt store data in table {table}: {err}") from err

    def _indexes(self, conn: psycopg.Connection) -> None:
        """Read the outbox's next seq and the dedup horizon once."""
        if self._loaded:
            return
        meta: dict[str, str] = dict(
            conn.execute(
                "SELECT key, value FROM meta WHERE key IN ('outbox_seq', 'dedup_horizon')"
            ).fetchall()
        )
        (top,) = conn.execute("SELECT coalesce(max(seq), 0) FROM outbox").fetchone() or (0,)
        self._outbox_next = max(int(meta.get("outbox_seq") or 0), int(top)) + 1
        horizon = meta.get("dedup_horizon")
        self._horizon = float(horizon) if horizon else None
        self._loaded = True

    # -- replays --------------------------------------------------------------------------
    def begin_replay(self, key: str) -> list[tuple[int, int]]:
        """Start a run of the replay ``key``; the outbox ranges earlier runs committed."""
        with self._use(write=True) as conn:
            self._indexes(conn)
            ranges = conn.execute(
                "SELECT first_seq, last_seq FROM replays "
                "WHERE key = %s AND last_seq >= first_seq ORDER BY first_seq",
                (key,),
            ).fetchall()
            conn.execute(
                "INSERT INTO replays (key, first_seq) VALUES (%s, %s)", (key, self._outbox_next)
            )
        return [(int(a), int(b)) for a, b in ranges]

    def end_replay(self, key: str) -> None:
        """The run of ``key`` that :meth:`begin_replay` started is complete."""
        with self._use(write=True) as conn:
            self._indexes(conn)
            conn.execute(
                "UPDATE replays SET last_seq = %s WHERE key = %s AND last_seq IS NULL",
                (self._outbox_next - 1, key),
            )

    # -- state ----------------------------------------------------------------------------
    def open(self) -> State:
        """The state without its members: they are loaded on demand."""
        with self._snapshot() as conn, self._decoding("meta"):
            self._indexes(conn)
            state = State(source=self)
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            clock = meta.get("clock")
            state.clock = datetime.fromisoformat(clock) if clock else None
            for name, js in conn.execute("SELECT name, json FROM communities"):
                state.community(name).data = orjson.loads(js)
            state.timer_seq = int(meta.get("timer_seq") or 0)
            state.cursors = cursors_from_meta(meta)
            state.timer_source = self  # the earliest timers now, the rest when due
            with self._decoding("timers"):
                state.take_timers(*partition_timers(conn, None, -math.inf, state.TIMER_WINDOW))
            return state

    # -- timers on demand (model/state.py TimerSource) ---------------------------------
    def load_timers(self, start: float, limit: int) -> tuple[list[Timer], float]:
        """The stored timers due at or after ``start``: a page of them (timer_pages.py)."""
        with self._use() as conn, self._decoding("timers"):
            return partition_timers(conn, None, start, limit)

    def timer_pending(self, timer_id: str, start: float) -> bool:
        """Whether timer ``timer_id`` is stored and due at or after ``start``."""
        with self._use() as conn:
            row = conn.execute(
                "SELECT 1 FROM timers WHERE id = %s AND due >= %s", (timer_id, start)
            ).fetchone()
        return row is not None

    def load_member(self, community: str, member: str) -> MemberState | None:
        """The stored state of one member (one row), or None."""
        with self._use() as conn:
            row = conn.execute(
                "SELECT json FROM members WHERE community = %s AND id = %s", (community, member)
            ).fetchone()
        if row is None:
            return None
        with self._decoding("members"):
            return MemberState.from_json(orjson.loads(row[0]))

    def load_members(self, community: str, members: Sequence[str]) -> dict[str, MemberState]:
        """The stored state of each of ``members`` the store has, in one query."""
        if not members:
            return {}
        with self._use() as conn:
            rows = conn.execute(
                "SELECT id, json FROM members WHERE community = %s AND id = ANY(%s)",
                (community, list(members)),
            ).fetchall()
        with self._decoding("members"):
            return {member: MemberState.from_json(orjson.loads(js)) for member, js in rows}

    def member_ids(self, community: str) -> Iterator[str]:
        """The ids of every stored member of ``community``."""
        with self._use() as conn:
            rows = conn.execute(
                "SELECT id FROM members WHERE community = %s", (community,)
            ).fetchall()
        return iter([r[0] for r in rows])

    def is_processed(self, cause_id: str) -> bool:
        with self._use() as conn:
            row = conn.execute("SELECT 1 FROM processed WHERE id = %s", (cause_id,)).fetchone()
        return row is not None

    def processed_among(self, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        with self._use() as conn:
            rows = conn.execute(
                "SELECT id FROM processed WHERE id = ANY(%s)", (list(dict.fromkeys(ids)),)
            ).fetchall()
        return {r[0] for r in rows}

    def keep_processed(self, seconds: float | None) -> None:
        self._dedup_window = seconds

    def dedup_horizon(self) -> float | None:
        if not self._loaded:
            with self._use() as conn:
                self._indexes(conn)
        return self._horizon

    # -- commits ----------------------------------------------------------------------------
    def commit(self, decisions: Sequence[Decision], state: State) -> None:
        """Persist the batch in one transaction; durable when this returns."""
        if self.worker:
            raise StoreError("a worker-mode store commits through its partitions")
        if decisions or state.cursors_moved:
            self._write(serialise(decisions, state, self._counter))

    def commit_async(self, decisions: Sequence[Decision], state: State) -> Future[None]:
        """:meth:`commit`, then a completed future (this store has no pipeline)."""
        self.commit(decisions, state)
        return completed()

    def _write(self, rows: Rows) -> None:
        with self._use(write=True) as conn:
            self._indexes(conn)
            outbox, seq = number_outbox_rows(rows.actions, rows.causes, self._outbox_next)
            with conn.transaction():
                cur = conn.cursor()
                write_rows(cur, rows, outbox, seq - 1)
                if outbox:  # workers number from the sequence: keep it past these
                    cur.execute("SELECT setval('outbox_seqs', %s)", (seq - 1,))
                self._housekeeping(cur, rows)
            self._outbox_next = seq

    def _housekeeping(self, cur: psycopg.Cursor[Any], rows: Rows) -> None:
        """Forget old processed ids and prune old traces, as a commit of ``rows`` allows
        (with workers: one of them at a time, the others skip it)."""
        if not (rows.causes or rows.traces):
            return
        if self.worker:
            key = lock_key(self.schema, "housekeeping")
            (got,) = cur.execute("SELECT pg_try_advisory_xact_lock(%s)", (key,)).fetchone() or (
                False,
            )
            if not got:
                return
        if rows.causes:
            self._forget_processed(cur, rows.clock)
        if rows.traces:
            self._prune_traces(cur, max(t[4] for t in rows.traces))

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection]:
        """The connection in one write transaction (for postgres_claims.py)."""
        with self._use(write=True) as conn, conn.transaction():
            yield conn

    # -- worker mode (postgres_worker.py) -----------------------------------------------
    def fence(self, topic: str, partitions: Sequence[int]) -> dict[int, Fence]:
        """Fence ``partitions`` of ``topic`` for this worker: bump each one's epoch in one
        transaction and return, per partition, the new epoch, the next offset to consume
        and its engine's clock and timer sequence.  Every worker that fenced them before
        can no longer commit them."""
        with self._use(write=True) as conn:
            return fence_partitions(conn, topic, partitions)

    def partition_state(self, fence: Fence) -> State:
        """The state of one fenced partition: its clock, communities and timer sequence
        (members and timers on demand: postgres_worker.py ``PartitionStore``)."""
        with self._snapshot() as conn, self._decoding("communities"):
            state = State(source=self)
            state.clock = fence.clock
            for name, js in conn.execute(
                "SELECT name, json FROM communities WHERE part = %s", (fence.partition,)
            ):
                state.community(name).data = orjson.loads(js)
            state.timer_seq = fence.timer_seq
            return state

    def partition_timers(self, part: int, start: float, limit: int) -> tuple[list[Timer], float]:
        """The stored timers of one partition from ``start`` (postgres_worker.py
        ``partition_timers``)."""
        with self._use() as conn, self._decoding("timers"):
            return partition_timers(conn, part, start, limit)

    def partition_timer_pending(self, part: int, timer_id: str, start: float) -> bool:
        """Whether timer ``timer_id`` of partition ``part`` is stored, due at or after
        ``start``."""
        with self._use() as conn:
            row = conn.execute(
                "SELECT 1 FROM timers WHERE part = %s AND id = %s AND due >= %s",
                (part, timer_id, start),
            ).fetchone()
        return row is not None

    def commit_partition(
        self,
        decisions: Sequence[Decision],
        state: State,
        fence: Fence,
        next_offset: int,
    ) -> None:
        """Commit a worker's batch of one partition with the offset it consumed up to, in
        one transaction that first checks the partition's epoch is still ``fence``'s:
        if another worker fenced it since, nothing is written and FencedError is raised.
        ``decisions`` may be empty (records that decided nothing were consumed)."""
        if not self.worker:
            raise StoreError("commit_partition needs a worker-mode store")
        rows = serialise(decisions, state, self._counter) if decisions else None
        with self._use(write=True) as conn, conn.transaction():
            cur = conn.cursor()
            if not claim_partition(cur, fence, next_offset, state):
                raise FencedError(fence.topic, [fence.partition])
            if rows is not None:
                outbox = number_from_sequence(cur, rows)
                write_rows(cur, rows, outbox, None, fence.partition)
                self._housekeeping(cur, rows)
            row = cur.execute("SELECT value FROM meta WHERE key = 'dedup_horizon'").fetchone()
            self._horizon = float(row[0]) if row else None
            self._loaded = True

    def _forget_processed(self, cur: psycopg.Cursor[Any], clock: float) -> None:
        """Delete the oldest processed ids committed more than the dedup window before
        ``clock`` (at most :data:`FORGET_AT_ONCE`; once caught up, at most once per
        hundredth of the window), and move the horizon to the newest one deleted."""
        window = self._dedup_window
        if window is None:
            return
        limit = clock - window
        if limit - self._forgotten_to < window / 100:
            return
        newest, count = cur.execute(
            "WITH gone AS (DELETE FROM processed WHERE id IN (SELECT id FROM processed "
            "WHERE ts < %s ORDER BY ts LIMIT %s) RETURNING ts) SELECT max(ts), count(*) FROM gone",
            (limit, FORGET_AT_ONCE),
        ).fetchone() or (None, 0)
        if count < FORGET_AT_ONCE:  # caught up: the next look is a hundredth later
            self._forgotten_to = limit
        if newest is None:
            return
        horizon = max(newest, self._horizon) if self._horizon is not None else newest
        (stored,) = cur.execute(
            "INSERT INTO meta (key, value) VALUES ('dedup_horizon', %s) "
            "ON CONFLICT (key) DO UPDATE SET value = CASE WHEN "
            "meta.value::float8 > excluded.value::float8 THEN meta.value "
            "ELSE excluded.value END RETURNING value",
            (repr(horizon),),
        ).fetchone() or (repr(horizon),)
        self._horizon = float(stored)

    def _prune_traces(self, cur: psycopg.Cursor[Any], newest: float) -> None:
        """Delete traces older than the retention behind ``newest``, at most once per
        hundredth of the retention."""
        keep = self._trace_retention
        if keep is None or newest - self._pruned_at < keep / 100:
            return
        cur.execute("DELETE FROM traces WHERE ts < %s", (newest - keep,))
        self._pruned_at = newest

    # -- reports and traces -------------------------------------------------------------
    def set_report_context(self, context: ReportContext) -> None:
        with self._use(write=True) as conn:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('report_context', %s) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (orjson.dumps(context.to_json()).decode(),),
            )
        self._counter.use(context)

    def report_context(self) -> ReportContext:
        with self._use() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'report_context'").fetchone()
        if not row:
            return ReportContext()
        with self._decoding("meta"):
            return ReportContext.from_json(orjson.loads(row[0]))

    def activity(self) -> list[tuple[str, str, str, str, int]]:
        with self._use() as conn:
            rows = conn.execute(
                "SELECT community, member, day, type, events FROM activity "
                "ORDER BY community, member, day, type"
            ).fetchall()
        return [(c, m, day.isoformat(), t, int(n)) for c, m, day, t, n in rows]

    def activity_totals(self) -> list[tuple[str, str, str, int]]:
        """Events per (community, day, type) (records.DayTotals)."""
        with self._use() as conn:
            rows = conn.execute(
                "SELECT community, day, type, events FROM activity_totals "
                "ORDER BY community, day, type"
            ).fetchall()
        return [(c, day.isoformat(), t, int(n)) for c, day, t, n in rows]

    def member_marks(self) -> list[tuple[str, str, str, str]]:
        """Each member's marks and their first day (records.MemberMarks)."""
        with self._use() as conn:
            rows = conn.execute(
                "SELECT community, member, mark, day FROM member_marks "
                "ORDER BY community, member, mark"
            ).fetchall()
        return [(c, m, mark, day.isoformat()) for c, m, mark, day in rows]

    def keep_traces(self, seconds: float | None) -> None:
        self._trace_retention = seconds
        self._pruned_at = -1e18

    def report_communities(self) -> list[str]:
        return self._reports.communities()

    def report_newest_day(self, timezone: str, community: str | None) -> date | None:
        return self._reports.newest_day(timezone, community)

    def report_clock(self) -> datetime | None:
        return self._reports.clock()

    def report_members(self, query: ReportQuery) -> MemberTally:
        return self._reports.members(query)

    def report_daily_active(self, query: ReportQuery) -> dict[date, int]:
        return self._reports.daily_active(query)

    def report_experiments(self, query: ReportQuery) -> dict[tuple[str, str], tuple[int, int]]:
        return self._reports.experiments(query)

    def report_breakdowns(self, query: ReportQuery) -> BreakdownTally:
        return self._reports.breakdowns(query)

    def report_actions(self, query: ReportQuery) -> ActionTally:
        return self._reports.actions(query)

    def report_audit(self, query: ReportQuery) -> dict[tuple[str, str], int]:
        return self._reports.audit(query)

    def report_points(self, query: ReportQuery) -> dict[tuple[str, str], int]:
        return self._reports.points(query)

    def report_member_list(self, query: MemberListQuery) -> Iterator[ListedMember]:
        return self._member_lists.member_list(query)

    def traces(
        self,
        *,
        event: str | None = None,
        cause: str | None = None,
        member: str | None = None,
        community: str | None = None,
    ) -> list[dict[str, Any]]:
        where: list[sql.Composable] = []
        params: list[str] = []
        for column, value in (
            ("event", event),
            ("cause", cause),
            ("member", member),
            ("community", community),
        ):
            if value is not None:
                where.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
                params.append(value)
        query: sql.Composable = sql.SQL("SELECT json FROM traces")
        if where:
            query += sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where)
        with self._use() as conn:
            rows = conn.execute(query + sql.SQL(" ORDER BY seq"), params).fetchall()
        with self._decoding("traces"):
            return [orjson.loads(js) for (js,) in rows]

    # -- outbox -------------------------------------------------------------------------
    def outbox(
        self, *, status: str | None = None, limit: int | None = None, after: int = 0
    ) -> list[OutboxItem]:
        check_outbox_query(status, limit, after)
        query = f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE seq > %s"
        if status is not None:
            query += f" AND status = '{status}'"  # a checked literal: partial indexes apply
        query += " ORDER BY seq"
        params: tuple[int, ...] = (after,)
        if limit is not None:
            query += " LIMIT %s"
            params = (after, limit)
        with self._use() as conn:
            rows = conn.execute(query.encode(), params).fetchall()
        with self._decoding("outbox"):
            return [outbox_item(row) for row in rows]

    def mark_sending(self, keys: Sequence[str]) -> None:
        self._update_outbox(
            keys, "UPDATE outbox SET status = 'sending' WHERE key = ANY(%s) AND status = 'pending'"
        )

    def mark_delivered(self, keys: Sequence[str]) -> None:
        self._update_outbox(
            keys,
            "UPDATE outbox SET status = 'delivered', attempts = attempts + 1 "
            "WHERE key = ANY(%s) AND status <> 'delivered'",
        )

    def _update_outbox(self, keys: Sequence[str], query: str) -> None:
        """Run ``query`` (one ``key = ANY(%s)`` parameter) for the items of ``keys``."""
        unique = list(dict.fromkeys(keys))
        if not unique:
            return
        with self._use(write=True) as conn:
            conn.execute(query.encode(), (unique,))

    def mark_failed(self, key: str, error: str, permanent: bool) -> None:
        with self._use(write=True) as conn:
            conn.execute(
                "UPDATE outbox SET status = %s, attempts = attempts + 1, last_error = %s "
                "WHERE key = %s AND status <> 'delivered'",
                ("failed" if permanent else "pending", error, key),
            )

    # -- logs ---------------------------------------------------------------------------
    def _log(self, table: str) -> list[dict[str, Any]]:
        with self._use() as conn:
            rows = conn.execute(
                sql.SQL("SELECT json FROM {} ORDER BY seq").format(sql.Identifier(table))
            ).fetchall()
        with self._decoding(table):
            return log_entries(js for (js,) in rows)

    def rule_errors(self) -> list[RuleFailure]:
        log = self._log("errors")
        with self._decoding("errors"):
            return [rule_error_from_json(d) for d in log]

    def audit_log(self) -> list[dict[str, Any]]:
        return self._log("audit")

    def review_queue(self) -> list[dict[str, Any]]:
        return self._log("review")

    def ledger(self, community: str, member: str) -> list[LedgerEntry]:
        """The persisted ledger of one member, by ``seq``."""
        with self._use() as conn:
            rows = conn.execute(
                "SELECT json FROM ledger WHERE community = %s AND member = %s ORDER BY rid",
                (community, member),
            ).fetchall()
        with self._decoding("ledger"):
            return link_reversals([LedgerEntry.from_json(orjson.loads(js)) for (js,) in rows])

    def ledgers(self, community: str | None = None) -> Iterator[tuple[str, str, LedgerEntry]]:
        """Every persisted ledger entry (of one community), member by member, by ``seq``."""
        query = "SELECT community, member, json FROM ledger"
        params: tuple[str, ...] = ()
        if community is not None:
            query += " WHERE community = %s"
            params = (community,)
        with self._use() as conn:
            rows = conn.execute(
                (query + " ORDER BY community, member, rid").encode(), params
            ).fetchall()
        with self._decoding("ledger"):
            yield from ledgers_from_rows(rows)

    def close(self) -> None:
        """Release the connection (and with it the writer lock).  Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._loaded = False
            with suppress(psycopg.Error):
                if self._writer and not self._conn.closed:
                    # At once: the server ends a closed session's locks a little later.
                    unlock = "pg_advisory_unlock_shared" if self.worker else "pg_advisory_unlock"
                    self._conn.execute(
                        f"SELECT {unlock}(%s)".encode(), (lock_key(self.schema, "writer"),)
                    )
                self._conn.close()
            self._writer = False

    def __enter__(self) -> PostgreSQLStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _text(err: BaseException) -> str:
    """A psycopg error as one line."""
    return " ".join(str(err).split()) or type(err).__name__
