"""The embedded durable store (docs/running.md): one SQLite file, WAL, durable commits.

Layout (schema version 7)::

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
                                           json: the action's time and params, "shadow",
                                           the "platform" of its event (the rest are
                                           columns) (7); first: batch_rows.first_flags (6)
    timers(id, due, json)                  pending timers, indexed by due time
    errors(seq, json), review(seq, json)
    audit(seq, json, ts, community, action, reason)
    activity(community, member, day, type, events)     daily activity, for reports (2)
    activity_totals(community, day, type, events)      its totals per day and type (8)
    member_marks(community, member, mark, day)         members' sources and tags (8)
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

import math
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, contextmanager, suppress
from datetime import date, datetime
from functools import lru_cache
from itertools import chain, repeat
from pathlib import Path
from typing import Any

import orjson

from ..errors import StoreError
from ..i18n import _
from ..model.decision import Decision, RuleFailure
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
    ledgers_from_rows,
    link_reversals,
    log_entries,
    rule_error_from_json,
)
from .batch_rows import (
    OUTBOX_COLUMNS,
    cursors_from_meta,
    outbox_item,
    serialise,
)
from .batch_rows import Rows as _Rows
from .lock import WriterLock
from .member_lists import ListedMember, MemberListQuery
from .records import (
    DEFAULT_DEDUP_WINDOW,
    DEFAULT_TRACE_RETENTION,
    ActivityCounter,
    ReportContext,
)
from .report_breakdowns import BreakdownTally
from .reports import ActionTally, MemberTally, ReportQuery
from .sqlite_breakdowns import sqlite_breakdowns
from .sqlite_member_lists import member_list
from .sqlite_reports import (
    action_tally,
    audit_tally,
    communities,
    daily_active,
    experiment_tally,
    member_tally,
    newest_day,
    points_tally,
    report_columns_upgrade,
    store_clock,
)
from .timer_pages import timer_page

SCHEMA_VERSION = 8
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
    + """
