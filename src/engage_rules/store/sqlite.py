"""The embedded durable store (docs/running.md): one SQLite file, WAL, durable commits.

Layout (schema version 4)::

    meta(key, value)                       schema_version, format, clock, timer_seq, outbox_seq
    processed(id)                          every committed event or timer id (append-only)
    communities(name, json)                community-level data
    members(community, id, json, joined, status)   MemberState JSON; its "ledger" is
                                           always []; joined_at (Unix seconds), status (4)
    ledger(rid, community, member, seq, json, ts, currency, kind, amount)   LedgerEntry
                                           JSON, versions in commit order; the entry's
                                           time, currency, kind and amount on its first
                                           version only (4)
    outbox(seq, key, json, status, attempts, last_error,
           ts, community, type, rule, cause, member, direct, first)   in commit order;
                                           json is the action, plus "platform" of its
                                           event; first: sqlite_reports.first_flags (4)
    timers(id, due, json)                  pending timers, indexed by due time
    errors(seq, json), review(seq, json)
    audit(seq, json, ts, community, action, reason)
    activity(community, member, day, type, events)     daily activity, for reports (2)
    traces(seq, event, cause, community, member, ts, json)   rule traces (2)
    replays(key, first_seq, last_seq)      outbox rows each run of a replay committed (3)

The columns marked (4) copy what reports group by out of the JSON (``ts``: whole Unix
seconds), so that ``engage-rules report`` aggregates in SQL (sqlite_reports.py).

Every :meth:`SQLiteStore.commit` is one ``BEGIN IMMEDIATE ... COMMIT`` transaction with
``synchronous=FULL`` in WAL mode: when it returns, the batch survives a killed process
and a power loss; a crash before that leaves none of it.

Pages written per commit are what limits a durable commit (each dirty page is a WAL
frame), so the layout avoids random B-tree inserts into tables that grow with the event
count: processed ids, outbox rows and ledger rows are appended in commit order, with no
secondary index.  Uniqueness of processed ids and outbox keys is enforced through
in-memory indexes loaded on first use (about 100 bytes per committed event and per
action).  A ledger entry changed later (``reversed_by``) is appended again; the latest
version wins when reading.  Only members (bounded by the population) are updated in
place.  One process at a time writes the file: the first write takes an exclusive lock
on ``<file>.lock`` (lock.py) that the store holds until it is closed.
"""

from __future__ import annotations

import heapq
import math
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

from ..errors import StoreError
from ..model.decision import ActionRecord, Decision, RuleFailure
from ..model.state import LedgerEntry, MemberState, State, Strike, Timer
from .base import (
    OutboxItem,
    check_outbox_query,
    collect,
    completed,
    find_member,
    member_json,
    rule_error_from_json,
)
from .lock import WriterLock
from .records import (
    DEFAULT_TRACE_RETENTION,
    ActivityCounter,
    ReportContext,
    trace_rows,
    zone,
)
from .reports import (
    ActionTally,
    MemberTally,
    ReportQuery,
    audit_fields,
    is_direct,
)
from .sqlite_reports import (
    action_tally,
    audit_seconds,
    audit_tally,
    communities,
    daily_active,
    first_flags,
    member_tally,
    newest_day,
    points_tally,
    report_columns_upgrade,
    unix_seconds,
)

SCHEMA_VERSION = 4
FORMAT = "engage_rules"

