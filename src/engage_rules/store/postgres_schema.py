"""The PostgreSQL store's tables, in one schema, and their versioned migrations.

Layout (schema version 3; every text key is ``COLLATE "C"``, so that rows sort as
Python and SQLite sort strings)::

    meta(key, value)                       schema_version, format, clock, timer_seq,
                                           outbox_seq, dedup_horizon, report_context,
                                           writer (who holds the writer lock)
    processed(id, ts)                      committed event and timer ids with the clock
                                           of their commit, within the dedup window
    communities(name, json, part)          community-level data (part: the Kafka
                                           partition that owns it, for workers)
    members(community, id, json, joined, status)   MemberState JSON (no ledger)
    ledger(rid, community, member, seq, json, ts, currency, kind, amount)
    outbox(seq, key, json, status, attempts, last_error,
           ts, community, type, rule, cause, member, direct,
           claimed_by, lease_until)            (the last two: dispatchers' claims)
    timers(id, due, json, community, part)
    partitions(topic, part, epoch, next_offset, clock, timer_seq)   Kafka workers'
                                           fencing epochs, offsets and clocks
    outbox_seqs                            a sequence: outbox numbers for workers
    errors(seq, json), review(seq, json)
    audit(seq, json, ts, community, action, reason)
    activity(community, member, day, type, events)     daily activity (``day``: a date)
    traces(seq, event, cause, community, member, ts, json)
    replays(key, first_seq, last_seq)

``ts`` and ``joined`` are whole Unix seconds (batch_rows.unix_seconds): what reports
group by, as in the SQLite store.

:data:`MIGRATIONS` lists what each version adds to the one before; :func:`migrate`
creates the schema on first use and brings an older one up to date, all in one
transaction (under a transaction-level advisory lock, so two processes opening a new
store at once do not both create it).  A schema written by a newer version is refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import psycopg
from psycopg import sql

from ..errors import StoreError

FORMAT = "engage_rules"

_TABLES = """
CREATE TABLE meta (key TEXT COLLATE "C" PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE processed (id TEXT COLLATE "C" PRIMARY KEY, ts DOUBLE PRECISION NOT NULL);
CREATE INDEX processed_ts ON processed (ts);
CREATE TABLE communities (name TEXT COLLATE "C" PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE members (
    community TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    json TEXT NOT NULL,
    joined BIGINT,
    status TEXT COLLATE "C",
    PRIMARY KEY (community, id)
);
CREATE TABLE ledger (
    rid BIGSERIAL PRIMARY KEY,
    community TEXT COLLATE "C" NOT NULL,
    member TEXT COLLATE "C" NOT NULL,
    seq BIGINT NOT NULL,
    json TEXT NOT NULL,
    ts BIGINT,
    currency TEXT COLLATE "C",
    kind TEXT COLLATE "C",
    amount NUMERIC
);
CREATE INDEX ledger_member ON ledger (community, member, rid);
CREATE TABLE outbox (
    seq BIGINT PRIMARY KEY,
    key TEXT COLLATE "C" NOT NULL UNIQUE,
    json TEXT NOT NULL,
    status TEXT COLLATE "C" NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    ts BIGINT,
    community TEXT COLLATE "C",
    type TEXT COLLATE "C",
    rule TEXT COLLATE "C",
    cause TEXT COLLATE "C",
    member TEXT COLLATE "C",
    direct BOOLEAN
);
CREATE INDEX outbox_pending ON outbox (seq) WHERE status = 'pending';
CREATE INDEX outbox_sending ON outbox (seq) WHERE status = 'sending';
CREATE TABLE timers (
    id TEXT COLLATE "C" PRIMARY KEY, due DOUBLE PRECISION NOT NULL, json TEXT NOT NULL
);
CREATE TABLE errors (seq BIGSERIAL PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE audit (
    seq BIGSERIAL PRIMARY KEY,
    json TEXT NOT NULL,
    ts BIGINT,
    community TEXT COLLATE "C",
    action TEXT COLLATE "C",
    reason TEXT COLLATE "C"
);
CREATE TABLE review (seq BIGSERIAL PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE activity (
    community TEXT COLLATE "C" NOT NULL,
    member TEXT COLLATE "C" NOT NULL,
    day DATE NOT NULL,
    type TEXT COLLATE "C" NOT NULL,
    events BIGINT NOT NULL,
    PRIMARY KEY (day, community, member, type)
);
CREATE INDEX activity_member ON activity (community, member);
CREATE TABLE traces (
    seq BIGSERIAL PRIMARY KEY,
    event TEXT COLLATE "C" NOT NULL,
    cause TEXT COLLATE "C" NOT NULL,
    community TEXT COLLATE "C" NOT NULL,
    member TEXT COLLATE "C",
    ts DOUBLE PRECISION NOT NULL,
    json TEXT NOT NULL
);
CREATE INDEX traces_event ON traces (event);
CREATE INDEX traces_cause ON traces (cause);
CREATE INDEX traces_member ON traces (community, member);
CREATE INDEX traces_ts ON traces (ts);
CREATE TABLE replays (key TEXT COLLATE "C" NOT NULL, first_seq BIGINT NOT NULL, last_seq BIGINT);
CREATE INDEX replays_key ON replays (key);
"""

#: A report reads one period: the instants of actions, audit entries and ledger entries
#: are indexed, so that a period is found without a scan.
_PERIOD_INDEXES = """
CREATE INDEX outbox_ts ON outbox (ts);
CREATE INDEX audit_ts ON audit (ts);
CREATE INDEX ledger_ts ON ledger (ts);
"""

Step = str | Callable[[psycopg.Connection], None]

#: Kafka workers (store/postgres_worker.py): a row per partition of the topic with its
#: fencing epoch, the next offset to consume and what ``meta`` holds for one writer (the
#: clock and timer sequence of the partition's engine); the partition that owns each
#: community and timer; outbox sequence numbers drawn from a database sequence; which
#: dispatcher claimed an outbox item, until when (postgres_claims.py).
_PARTITIONS = """
CREATE TABLE partitions (
    topic TEXT COLLATE "C" NOT NULL,
    part INTEGER NOT NULL,
    epoch BIGINT NOT NULL DEFAULT 0,
    next_offset BIGINT NOT NULL DEFAULT 0,
    clock TEXT NOT NULL DEFAULT '',
    timer_seq BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (topic, part)
);
ALTER TABLE communities ADD COLUMN part INTEGER;
CREATE INDEX communities_part ON communities (part);
ALTER TABLE timers ADD COLUMN community TEXT COLLATE "C";
ALTER TABLE timers ADD COLUMN part INTEGER;
CREATE INDEX timers_part ON timers (part, due);
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE outbox ADD COLUMN lease_until DOUBLE PRECISION;
CREATE SEQUENCE outbox_seqs;
SELECT setval('outbox_seqs', greatest(coalesce(max(seq), 0), 1), max(seq) IS NOT NULL) FROM outbox
"""

#: Version 4: each day's events per (community, type), for a report's volumes
#: (records.DayTotals), filled from the activity kept so far (replies and channels are
#: counted from the upgrade on); the members' sources and tags (records.MemberMarks).
_ACTIVITY_TOTALS = """
CREATE TABLE activity_totals (
    community TEXT COLLATE "C" NOT NULL,
    day DATE NOT NULL,
    type TEXT COLLATE "C" NOT NULL,
    events BIGINT NOT NULL,
    PRIMARY KEY (day, community, type)
);
INSERT INTO activity_totals (community, day, type, events)
SELECT community, day, type, sum(events) FROM activity WHERE strpos(type, ':') = 0
GROUP BY community, day, type;
CREATE TABLE member_marks (
    community TEXT COLLATE "C" NOT NULL,
    member TEXT COLLATE "C" NOT NULL,
    mark TEXT COLLATE "C" NOT NULL,
    day DATE NOT NULL,
    PRIMARY KEY (community, member, mark)
)
"""

#: What each schema version adds to the one before: ``MIGRATIONS[n - 1]`` makes
#: version ``n`` (SQL statements, or a function run in the migration's transaction).
MIGRATIONS: tuple[Step, ...] = (_TABLES, _PERIOD_INDEXES, _PARTITIONS, _ACTIVITY_TOTALS)

#: The schema version this code writes.
SCHEMA_VERSION = len(MIGRATIONS)


def lock_key(schema: str, purpose: str) -> int:
    """A 64-bit advisory lock key for one schema and purpose (``migrate``, ``writer``)."""
    digest = hashlib.blake2b(f"engage_rules:{purpose}:{schema}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


def migrate(
    conn: psycopg.Connection, schema: str, where: str, steps: Sequence[Step] = MIGRATIONS
) -> int:
    """Create ``schema`` and its tables, or upgrade them to ``len(steps)``, in one
    transaction; return the version found (0 for a new store).  ``where`` names the
    store in errors.  ``conn`` is in autocommit mode."""
    latest = len(steps)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(schema, "migrate"),))
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(schema)))
        version = _version(conn, schema, where, latest)
        if version == latest:
            return version
        for step in steps[version:]:
            if callable(step):
                step(conn)
            else:
                for statement in step.split(";"):
                    if statement.strip():
                        conn.execute(statement.encode())
        if version == 0:
            conn.cursor().executemany(
                "INSERT INTO meta (key, value) VALUES (%s, %s)",
                [
                    ("format", FORMAT),
                    ("clock", ""),
                    ("timer_seq", "0"),
                    ("outbox_seq", "0"),
                    ("schema_version", str(latest)),
                ],
            )
        else:
            conn.execute("UPDATE meta SET value = %s WHERE key = 'schema_version'", (str(latest),))
        return version


def _version(conn: psycopg.Connection, schema: str, where: str, latest: int) -> int:
    """The schema version of the store in ``schema`` (0: no tables yet), or StoreError."""
    tables = {
        name
        for (name,) in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (schema,),
        )
    }
    if not tables:
        return 0
    not_ours = f"{where}: schema {schema!r} holds tables that are not an engage_rules store"
    if "meta" not in tables:
        raise StoreError(not_ours)
    meta: dict[str, str] = dict(
        conn.execute("SELECT key, value FROM meta WHERE key IN ('format', 'schema_version')")
    )
    if meta.get("format") != FORMAT:
        raise StoreError(not_ours)
    raw = meta.get("schema_version", "")
    try:
        version = int(raw)
    except ValueError:
        version = -1
    if version > latest:
        raise StoreError(
            f"{where} was written by a newer engage_rules (store schema {version}); "
            f"this version reads schema {latest}: upgrade engage_rules"
        )
    if version < 1:
        raise StoreError(
            f"{where}: unknown store schema version {raw!r}; this version of "
            f"engage_rules reads schema {latest}"
        )
    return version
