"""Stores written by earlier releases are upgraded in place when opened.

The fixtures under tests/data/stores/ were written by the code of earlier commits
(tests/data/stores/make.sh says how): a replay of the starter playbook over the first
400 sample events, into SQLite.  Opened by today's code, each must hold the same state,
ledgers and outbox as a fresh replay of those events, remember which events it
processed, and go on exactly as a store that was never upgraded.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from engage_rules.store.sqlite import SCHEMA_VERSION, SQLiteStore
from engage_rules.testing import run_cli

ROOT = Path(__file__).resolve().parents[1]
STORES = ROOT / "tests" / "data" / "stores"
PLAYBOOK = ROOT / "rules" / "starter" / "community.yaml"
EVENTS = (ROOT / "examples" / "starter-events.jsonl").read_text().splitlines(keepends=True)

FIXTURES = {2: "schema2-starter.db", 3: "schema3-starter.db"}


def _events(tmp: Path, name: str, lines: list[str]) -> Path:
    path = tmp / name
    path.write_text("".join(lines))
    return path


def _replay(events: Path, db: Path) -> Any:
    result = run_cli("replay", PLAYBOOK, events, "--store", f"sqlite:///{db}")
    assert result.returncode == 0, result.stderr
    return result


def _contents(db: Path) -> dict[str, Any]:
    """What a store holds, in a form two stores can be compared by."""
    with SQLiteStore(db) as store:
        state = store.open()
        ledgers = {
            (c, mid): [(e.seq, e.currency, e.amount, e.kind, e.cause, e.reversed_by) for e in led]
            for c, cs in state.communities.items()
            for mid in cs.member_ids()
            if (led := store.ledger(c, mid))
        }
        outbox = [(i.action.to_json(), i.status, i.platform) for i in store.outbox()]
        return {
            "snapshot": state.snapshot(),
            "timers": sorted((t.due, t.kind, t.member or "") for t in state.timers),
            "ledgers": ledgers,
            "outbox": outbox,
            "errors": len(store.rule_errors()),
            "audit": len(store.audit_log()),
        }


@pytest.fixture(params=sorted(FIXTURES), ids=lambda v: f"schema{v}")
def old_store(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    db = tmp_path / "old.db"
    shutil.copyfile(STORES / FIXTURES[request.param], db)
    with sqlite3.connect(db) as conn:
        (version,) = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert int(version) == request.param < SCHEMA_VERSION
    return db


def test_an_old_store_holds_what_a_fresh_replay_holds(old_store: Path, tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.db"
    _replay(_events(tmp_path, "first.jsonl", EVENTS[:400]), fresh)
    # Today's engine, started on the old store (a replay of no events), arms what the
    # old release had no notion of (the daily segment snapshot's timer), as a fresh
    # replay armed it when the community was first seen.
    _replay(_events(tmp_path, "none.jsonl", []), old_store)
    assert _contents(old_store) == _contents(fresh)
    with sqlite3.connect(old_store) as conn:
        (version,) = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert version == str(SCHEMA_VERSION)


def test_an_upgraded_store_remembers_what_it_processed(old_store: Path, tmp_path: Path) -> None:
    again = _replay(_events(tmp_path, "first.jsonl", EVENTS[:400]), old_store)
    # (A schema-3 store also prints again what the earlier run of this replay printed.)
    assert "0 processed, 397 duplicate" in again.stderr
    assert "actions: 0" in again.stderr or "resumed: " in again.stderr
    with SQLiteStore(old_store) as store:
        assert store.processed_among(["evt-00001", "evt-00384", "evt-99999"]) == {
            "evt-00001",
            "evt-00384",
        }


def test_an_upgraded_store_goes_on_like_one_never_upgraded(old_store: Path, tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.db"
    first = _events(tmp_path, "first.jsonl", EVENTS[:400])
    _replay(first, fresh)
    rest = _events(tmp_path, "rest.jsonl", EVENTS[400:700])
    old_run = _replay(rest, old_store)
    fresh_run = _replay(rest, fresh)
    assert old_run.jsonl() == fresh_run.jsonl()
    assert old_run.jsonl(), "the later events decide something"
    assert _contents(old_store) == _contents(fresh)
