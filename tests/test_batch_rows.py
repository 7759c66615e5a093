"""The rows a SQL store writes for a batch (store/batch_rows.py, store/records.py): the
commit-path loops written out for speed give exactly what their plain definitions give.

Each loop is checked against a reference written the plain way (the definition in
``batch_rows``, ``LedgerEntry.to_json``, ``outbox_json``, ``find_member``...) on
generated input, including the rare cases the fast paths branch on: duplicate keys,
shadow actions, causes of other batches, several instants per rule and cause, time
zones with summer time, events out of time order, members of several communities and
members gone.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engage_rules.model.decision import ActionRecord, Decision
from engage_rules.model.events import Event, MemberRef
from engage_rules.model.state import LedgerEntry, State
from engage_rules.store.base import find_member
from engage_rules.store.batch_rows import (
    Lenient,
    action_rows,
    first_flags,
    ledger_rows,
    member_rows,
    number_outbox_rows,
    numbered_outbox_rows,
    outbox_json,
    unix_seconds,
)
from engage_rules.store.records import ActivityCounter
from engage_rules.store.sqlite import _insert_many

FAST = settings(max_examples=50, deadline=None)

ZONES = [UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-3, minutes=-30))]
instants = st.builds(
    lambda seconds, micro, tz: (
        datetime.fromtimestamp(seconds, UTC).replace(microsecond=micro).astimezone(tz)
    ),
    st.integers(1_700_000_000, 1_700_000_000 + 40 * 86400),
    st.sampled_from([0, 0, 123456]),
    st.sampled_from(ZONES),
)


# -- outbox rows: numbering and first flags --------------------------------------------
def reference_outbox_rows(
    actions: list[tuple[Any, ...]], causes: list[str], first: int
) -> tuple[list[tuple[Any, ...]], int]:
    """The definition: the first row of each key, numbered, flagged by first_flags."""
    fresh: list[tuple[Any, ...]] = []
    dropped: list[tuple[Any, ...]] = []
    keys: set[str] = set()
    for row in actions:
        if row[0] in keys:
            dropped.append(row)
        else:
            keys.add(row[0])
            fresh.append(row)
    flags = first_flags(fresh, dropped, causes) if fresh else []
    rows = [(first + i, *row, flag) for i, (row, flag) in enumerate(zip(fresh, flags, strict=True))]
    return rows, first + len(fresh)


@st.composite
def outbox_batches(draw: st.DrawFn) -> tuple[list[tuple[Any, ...]], list[str]]:
    """Action rows as action_rows lays them out (key, json, status, ts, community, type,
    rule, cause, member, direct), with repeated keys, shadow rows, a few instants, and
    causes that are partly not decided in the batch."""
    causes = draw(st.lists(st.sampled_from(["e1", "e2", "e3", "t1"]), max_size=4))
    rows = draw(
        st.lists(
            st.tuples(
                st.sampled_from([f"k{i}" for i in range(8)]),
                st.just("{}"),
                st.sampled_from(["pending", "pending", "shadow"]),
                st.sampled_from([100, 100, 101]),
                st.just("c"),
                st.sampled_from(["award", "tag"]),
                st.sampled_from(["r1", "r2"]),
                st.sampled_from(["e1", "e2", "e3", "t1"]),
                st.just("u1"),
                st.booleans(),
            ),
            max_size=12,
        )
    )
    return rows, causes


@FAST
@given(outbox_batches(), st.integers(1, 1000))
def test_numbered_postgresql_outbox_rows_keep_the_first_row_of_each_key(
    batch: tuple[list[tuple[Any, ...]], list[str]], first: int
) -> None:
    actions, causes = batch
    rows, nxt = reference_outbox_rows(actions, causes, first)
    assert number_outbox_rows(actions, causes, first) == ([r[:-1] for r in rows], nxt)


def record(rule: str, cause: str, source: str, *, shadow: bool = False) -> ActionRecord:
    at = datetime(2026, 3, 2, 12, tzinfo=UTC)
    return ActionRecord(
        None, "tag", "u1", rule, cause, at, {"name": "x"}, community="c",
        key_source=("pb", source), shadow=shadow,
    )  # fmt: skip


def test_outbox_rows_flag_the_first_row_of_a_rule_and_cause() -> None:
    row = record("r1", "e1", "0")
    second = record("r1", "e1", "1")
    shadow = record("r1", "e1", "2", shadow=True)
    other = record("r1", "e9", "0")  # not decided in the batch
    rows, nxt = numbered_outbox_rows([row, second, shadow, row, other], {}, ["e1"], 7)
    assert [(r[0], r[1], r[-1]) for r in rows] == [
        (7, row.key, None),  # row came twice: the pair (e1, r1) is unsure
        (8, second.key, None),
        (9, shadow.key, 1),  # shadow rows are counted apart
        (10, other.key, None),  # e9 is no decision of this batch
    ]
    assert nxt == 11
    rows, nxt = numbered_outbox_rows([row, second, shadow], {}, ["e1"], 1)
    assert [r[-1] for r in rows] == [1, 0, 1] and nxt == 4


# -- action rows --------------------------------------------------------------------
@st.composite
def actions(draw: st.DrawFn) -> ActionRecord:
    type_ = draw(st.sampled_from(["award", "tag", "send"]))
    params: dict[str, Any] = draw(
        st.sampled_from([{"amount": 3}, {"text": "你好", "channel": "general"}, {"text": "hi"}, {}])
    )
    return ActionRecord(
        None,
        type_,
        draw(st.sampled_from(["u1", "u2", None])),
        draw(st.sampled_from(["r1", "r2"])),
        draw(st.sampled_from(["e1", "e2"])),
        draw(instants),
        params,
        community=draw(st.sampled_from(["default", "c2"])),
        key_source=("pb", draw(st.sampled_from(["0", "1", "0.then.0"]))),
        shadow=draw(st.booleans()),
    )


@FAST
@given(st.lists(actions(), max_size=8), st.booleans())
def test_action_rows_written_out_equal_those_of_outbox_json(
    records: list[ActionRecord], with_platform: bool
) -> None:
    platforms = {records[0].key: "telegram"} if with_platform and records else {}
    fast = action_rows(records, platforms)
    plain = action_rows(records, platforms, outbox_json)
    assert fast == plain
    for row, a in zip(fast, records, strict=True):
        assert row[0] == a.key
        assert row[3] == unix_seconds(a.at)
        assert row[9] == (a.type == "send" and a.member is not None and "channel" not in a.params)
        body = orjson.loads(row[1])
        assert body["at"] == a.at.isoformat()
        assert body.get("platform") == platforms.get(a.key)


@FAST
@given(
    st.lists(actions(), max_size=12),
    st.lists(st.sampled_from(["e1", "e2", "t1"]), max_size=3),
    st.integers(1, 1000),
    st.booleans(),
)
def test_sqlite_outbox_rows_are_the_action_rows_numbered_and_flagged(
    records: list[ActionRecord], causes: list[str], first: int, with_platform: bool
) -> None:
    """numbered_outbox_rows (one pass) equals its definition: action_rows, the first row of
    each key numbered, flagged by first_flags; with the lenient encoder too."""
    platforms = {records[0].key: "telegram"} if with_platform and records else {}
    expected = reference_outbox_rows(action_rows(records, platforms), causes, first)
    assert numbered_outbox_rows(records, platforms, causes, first) == expected
    lenient = Lenient(State())
    assert numbered_outbox_rows(records, platforms, causes, first, lenient.outbox_json) == expected


# -- ledger rows ---------------------------------------------------------------------
@st.composite
def ledger_entries(draw: st.DrawFn) -> tuple[str, str, LedgerEntry]:
    entry = LedgerEntry(
        seq=draw(st.integers(1, 50)),
        currency=draw(st.sampled_from(["points", "金币"])),
        amount=draw(st.sampled_from([1, -4, 2**62, -(2**62) - 3, 2**63 - 1, 10**20])),
        kind=draw(st.sampled_from(["award", "spend", "revoke"])),
        reason=draw(st.sampled_from(["bench", "签到 bonus"])),
        rule="r1",
        cause="e1",
        key=draw(st.sampled_from(["", "abc"])),
        at=draw(instants),
        ref=draw(st.sampled_from([None, "m1"])),
        reverses=draw(st.sampled_from([None, 3])),
        reversed_by=draw(st.sampled_from([None, 4])),
    )
    if not entry.key:
        entry.action = ActionRecord(
            None, "award", "u1", "r1", "e1", entry.at, {}, key_source=("pb", "0")
        )
    return "c", "u1", entry


@FAST
@given(st.lists(ledger_entries(), max_size=6))
def test_ledger_rows_hold_the_entries_json(entries: list[tuple[str, str, LedgerEntry]]) -> None:
    lenient = Lenient(State())  # what serialise falls back to for amounts beyond 64 bits
    wide = any(abs(e.amount) >= 2**63 for _, _, e in entries)
    rows = ledger_rows(entries, lenient.dumps if wide else orjson.dumps)
    assert len(rows) == len(entries)
    for row, (c, m, e) in zip(rows, entries, strict=True):
        assert row[:3] == (c, m, e.seq)
        assert row[3] == lenient.dumps(e.to_json()).decode()
        assert row[4:7] == (unix_seconds(e.at), e.currency, e.kind)
        assert row[7] == e.amount if abs(e.amount) < 2**62 else row[7] == float(e.amount)
        assert isinstance(row[7], int if abs(e.amount) < 2**62 else float)


# -- member rows ---------------------------------------------------------------------
@FAST
@given(
    st.sets(
        st.tuples(st.sampled_from(["c1", "c2", "gone"]), st.sampled_from(["u1", "u2", "u3"])),
        max_size=9,
    ),
    st.lists(instants | st.none(), min_size=3, max_size=3),
)
def test_member_rows_are_those_of_find_member(
    keys: set[tuple[str, str]], joined: list[datetime | None]
) -> None:
    state = State()
    for community in ("c1", "c2"):
        for i, mid in enumerate(("u1", "u2")):  # u3 is unknown: gone
            m = state.community(community).member(mid)
            m.joined_at = joined[i]
            m.status = "muted" if i else "active"
    rows, gone = member_rows(keys, state, lambda m: f"{m.community}/{m.id}")
    expected, expected_gone = [], []
    for c, mid in keys:
        m = find_member(state, c, mid)
        if m is None:
            expected_gone.append((c, mid))
        else:
            expected.append((c, mid, f"{c}/{mid}", unix_seconds(m.joined_at), m.status))
    assert rows == expected
    assert gone == expected_gone


# -- activity counts -----------------------------------------------------------------
def event(i: int, at: datetime, member: str, type_: str = "message.posted") -> Event:
    return Event(
        id=f"e{i}",
        type=type_,
        at=at,
        community="c",
        member=MemberRef(id=member),
        ts=at.timestamp(),
    )


@FAST
@given(
    st.lists(
        st.tuples(
            st.integers(0, 3 * 86400 // 300),  # five-minute steps over three days
            st.sampled_from(["u1", "u2"]),
            st.sampled_from(["message.posted", "checkin"]),
        ),
        max_size=30,
    ),
    st.sampled_from(["UTC", "Asia/Shanghai", "America/New_York", "Australia/Lord_Howe"]),
)
def test_activity_counts_each_event_on_its_local_day(
    steps: list[tuple[int, str, str]], zone: str
) -> None:
    start = datetime(2026, 3, 7, 23, 0, tzinfo=UTC)  # New York's clocks change on the 8th
    decisions = []
    for i, (step, member, type_) in enumerate(steps):  # in any order, not only by time
        ev = event(i, start + timedelta(seconds=300 * step), member, type_)
        decisions.append(Decision(ev.id, ev.at, ev))
    counter = ActivityCounter()
    counter.tz = ZoneInfo(zone)
    counts = counter.count(decisions, {})
    expected: dict[tuple[str, str, str, str], int] = {}
    for d in decisions:
        ev = d.event
        assert ev is not None and ev.member is not None
        key = ("c", ev.member.id, ev.at.astimezone(ZoneInfo(zone)).date().isoformat(), ev.type)
        expected[key] = expected.get(key, 0) + 1
    assert counts == expected
    # counting again (the quarter hours remembered) adds the same again
    again = counter.count(decisions, {})
    assert again == expected


# -- the writer's multi-row inserts (store/sqlite.py) ------------------------------------
@pytest.mark.parametrize("count", [0, 1, 2, 3, 7, 2000, 2001, 4095, 5000])
def test_insert_many_writes_every_row_in_order(count: int) -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (n INTEGER, text TEXT)")
    rows = [(i, f"r{i}") for i in range(count)]
    _insert_many(db, "INSERT INTO t (n, text)", rows)
    assert db.execute("SELECT n, text FROM t ORDER BY rowid").fetchall() == rows
    # a conflict clause applies to every statement
    db.execute("CREATE UNIQUE INDEX t_n ON t (n)")
    _insert_many(db, "INSERT INTO t (n, text)", rows, " ON CONFLICT (n) DO UPDATE SET text = 'x'")
    assert db.execute("SELECT count(*), count(*) FILTER (WHERE text = 'x') FROM t").fetchone() == (
        count,
        count,
    )


def test_member_rows_are_encoded_natively_and_the_check_sees_every_field() -> None:
    """The member row's fast encoding (orjson over the dataclass's values) is on, and the
    sample it is checked with sets every field of MemberState, so a field whose JSON
    differs from ``to_json()``'s turns it off rather than writing a wrong row."""
    from dataclasses import fields

    from engage_rules.model.state import MemberState
    from engage_rules.store import batch_rows

    sample = batch_rows._member_sample()
    stored = batch_rows._stored_fields(sample)
    assert [f.name for f in fields(MemberState) if f.name not in stored] == []
    assert batch_rows._NATIVE_MEMBER
    assert orjson.loads(batch_rows.encode_member(sample)) == {
        k: v for k, v in orjson.loads(orjson.dumps(sample.to_json())).items() if k in stored
    }
