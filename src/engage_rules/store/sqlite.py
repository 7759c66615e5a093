"""The embedded durable store (docs/running.md): one SQLite file, WAL, durable commits.

Layout (schema version 6)::

    meta(key, value)                       schema_version, format, clock, timer_seq, outbox_seq
    processed(id, ts)                      committed event and timer ids with the clock of
                                           their commit, within the dedup window (4)
    communities(name, json)                community-level data
    members(community, id, json, joined, status)   MemberState JSON (with ledger_seq and
                                           the revocable credits; no ledger) (5);
                                           joined_at (Unix seconds), status (6)
    ledger(rid, community, member, seq, json, ts, currency, kind, amount)   LedgerEntry
                                           JSON, appended in commit order; the entry's
                                           time, currency, kind and amount (6)
    outbox(seq, key, json, status, attempts, last_error,
           ts, community, type, rule, cause, member, direct, first)   in commit order;
                                           json is the action, plus "platform" of its
                                           event; first: batch_rows.first_flags (6)
    timers(id, due, json)                  pending timers, indexed by due time
    errors(seq, json), review(seq, json)
    audit(seq, json, ts, community, action, reason)
    activity(community, member, day, type, events)     daily activity, for reports (2)
    traces(seq, event, cause, community, member, ts, json)   rule traces (2)
    replays(key, first_seq, last_seq)      outbox rows each run of a replay committed (3)
    processed_id, outbox_key               unique indexes: ids and keys are looked up (4)

The columns marked (4) copy what reports group by out of the JSON (``ts``: whole Unix
seconds), so that ``engage-rules report`` aggregates in SQL (sqlite_reports.py).

Every :meth:`SQLiteStore.commit` is one ``BEGIN IMMEDIATE ... COMMIT`` transaction with
``synchronous=FULL`` in WAL mode: when it returns, the batch survives a killed process
and a power loss; a crash before that leaves none of it.

Pages written per commit are what limits a durable commit (each dirty page is a WAL
frame), so the layout keeps random B-tree inserts few: processed ids, outbox rows and
ledger rows are appended in commit order.  Processed ids and outbox keys each have a
unique index, which the database checks: nothing about them is held in memory, so
opening a store costs the same after a year as after a day.  The runner asks for a
chunk of event ids at once (:meth:`SQLiteStore.processed_among`).  Processed ids older
than the dedup window (:meth:`SQLiteStore.keep_processed`, 30 days by default) are
deleted, oldest first; ``meta.dedup_horizon`` records up to when.  A ledger entry is
written once: ``reversed_by`` is derived when the ledger is read, from the reversal's
``reverses`` (a store of schema 3 or older may hold an entry written again with its
``reversed_by``: the latest version wins).  Opening the store reads no member, no ledger
row and no id: members are loaded when first needed (:meth:`SQLiteStore.load_member`),
and a member's row carries what the engine keeps of its ledger.  Only
members (bounded by the population) are updated in place.  One process at a time writes
the file: the first write takes an exclusive lock on ``<file>.lock`` (lock.py) that the
store holds until it is closed.
"""

from __future__ import annotations

import heapq
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager, suppress
from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson

from ..errors import StoreError
from ..model.decision import ActionRecord, Decision, RuleFailure
from ..model.state import (
    REVOCABLE_MAX,
    LedgerEntry,
    MemberState,
    State,
    Timer,
    ts,
)
from .base import (
    OutboxItem,
    check_outbox_query,
    completed,
    link_reversals,
    rule_error_from_json,
)
from .batch_rows import Rows as _Rows
from .batch_rows import number_outbox_rows, serialise
from .lock import WriterLock
from .records import (
    DEFAULT_DEDUP_WINDOW,
    DEFAULT_TRACE_RETENTION,
    ActivityCounter,
    ReportContext,
    zone,
)
from .reports import ActionTally, MemberTally, ReportQuery
from .sqlite_reports import (
    action_tally,
    audit_tally,
    communities,
    daily_active,
    member_tally,
    newest_day,
    points_tally,
    report_columns_upgrade,
)

SCHEMA_VERSION = 6
FORMAT = "engage_rules"

