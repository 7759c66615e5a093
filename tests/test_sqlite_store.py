"""SQLite-specific behaviour: durability under kill -9, schema checks, round trips."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from itertools import count
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engage_rules
from engage_rules.errors import StoreError
from engage_rules.model.decision import ActionRecord, Decision
from engage_rules.model.state import LedgerEntry, MemberState, State, Strike
from engage_rules.store import SQLiteStore
from engage_rules.store.base import link_reversals
from engage_rules.store.batch_rows import encode_member
from engage_rules.store.sqlite import SCHEMA_VERSION
from engage_rules.testing import T0
from engage_rules.testing import strategies as est
from report_helpers import drop_report_columns


def _decision(n: int) -> Decision:
    return Decision(cause=f"evt-{n}", at=T0 + timedelta(seconds=n))


def _award(state: State, d: Decision, member: str, amount: int = 1) -> None:
    m = state.community("default").member(member)
    m.ledger_seq += 1
    e = LedgerEntry(
        m.ledger_seq, "points", amount, "award", "r", "r", d.cause, f"{d.cause}:{member}", d.at
    )
    m.balances["points"] = m.balances.get("points", 0) + amount
    d.ledger.append(("default", member, e))
    d.touched.add(("default", member))


# -- configuration and schema ----------------------------------------------------------


def test_wal_and_full_synchronous(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    try:
        assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    finally:
        store.close()
    with sqlite3.connect(tmp_path / "s.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def _set_meta(path: Path, key: str, value: str) -> None:
    db = sqlite3.connect(path)
    with db:
        db.execute("UPDATE meta SET value = ? WHERE key = ?", (value, key))
    db.close()


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    SQLiteStore(path).close()
    newer = SCHEMA_VERSION + 1
    _set_meta(path, "schema_version", str(newer))
    with pytest.raises(StoreError, match=rf"newer engage_rules .*schema {newer}.*upgrade"):
        SQLiteStore(path)
    _set_meta(path, "schema_version", "banana")
    with pytest.raises(StoreError, match="unknown store schema version 'banana'"):
        SQLiteStore(path)


def test_a_schema_1_store_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with SQLiteStore(path) as store:
        state = store.open()
        d = _decision(1)
        _award(state, d, "u1")
        store.commit([d], state)
    db = sqlite3.connect(path)
    with db:
        db.execute("DROP TABLE activity")
        db.execute("DROP TABLE traces")
        db.execute("DROP TABLE replays")
        db.execute("DROP INDEX outbox_key")
        db.execute("CREATE TABLE old_processed AS SELECT id FROM processed")
        db.execute("DROP TABLE processed")
        db.execute("ALTER TABLE old_processed RENAME TO processed")
        drop_report_columns(db)
    db.close()
    _set_meta(path, "schema_version", "1")
    with SQLiteStore(path) as store:
        assert store.open().communities["default"].member("u1").balances
        assert store.activity() == [] and store.traces() == []
        assert store.is_processed("evt-1")
    with sqlite3.connect(path) as db:
        version = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert version == (str(SCHEMA_VERSION),)


def test_other_databases_and_files_are_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE users (id INTEGER)")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="not an engage_rules store"):
        SQLiteStore(other)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database, just some text\n" * 200)
    with pytest.raises(StoreError, match="cannot open SQLite store"):
        SQLiteStore(junk)


def test_corrupt_rows_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with SQLiteStore(path) as store:
        state = store.open()
        d = _decision(1)
        _award(state, d, "u1")
        store.commit([d], state)
    db = sqlite3.connect(path)
    with db:
        db.execute('UPDATE members SET json = \'{"id": "u1"\'')
    db.close()
    with SQLiteStore(path) as store:
        state = store.open()  # members are read when first needed
        with pytest.raises(StoreError, match="corrupt store data in table members"):
            state.community("default").find("u1")


def test_a_closed_store_refuses_work(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.open()
    with pytest.raises(StoreError, match="closed"):
        store.is_processed("evt-1")
    with pytest.raises(StoreError, match="closed"):
        store.commit([_decision(1)], State())


def test_is_processed_works_before_open(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with SQLiteStore(path) as store:
        state = store.open()
        store.commit([_decision(1)], state)
    with SQLiteStore(path) as store:
        assert store.is_processed("evt-1") and not store.is_processed("evt-2")


def test_an_unserialisable_value_never_fails_the_batch(tmp_path: Path) -> None:
    """A value JSON cannot hold is stored replaced, and the replacement recorded as an
    error of the store (the batch, and the stream, go on)."""
    with SQLiteStore(tmp_path / "s.db") as store:
        state = store.open()
        d = _decision(1)
        _award(state, d, "u1")
        state.community("default").member("u1").attrs["bad"] = object()
        store.commit([d], state)
        assert store.is_processed("evt-1")
        [error] = store.rule_errors()
        assert error.rule == "store" and "member default/u1" in error.message
    with SQLiteStore(tmp_path / "s.db") as store:
        member = store.open().community("default").member("u1")
        assert member.attrs["bad"] == "<object>" and member.balances


class _FailingCommit:
    """A connection proxy whose COMMIT fails, as on a full disk."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def execute(self, sql: str, *args: Any) -> Any:
        if sql == "COMMIT":
            raise sqlite3.OperationalError("database or disk is full")
        return self.db.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.db, name)


