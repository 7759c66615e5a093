"""The PostgreSQL store beyond the contract suite: the same replays, figures and command
line as the other stores, migrations, one writer per schema, and clear errors.

Each module's tests use a fresh database on the local server (pg_helpers.py), each test a
schema of its own (the ``pg_url`` fixture)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engage_rules.errors import StoreError
from engage_rules.store import MemoryStore, SQLiteStore
from engage_rules.store.postgres import PostgreSQLStore
from engage_rules.store.postgres_schema import MIGRATIONS, SCHEMA_VERSION, migrate
from engage_rules.testing import (
    HEADER,
    T0,
    event_line,
    live_service,
    run_cli,
    wait_for,
    write_setup,
)
from engage_rules.testing import strategies as est
from engage_rules.testing.store_contract import action, award, decision
from pg_helpers import new_schema
from test_report_sources import TYPES, ZONES, Item, _queries, _replay, _tallies, random_log

ROOT = Path(__file__).resolve().parents[1]
#: Every example playbook with its sample log, replayed up to the end of its story.
EXAMPLES = {
    "starter": ("rules/starter/community.yaml", "examples/starter-events.jsonl", "2026-05-01"),
    "moderation": ("rules/moderation", "examples/moderation-events.jsonl", "2026-03-05"),
    "points": (
        "rules/points-community/community.yaml",
        "examples/rewards-events.jsonl",
        "2026-05-01",
    ),
}


def replay(
    playbook: str | Path, events: Path, store: str, out: Path, until: str, *extra: str
) -> bytes:
    """A replay's actions and final state, as bytes, through ``store``."""
    actions, state = out / "actions.jsonl", out / "state.json"
    result = run_cli(
        "replay",
        playbook,
        events,
        "--store",
        store,
        "--until",
        f"{until}T00:00:00+08:00",
        "--actions-out",
        actions,
        "--state-out",
        state,
        *extra,
    )
    assert result.returncode == 0, result.stderr
    return actions.read_bytes() + b"\n--\n" + state.read_bytes()


def three_replays(
    playbook: str | Path, events: Path, tmp: Path, pg_database: str, until: str
) -> list[bytes]:
    """The replay with ``memory:``, ``sqlite:`` and ``postgresql:``."""
    out = []
    for n, store in enumerate(
        ["memory:", f"sqlite:///{tmp / 'state.db'}", new_schema(pg_database)]
    ):
        (tmp / str(n)).mkdir()
        out.append(replay(playbook, events, store, tmp / str(n), until))
    return out


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_every_example_replays_the_same_on_every_store(
    example: str, tmp_path: Path, pg_database: str
) -> None:
    playbook, events, until = EXAMPLES[example]
    memory, sqlite, postgres = three_replays(
        ROOT / playbook, ROOT / events, tmp_path, pg_database, until
    )
    assert memory.count(b"\n") > 20  # actions and a state worth comparing
    assert postgres == memory
    assert sqlite == memory