_SCHEMA = (
    """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE processed (id TEXT NOT NULL, ts REAL NOT NULL DEFAULT 0);
CREATE TABLE communities (name TEXT PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE members (
    community TEXT NOT NULL,
    id TEXT NOT NULL,
    json TEXT NOT NULL,
    joined INTEGER,
    status TEXT,
    PRIMARY KEY (community, id)
);
CREATE TABLE ledger (
    rid INTEGER PRIMARY KEY,
    community TEXT NOT NULL,
    member TEXT NOT NULL,
    seq INTEGER NOT NULL,
    json TEXT NOT NULL,
    ts INTEGER,
    currency TEXT,
    kind TEXT,
    amount INTEGER
);
CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    json TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    ts INTEGER,
    community TEXT,
    type TEXT,
    rule TEXT,
    cause TEXT,
    member TEXT,
    direct INTEGER,
    first INTEGER
);
CREATE INDEX outbox_pending ON outbox (seq) WHERE status = 'pending';
CREATE TABLE timers (id TEXT PRIMARY KEY, due REAL NOT NULL, json TEXT NOT NULL);
CREATE INDEX timers_due ON timers (due);
CREATE TABLE errors (seq INTEGER PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY,
    json TEXT NOT NULL,
    ts INTEGER,
    community TEXT,
    action TEXT,
    reason TEXT
);
CREATE TABLE review (seq INTEGER PRIMARY KEY, json TEXT NOT NULL);
"""
    + """
CREATE TABLE IF NOT EXISTS activity (
    community TEXT NOT NULL,
    member TEXT NOT NULL,
    day TEXT NOT NULL,
    type TEXT NOT NULL,
    events INTEGER NOT NULL,
    PRIMARY KEY (day, community, member, type)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS traces (
    seq INTEGER PRIMARY KEY,
    event TEXT NOT NULL,
    cause TEXT NOT NULL,
    community TEXT NOT NULL,
    member TEXT,
    ts REAL NOT NULL,
    json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS traces_event ON traces (event);
CREATE INDEX IF NOT EXISTS traces_cause ON traces (cause);
CREATE INDEX IF NOT EXISTS traces_member ON traces (community, member);
CREATE INDEX IF NOT EXISTS traces_ts ON traces (ts);
"""
    + """
CREATE TABLE IF NOT EXISTS replays (
    key TEXT NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq INTEGER
);
CREATE INDEX IF NOT EXISTS replays_key ON replays (key);
"""
    + """
CREATE UNIQUE INDEX IF NOT EXISTS processed_id ON processed (id);
CREATE UNIQUE INDEX IF NOT EXISTS outbox_key ON outbox (key);
"""
)


def _upgrade_members(db: sqlite3.Connection) -> None:
    """Schema 5: each member's row carries the ``seq`` of its latest ledger entry and
    its revocable credits (every unreversed award not wholly expired, the newest
    REVOCABLE_MAX), derived once from the ledger table; the engine forgets those a
    playbook cannot revoke when it starts (features/points.py)."""
    rows = db.execute(
        "SELECT community, member, seq, json FROM ledger ORDER BY community, member, rid"
    )
    key: tuple[str, str] | None = None
    entries: dict[int, dict[str, Any]] = {}
    for community, member, seq, js in rows:
        if (community, member) != key:
            if key is not None:
                _upgrade_member(db, key, entries)
            key, entries = (community, member), {}
        entries[seq] = orjson.loads(js)  # the latest version of an entry wins
    if key is not None:
        _upgrade_member(db, key, entries)


def _upgrade_member(
    db: sqlite3.Connection, key: tuple[str, str], entries: dict[int, dict[str, Any]]
) -> None:
    reversed_ = {e["reverses"] for e in entries.values() if e["kind"] == "revoke"}
    expired: dict[int, int] = {}
    for e in entries.values():
        if e["kind"] == "expire" and e.get("reverses") is not None:
            expired[e["reverses"]] = expired.get(e["reverses"], 0) - e["amount"]
    credits = []
    for seq in sorted(entries):
        e = entries[seq]
        if e["kind"] != "award" or e["amount"] <= 0 or seq in reversed_ or e.get("reversed_by"):
            continue
        left = e["amount"] - expired.get(seq, 0)
        if left > 0:
            at = ts(datetime.fromisoformat(e["at"]))
            credits.append([seq, at, e["currency"], left, e["rule"], e["cause"], e.get("ref")])
    row = db.execute("SELECT json FROM members WHERE community = ? AND id = ?", key).fetchone()
    member = orjson.loads(row[0]) if row else {"id": key[1], "community": key[0]}
    member["ledger_seq"] = max(entries)
    if credits:
        member["revocable"] = credits[-REVOCABLE_MAX:]
    db.execute(
        "INSERT INTO members (community, id, json) VALUES (?, ?, ?) "
        "ON CONFLICT (community, id) DO UPDATE SET json = excluded.json",
        (*key, orjson.dumps(member).decode()),
    )