CREATE TABLE IF NOT EXISTS activity_totals (
    community TEXT NOT NULL,
    day TEXT NOT NULL,
    type TEXT NOT NULL,
    events INTEGER NOT NULL,
    PRIMARY KEY (day, community, type)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS member_marks (
    community TEXT NOT NULL,
    member TEXT NOT NULL,
    mark TEXT NOT NULL,
    day TEXT NOT NULL,
    PRIMARY KEY (community, member, mark)
) WITHOUT ROWID;
"""
)


def cannot_open(path: str, err: Exception) -> str:
    """Why a SQLite store file cannot be opened, for its :class:`StoreError`."""
    return _("cannot open SQLite store {path}: {reason}").format(path=path, reason=err)


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
    + _SCHEMA[
        _SCHEMA.index("CREATE UNIQUE INDEX IF NOT EXISTS processed_id") : _SCHEMA.index(
            "CREATE TABLE IF NOT EXISTS activity_totals"
        )
    ],
    5: _upgrade_members,
    6: report_columns_upgrade(),
    # An outbox row's JSON holds only what its columns do not (_outbox_body); rows
    # written before are read as they are (batch_rows.outbox_action): nothing to rewrite.
    7: "",
    # Each day's events per (community, type), for a report's volumes (records.DayTotals),
    # filled from the activity kept so far (replies and channels count from now on).
    8: _SCHEMA[_SCHEMA.index("CREATE TABLE IF NOT EXISTS activity_totals") :]
    + "INSERT OR IGNORE INTO activity_totals (community, day, type, events) "
    "SELECT community, day, type, sum(events) FROM activity WHERE instr(type, ':') = 0 "
    "GROUP BY community, day, type;\n",
}

#: The most processed ids one commit forgets (see SQLiteStore._forget_processed).
FORGET_AT_ONCE = 20_000

#: WAL pages between automatic checkpoints (SQLite's default is 1000).  Fewer, larger
#: checkpoints copy a page rewritten by many commits only once.
WAL_AUTOCHECKPOINT = 16384


#: The most variables one statement may bind (SQLITE_MAX_VARIABLE_NUMBER: 999 before
#: SQLite 3.32) and the most rows one statement inserts.
_MAX_VARIABLES = 32766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999
_ROWS_PER_STATEMENT = 2000

flatten = chain.from_iterable


def _insert_many(
    db: sqlite3.Connection, head: str, rows: Sequence[tuple[Any, ...]], tail: str = ""
) -> None:
    """``head VALUES (...), (...) tail`` for ``rows``, many rows per statement.

    One statement per row (``executemany``) takes the GIL back after each row; on the
    writer thread, beside the engine's busy thread, each of those waits for a switch of
    threads.  A statement of many rows binds them in one go and runs without the GIL.
    The rows are flattened into its parameters in C (``chain``), not by a Python loop:
    the writer thread holds the GIL while it builds them, and the engine's thread waits.

    Statements hold a full number of rows, or (for the rest) a power of two of them
    (:func:`_statement`): the same few texts every batch, which the connection's cache of
    prepared statements keeps, so no statement of thousands of values is parsed again.
    """
    if not rows:
        return
    width = len(rows[0])
    per = max(1, min(_ROWS_PER_STATEMENT, _MAX_VARIABLES // width))
    start, end = 0, len(rows)
    while start < end:
        left = end - start
        size = per if left >= per else 1 << (left.bit_length() - 1)
        db.execute(_statement(head, width, size, tail), list(flatten(rows[start : start + size])))
        start += size


@lru_cache(maxsize=256)
def _statement(head: str, width: int, rows: int, tail: str) -> str:
    """The text ``head VALUES (?, ...), ... tail`` of ``rows`` rows of ``width`` values
    (one object per text: the statement cache finds it by identity)."""
    one = "(" + ",".join("?" * width) + ")"
    return f"{head} VALUES {','.join([one] * rows)}{tail}"


#: Prepared statements a connection keeps (Python's default is 128): the multi-row
#: inserts of :func:`_insert_many` come in up to a dozen sizes per table.
_CACHED_STATEMENTS = 512


def _delete_many(db: sqlite3.Connection, head: str, keys: Sequence[tuple[str, ...]]) -> None:
    """``head IN (keys)`` in one statement (``head`` ends with the column, or a row of
    columns, the keys match), the keys read from one JSON array; keys holding U+0000
    (see :func:`_json_array`) one statement each."""
    width = len(keys[0])
    array = _json_array([key[0] for key in keys] if width == 1 else list(keys))
    if array is None:
        match = " = ?" if width == 1 else " = (" + ", ".join("?" * width) + ")"
        for key in keys:
            db.execute(head + match, key)
        return
    columns = (
        "value" if width == 1 else ", ".join(f"json_extract(value, '$[{i}]')" for i in range(width))
    )
    db.execute(f"{head} IN (SELECT {columns} FROM json_each(?))", (array,))


def _json_array(values: Sequence[Any]) -> str | None:
    """``values`` as the JSON array a ``json_each(?)`` reads, or None when a text in it
    holds U+0000: SQLite's JSON functions end a text there (3.40: ``"a\\u0000b"`` reads
    as ``a``), so such values are bound one by one instead."""
    text = orjson.dumps(values)
    return None if b"\\u0000" in text else text.decode()


def _latest_versions(versions: list[LedgerEntry]) -> list[LedgerEntry]:
    """One entry per ``seq`` (the last version written wins), ordered by ``seq``."""
    latest = {e.seq: e for e in versions}
    return [latest[seq] for seq in sorted(latest)]


def _timers_from(
    db: sqlite3.Connection,
    start: float,
    limit: int,
    decoding: Callable[[str], AbstractContextManager[None]],
) -> tuple[list[Timer], float]:
    """:meth:`SQLiteStore.load_timers` on the connection ``db`` (timer_pages.py)."""
    first = db.execute(
        "SELECT due, json FROM timers WHERE due >= ? ORDER BY due LIMIT ?", (start, limit + 1)
    ).fetchall()

    def due_at(due: float) -> list[tuple[float, str]]:
        return db.execute("SELECT due, json FROM timers WHERE due = ?", (due,)).fetchall()

    def due_after(due: float) -> float | None:
        after: float | None = db.execute(
            "SELECT min(due) FROM timers WHERE due > ?", (due,)
        ).fetchone()[0]
        return after

    with decoding("timers"):
        return timer_page(first, limit, due_at, due_after)


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
        #: Calls that wrote (the member table a report keeps is for one state: _report_key).
        self._writes = 0
        #: What the batch in flight writes, for reads that do not wait for it: its
        #: causes, and its members' rows (None: deleted).  Replaced, never mutated.
        self._fresh_ids: set[str] = set()
        self._fresh_members: dict[tuple[str, str], str | None] = {}
        #: When the batch in flight may forget processed ids, the latest it may move the
        #: horizon to (its clock less the window): the exact horizon waits for it.
        self._horizon_bound: float | None = None
        #: A second connection for those reads (a file's store; WAL lets it read the
        #: last commit while the writer thread writes the next).
        self._reader: sqlite3.Connection | None = None
        self._read_lock = threading.Lock()
        # What is read once on first use (see the module docstring); processed ids and
        # action keys are looked up in the database, never loaded.
        self._loaded = False
        self._outbox_next = 1
        self._dedup_window: float | None = DEFAULT_DEDUP_WINDOW
        #: The time up to which processed ids were forgotten (meta ``dedup_horizon``).
        self._horizon: float | None = None
        #: The oldest time still remembered the last time ids were forgotten.
        self._forgotten_to = -1e18
        #: The time of the oldest processed id remembered (None: none is), so that a
        #: commit that will forget nothing is known as such before it is written.
        self._oldest_ts: float | None = None
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
                raise StoreError(
                    _("cannot create the directory of {path}: {reason}").format(
                        path=self.path, reason=err
                    )
                ) from err
        try:
            self._db = sqlite3.connect(
                self.path,
                isolation_level=None,
                check_same_thread=False,
                timeout=10.0,
                cached_statements=_CACHED_STATEMENTS,
            )
        except sqlite3.Error as err:
            raise StoreError(cannot_open(self.path, err)) from err
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
            raise StoreError(cannot_open(self.path, err)) from err

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
        not_ours = _("{path} is a SQLite database but not an engage_rules store").format(
            path=self.path
        )
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
                _(
                    "{path} was written by a newer engage_rules (store schema {version}); "
                    "this version reads schema {supported}: upgrade engage_rules"
                ).format(path=self.path, version=version, supported=SCHEMA_VERSION)
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
                if write:
                    self._writes += 1
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
            self._fresh_ids = set()
            self._fresh_members = {}
            self._horizon_bound = None
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
            oldest = db.execute("SELECT ts FROM processed ORDER BY rowid LIMIT 1").fetchone()
            self._oldest_ts = oldest[0] if oldest is not None else None
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
        state.timer_seq = int(meta.get("timer_seq") or 0)
        state.cursors = cursors_from_meta(meta)
        state.timer_source = self  # the earliest timers now, the rest when due
        state.take_timers(*_timers_from(db, -math.inf, state.TIMER_WINDOW, self._decoding))
        return state

    # -- timers on demand (model/state.py TimerSource) ---------------------------------
    def load_timers(self, start: float, limit: int) -> tuple[list[Timer], float]:
        """The stored timers due at or after ``start``, earliest first (``limit`` of
        them, or all those due at the time of the first when more share it), and the
        due time before which every stored timer is among them."""
        with self._read() as db:
            return _timers_from(db, start, limit, self._decoding)

    def timer_pending(self, timer_id: str, start: float) -> bool:
        """Whether timer ``timer_id`` is stored and due at or after ``start`` (what a
        state holds in memory, and the batch in flight, it knows itself)."""
        with self._read() as db:
            # (fetchall: a statement stepped to its end leaves no read transaction open
            # on the read connection, which would keep it on an old snapshot)
            rows = db.execute(
                "SELECT 1 FROM timers WHERE id = ? AND due >= ?", (timer_id, start)
            ).fetchall()
        return bool(rows)

    # -- members on demand (model/state.py MemberSource) --------------------------------
    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A connection for a read that needs only committed data and what the batch in
        flight writes (``_fresh_*``): the second connection, which does not wait for
        that batch; for a private in-memory database, the one connection."""
        if self.path == ":memory:":
            with self._use() as db:
                yield db
            return
        with self._read_lock:
            if self._closed:
                raise StoreError(f"SQLite store {self.path} is closed")
            if self._broken is not None:
                raise StoreError(self._broken)
            try:
                if self._reader is None:
                    self._reader = sqlite3.connect(
                        self.path, isolation_level=None, check_same_thread=False, timeout=10.0
                    )
                    self._reader.execute("PRAGMA query_only=1")
                    self._reader.execute("PRAGMA cache_size=-8192")  # KiB: 8 MiB
                yield self._reader
            except sqlite3.Error as err:
                raise StoreError(f"SQLite store {self.path}: {err}") from err

    def load_member(self, community: str, member: str) -> MemberState | None:
        """The stored state of one member (one row: the ledger is not part of it), or
        None.  Does not wait for the batch in flight (a member it writes is read from
        it)."""
        key = (community, member)
        fresh = self._fresh_members  # read first: replaced only once its batch is durable
        if key in fresh:
            js = fresh[key]
        else:
            with self._read() as db:
                rows = db.execute(
                    "SELECT json FROM members WHERE community = ? AND id = ?", key
                ).fetchall()  # (to its end: see timer_pending)
            js = rows[0][0] if rows else None
        if js is None:
            return None
        with self._decoding("members"):
            return MemberState.from_json(orjson.loads(js))

    def load_members(self, community: str, members: Sequence[str]) -> dict[str, MemberState]:
        """The stored state of each of ``members`` the store has, in one query (and
        from the batch in flight, like :meth:`load_member`)."""
        fresh = self._fresh_members
        texts: dict[str, str | None] = {}
        ask = []
        for member in members:
            if (community, member) in fresh:
                texts[member] = fresh[(community, member)]
            else:
                ask.append(member)
        if ask:
            wanted = _json_array(ask)
            with self._read() as db:
                if wanted is None:
                    for member in ask:
                        texts.update(
                            db.execute(
                                "SELECT id, json FROM members WHERE community = ? AND id = ?",
                                (community, member),
                            ).fetchall()
                        )
                else:
                    texts.update(
                        db.execute(
                            "SELECT id, json FROM members WHERE community = ? "
                            "AND id IN (SELECT value FROM json_each(?))",
                            (community, wanted),
                        ).fetchall()
                    )
        with self._decoding("members"):
            return {
                member: MemberState.from_json(orjson.loads(js))
                for member, js in texts.items()
                if js is not None
            }

    def member_ids(self, community: str) -> Iterator[str]:
        """The ids of every stored member of ``community``."""
        with self._use() as db:
            rows = db.execute("SELECT id FROM members WHERE community = ?", (community,)).fetchall()
        return iter([r[0] for r in rows])

    def is_processed(self, cause_id: str) -> bool:
        return bool(self.processed_among([cause_id]))

    def processed_among(self, ids: Sequence[str]) -> set[str]:
        """The ids among ``ids`` that are processed: committed, or in the batch in
        flight.  While that batch may forget ids, an id it may forget (committed before
        its clock less the window) is answered once it is durable, so that the answer
        does not depend on how far the writer thread has got."""
        if not ids:
            return set()
        fresh = self._fresh_ids
        bound = self._horizon_bound
        ask = _json_array(list(ids))
        with self._read() as db:
            if ask is None:
                rows = [
                    row
                    for i in dict.fromkeys(ids)
                    for row in db.execute("SELECT id, ts FROM processed WHERE id = ?", (i,))
                ]
            else:
                rows = db.execute(
                    "SELECT id, ts FROM processed WHERE id IN (SELECT value FROM json_each(?))",
                    (ask,),
                ).fetchall()
        if bound is not None and any(ts < bound for _id, ts in rows):
            with self._use():  # waits for the batch in flight
                pass
            return self.processed_among(ids)
        found = {r[0] for r in rows}
        if fresh:
            found |= fresh.intersection(ids)
        return found

    def keep_processed(self, seconds: float | None) -> None:
        self._dedup_window = seconds

    def dedup_horizon(self) -> float | None:
        if not self._loaded or self._horizon_bound is not None:
            # (Once loaded, kept up to date by each commit; one in flight that may
            # forget ids moves it when it completes.)
            with self._use() as db:
                self._indexes(db)
        return self._horizon

    def unsettled_dedup_horizon(self) -> tuple[float | None, float | None]:
        """Without waiting for the commit in flight: the dedup horizon as last known,
        and the latest time that commit may move it to (None: it forgets no id).

        An event dated after both is not beyond the horizon, whatever the commit
        forgets: it forgets only ids committed before its clock less the dedup window
        (:meth:`_forget_processed`).  The runner asks :meth:`dedup_horizon`, which waits,
        only for an event dated at or before that bound: a commit that forgets ids (a
        store reopened after more than its window, say) then no longer stops the
        engine until it is durable."""
        if not self._loaded:
            return self.dedup_horizon(), None
        # (``_horizon`` is either value while the writer thread moves it: both are at
        # most the bound, and an event dated after it is not beyond either.)
        return self._horizon, self._horizon_bound

    def _may_forget(self, clock: float) -> bool:
        """Whether a commit at ``clock`` may forget processed ids (``_forget_processed``
        decides with a ``_forgotten_to`` no older than the one read here)."""
        window = self._dedup_window
        if window is None or self._oldest_ts is None or self._oldest_ts >= clock - window:
            return False  # nothing old enough to forget
        return clock - window - self._forgotten_to >= window / 100

    def commit(self, decisions: Sequence[Decision], state: State) -> None:
        """Persist the batch in one transaction; durable (fsync'd) when this returns."""
        if decisions or state.cursors_moved:
            self._write(self._serialise(decisions, state), pipelined=False)

    def commit_async(self, decisions: Sequence[Decision], state: State) -> Future[None]:
        """Like :meth:`commit`, but the final fsync runs on the store's writer thread.

        The batch is serialised (``state`` is read) before this returns, so the caller
        may go on mutating ``state`` at once; the writer thread writes and commits it, and
        the future completes when the batch is durable, or fails with
        :class:`StoreError`.  Writing one batch thus overlaps the work on the next.
        Batches become durable in call order.  :meth:`load_member`,
        :meth:`processed_among` and :meth:`is_processed` answer at once, the batch in
        flight included; every other call waits for it.  If a batch fails the store
        refuses all further work: reopen it.
        """
        if not decisions and not state.cursors_moved:
            return completed()
        future = self._write(self._serialise(decisions, state), pipelined=True)
        assert future is not None
        return future

    def _serialise(self, decisions: Sequence[Decision], state: State) -> _Rows:
        """Everything the batch writes, as rows (CPU only: no lock, no I/O; never fails
        a batch: batch_rows.serialise)."""
        return serialise(decisions, state, self._counter, self._outbox_next)

    def _write(self, rows: _Rows, *, pipelined: bool) -> Future[None] | None:
        """Write ``rows`` as one transaction: here (``pipelined`` false), or on the writer
        thread, returning its future (the batch in flight: :meth:`_settle`)."""
        with self._use(write=True) as db:
            self._indexes(db)
            clock = rows.clock
            processed_rows = list(zip(dict.fromkeys(rows.causes), repeat(clock)))
            # (numbered and flagged from ``_outbox_next`` by ``_serialise``)
            outbox_rows, seq = rows.actions, rows.next_seq
            assert seq is not None
            if processed_rows and self._oldest_ts is None:
                self._oldest_ts = clock
            if not pipelined:
                self._apply(db, rows, processed_rows, outbox_rows, seq)
                self._outbox_next = seq
                return None
            # The batch is accepted: what reads see of it until it is committed
            # (:meth:`load_member`, :meth:`processed_among`).  A failed commit breaks
            # the store, so none of this ever needs undoing.
            self._outbox_next = seq
            self._fresh_ids = set(rows.causes)
            fresh: dict[tuple[str, str], str | None] = {
                (c, m): js for c, m, js, _version, _hash in rows.members
            }
            fresh.update(dict.fromkeys(rows.members_gone))
            self._fresh_members = fresh
            if processed_rows and self._may_forget(clock):
                assert self._dedup_window is not None
                self._horizon_bound = clock - self._dedup_window
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="engage-rules-sqlite")
            future = self._executor.submit(
                self._apply_in_background, rows, processed_rows, outbox_rows, seq
            )
            self._inflight = future
            return future

    def _apply(
        self,
        db: sqlite3.Connection,
        rows: _Rows,
        processed_rows: list[tuple[str, float]],
        outbox_rows: list[tuple[Any, ...]],
        seq: int,
    ) -> None:
        """The batch's transaction, committed.

        Every statement inserts many rows (:func:`_insert_many`): on the writer thread
        each statement runs without the GIL, and few statements leave the engine's
        thread undisturbed.
        """
        db.execute("BEGIN IMMEDIATE")
        try:
            self._write_event_rows(db, rows, processed_rows, outbox_rows)
            self._write_timer_and_log_rows(db, rows)
            self._write_member_and_community_rows(db, rows)
            _insert_many(
                db,
                "INSERT OR REPLACE INTO meta (key, value)",
                [*rows.meta, ("outbox_seq", str(seq - 1))],
            )
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def _apply_in_background(
        self,
        rows: _Rows,
        processed_rows: list[tuple[str, float]],
        outbox_rows: list[tuple[Any, ...]],
        seq: int,
    ) -> None:
        """:meth:`_apply` on the writer thread; a failure breaks the store."""
        try:
            self._apply(self._db, rows, processed_rows, outbox_rows, seq)
        except BaseException as err:
            self._broken = f"SQLite store {self.path}: a commit failed ({err}); reopen the store"
            raise StoreError(self._broken) from err

    def _write_event_rows(
        self,
        db: sqlite3.Connection,
        rows: _Rows,
        processed_rows: list[tuple[str, float]],
        outbox_rows: list[tuple[Any, ...]],
    ) -> None:
        """Write the processed ids (forgetting those past the dedup window), ledger
        entries, outbox, activity and traces."""
        if processed_rows:
            _insert_many(db, "INSERT OR IGNORE INTO processed (id, ts)", processed_rows)
            self._forget_processed(db, rows.clock)
        _insert_many(
            db,
            "INSERT INTO ledger (community, member, seq, json, ts, currency, kind, amount)",
            rows.ledger,
        )
        _insert_many(
            db,
            "INSERT OR IGNORE INTO outbox (seq, key, json, status, ts, community, type, "
            "rule, cause, member, direct, first)",
            outbox_rows,
        )
        _insert_many(
            db,
            "INSERT INTO activity (community, member, day, type, events)",
            rows.activity,
            " ON CONFLICT (day, community, member, type) "
            "DO UPDATE SET events = events + excluded.events",
        )
        _insert_many(
            db,
            "INSERT INTO activity_totals (community, day, type, events)",
            rows.totals,
            " ON CONFLICT (day, community, type) DO UPDATE SET events = events + excluded.events",
        )
        _insert_many(
            db,
            "INSERT INTO member_marks (community, member, mark, day)",
            rows.marks,
            " ON CONFLICT (community, member, mark) DO UPDATE SET day = min(day, excluded.day)",
        )
        if rows.traces:
            _insert_many(
                db, "INSERT INTO traces (event, cause, community, member, ts, json)", rows.traces
            )
            self._prune_traces(db, max(t[4] for t in rows.traces))

    def _write_timer_and_log_rows(self, db: sqlite3.Connection, rows: _Rows) -> None:
        """Write the timer changes and the error, audit and review logs."""
        _insert_many(db, "INSERT OR REPLACE INTO timers (id, due, json)", rows.timers_add)
        if rows.timers_del:
            _delete_many(db, "DELETE FROM timers WHERE id", rows.timers_del)
        _insert_many(db, "INSERT INTO errors (json)", rows.errors)
        _insert_many(db, "INSERT INTO audit (json, ts, community, action, reason)", rows.audit)
        _insert_many(db, "INSERT INTO review (json)", rows.review)

    def _write_member_and_community_rows(self, db: sqlite3.Connection, rows: _Rows) -> None:
        """Write the changed members (with the columns reports read) and communities, and
        delete the gone ones (a gone member's ledger too)."""
        _insert_many(
            db,
            "INSERT INTO members (community, id, json, joined, status)",
            rows.members,
            " ON CONFLICT (community, id) DO UPDATE SET json = excluded.json, "
            "joined = excluded.joined, status = excluded.status",
        )
        if rows.members_gone:
            for table, column in (("members", "id"), ("ledger", "member")):
                head = f"DELETE FROM {table} WHERE (community, {column})"
                _delete_many(db, head, rows.members_gone)
        _insert_many(db, "INSERT OR REPLACE INTO communities (name, json)", rows.communities)
        _insert_many(db, "INSERT OR IGNORE INTO communities (name, json)", rows.communities_seen)
        if rows.communities_gone:
            _delete_many(db, "DELETE FROM communities WHERE name", rows.communities_gone)

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
            "SELECT rowid, ts FROM processed WHERE rowid < ? AND ts >= ? ORDER BY rowid LIMIT 1",
            (end, limit),
        ).fetchone()
        if first_kept is not None:  # caught up: the next look is a hundredth later
            self._forgotten_to = limit
            self._oldest_ts = first_kept[1]
        else:
            after = db.execute(
                "SELECT ts FROM processed WHERE rowid >= ? ORDER BY rowid LIMIT 1", (end,)
            ).fetchone()
            self._oldest_ts = after[0] if after is not None else None
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
        self._counter.use(context)

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

    def activity_totals(self) -> list[tuple[str, str, str, int]]:
        """Events per (community, day, type) (records.DayTotals)."""
        with self._use() as db:
            return db.execute(
                "SELECT community, day, type, events FROM activity_totals "
                "ORDER BY community, day, type"
            ).fetchall()

    def member_marks(self) -> list[tuple[str, str, str, str]]:
        """Each member's marks and their first day (records.MemberMarks)."""
        with self._use() as db:
            return db.execute(
                "SELECT community, member, mark, day FROM member_marks "
                "ORDER BY community, member, mark"
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

    def report_clock(self) -> datetime | None:
        with self._snapshot() as db, self._decoding("meta"):
            return store_clock(db)

    def _report_key(self, db: sqlite3.Connection, query: ReportQuery) -> str:
        """What the member table of a report was filled from: the query, and the state
        of the store (its own writes, and the commits of other connections)."""
        (version,) = db.execute("PRAGMA data_version").fetchone()
        return f"{self._writes}:{version}:{query!r}"

    def report_members(self, query: ReportQuery) -> MemberTally:
        with self._snapshot() as db, self._decoding("activity"):
            return member_tally(db, query, keep=self._report_key(db, query))

    def report_daily_active(self, query: ReportQuery) -> dict[date, int]:
        with self._snapshot() as db, self._decoding("activity"):
            return daily_active(db, query)

    def report_experiments(self, query: ReportQuery) -> dict[tuple[str, str], tuple[int, int]]:
        with self._snapshot() as db, self._decoding("activity"):
            return experiment_tally(db, query)

    def report_breakdowns(self, query: ReportQuery) -> BreakdownTally:
        with self._snapshot() as db, self._decoding("activity"):
            return sqlite_breakdowns(db, query)

    def report_actions(self, query: ReportQuery) -> ActionTally:
        with self._snapshot() as db:
            return action_tally(db, query)

    def report_audit(self, query: ReportQuery) -> dict[tuple[str, str], int]:
        with self._snapshot() as db:
            return audit_tally(db, query)

    def report_points(self, query: ReportQuery) -> dict[tuple[str, str], int]:
        with self._snapshot() as db:
            return points_tally(db, query)

    def report_member_list(self, query: MemberListQuery) -> Iterator[ListedMember]:
        """One member list (member_lists.py), sorted and cut in SQL, row by row."""
        with self._snapshot() as db, self._decoding("activity"):
            yield from member_list(db, query, keep=self._report_key(db, query.report))

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
        sql = f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE seq > ?"
        if status is not None:
            sql += f" AND status = '{status}'"  # a literal, so the partial index applies
        sql += " ORDER BY seq"
        params: tuple[int, ...] = (after,)
        if limit is not None:
            sql += " LIMIT ?"
            params = (after, limit)
        with self._use() as db:
            rows = db.execute(sql, params).fetchall()
        with self._decoding("outbox"):
            return [outbox_item(row) for row in rows]

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
            return log_entries(js for (js,) in rows)

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
        with self._decoding("ledger"):
            yield from ledgers_from_rows(rows, lambda es: link_reversals(_latest_versions(es)))

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
            with self._read_lock:
                if self._reader is not None:
                    self._reader.close()
                    self._reader = None
            with suppress(sqlite3.Error):
                self._db.execute("PRAGMA optimize")
            self._db.close()
            if self._writer is not None:
                self._writer.release()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
