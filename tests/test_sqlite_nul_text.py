"""Texts holding U+0000 in a SQLite store: SQLite's JSON functions (which the store uses
to pass many ids in one statement) end a text at U+0000, so such ids are looked up and
deleted one by one.  Before, an event id holding it was never found as processed (its
event was applied again when fed again) and a member id holding it was never found
stored (the member started over)."""

from __future__ import annotations

import json
from pathlib import Path

from engage_rules import compile_playbook, parse_event
from engage_rules.shell.runner import Runner
from engage_rules.store.sqlite import SQLiteStore, _delete_many
from engage_rules.testing import load_playbook_text, open_store

PLAYBOOK = """\
engage_rules: 1
name: t
community: {name: t, timezone: UTC}
rules:
  - id: r
    on: message.posted
    do: [{award: {points: 1, reason: x}}]
"""


def line(event_id: str, member: str, at: str = "2026-03-01T00:00:00+00:00") -> str:
    return json.dumps(
        {"id": event_id, "type": "message.posted", "at": at, "member": {"id": member}}
    )


def feed(db: Path, lines: list[str]) -> Runner:
    playbook = compile_playbook(load_playbook_text(PLAYBOOK, "t.yaml"))
    runner = Runner(playbook, open_store(f"sqlite:///{db}"))
    runner.feed_many([parse_event(x) for x in lines])
    runner.close()
    return runner


def points(db: Path, member: str) -> int:
    with SQLiteStore(db) as store:
        found = store.load_member("default", member)
    assert found is not None
    return found.balances.get("points", 0)


def test_an_event_id_holding_nul_is_processed_once(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    first = feed(db, [line("a\u0000b", "u1"), line("a", "u1")])
    assert (first.stats.processed, first.stats.duplicates) == (2, 0)
    again = feed(db, [line("a\u0000b", "u1"), line("a\u0000c", "u1")])
    assert (again.stats.processed, again.stats.duplicates) == (1, 1)
    assert points(db, "u1") == 3


def test_a_member_id_holding_nul_is_found_stored(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    feed(db, [line("e1", "u\u00001"), line("e2", "u")])
    feed(db, [line("e3", "u\u00001", "2026-03-01T00:00:05+00:00")])
    assert points(db, "u\u00001") == 2
    assert points(db, "u") == 1


def test_delete_many_deletes_keys_holding_nul(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "s.db") as store, store._use(write=True) as db:
        db.execute("CREATE TABLE k (a TEXT, b TEXT)")
        rows = [("x", "1"), ("x\u0000y", "2"), ("x", "3"), ("z", "4")]
        db.executemany("INSERT INTO k VALUES (?, ?)", rows)
        _delete_many(db, "DELETE FROM k WHERE a", [("x\u0000y",)])
        assert db.execute("SELECT b FROM k ORDER BY b").fetchall() == [("1",), ("3",), ("4",)]
        _delete_many(db, "DELETE FROM k WHERE (a, b)", [("x", "1"), ("z", "4")])
        assert db.execute("SELECT b FROM k").fetchall() == [("3",)]
        _delete_many(db, "DELETE FROM k WHERE a", [("x",)])
        assert db.execute("SELECT count(*) FROM k").fetchone() == (0,)