_SCHEMA = (
    """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE processed (id TEXT NOT NULL);
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
)
#: What each schema version added to the one before (a store written by an older
#: version is upgraded in place, step by step, when opened).
_UPGRADES = {
    2: _SCHEMA[
        _SCHEMA.index("CREATE TABLE IF NOT EXISTS activity") : _SCHEMA.index(
            "CREATE TABLE IF NOT EXISTS replays"
        )
    ],
    3: _SCHEMA[_SCHEMA.index("CREATE TABLE IF NOT EXISTS replays") :],
    4: report_columns_upgrade(),
}

#: WAL pages between automatic checkpoints (SQLite's default is 1000).  Fewer, larger
#: checkpoints copy a page rewritten by many commits only once.
WAL_AUTOCHECKPOINT = 16384


def _encode_default(value: Any) -> Any:
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _native_equals_to_json(sample: Any) -> bool:
    """True if orjson's own encoding of the dataclass ``sample`` equals its ``to_json()``.

    orjson encodes a slotted dataclass field by field, 2-3 times faster than building the
    ``to_json()`` dict and dumping it.  That is only valid while every field maps to the
    key of the same name with the same JSON value (datetimes included); if ``state.py``
    ever diverges, the store falls back to ``to_json()``.
    """
    try:
        native = orjson.loads(orjson.dumps(sample, default=_encode_default))
    except TypeError:
        return False
    return bool(native == orjson.loads(orjson.dumps(sample.to_json())))


def _member_sample() -> MemberState:
    at = datetime(2026, 3, 2, 20, 15, 0, 123456, tzinfo=timezone(timedelta(hours=8)))
    utc = datetime(2026, 1, 1, tzinfo=UTC)
    member = MemberState(
        id="u",
        community="c",
        name="n",
        roles=("r",),
        created_at=utc,
        balances={"p": 1},
        earned={"p": 1},
        level=1,
        level_name="l",
        level_locked=True,
        promoted_at=at,
        level_due=3.5,
        lots={"p": [[1, 2.5, 1, 1]]},
        forfeited={"p": 1},
        badges={"b": {"n": 1}},
        titles=["t"],
        tags={"a": at, "b": None},
        strikes=[Strike(at, "r", "r", None), Strike(utc, "r", "r", at)],
        status="muted",
        muted_until=at,
        banned_until=utc,
        opted_out=True,
        joined_at=at,
        last_active_at=at,
        counts={"x": 1},
        history={"x": [1.5]},
        texts=[(1.5, "t")],
        cooldowns={"r": 2.5},
        spent={"b", "a"},
        windows={"w": [1.0]},
        caps={"c": [1, 2]},
        attrs={"a": [1]},
        flows={"f": {"s": 1}},
    )
    return member


_NATIVE_MEMBER = _native_equals_to_json(_member_sample())


_MEMBER_FIELDS = tuple(f.name for f in fields(MemberState) if f.name != "ledger")
_EMPTYABLE = (dict, list, tuple, set)


def encode_member(m: MemberState) -> str:
    """The JSON text stored for a member: its state without the ledger (which has its own
    table) and without empty or unset fields, which ``MemberState.from_json`` restores
    as defaults.  Compact rows mean fewer pages written per commit."""
    out: dict[str, Any] = {}
    for name in _MEMBER_FIELDS:
        value = getattr(m, name)
        if value is None or value is False or (not value and isinstance(value, _EMPTYABLE)):
            continue
        out[name] = value
    if _NATIVE_MEMBER:
        return orjson.dumps(out, default=_encode_default).decode()
    return orjson.dumps({k: v for k, v in member_json(m).items() if k in out}).decode()


@dataclass(slots=True)
class _Rows:
    """One serialised batch, ready for ``executemany``."""

    causes: list[str]
    #: community, member, seq, json, then the report columns (_ledger_rows)
    ledger: list[tuple[Any, ...]]
    #: key, json, status, then the report columns (_action_rows)
    actions: list[tuple[Any, ...]]
    timers_add: list[tuple[str, float, str]]
    timers_del: list[tuple[str]]
    errors: list[tuple[str]]
    #: json, then the report columns (_audit_rows)
    audit: list[tuple[Any, ...]]
    review: list[tuple[str]]
    meta: list[tuple[str, str]]
    activity: list[tuple[str, str, str, str, int]] = field(default_factory=list)
    traces: list[tuple[str, str, str, str | None, float, str]] = field(default_factory=list)
    #: community, id, json, joined (Unix seconds), status
    members: list[tuple[str, str, str, int | None, str]] = field(default_factory=list)
    members_gone: list[tuple[str, str]] = field(default_factory=list)
    communities: list[tuple[str, str]] = field(default_factory=list)
    communities_gone: list[tuple[str]] = field(default_factory=list)
    communities_seen: list[tuple[str, str]] = field(default_factory=list)


#: Ledger amounts beyond this are kept as floats in the ``amount`` column (SQLite
#: integers have 64 bits; the JSON keeps the exact value).
_AMOUNT_LIMIT = 2**62


def _ledger_rows(
    decisions: Sequence[Decision],
    ledger: dict[tuple[str, str, int], LedgerEntry],
    dumps: Callable[[Any], bytes],
) -> list[tuple[Any, ...]]:
    """The batch's ledger rows.  The columns a report sums (``ts``, ``currency``,
    ``kind``, ``amount``) are written on an entry's first version only, so that an entry
    written again (a reversal sets its ``reversed_by``) counts once."""
    # Only a reversal rewrites an entry: look for rewrites only in a batch that has one.
    rewritten: set[tuple[str, str, int]] = set()
    if any(e.reverses is not None for d in decisions if d.ledger for _, _, e in d.ledger):
        new = {(c, m, e.seq) for d in decisions if d.ledger for c, m, e in d.ledger}
        rewritten = set(ledger) - new
    out: list[tuple[Any, ...]] = []
    last_at, last_ts = None, None  # the entries of a decision share their instant
    for key, e in ledger.items():
        js = dumps(e.to_json()).decode()
        if rewritten and key in rewritten:
            out.append((*key, js, None, None, None, None))
            continue
        if e.at is not last_at:
            last_at, last_ts = e.at, unix_seconds(e.at)
        amount = e.amount if -_AMOUNT_LIMIT < e.amount < _AMOUNT_LIMIT else float(e.amount)
        out.append((*key, js, last_ts, e.currency, e.kind, amount))
    return out


def _action_rows(
    actions: list[ActionRecord],
    platforms: dict[str, str],
    outbox_json: Callable[[ActionRecord, dict[str, str]], str],
) -> list[tuple[Any, ...]]:
    """The batch's outbox rows (without ``seq``), with the columns reports group by."""
    out: list[tuple[Any, ...]] = []
    last_at, last_ts = None, None  # the actions of a decision mostly share their instant
    for a in actions:
        if a.at is not last_at:
            last_at, last_ts = a.at, unix_seconds(a.at)
        out.append(
            (
                a.key,
                outbox_json(a, platforms),
                "shadow" if a.shadow else "pending",
                last_ts,
                a.community,
                a.type,
                a.rule,
                a.cause,
                a.member,
                is_direct(a),
            )
        )
    return out