#: What each schema version added to the one before (a store written by an older
#: version is upgraded in place, step by step, when opened): statements, or a function
#: run in the upgrade's transaction.
_UPGRADES: dict[int, str | Callable[[sqlite3.Connection], None]] = {
    2: _SCHEMA[
        _SCHEMA.index("CREATE TABLE IF NOT EXISTS activity") : _SCHEMA.index(
            "CREATE TABLE IF NOT EXISTS replays"
        )
    ],
    3: _SCHEMA[
        _SCHEMA.index("CREATE TABLE IF NOT EXISTS replays") : _SCHEMA.index(
            "CREATE UNIQUE INDEX IF NOT EXISTS processed_id"
        )
    ],
    # Processed ids get the store's clock at commit (the dedup window forgets by it) and,
    # like action keys, a unique index: both are looked up in the database, not loaded.
    # Ids committed before the upgrade count as committed at the clock of the upgrade
    # (plus a second, against rounding).
    4: """
ALTER TABLE processed ADD COLUMN ts REAL NOT NULL DEFAULT 0;
UPDATE processed SET ts = coalesce(
    (SELECT (julianday(value) - 2440587.5) * 86400.0 + 1 FROM meta
     WHERE key = 'clock' AND value != ''), 0);
DELETE FROM processed WHERE rowid NOT IN (SELECT min(rowid) FROM processed GROUP BY id);
DELETE FROM outbox WHERE seq NOT IN (SELECT min(seq) FROM outbox GROUP BY key);
"""
    + _SCHEMA[_SCHEMA.index("CREATE UNIQUE INDEX IF NOT EXISTS processed_id") :],
    5: _upgrade_members,
    6: report_columns_upgrade(),
}

#: The most processed ids one commit forgets (see SQLiteStore._forget_processed).
FORGET_AT_ONCE = 20_000

#: WAL pages between automatic checkpoints (SQLite's default is 1000).  Fewer, larger
#: checkpoints copy a page rewritten by many commits only once.
WAL_AUTOCHECKPOINT = 16384


def _latest_versions(versions: list[LedgerEntry]) -> list[LedgerEntry]:
    """One entry per ``seq`` (the last version written wins), ordered by ``seq``."""
    latest = {e.seq: e for e in versions}
    return [latest[seq] for seq in sorted(latest)]