def test_a_failed_pipelined_commit_stops_the_store(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SQLiteStore(path)
    state = store.open()
    d1 = _decision(1)
    _award(state, d1, "u1")
    store.commit([d1], state)
    real = store._db
    store._db = _FailingCommit(real)  # type: ignore[assignment]
    d2 = _decision(2)
    _award(state, d2, "u1")
    future = store.commit_async([d2], state)
    with pytest.raises(StoreError, match="disk is full"):
        future.result(timeout=30)
    with pytest.raises(StoreError, match="reopen the store"):
        store.outbox()
    with pytest.raises(StoreError, match="reopen the store"):
        store.is_processed("evt-1")
    store._db = real
    store.close()
    with SQLiteStore(path) as again:
        restored = again.open()
        assert again.is_processed("evt-1") and not again.is_processed("evt-2")
        assert restored.community("default").member("u1").ledger_seq == 1
        assert len(again.ledger("default", "u1")) == 1


def test_members_and_ids_are_read_without_waiting_for_the_batch_in_flight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine loads members and checks ids while the writer thread writes the last
    batch: it sees that batch (its members' rows, its causes) without waiting for it."""
    path = tmp_path / "s.db"
    store = SQLiteStore(path)
    state = store.open()
    d1 = _decision(1)
    _award(state, d1, "u1", 5)
    _award(state, d1, "gone", 1)
    store.commit([d1], state)
    gate = threading.Event()
    real_apply = store._apply

    def held(*args: Any) -> None:
        assert gate.wait(30)
        real_apply(*args)

    monkeypatch.setattr(store, "_apply", held)
    d2 = _decision(2)
    _award(state, d2, "u1", 3)
    _award(state, d2, "u2", 1)
    del state.communities["default"].members["gone"]
    d2.touched.add(("default", "gone"))
    future = store.commit_async([d2], state)

    def reads() -> tuple[Any, ...]:
        return (
            store.load_member("default", "u1"),
            store.load_member("default", "u2"),
            store.load_member("default", "gone"),
            store.load_member("default", "nobody"),
            store.processed_among(["evt-1", "evt-2", "evt-3"]),
            store.is_processed("evt-2"),
            store.load_members("default", ["u1", "u2", "gone", "nobody"]),
        )

    u1, u2, gone, nobody, seen, second, chunk = run_in_thread(reads, timeout=10)
    assert not future.done(), "the batch is still held on the writer thread"
    assert u1 is not None and u1.balances == {"points": 8} and u1.ledger_seq == 2
    assert u2 is not None and u2.balances == {"points": 1}
    assert gone is None and nobody is None
    assert seen == {"evt-1", "evt-2"} and second
    assert chunk == {"u1": u1, "u2": u2}
    gate.set()
    future.result(timeout=30)
    # Once durable, the same answers come from the database.
    assert store.load_member("default", "u1") == u1
    assert store.load_member("default", "gone") is None
    assert store.processed_among(["evt-1", "evt-2", "evt-3"]) == {"evt-1", "evt-2"}
    store.close()
    with SQLiteStore(path) as again:
        again.open()
        assert again.load_member("default", "u1") == u1
        assert again.processed_among(["evt-2"]) == {"evt-2"}


def test_rows_are_written_many_per_statement_in_any_number(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch writes the same rows whether a statement holds all of them or a few."""
    from engage_rules.store import sqlite as sqlite_module

    def write(path: Path) -> dict[str, Any]:
        store = SQLiteStore(path)
        state = store.open()
        batch = []
        for n in range(1, 12):
            d = _decision(n)
            _award(state, d, f"u{n % 4}", n)
            d.actions.append(ActionRecord(f"k{n}", "send", "u1", "r", d.cause, d.at, {"n": n}))
            batch.append(d)
        store.commit_async(batch, state).result(timeout=30)
        store.close()
        with sqlite3.connect(path) as db:
            return {
                table: db.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
                for table in ("members", "ledger", "outbox", "processed", "activity")
            }

    whole = write(tmp_path / "whole.db")
    monkeypatch.setattr(sqlite_module, "_ROWS_PER_STATEMENT", 3)
    assert write(tmp_path / "threes.db") == whole
    assert len(whole["ledger"]) == 11 and len(whole["members"]) == 4


def run_in_thread(call: Any, timeout: float) -> Any:
    """``call()`` on another thread; fails the test if it takes over ``timeout`` s (a
    read that waited for a held batch would)."""
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(call()), daemon=True)
    thread.start()
    thread.join(timeout)
    assert out, f"the reads did not answer within {timeout} s"
    return out[0]


def test_a_dispatcher_thread_can_share_the_store(tmp_path: Path) -> None:
    """The engine commits while another thread delivers the outbox."""
    store = SQLiteStore(tmp_path / "s.db")
    state = store.open()
    stop = threading.Event()
    delivered: list[str] = []
    errors: list[BaseException] = []

    def dispatcher() -> None:
        try:
            while True:
                pending = store.outbox(status="pending", limit=50)
                if pending:
                    keys = [i.action.key for i in pending]
                    store.mark_delivered(keys)
                    delivered.extend(keys)
                elif stop.is_set():
                    return
                else:
                    time.sleep(0.001)
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    thread = threading.Thread(target=dispatcher)
    thread.start()
    futures = []
    for n in range(60):
        d = _decision(n)
        _award(state, d, f"u{n % 5}")
        d.actions.append(ActionRecord(f"k{n}", "send", "u1", "r", d.cause, d.at, {}))
        if n % 2:
            futures.append(store.commit_async([d], state))
        else:
            store.commit([d], state)
    for f in futures:
        f.result(timeout=30)
    stop.set()
    thread.join(timeout=30)
    assert not errors
    assert sorted(delivered) == sorted(f"k{n}" for n in range(60))
    assert all(i.status == "delivered" and i.attempts == 1 for i in store.outbox())
    store.close()


# -- random members round-trip ---------------------------------------------------------

_text = est.valid_text(12)
_zones = [UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5, minutes=-30))]
_when = est.instants(datetime(1971, 1, 1), datetime(2100, 1, 1), _zones)
_float = st.floats(allow_nan=False, allow_infinity=False)
_int = st.integers(-(2**62), 2**62)
_json = est.json_values(
    est.json_scalars(integers=_int, floats=_float, text=_text), keys=_text, max_size=3, max_leaves=8
)


@st.composite
def members(draw: st.DrawFn) -> tuple[MemberState, list[LedgerEntry]]:
    """A member with every field drawn, and its ledger."""
    mid = draw(_text.filter(bool))
    community = draw(_text.filter(bool))
    ledger = []
    for seq in range(1, draw(st.integers(0, 6)) + 1):
        ledger.append(
            LedgerEntry(
                seq=seq,
                currency=draw(_text),
                amount=draw(_int),
                kind=draw(_text),
                reason=draw(_text),
                rule=draw(_text),
                cause=draw(_text),
                key=draw(_text),
                at=draw(_when),
                ref=draw(st.none() | _text),
                reverses=draw(st.none() | st.integers(1, 6)),
            )
        )
    credit = st.tuples(st.integers(1, 6), _float, _text, _int, _text, _text, st.none() | _text)
    member = MemberState(
        id=mid,
        community=community,
        name=draw(st.none() | _text),
        roles=tuple(draw(st.lists(_text, max_size=3))),
        created_at=draw(st.none() | _when),
        balances=draw(st.dictionaries(_text, _int, max_size=3)),
        earned=draw(st.dictionaries(_text, _int, max_size=3)),
        ledger_seq=len(ledger),
        revocable=draw(st.lists(credit.map(list), max_size=3)),
        level=draw(st.none() | _int),
        level_name=draw(st.none() | _text),
        level_locked=draw(st.booleans()),
        promoted_at=draw(st.none() | _when),
        level_due=draw(st.none() | _float),
        lots=draw(
            st.dictionaries(
                _text,
                st.lists(st.tuples(_int, _float, st.integers(1, 99), _int).map(list), max_size=3),
                max_size=2,
            )
        ),
        forfeited=draw(st.dictionaries(_text, _int, max_size=2)),
        badges=draw(st.dictionaries(_text, st.dictionaries(_text, _json, max_size=2), max_size=2)),
        titles=draw(st.lists(_text, max_size=3)),
        tags=draw(st.dictionaries(_text, st.none() | _when, max_size=3)),
        strikes=draw(
            st.lists(st.builds(Strike, _when, _text, _text, st.none() | _when), max_size=2)
        ),
        status=draw(st.sampled_from(["active", "muted", "banned", "left"])),
        muted_until=draw(st.none() | _when),
        banned_until=draw(st.none() | _when),
        opted_out=draw(st.booleans()),
        joined_at=draw(st.none() | _when),
        last_active_at=draw(st.none() | _when),
        counts=draw(st.dictionaries(_text, _int, max_size=3)),
        history=draw(st.dictionaries(_text, st.lists(_float, max_size=4), max_size=2)),
        texts=draw(st.lists(st.tuples(_float, _text), max_size=3)),
        cooldowns=draw(st.dictionaries(_text, _float, max_size=2)),
        spent=draw(st.sets(_text, max_size=3)),
        windows=draw(st.dictionaries(_text, st.lists(_float, max_size=3), max_size=2)),
        caps=draw(st.dictionaries(_text, st.lists(_json, max_size=2), max_size=2)),
        attrs=draw(st.dictionaries(_text, _json, max_size=3)),
        flows=draw(st.dictionaries(_text, _json, max_size=2)),
        gaps=draw(st.lists(_float, max_size=3)),
        silence=draw(st.dictionaries(_text, _float, max_size=2)),
    )
    return member, ledger


_examples = count()


@pytest.mark.slow
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(drawn=members())
def test_random_members_round_trip(
    tmp_path: Path, drawn: tuple[MemberState, list[LedgerEntry]]
) -> None:
    member, ledger = drawn
    # The stored form omits empty fields; decoding it gives back the same member (the
    # ledger lives in its own table).
    stored = orjson.loads(encode_member(member))
    assert not any(v is None or v is False or v in ([], {}) for v in stored.values())
    assert MemberState.from_json(stored).to_json() == orjson.loads(orjson.dumps(member.to_json()))
    path = tmp_path / f"m{next(_examples)}.db"
    state = State()
    state.community(member.community).members[member.id] = member
    d = _decision(1)
    d.touched.add((member.community, member.id))
    d.ledger.extend((member.community, member.id, e) for e in ledger)
    with SQLiteStore(path) as store:
        store.commit([d], state)
    with SQLiteStore(path) as store:
        restored = store.open().communities[member.community].member(member.id)
        assert restored.to_json() == member.to_json()
        assert store.ledger(member.community, member.id) == link_reversals(ledger)


# -- kill -9 ---------------------------------------------------------------------------

CHILD = r"""
import sys
from datetime import datetime, timedelta, timezone
from heapq import heapify
from engage_rules.model.decision import ActionRecord, Decision
from engage_rules.model.state import LedgerEntry, Timer
from engage_rules.store import SQLiteStore
from engage_rules.testing import T0

path, start, per_batch, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
store = SQLiteStore(path)
state = store.open()
c = state.community("default")


def credit(m, d, amount):
    m.ledger_seq += 1
    e = LedgerEntry(m.ledger_seq, "points", amount, "award", "crash", "crash", d.cause,
                    d.cause + ":" + m.id, d.at)
    m.balances["points"] = m.balances.get("points", 0) + amount
    d.ledger.append(("default", m.id, e))
    d.touched.add(("default", m.id))


inflight = []
b = start
while True:
    at = T0 + timedelta(minutes=b)
    marker, total = c.member("batch-%d" % b), c.member("total")
    due = ["t%d-%d" % (b - 1, i) for i in range(per_batch)]
    state.timers = [t for t in state.timers if t.id not in due]
    heapify(state.timers)
    state.timer_ids.difference_update(due)
    batch = []
    for i in range(per_batch):
        d = Decision(cause="b%d-e%d" % (b, i), at=at)
        credit(marker, d, 1)
        credit(total, d, 1)
        d.actions.append(ActionRecord("b%d-a%d" % (b, i), "send", marker.id, "crash",
                                      d.cause, at, {"i": i}))
        timer = Timer(at.timestamp() + 3600, 0, "t%d-%d" % (b, i), "untag", "default",
                      marker.id, "crash")
        state.add_timer(timer)
        d.add_timer(timer)
        if b > 0:
            d.add_fired(due[i])
        batch.append(d)
    state.clock = at
    if mode == "sync":
        store.commit(batch, state)
        print(b, flush=True)
    else:
        inflight.append((b, store.commit_async(batch, state)))
        while len(inflight) > 1 or (inflight and inflight[0][1].done()):
            done_b, future = inflight.pop(0)
            future.result()
            print(done_b, flush=True)
    b += 1
"""

PER_BATCH = 25


def _check(path: Path, reported: list[int], mode: str) -> int:
    """Every reported batch is there, whole; nothing of any later batch is."""
    with SQLiteStore(path) as store:
        state = store.open().load_all_members()
        members = state.community("default").members
        committed = sorted(int(k.split("-")[1]) for k in members if k.startswith("batch-"))
        n = len(committed)
        assert committed == list(range(n)), "batches are committed in order, none missing"
        assert set(reported) <= set(committed), "a reported batch was lost"
        slack = 1 if mode == "sync" else 2  # batches committed but not yet reported
        assert n <= max(reported, default=-1) + 1 + slack
        for b in range(n + 1):
            whole = b < n
            marker = members.get(f"batch-{b}")
            assert (marker is not None) == whole
            if marker is not None:
                entries = store.ledger("default", f"batch-{b}")
                assert [e.seq for e in entries] == list(range(1, PER_BATCH + 1))
                assert marker.balance("points") == PER_BATCH
            assert all(store.is_processed(f"b{b}-e{i}") == whole for i in range(PER_BATCH))
        total = members.get("total")
        entries = store.ledger("default", "total")
        assert [e.seq for e in entries] == list(range(1, n * PER_BATCH + 1))
        assert total is None or total.balance("points") == n * PER_BATCH
        assert [i.action.key for i in store.outbox()] == [
            f"b{b}-a{i}" for b in range(n) for i in range(PER_BATCH)
        ]
        assert state.timer_ids == ({f"t{n - 1}-{i}" for i in range(PER_BATCH)} if n else set())
        assert state.timer_seq == n * PER_BATCH
        assert state.clock == (T0 + timedelta(minutes=n - 1) if n else None)
        return n


def _run_child_until_killed(
    path: Path, start: int, mode: str, rng: random.Random, log: Path
) -> list[int]:
    src = str(Path(engage_rules.__file__).resolve().parents[1])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p),
    }
    with log.open("ab") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path), str(start), str(PER_BATCH), mode],
            stdout=subprocess.PIPE,
            stderr=err,
            env=env,
        )
    reported: list[int] = []
    first = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            reported.append(int(line))
            first.set()

    reader = threading.Thread(target=read)
    reader.start()
    try:
        assert first.wait(60), f"the child committed nothing: {log.read_text()[-2000:]}"
        time.sleep(rng.uniform(0.0, 0.3))
        assert proc.poll() is None, f"the child died: {log.read_text()[-2000:]}"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        reader.join(timeout=60)
    return reported


@pytest.mark.subprocess
@pytest.mark.slow
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_kill_9_loses_no_committed_batch_and_leaves_no_partial_one(
    tmp_path: Path, mode: str
) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    path = tmp_path / "crash.db"
    log = tmp_path / "child.log"
    committed = 0
    for kill in range(4):
        reported = _run_child_until_killed(path, committed, mode, rng, log)
        assert reported, f"seed {seed}, kill {kill}: nothing reported"
        assert reported == list(range(committed, reported[-1] + 1))
        n = _check(path, reported, mode)
        assert n > committed, f"seed {seed}, kill {kill}: no progress"
        committed = n