def _audit_rows(
    entries: list[dict[str, Any]], dumps: Callable[[Any], bytes]
) -> list[tuple[Any, ...]]:
    """The batch's audit rows, with the columns reports group by."""
    return [(dumps(e).decode(), audit_seconds(e.get("at")), *audit_fields(e)) for e in entries]


def _outbox_json(action: ActionRecord, platforms: dict[str, str]) -> str:
    """The outbox row's JSON: the action, plus ``platform`` when its event had one."""
    raw = action.to_json_bytes()
    platform = platforms.get(action.key) if platforms else None
    if platform is not None:
        raw = raw[:-1] + b',"platform":' + orjson.dumps(platform) + b"}"
    return raw.decode()


#: The integers JSON rows can hold (orjson's range).
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1
_MAX_DEPTH = 64


def storable(value: Any, notes: list[str], depth: int = 0) -> Any:
    """``value`` with everything a JSON row cannot hold replaced: integers beyond 64
    bits by their decimal text, NaN and infinities by null, sets by sorted lists, other
    objects by ``"<type name>"``, nesting beyond 64 levels by ``"<too deep>"``; each
    replacement is described in ``notes``."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        if _INT_MIN <= value <= _INT_MAX:
            return value
        notes.append("an integer wider than 64 bits was stored as text")
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        notes.append(f"{value} was stored as null")
        return None
    if depth >= _MAX_DEPTH:
        notes.append(f"data nested deeper than {_MAX_DEPTH} levels was cut")
        return "<too deep>"
    if isinstance(value, dict):
        return {str(k): storable(v, notes, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v, notes, depth + 1) for v in value]
    if isinstance(value, set | frozenset):
        return [storable(v, notes, depth + 1) for v in sorted(value, key=repr)]
    if isinstance(value, datetime):
        return value.isoformat()
    notes.append(f"a {type(value).__name__} value was stored as its type name")
    return f"<{type(value).__name__}>"


class Lenient:
    """Encoders for a batch that held a value JSON cannot (see :func:`storable`)."""

    def __init__(self, state: State) -> None:
        self.errors: list[RuleFailure] = []
        self._at = state.clock or datetime.now(UTC)

    def _note(self, notes: list[str], cause: str, where: str) -> None:
        for note in dict.fromkeys(notes):
            self.errors.append(RuleFailure("store", cause, f"{where}: {note}", self._at))

    def dumps(self, value: Any, cause: str = "store", where: str = "a stored record") -> bytes:
        try:
            return orjson.dumps(value, default=_encode_default)
        except TypeError:
            notes: list[str] = []
            out = orjson.dumps(storable(value, notes))
            if isinstance(value, dict):
                cause = str(value.get("cause") or value.get("event") or cause)
            self._note(notes, cause, where)
            return out

    def member(self, m: MemberState) -> str:
        try:
            return encode_member(m)
        except TypeError:
            notes: list[str] = []
            text = orjson.dumps(storable(member_json(m), notes)).decode()
            self._note(notes, "store", f"member {m.community}/{m.id}")
            return text

    def outbox_json(self, action: ActionRecord, platforms: dict[str, str]) -> str:
        try:
            return _outbox_json(action, platforms)
        except (TypeError, ValueError):
            notes: list[str] = []
            obj = storable(action.to_json(), notes)
            platform = platforms.get(action.key) if platforms else None
            if platform is not None:
                obj["platform"] = platform
            self._note(notes, action.cause, f"action {action.type} of rule {action.rule}")
            return orjson.dumps(obj).decode()


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

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        self._closed = False
        self._broken: str | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._inflight: Future[None] | None = None
        # In-memory indexes, loaded on first use (see the module docstring).
        self._processed: set[str] | None = None
        self._outbox_seqs: dict[str, int] = {}
        self._outbox_next = 1
        self._member_keys: set[tuple[str, str]] = set()  # rows in `members`
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
                for statement in _UPGRADES[step].split(";"):
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

    def _indexes(self, db: sqlite3.Connection) -> set[str]:
        """Load the processed ids and outbox keys once (call with the lock held)."""
        if self._processed is None:
            processed = {row[0] for row in db.execute("SELECT id FROM processed")}
            seqs = dict(db.execute("SELECT key, seq FROM outbox ORDER BY seq"))
            row = db.execute("SELECT value FROM meta WHERE key = 'outbox_seq'").fetchone()
            top = max(int(row[0]) if row else 0, max(seqs.values(), default=0))
            self._outbox_seqs = seqs
            self._outbox_next = top + 1
            self._member_keys = set(db.execute("SELECT community, id FROM members"))
            self._processed = processed
        return self._processed

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
        state = State()
        loads = orjson.loads
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        clock = meta.get("clock")
        state.clock = datetime.fromisoformat(clock) if clock else None
        for name, js in db.execute("SELECT name, json FROM communities"):
            state.community(name).data = loads(js)
        ledgers: dict[tuple[str, str], list[LedgerEntry]] = {}
        rewritten: set[tuple[str, str]] = set()
        entry = LedgerEntry.from_json
        for community, member, seq, js in db.execute(
            "SELECT community, member, seq, json FROM ledger ORDER BY rid"
        ):
            key = (community, member)
            led = ledgers.get(key)
            if led is None:
                led = ledgers[key] = []
            elif led[-1].seq >= seq:
                rewritten.add(key)
            led.append(entry(loads(js)))
        for key in rewritten:
            ledgers[key] = _latest_versions(ledgers[key])
        member = MemberState.from_json
        for community, mid, js in db.execute("SELECT community, id, json FROM members"):
            m = member(loads(js))
            m.ledger = ledgers.pop((community, mid), [])
            state.community(community).members[mid] = m
        for (community, mid), led in ledgers.items():  # ledger rows without a member row
            state.community(community).members[mid] = MemberState(
                id=mid, community=community, ledger=led
            )
        timers = [Timer.from_json(loads(js)) for (js,) in db.execute("SELECT json FROM timers")]
        heapq.heapify(timers)
        state.timers = timers
        state.timer_ids = {t.id for t in timers}
        state.timer_seq = max([int(meta.get("timer_seq") or 0), *(t.seq for t in timers)])
        return state

    def is_processed(self, cause_id: str) -> bool:
        processed = self._processed
        if processed is None or self._closed or self._broken is not None:
            with self._use() as db:
                processed = self._indexes(db)
        return cause_id in processed

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
        """Everything the batch writes, as rows (CPU only: no lock, no I/O).

        Serialising never fails a batch: should a value reach the store that JSON cannot
        hold (the reader and the engine keep them out; this is the last line), the batch
        is serialised again with such values replaced (:func:`storable`), and each
        replacement is recorded as a rule error of the ``store``.
        """
        try:
            return self._rows(decisions, state, None)
        except TypeError:  # orjson.JSONEncodeError
            lenient = Lenient(state)
            rows = self._rows(decisions, state, lenient)
            rows.errors += [(orjson.dumps(e.to_json()).decode(),) for e in lenient.errors]
            return rows

    def _rows(self, decisions: Sequence[Decision], state: State, lenient: Lenient | None) -> _Rows:
        b = collect(decisions, state)
        dumps: Callable[[Any], bytes] = orjson.dumps if lenient is None else lenient.dumps
        member_text = encode_member if lenient is None else lenient.member
        outbox_json = _outbox_json if lenient is None else lenient.outbox_json
        rows = _Rows(
            causes=b.causes,
            ledger=_ledger_rows(decisions, b.ledger, dumps),
            actions=_action_rows(b.actions, b.platforms, outbox_json),
            timers_add=[
                (t.id, t.due, dumps(t.to_json()).decode())
                for t in b.timers.values()
                if t is not None
            ],
            timers_del=[(tid,) for tid, t in b.timers.items() if t is None],
            errors=[(dumps(e.to_json()).decode(),) for e in b.errors],
            audit=_audit_rows(b.audit, dumps),
            review=[(dumps(r).decode(),) for r in b.review],
            meta=[
                ("clock", state.clock.isoformat() if state.clock is not None else ""),
                ("timer_seq", str(state.timer_seq)),
            ],
        )
        rows.activity = [
            (c, m, day, t, n) for (c, m, day, t), n in self._counter.count(decisions, {}).items()
        ]
        traces = trace_rows(decisions)
        if traces:
            rows.traces = [
                (
                    t["event"],
                    t.get("cause", t["event"]),
                    t["community"],
                    t.get("member"),
                    t["ts"],
                    dumps(t).decode(),
                )
                for t in traces
            ]
        for key in b.members:
            m = find_member(state, key[0], key[1])
            if m is None:
                rows.members_gone.append(key)
            else:
                rows.members.append(
                    (key[0], key[1], member_text(m), unix_seconds(m.joined_at), m.status)
                )
        for name in b.communities:
            cs = state.communities.get(name)
            if cs is None:
                rows.communities_gone.append((name,))
            else:
                rows.communities.append((name, dumps(cs.data).decode()))
        rows.communities_seen = [
            (name, "{}") for name in {k[0] for k in rows.members} - b.communities
        ]
        return rows

    def _write(self, rows: _Rows, *, pipelined: bool) -> Future[None] | None:
        with self._use(write=True) as db:
            processed = self._indexes(db)
            seqs = self._outbox_seqs
            new_causes = list(dict.fromkeys(c for c in rows.causes if c not in processed))
            fresh: list[tuple[Any, ...]] = []
            dropped: list[tuple[Any, ...]] = []
            new_keys: dict[str, int] = {}
            seq = first_seq = self._outbox_next
            for row in rows.actions:
                action_key = row[0]
                if action_key not in seqs and action_key not in new_keys:
                    new_keys[action_key] = seq
                    fresh.append(row)
                    seq += 1
                else:
                    dropped.append(row)
            flags = first_flags(fresh, dropped, rows.causes) if fresh else []
            outbox_rows = [
                (n, *row, flag)
                for n, row, flag in zip(range(first_seq, seq), fresh, flags, strict=True)
            ]
            run = db.executemany
            db.execute("BEGIN IMMEDIATE")
            try:
                if new_causes:
                    run("INSERT INTO processed (id) VALUES (?)", [(c,) for c in new_causes])
                if rows.ledger:
                    run(
                        "INSERT INTO ledger (community, member, seq, json, ts, currency, kind, "
                        "amount) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        rows.ledger,
                    )
                if outbox_rows:
                    run(
                        "INSERT INTO outbox (seq, key, json, status, ts, community, type, "
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
                        "INSERT INTO audit (json, ts, community, action, reason) "
                        "VALUES (?, ?, ?, ?, ?)",
                        rows.audit,
                    )
                if rows.review:
                    run("INSERT INTO review (json) VALUES (?)", rows.review)
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
                run(
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
            processed.update(new_causes)
            seqs.update(new_keys)
            self._outbox_next = seq
            self._member_keys.update((row[0], row[1]) for row in rows.members)
            self._member_keys.difference_update(rows.members_gone)
            if not pipelined:
                return None
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="engage-rules-sqlite")
            future = self._executor.submit(self._finish)
            self._inflight = future
            return future

    def _write_members(
        self, db: sqlite3.Connection, members: list[tuple[str, str, str, int | None, str]]
    ) -> None:
        """Upsert member rows: a plain UPDATE for known members (one B-tree search)."""
        known = self._member_keys
        updates = [(js, j, st, c, m) for c, m, js, j, st in members if (c, m) in known]
        inserts = [row for row in members if (row[0], row[1]) not in known]
        upsert = (
            "INSERT INTO members (community, id, json, joined, status) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (community, id) DO UPDATE SET json = excluded.json, "
            "joined = excluded.joined, status = excluded.status"
        )
        if updates:
            changed = db.executemany(
                "UPDATE members SET json = ?, joined = ?, status = ? "
                "WHERE community = ? AND id = ?",
                updates,
            ).rowcount
            if changed != len(updates):  # the key index is stale: never lose a member
                db.executemany(upsert, [(c, m, js, j, st) for js, j, st, c, m in updates])
        if inserts:
            db.executemany(upsert, inserts)

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
            keys, "UPDATE outbox SET status = 'sending' WHERE seq = ? AND status = 'pending'"
        )

    def mark_delivered(self, keys: Sequence[str]) -> None:
        self._update_outbox(
            keys,
            "UPDATE outbox SET status = 'delivered', attempts = attempts + 1 "
            "WHERE seq = ? AND status != 'delivered'",
        )

    def _update_outbox(self, keys: Sequence[str], sql: str) -> None:
        """Run ``sql`` (one ``seq = ?`` parameter) for the outbox items of ``keys``, in one
        transaction."""
        with self._use(write=True) as db:
            self._indexes(db)
            seqs = self._outbox_seqs
            rows = [(seqs[k],) for k in dict.fromkeys(keys) if k in seqs]
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
            seq = self._outbox_seqs.get(key)
            if seq is None:
                return
            db.execute(
                "UPDATE outbox SET status = ?, attempts = attempts + 1, last_error = ? "
                "WHERE seq = ? AND status != 'delivered'",
                ("failed" if permanent else "pending", error, seq),
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
        return _latest_versions(entries)

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
            self._processed = None
            self._outbox_seqs = {}
            self._member_keys = set()
            with suppress(sqlite3.Error):
                self._db.execute("PRAGMA optimize")
            self._db.close()
            if self._writer is not None:
                self._writer.release()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