class SQLiteStore:
    """A :class:`~engage_rules.store.base.Store` in one SQLite database file.

    ``path`` is a file path (parent directories are created) or ``":memory:"`` for a
    private in-memory database (handy in tests; not durable).  The store may be shared
    by threads (e.g. the engine loop and the dispatcher): calls are serialised.  One
    process at a time may write a database file.
    """

    #: Members kept in memory after a commit (the rest are loaded again on demand).
    member_cache = 50_000

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        self._closed = False
        self._broken: str | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._inflight: Future[None] | None = None
        # What is read once on first use (see the module docstring); processed ids and
        # action keys are looked up in the database, never loaded.
        self._loaded = False
        self._outbox_next = 1
        self._dedup_window: float | None = DEFAULT_DEDUP_WINDOW
        #: The time up to which processed ids were forgotten (meta ``dedup_horizon``).
        self._horizon: float | None = None
        #: The oldest time still remembered the last time ids were forgotten.
        self._forgotten_to = -1e18
        self._counter = ActivityCounter()
        self._trace_retention: float | None = DEFAULT_TRACE_RETENTION
        #: The newest trace time up to which older traces were pruned.
        self._pruned_at = -1e18
        #: Taken before the first write, held until close: one writer per store file.
        self._writer = WriterLock(self.path) if self.path != ":memory:" else None
        if self.path != ":memory:":
            try:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise StoreError(f"cannot create the directory of {self.path}: {err}") from err
        try:
            self._db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=10.0
            )
        except sqlite3.Error as err:
            raise StoreError(f"cannot open SQLite store {self.path}: {err}") from err
        try:
            self._setup()
        except BaseException:
            self._db.close()
            self._closed = True
            raise

    # -- setup --------------------------------------------------------------------------
    def _setup(self) -> None:
        db = self._db
        try:
            if self.path != ":memory:":
                mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise StoreError(f"{self.path}: cannot switch the database to WAL mode")
            db.execute("PRAGMA synchronous=FULL")
            db.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT}")
            db.execute("PRAGMA cache_size=-65536")  # KiB: 64 MiB
            db.execute("PRAGMA temp_store=MEMORY")
            db.execute("BEGIN IMMEDIATE")
            try:
                self._check_or_create_schema()
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        except sqlite3.DatabaseError as err:
            raise StoreError(f"cannot open SQLite store {self.path}: {err}") from err

    def _check_or_create_schema(self) -> None:
        db = self._db
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [
                    ("schema_version", str(SCHEMA_VERSION)),
                    ("format", FORMAT),
                    ("clock", ""),
                    ("timer_seq", "0"),
                    ("outbox_seq", "0"),
                ],
            )
            return
        not_ours = f"{self.path} is a SQLite database but not an engage_rules store"
        if "meta" not in tables:
            raise StoreError(not_ours)
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("format") != FORMAT:
            raise StoreError(not_ours)
        raw = meta.get("schema_version", "")
        try:
            version = int(raw)
        except ValueError:
            raise StoreError(
                f"{self.path}: unknown store schema version {raw!r}; this version of "
                f"engage_rules reads schema {SCHEMA_VERSION}"
            ) from None
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer engage_rules (store schema {version}); "
                f"this version reads schema {SCHEMA_VERSION}: upgrade engage_rules"
            )
        if version < 1:
            raise StoreError(
                f"{self.path}: unknown store schema version {version}; this version of "
                f"engage_rules reads schema {SCHEMA_VERSION}"
            )
        if version < SCHEMA_VERSION:
            for step in range(version + 1, SCHEMA_VERSION + 1):
                upgrade = _UPGRADES[step]
                if callable(upgrade):
                    upgrade(db)
                    continue
                for statement in upgrade.split(";"):
                    if statement.strip():
                        db.execute(statement)
            db.execute(
                "UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),)
            )
            return
        if version != SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: unknown store schema version {version}; this version of "
                f"engage_rules reads schema {SCHEMA_VERSION}"
            )

    @contextmanager
    def _use(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        """The connection, for one call: locked, with no commit in flight.  ``write``:
        the call writes, so this store must be the file's one writer (lock.py)."""
        with self._lock:
            if self._closed:
                raise StoreError(f"SQLite store {self.path} is closed")
            self._settle()
            try:
                if write and self._writer is not None and not self._writer.held:
                    self._writer.acquire()
                    self._writer_started()
                yield self._db
            except sqlite3.Error as err:
                raise StoreError(f"SQLite store {self.path}: {err}") from err

    def _settle(self) -> None:
        """Wait for the pipelined commit in flight, if any (call with the lock held).

        Its error, if any, reaches its caller through its future and breaks the store.
        """
        future = self._inflight
        if future is not None:
            wait([future])  # an interrupt here leaves the commit in flight, as it is
            self._inflight = None
        if self._broken is not None:
            raise StoreError(self._broken)

    def _indexes(self, db: sqlite3.Connection) -> None:
        """Read the outbox's next seq, the dedup horizon and the member keys once (call
        with the lock held)."""
        if not self._loaded:
            meta = dict(
                db.execute(
                    "SELECT key, value FROM meta WHERE key IN ('outbox_seq', 'dedup_horizon')"
                ).fetchall()
            )
            (top,) = db.execute("SELECT coalesce(max(seq), 0) FROM outbox").fetchone()
            self._outbox_next = max(int(meta.get("outbox_seq") or 0), int(top)) + 1
            horizon = meta.get("dedup_horizon")
            self._horizon = float(horizon) if horizon else None
            self._loaded = True

    def _writer_started(self) -> None:
        """This store just became the file's writer: a replay whose process died ends
        where its commits ended (its output range is closed; see :meth:`begin_replay`)."""
        try:
            self._db.execute(
                "UPDATE replays SET last_seq = (SELECT coalesce(max(seq), 0) FROM outbox) "
                "WHERE last_seq IS NULL"
            )
        except BaseException:
            assert self._writer is not None
            self._writer.release()
            raise

    # -- replays --------------------------------------------------------------------------
    def begin_replay(self, key: str) -> list[tuple[int, int]]:
        """Start a run of the replay named ``key``; return the outbox ranges ``(first
        seq, last seq)`` that earlier runs of it committed, in order (what a resumed
        replay prints again before its new actions: replay_output.py)."""
        with self._use(write=True) as db:
            self._indexes(db)
            ranges = db.execute(
                "SELECT first_seq, last_seq FROM replays "
                "WHERE key = ? AND last_seq >= first_seq ORDER BY first_seq",
                (key,),
            ).fetchall()
            db.execute(
                "INSERT INTO replays (key, first_seq) VALUES (?, ?)", (key, self._outbox_next)
            )
        return [(int(a), int(b)) for a, b in ranges]

    def end_replay(self, key: str) -> None:
        """The run of ``key`` that :meth:`begin_replay` started is complete."""
        with self._use(write=True) as db:
            self._indexes(db)
            db.execute(
                "UPDATE replays SET last_seq = ? WHERE key = ? AND last_seq IS NULL",
                (self._outbox_next - 1, key),
            )

    # -- state --------------------------------------------------------------------------
    def open(self) -> State:
        with self._use() as db:
            db.execute("BEGIN")  # one consistent snapshot
            try:
                self._indexes(db)
                return self._load(db)
            except (ValueError, KeyError, TypeError) as err:  # orjson, fromisoformat...
                raise StoreError(f"{self.path}: corrupt store data: {err!r}") from err
            finally:
                db.execute("COMMIT")

    def _load(self, db: sqlite3.Connection) -> State:
        """The state without its members: they are loaded on demand (:meth:`load_member`)."""
        state = State(source=self)
        loads = orjson.loads
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        clock = meta.get("clock")
        state.clock = datetime.fromisoformat(clock) if clock else None
        for name, js in db.execute("SELECT name, json FROM communities"):
            state.community(name).data = loads(js)
        timers = [Timer.from_json(loads(js)) for (js,) in db.execute("SELECT json FROM timers")]
        heapq.heapify(timers)
        state.timers = timers
        state.timer_ids = {t.id for t in timers}
        state.timer_seq = max([int(meta.get("timer_seq") or 0), *(t.seq for t in timers)])
        return state

    # -- members on demand (model/state.py MemberSource) --------------------------------
    def load_member(self, community: str, member: str) -> MemberState | None:
        """The stored state of one member (one row: the ledger is not part of it), or
        None."""
        with self._use() as db:
            row = db.execute(
                "SELECT json FROM members WHERE community = ? AND id = ?", (community, member)
            ).fetchone()
        if row is None:
            return None
        with self._decoding("members"):
            return MemberState.from_json(orjson.loads(row[0]))

    def member_ids(self, community: str) -> Iterator[str]:
        """The ids of every stored member of ``community``."""
        with self._use() as db:
            rows = db.execute("SELECT id FROM members WHERE community = ?", (community,)).fetchall()
        return iter([r[0] for r in rows])

    def is_processed(self, cause_id: str) -> bool:
        with self._use() as db:
            row = db.execute("SELECT 1 FROM processed WHERE id = ?", (cause_id,)).fetchone()
        return row is not None

    def processed_among(self, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        with self._use() as db:
            rows = db.execute(
                "SELECT id FROM processed WHERE id IN (SELECT value FROM json_each(?))",
                (orjson.dumps(list(ids)).decode(),),
            ).fetchall()
        return {r[0] for r in rows}

    def keep_processed(self, seconds: float | None) -> None:
        self._dedup_window = seconds

    def dedup_horizon(self) -> float | None:
        if not self._loaded:  # (once loaded, kept up to date by each commit)
            with self._use() as db:
                self._indexes(db)
        return self._horizon

    def commit(self, decisions: Sequence[Decision], state: State) -> None:
        """Persist the batch in one transaction; durable (fsync'd) when this returns."""
        if decisions:
            self._write(self._serialise(decisions, state), pipelined=False)

    def commit_async(self, decisions: Sequence[Decision], state: State) -> Future[None]:
        """Like :meth:`commit`, but the final fsync runs on the store's writer thread.

        The batch is serialised (``state`` is read) and written into the open transaction
        before this returns, so the caller may go on mutating ``state`` at once; the future
        completes when the batch is durable, or fails with :class:`StoreError`.  The
        fsync of one batch thus overlaps the work on the next.  Batches become durable in
        call order; every other call waits for the batch in flight, so nothing reads
        uncommitted data.  :meth:`is_processed` is true for the batch's causes at once.
        If the final commit fails the store refuses all further work: reopen it.
        """
        if not decisions:
            return completed()
        future = self._write(self._serialise(decisions, state), pipelined=True)
        assert future is not None
        return future

    def _serialise(self, decisions: Sequence[Decision], state: State) -> _Rows:
        """Everything the batch writes, as rows (CPU only: no lock, no I/O; never fails
        a batch: batch_rows.serialise)."""
        return serialise(decisions, state, self._counter)

    def _write(self, rows: _Rows, *, pipelined: bool) -> Future[None] | None:
        with self._use(write=True) as db:
            self._indexes(db)
            clock = rows.clock
            processed_rows = [(cause, clock) for cause in dict.fromkeys(rows.causes)]
            outbox_rows, seq = self._new_outbox_rows(rows.actions, rows.causes)
            db.execute("BEGIN IMMEDIATE")
            try:
                self._write_event_rows(db, rows, processed_rows, outbox_rows)
                self._write_timer_and_log_rows(db, rows)
                self._write_member_and_community_rows(db, rows)
                db.executemany(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                    [*rows.meta, ("outbox_seq", str(seq - 1))],
                )
                if not pipelined:
                    db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            # The batch is accepted: the in-memory indexes learn about it.  (A failed
            # pipelined COMMIT breaks the store, so they never need undoing.)
            self._outbox_next = seq
            if not pipelined:
                return None
            return self._commit_in_background()

    def _new_outbox_rows(
        self, actions: list[tuple[Any, ...]], causes: list[str]
    ) -> tuple[list[tuple[Any, ...]], int]:
        """The outbox rows of the batch's actions, numbered from the outbox's next seq,
        and the next free one (batch_rows.number_outbox_rows)."""
        return number_outbox_rows(actions, causes, self._outbox_next)

    def _write_event_rows(
        self,
        db: sqlite3.Connection,
        rows: _Rows,
        processed_rows: list[tuple[str, float]],
        outbox_rows: list[tuple[int, str, str, str]],
    ) -> None:
        """Write the processed ids (forgetting those past the dedup window), ledger
        entries, outbox, activity and traces."""
        run = db.executemany
        if processed_rows:
            run("INSERT OR IGNORE INTO processed (id, ts) VALUES (?, ?)", processed_rows)
            self._forget_processed(db, rows.clock)
        if rows.ledger:
            run(
                "INSERT INTO ledger (community, member, seq, json, ts, currency, kind, "
                "amount) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows.ledger,
            )
        if outbox_rows:
            run(
                "INSERT OR IGNORE INTO outbox (seq, key, json, status, ts, community, type, "
                "rule, cause, member, direct, first) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                outbox_rows,
            )
        if rows.activity:
            run(
                "INSERT INTO activity (community, member, day, type, events) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (day, community, member, type) "
                "DO UPDATE SET events = events + excluded.events",
                rows.activity,
            )
        if rows.traces:
            run(
                "INSERT INTO traces (event, cause, community, member, ts, json) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                rows.traces,
            )
            self._prune_traces(db, max(t[4] for t in rows.traces))

    def _write_timer_and_log_rows(self, db: sqlite3.Connection, rows: _Rows) -> None:
        """Write the timer changes and the error, audit and review logs."""
        run = db.executemany
        if rows.timers_add:
            run(
                "INSERT OR REPLACE INTO timers (id, due, json) VALUES (?, ?, ?)",
                rows.timers_add,
            )
        if rows.timers_del:
            run("DELETE FROM timers WHERE id = ?", rows.timers_del)
        if rows.errors:
            run("INSERT INTO errors (json) VALUES (?)", rows.errors)
        if rows.audit:
            run(
                "INSERT INTO audit (json, ts, community, action, reason) VALUES (?, ?, ?, ?, ?)",
                rows.audit,
            )
        if rows.review:
            run("INSERT INTO review (json) VALUES (?)", rows.review)

    def _write_member_and_community_rows(self, db: sqlite3.Connection, rows: _Rows) -> None:
        """Write the changed members and communities, and delete the gone ones (a gone
        member's ledger too)."""
        run = db.executemany
        if rows.members:
            self._write_members(db, rows.members)
        if rows.members_gone:
            run("DELETE FROM members WHERE community = ? AND id = ?", rows.members_gone)
            db.execute(
                "DELETE FROM ledger WHERE (community, member) IN "
                "(SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') "
                "FROM json_each(?))",
                (orjson.dumps(rows.members_gone).decode(),),
            )
        if rows.communities:
            run(
                "INSERT OR REPLACE INTO communities (name, json) VALUES (?, ?)",
                rows.communities,
            )
        if rows.communities_seen:
            run(
                "INSERT OR IGNORE INTO communities (name, json) VALUES (?, ?)",
                rows.communities_seen,
            )
        if rows.communities_gone:
            run("DELETE FROM communities WHERE name = ?", rows.communities_gone)

    def _commit_in_background(self) -> Future[None]:
        """Run the COMMIT of the open transaction on the writer thread."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="engage-rules-sqlite")
        future = self._executor.submit(self._finish)
        self._inflight = future
        return future

    def _write_members(
        self, db: sqlite3.Connection, members: list[tuple[str, str, str, int | None, str]]
    ) -> None:
        """Upsert member rows, with the columns reports read (no list of the stored
        members is kept in memory)."""
        db.executemany(
            "INSERT INTO members (community, id, json, joined, status) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (community, id) DO UPDATE SET json = excluded.json, "
            "joined = excluded.joined, status = excluded.status",
            members,
        )

    def _forget_processed(self, db: sqlite3.Connection, clock: float) -> None:
        """Delete processed ids committed more than the dedup window before ``clock``
        (in the open transaction), at most once per hundredth of the window once caught
        up, and at most :data:`FORGET_AT_ONCE` per commit (a store opened after a long
        pause catches up over a few commits, none of them slow).

        Ids are committed in clock order, so the ones to forget are the oldest rows: the
        scan stops at the first one to keep, and costs what it deletes.
        """
        window = self._dedup_window
        if window is None:
            return
        limit = clock - window
        if limit - self._forgotten_to < window / 100:
            return
        (first,) = db.execute("SELECT min(rowid) FROM processed").fetchone()
        if first is None:
            self._forgotten_to = limit
            return
        end = first + FORGET_AT_ONCE
        first_kept = db.execute(
            "SELECT rowid FROM processed WHERE rowid < ? AND ts >= ? ORDER BY rowid LIMIT 1",
            (end, limit),
        ).fetchone()
        if first_kept is not None:  # caught up: the next look is a hundredth later
            self._forgotten_to = limit
        cut = first_kept[0] if first_kept is not None else end
        (newest,) = db.execute("SELECT max(ts) FROM processed WHERE rowid < ?", (cut,)).fetchone()
        if newest is None:
            return
        db.execute("DELETE FROM processed WHERE rowid < ?", (cut,))
        horizon = max(newest, self._horizon) if self._horizon is not None else newest
        db.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('dedup_horizon', ?)",
            (repr(horizon),),
        )
        self._horizon = horizon

    def _finish(self) -> None:
        """COMMIT the open transaction (on the writer thread; the GIL is released)."""
        db = self._db
        try:
            db.execute("COMMIT")
        except BaseException as err:
            with suppress(sqlite3.Error):
                if db.in_transaction:
                    db.execute("ROLLBACK")
            self._broken = f"SQLite store {self.path}: a commit failed ({err}); reopen the store"
            raise StoreError(self._broken) from err

    def _prune_traces(self, db: sqlite3.Connection, newest: float) -> None:
        """Delete traces older than the retention behind ``newest`` (in the open
        transaction), at most once per hundredth of the retention."""
        keep = self._trace_retention
        if keep is None or newest - self._pruned_at < keep / 100:
            return
        db.execute("DELETE FROM traces WHERE ts < ?", (newest - keep,))
        self._pruned_at = newest

    # -- reports and traces -------------------------------------------------------------
    def set_report_context(self, context: ReportContext) -> None:
        with self._use(write=True) as db:
            db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('report_context', ?)",
                (orjson.dumps(context.to_json()).decode(),),
            )
        self._counter.tz = zone(context.timezone)

    def report_context(self) -> ReportContext:
        with self._use() as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'report_context'").fetchone()
        if not row:
            return ReportContext()
        with self._decoding("meta"):
            return ReportContext.from_json(orjson.loads(row[0]))

    def activity(self) -> list[tuple[str, str, str, str, int]]:
        with self._use() as db:
            return db.execute(
                "SELECT community, member, day, type, events FROM activity "
                "ORDER BY community, member, day, type"
            ).fetchall()

    def keep_traces(self, seconds: float | None) -> None:
        self._trace_retention = seconds
        self._pruned_at = -1e18

    # -- report aggregates (reports.py, sqlite_reports.py) -----------------------------
    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """The connection in one read transaction: a consistent snapshot."""
        with self._use() as db:
            db.execute("BEGIN")
            try:
                yield db
            finally:
                db.execute("COMMIT")

    def report_communities(self) -> list[str]:
        with self._snapshot() as db:
            return communities(db)

    def report_newest_day(self, timezone: str, community: str | None) -> date | None:
        with self._snapshot() as db, self._decoding("activity"):
            return newest_day(db, timezone, community)

    def report_members(self, query: ReportQuery) -> MemberTally:
        with self._snapshot() as db, self._decoding("activity"):
            return member_tally(db, query)

    def report_daily_active(self, query: ReportQuery) -> dict[date, int]:
        with self._snapshot() as db, self._decoding("activity"):
            return daily_active(db, query)

    def report_actions(self, query: ReportQuery) -> ActionTally:
        with self._snapshot() as db:
            return action_tally(db, query)

    def report_audit(self, query: ReportQuery) -> dict[tuple[str, str], int]:
        with self._snapshot() as db:
            return audit_tally(db, query)

    def report_points(self, query: ReportQuery) -> dict[tuple[str, str], int]:
        with self._snapshot() as db:
            return points_tally(db, query)

    def traces(
        self,
        *,
        event: str | None = None,
        cause: str | None = None,
        member: str | None = None,
        community: str | None = None,
    ) -> list[dict[str, Any]]:
        sql, params = "SELECT json FROM traces", []
        where = []
        for column, value in (
            ("event", event),
            ("cause", cause),
            ("member", member),
            ("community", community),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._use() as db:
            rows = db.execute(sql + " ORDER BY seq", params).fetchall()
        with self._decoding("traces"):
            return [orjson.loads(js) for (js,) in rows]

    # -- outbox -------------------------------------------------------------------------
    def outbox(
        self, *, status: str | None = None, limit: int | None = None, after: int = 0
    ) -> list[OutboxItem]:
        check_outbox_query(status, limit, after)
        sql = "SELECT seq, json, status, attempts, last_error FROM outbox WHERE seq > ?"
        if status is not None:
            sql += f" AND status = '{status}'"  # a literal, so the partial index applies
        sql += " ORDER BY seq"
        params: tuple[int, ...] = (after,)
        if limit is not None:
            sql += " LIMIT ?"
            params = (after, limit)
        with self._use() as db:
            rows = db.execute(sql, params).fetchall()
        out = []
        with self._decoding("outbox"):
            for seq, js, st, attempts, error in rows:
                obj = orjson.loads(js)
                out.append(
                    OutboxItem(
                        seq, ActionRecord.from_json(obj), st, attempts, error, obj.get("platform")
                    )
                )
        return out

    def mark_sending(self, keys: Sequence[str]) -> None:
        self._update_outbox(
            keys, "UPDATE outbox SET status = 'sending' WHERE key = ? AND status = 'pending'"
        )

    def mark_delivered(self, keys: Sequence[str]) -> None:
        self._update_outbox(
            keys,
            "UPDATE outbox SET status = 'delivered', attempts = attempts + 1 "
            "WHERE key = ? AND status != 'delivered'",
        )

    def _update_outbox(self, keys: Sequence[str], sql: str) -> None:
        """Run ``sql`` (one ``key = ?`` parameter) for the outbox items of ``keys``, in one
        transaction."""
        with self._use(write=True) as db:
            self._indexes(db)
            rows = [(k,) for k in dict.fromkeys(keys)]
            if not rows:
                return
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(sql, rows)
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise

    def mark_failed(self, key: str, error: str, permanent: bool) -> None:
        with self._use(write=True) as db:
            self._indexes(db)
            db.execute(
                "UPDATE outbox SET status = ?, attempts = attempts + 1, last_error = ? "
                "WHERE key = ? AND status != 'delivered'",
                ("failed" if permanent else "pending", error, key),
            )

    # -- logs ---------------------------------------------------------------------------
    def _log(self, table: str) -> list[dict[str, Any]]:
        with self._use() as db:
            rows = db.execute(f"SELECT json FROM {table} ORDER BY seq").fetchall()
        with self._decoding(table):
            out = [orjson.loads(js) for (js,) in rows]
            if not all(isinstance(entry, dict) for entry in out):
                raise ValueError("a row is not a JSON object")
        return out

    @contextmanager
    def _decoding(self, table: str) -> Iterator[None]:
        """Turn a row that cannot be decoded into a StoreError naming the table."""
        try:
            yield
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise StoreError(f"{self.path}: corrupt store data in table {table}: {err}") from err

    def rule_errors(self) -> list[RuleFailure]:
        log = self._log("errors")
        with self._decoding("errors"):
            return [rule_error_from_json(d) for d in log]

    def audit_log(self) -> list[dict[str, Any]]:
        return self._log("audit")

    def review_queue(self) -> list[dict[str, Any]]:
        return self._log("review")

    def ledger(self, community: str, member: str) -> list[LedgerEntry]:
        """The persisted ledger of one member, by ``seq``.

        The ledger table has no per-member index (see the module docstring), so this
        scans it: meant for audits, tools and tests, not for the hot path.
        """
        with self._use() as db:
            rows = db.execute(
                "SELECT json FROM ledger WHERE community = ? AND member = ? ORDER BY rid",
                (community, member),
            ).fetchall()
        with self._decoding("ledger"):
            entries = [LedgerEntry.from_json(orjson.loads(js)) for (js,) in rows]
        return link_reversals(_latest_versions(entries))

    def ledgers(self, community: str | None = None) -> Iterator[tuple[str, str, LedgerEntry]]:
        """Every persisted ledger entry (of one community), member by member, by
        ``seq``: one scan of the ledger table (for reports and tools)."""
        sql = "SELECT community, member, json FROM ledger"
        params: tuple[str, ...] = ()
        if community is not None:
            sql += " WHERE community = ?"
            params = (community,)
        with self._use() as db:
            rows = db.execute(sql + " ORDER BY community, member, rid", params).fetchall()
        key: tuple[str, str] | None = None
        entries: list[LedgerEntry] = []
        with self._decoding("ledger"):
            for c, m, js in rows:
                if (c, m) != key:
                    if key is not None:
                        yield from ((*key, e) for e in link_reversals(_latest_versions(entries)))
                    key, entries = (c, m), []
                entries.append(LedgerEntry.from_json(orjson.loads(js)))
        if key is not None:
            yield from ((*key, e) for e in link_reversals(_latest_versions(entries)))

    def close(self) -> None:
        """Wait for a commit in flight, then release the database.  Idempotent."""
        with self._lock:
            if self._closed:
                return
            with suppress(StoreError):
                self._settle()
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None
            self._closed = True
            self._loaded = False
            with suppress(sqlite3.Error):
                self._db.execute("PRAGMA optimize")
            self._db.close()
            if self._writer is not None:
                self._writer.release()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