#: The starter playbook's event types, so that generated events set its rules off.
STARTER_TYPES = ["member.joined", "message.posted", "checkin", "reaction.added", "member.left"]


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=st.lists(
        est.event_objs(
            types=st.sampled_from(STARTER_TYPES),
            times=st.integers(0, 40 * 24 * 60).map(
                lambda m: (T0 + timedelta(minutes=m)).isoformat()
            ),
            member_ids=st.sampled_from(["u1", "u2", "u3", "u\x00", "阿明"]),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_a_generated_log_replays_the_same_on_every_store(
    lines: list[dict[str, Any]], pg_database: str
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        events = Path(tmp) / "events.jsonl"
        events.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
        memory, sqlite, postgres = three_replays(
            ROOT / EXAMPLES["starter"][0], events, Path(tmp), pg_database, "2026-05-01"
        )
    assert postgres == memory
    assert sqlite == memory


# -- reports --------------------------------------------------------------------------------


def assert_same_figures(tz: str, items: list[Item], url: str) -> None:
    """The report tallies of ``items`` replayed into PostgreSQL, SQLite and memory agree."""
    memory, sqlite, postgres = (
        MemoryStore(keep_history=True),
        SQLiteStore(":memory:"),
        PostgreSQLStore(url),
    )
    try:
        for store in (memory, sqlite, postgres):
            _replay(tz, items, store)
        for q in _queries(tz):
            expected = _tallies(memory, q)
            assert _tallies(postgres, q) == expected, q
            assert _tallies(sqlite, q) == expected, q
        assert postgres.report_communities() == sqlite.report_communities()
        for community in (None, "c1", "c2", "nope"):
            newest = sqlite.report_newest_day(tz, community)
            assert postgres.report_newest_day(tz, community) == newest
    finally:
        sqlite.close()
        postgres.close()


@pytest.mark.parametrize("tz", list(ZONES))
def test_report_figures_equal_sqlite_and_the_python_reference(tz: str, pg_url: str) -> None:
    assert_same_figures(tz, random_log(1), pg_url)


@pytest.mark.slow
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tz=st.sampled_from(list(ZONES)),
    items=st.lists(
        st.tuples(
            st.sampled_from(TYPES),
            st.sampled_from(["u1", "u2", "u3"]),
            st.sampled_from(["c1", "c2"]),
            st.integers(0, 35),
            st.integers(0, 1439),
        ),
        max_size=40,
    ),
)
def test_report_figures_agree_on_any_log(tz: str, items: list[Item], pg_database: str) -> None:
    assert_same_figures(tz, items, new_schema(pg_database))


def test_the_report_command_prints_the_same_for_sqlite_and_postgresql(
    tmp_path: Path, pg_url: str
) -> None:
    playbook, events, until = EXAMPLES["starter"]
    sqlite = f"sqlite:///{tmp_path / 'state.db'}"
    outputs = []
    for n, store in enumerate([sqlite, pg_url]):
        (tmp_path / str(n)).mkdir()
        replay(ROOT / playbook, ROOT / events, store, tmp_path / str(n), until)
        for args in (
            ["--json"],
            ["--from", "2026-04-01", "--to", "2026-04-14"],
            ["--json", "--community", "photo"],
        ):
            result = run_cli("report", "--store", store, *args)
            assert result.returncode == 0, result.stderr
            outputs.append(result.stdout)
    assert outputs[:3] == outputs[3:]
    assert json.loads(outputs[0])["members"]["total"] > 0


# -- the other commands ---------------------------------------------------------------------


def test_explain_audit_and_review_read_a_postgresql_store(tmp_path: Path, pg_url: str) -> None:
    playbook, events, until = EXAMPLES["moderation"]
    replay(ROOT / playbook, ROOT / events, pg_url, tmp_path, until, "--trace")
    audit = run_cli("audit", "--store", pg_url, "--out", tmp_path / "audit.jsonl")
    assert audit.returncode == 0, audit.stderr
    entries = (tmp_path / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    assert entries and all(json.loads(e)["action"] for e in entries)
    review = run_cli("review", "--store", pg_url, "--json")
    assert review.returncode == 0, review.stderr
    queue = [json.loads(x) for x in review.stdout.splitlines()]
    assert queue
    verdict = run_cli(
        "review", "dismiss", queue[0]["id"], "--store", pg_url, "--playbook", ROOT / playbook
    )
    assert verdict.returncode == 0, verdict.stderr
    after = run_cli("review", "--store", pg_url, "--json", "--status", "dismissed")
    assert [json.loads(x)["id"] for x in after.stdout.splitlines()] == [queue[0]["id"]]
    member = next(json.loads(e)["member"] for e in entries if json.loads(e).get("member"))
    explain = run_cli("explain", "--store", pg_url, "--member", member)
    assert explain.returncode == 0, explain.stderr
    assert member in explain.stdout


@pytest.mark.e2e
def test_the_live_runtime_runs_on_postgresql_and_a_restart_doubles_nothing(
    tmp_path: Path, pg_url: str
) -> None:
    config = write_setup(
        tmp_path,
        f"""\
store: {pg_url}
sources:
  - type: jsonl
    path: {tmp_path}/events.jsonl
adapters:
  out:
    type: jsonl
    actions_out: {tmp_path}/actions.jsonl
dispatch:
  default: out
""",
        playbook=HEADER
        + """\
rules:
  - id: hello
    on: message.posted
    do:
      - send: {text: "hi"}
""",
    )
    lines = [event_line("message.posted", f"u{n}", id=f"evt-{n}", text="x") for n in range(5)]
    (tmp_path / "events.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def sent() -> list[str]:
        path = tmp_path / "actions.jsonl"
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        return [json.loads(x)["member"] for x in text.splitlines()]

    for _ in range(2):  # the second run re-reads the file: nothing is decided twice
        with live_service(config):
            wait_for(lambda: len(sent()) >= 5)
    assert sorted(sent()) == [f"u{n}" for n in range(5)]
    store = PostgreSQLStore(pg_url)
    try:
        assert [i.status for i in store.outbox()] == ["delivered"] * 5
    finally:
        store.close()


@pytest.mark.parametrize("command", ["replay", "report", "explain", "review", "audit", "run"])
def test_an_unreachable_server_is_one_line_and_no_traceback(command: str, tmp_path: Path) -> None:
    url = "postgresql://postgres:secret@127.0.0.1:1/nowhere"  # nothing listens on port 1
    args: list[str | Path] = {
        "replay": [ROOT / EXAMPLES["starter"][0], ROOT / EXAMPLES["starter"][1], "--store", url],
        "report": ["--store", url],
        "explain": ["--store", url, "--member", "u1"],
        "review": ["--store", url],
        "audit": ["--store", url],
        "run": ["--config", tmp_path / "live.yaml"],
    }[command]
    if command == "run":
        (tmp_path / "events.jsonl").write_text("", encoding="utf-8")
        write_setup(
            tmp_path,
            f"store: {url}\nsources: [{{type: jsonl, path: {tmp_path}/events.jsonl}}]\n"
            "adapters: {console: {}}\n",
            playbook=HEADER + "rules:\n  - id: r\n    on: x\n    do: [{tag: {name: t}}]\n",
        )
    result = run_cli(command, *args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "secret" not in result.stderr
    assert (
        "cannot connect to PostgreSQL store postgresql://postgres:***@127.0.0.1:1/" in result.stderr
    )


def test_a_missing_database_is_a_clear_error(pg_database: str) -> None:
    url = pg_database.rsplit("/", 1)[0] + "/er_no_such_database"
    with pytest.raises(StoreError, match='database "er_no_such_database" does not exist'):
        PostgreSQLStore(url)


# -- migrations -------------------------------------------------------------------------------


def _connect(pg_url: str) -> psycopg.Connection:
    return psycopg.connect(pg_url.split("?")[0], autocommit=True)


def _schema(pg_url: str) -> str:
    return pg_url.rsplit("schema=", 1)[1]


def test_an_older_schema_is_upgraded_in_place(pg_url: str) -> None:
    assert SCHEMA_VERSION == len(MIGRATIONS) >= 2
    schema = _schema(pg_url)
    with _connect(pg_url) as conn:  # the store as version N-1 made it
        assert migrate(conn, schema, "old", MIGRATIONS[:-1]) == 0
        conn.execute(f"SET search_path TO {schema}")
        conn.execute(
            "INSERT INTO members (community, id, json) VALUES ('default', 'u1', %s)",
            ('{"id": "u1", "community": "default", "balances": {"points": 7}}',),
        )
        conn.execute("INSERT INTO processed (id, ts) VALUES ('evt-old', 0)")
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'")
        assert version.fetchone() == (str(SCHEMA_VERSION - 1),)
    store = PostgreSQLStore(pg_url)
    try:
        member = store.open().community("default").find("u1")
        assert member is not None and member.balance("points") == 7
        assert store.is_processed("evt-old")
        state = store.open()
        d = decision(1)
        award(state, d, "u1", 1)
        action(d, "k1")
        store.commit([d], state)
        assert [i.action.key for i in store.outbox()] == ["k1"]
    finally:
        store.close()
    with _connect(pg_url) as conn:
        conn.execute(f"SET search_path TO {schema}")
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'")
        assert version.fetchone() == (str(SCHEMA_VERSION),)
        indexes = {
            r[0]
            for r in conn.execute(
                "SELECT indexname FROM pg_indexes WHERE schemaname = %s", (schema,)
            )
        }
        assert {"outbox_ts", "audit_ts", "ledger_ts"} <= indexes  # what the last step adds
        # Opening again changes nothing.
        assert migrate(conn, schema, "again") == SCHEMA_VERSION


def test_a_newer_or_unknown_schema_is_refused(pg_url: str) -> None:
    PostgreSQLStore(pg_url).close()
    schema = _schema(pg_url)
    for value, message in [
        (str(SCHEMA_VERSION + 1), rf"newer engage_rules .*schema {SCHEMA_VERSION + 1}.*upgrade"),
        ("banana", "unknown store schema version 'banana'"),
    ]:
        with _connect(pg_url) as conn:
            conn.execute(
                f"UPDATE {schema}.meta SET value = %s WHERE key = 'schema_version'", (value,)
            )
        with pytest.raises(StoreError, match=message):
            PostgreSQLStore(pg_url)


def test_a_schema_holding_other_tables_is_refused(pg_url: str) -> None:
    schema = _schema(pg_url)
    with _connect(pg_url) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(f"CREATE TABLE {schema}.orders (id int)")
    with pytest.raises(StoreError, match="not an engage_rules store"):
        PostgreSQLStore(pg_url)


# -- one writer per schema --------------------------------------------------------------------


def test_a_second_writer_is_refused_while_readers_go_on(pg_url: str, pg_database: str) -> None:
    first, second = PostgreSQLStore(pg_url), PostgreSQLStore(pg_url)
    try:
        state = first.open()
        d = decision(1)
        action(d, "k1")
        first.commit([d], state)
        other = second.open()
        with pytest.raises(StoreError) as err:
            second.commit([decision(2)], other)
        message = str(err.value)
        assert "is being written by another process (pid " in message
        assert f"pid {os.getpid()}" in message and "one process at a time" in message
        with pytest.raises(StoreError, match="being written by another process"):
            second.mark_delivered(["k1"])
        assert [i.action.key for i in second.outbox()] == ["k1"]  # reading is fine
        elsewhere = PostgreSQLStore(new_schema(pg_database))  # another schema is another store
        elsewhere.commit([decision(3)], elsewhere.open())
        elsewhere.close()
        first.close()  # the lock goes with the connection
        second.commit([decision(2)], other)
        assert second.is_processed("evt-2")
    finally:
        first.close()
        second.close()


_HOLD = """
import sys
from engage_rules.store.postgres import PostgreSQLStore
from engage_rules.testing.store_contract import decision
store = PostgreSQLStore(sys.argv[1])
store.commit([decision(1)], store.open())
print("holding", flush=True)
sys.stdin.read()
"""


@pytest.mark.subprocess
def test_a_killed_writer_leaves_no_lock_behind(pg_url: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD, pg_url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "holding\n"
        store = PostgreSQLStore(pg_url)
        with pytest.raises(StoreError, match=rf"pid {proc.pid}"):
            store.commit([decision(2)], store.open())
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        wait_for(lambda: _commits(store), timeout=30)
        assert store.processed_among(["evt-1", "evt-2"]) == {"evt-1", "evt-2"}
        store.close()
    finally:
        proc.kill()
        proc.wait(timeout=30)


def _commits(store: PostgreSQLStore) -> bool:
    try:
        store.commit([decision(2)], store.open())
    except StoreError:
        return False
    return True


# -- psycopg stays optional -------------------------------------------------------------------


@pytest.mark.subprocess
def test_importing_engage_rules_does_not_import_psycopg() -> None:
    code = (
        "import sys, engage_rules, engage_rules.store, engage_rules.cli; "
        "print('psycopg' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "False"


def test_without_psycopg_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from engage_rules.testing import open_store

    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg raises ImportError
    monkeypatch.delitem(sys.modules, "engage_rules.store.postgres", raising=False)
    with pytest.raises(StoreError) as err:
        open_store("postgresql://postgres@127.0.0.1/engage")
    assert "pip install 'engage-rules[postgresql]'" in str(err.value)
    assert len(str(err.value).splitlines()) == 1
