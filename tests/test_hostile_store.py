"""A store under stress: replay output that survives interruption, one writer per store
file, and store failures after opening (disk full, read-only, corrupted rows) reported
as one line with exit code 2, never a traceback."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engage_rules.cli import main
from engage_rules.errors import StoreError
from engage_rules.store import MemoryStore, SQLiteStore
from engage_rules.store.records import ReportContext

ROOT = Path(__file__).resolve().parents[1]
STARTER = ROOT / "rules" / "starter" / "community.yaml"
SAMPLE = ROOT / "examples" / "starter-events.jsonl"
UNTIL = "2026-05-01T12:00:00+08:00"


def replay(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["replay", str(STARTER), str(SAMPLE), "--until", UNTIL, *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The actions of one uninterrupted replay (in memory)."""
    out = tmp_path_factory.mktemp("clean") / "actions.jsonl"
    assert (
        main(["replay", str(STARTER), str(SAMPLE), "--until", UNTIL, "--actions-out", str(out)])
        == 0
    )
    return out.read_bytes()


# -- output that survives resume ------------------------------------------------------------


def test_a_cut_actions_file_is_completed_on_resume(
    tmp_path: Path, clean: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    """A replay killed after a commit but before (or while) writing its actions leaves a
    file that lacks the last committed actions, perhaps ending in a cut line: the next
    run appends exactly what is missing."""
    db, out = tmp_path / "s.db", tmp_path / "a.jsonl"
    assert replay(capsys, "--store", f"sqlite:///{db}", "--actions-out", str(out))[0] == 0
    assert out.read_bytes() == clean
    lines = clean.splitlines(keepends=True)
    out.write_bytes(b"".join(lines[:700]) + lines[700][:17])  # 700 lines and a cut one
    code, _, err = replay(capsys, "--store", f"sqlite:///{db}", "--actions-out", str(out))
    assert code == 0
    assert out.read_bytes() == clean
    assert f"resumed: {len(lines)} action(s)" in err and "already in" in err
    # The summary counts the actions as an uninterrupted run would.
    assert f"actions: {len(lines)} (" in err


def test_a_file_that_is_not_this_replays_output_is_written_anew(
    tmp_path: Path, clean: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    db, out = tmp_path / "s.db", tmp_path / "a.jsonl"
    assert replay(capsys, "--store", f"sqlite:///{db}", "--actions-out", str(out))[0] == 0
    out.write_bytes(b'{"something": "else"}\n' * 3)
    code, _, err = replay(capsys, "--store", f"sqlite:///{db}", "--actions-out", str(out))
    assert code == 0 and out.read_bytes() == clean
    assert "did not hold this replay's actions: written anew" in err


def test_running_a_finished_replay_again_prints_the_same_actions(
    tmp_path: Path, clean: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "s.db"
    code, first, _ = replay(capsys, "--store", f"sqlite:///{db}")
    assert code == 0 and first.encode() == clean
    code, again, err = replay(capsys, "--store", f"sqlite:///{db}")
    assert code == 0 and again.encode() == clean
    assert "0 processed" in err


def test_another_input_into_the_same_store_prints_only_its_own_actions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two days of events replayed one after the other into one store: each replay
    prints its own actions, and the first again prints only its own."""
    lines = SAMPLE.read_text().splitlines(keepends=True)
    day1, day2 = tmp_path / "day1.jsonl", tmp_path / "day2.jsonl"
    day1.write_text("".join(lines[:1000]))
    day2.write_text("".join(lines[1000:]))
    db = f"sqlite:///{tmp_path / 's.db'}"
    outs = []
    for events in (day1, day2, day1):
        assert main(["replay", str(STARTER), str(events), "--store", db]) == 0
        outs.append(capsys.readouterr().out)
    assert outs[0] and outs[1] and outs[2] == outs[0]
    assert not set(outs[0].splitlines()) & set(outs[1].splitlines())
    whole = main(["replay", str(STARTER), str(SAMPLE)])
    assert whole == 0
    assert capsys.readouterr().out == outs[0] + outs[1]


def test_a_memory_store_resumes_within_its_process() -> None:
    store = MemoryStore()
    assert store.begin_replay("k") == []
    store.end_replay("k")
    assert store.begin_replay("k") == []  # nothing was committed: nothing to print again


# -- one writer per store ----------------------------------------------------------------------


def test_a_second_writer_is_refused_with_the_name_of_the_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "s.db"
    first = SQLiteStore(db)
    first.set_report_context(ReportContext())  # the first write takes the lock
    try:
        code, out, err = replay(capsys, "--store", f"sqlite:///{db}")
        assert code == 2 and out == ""
        assert err.count("\n") == 1 and "Traceback" not in err
        assert f"being written by another process (pid {os.getpid()}" in err
        with pytest.raises(StoreError, match="being written by another process"):
            SQLiteStore(db).set_report_context(ReportContext())
        # Readers are welcome while the writer writes.
        assert main(["audit", "--store", f"sqlite:///{db}"]) == 0
        assert main(["review", "--store", f"sqlite:///{db}"]) == 0
    finally:
        first.close()
    # Closing the store releases it.
    assert replay(capsys, "--store", f"sqlite:///{db}")[0] == 0


def test_a_live_runtime_refuses_a_store_another_process_writes(tmp_path: Path) -> None:
    from engage_rules.runtime.config import load_config
    from engage_rules.runtime.service import Service

    db = tmp_path / "s.db"
    config = tmp_path / "run.yaml"
    config.write_text(
        f"playbook: {STARTER}\nstore: sqlite:///{db}\n"
        "adapters: {console: {type: console}}\n"
        "sources: [{type: jsonl, path: events.jsonl}]\n"
    )
    first = SQLiteStore(db)
    first.set_report_context(ReportContext())
    try:
        with pytest.raises(StoreError, match="being written by another process"):
            Service.from_config(load_config(config))
    finally:
        first.close()


@pytest.mark.subprocess
def test_a_killed_writer_leaves_no_stale_lock(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    code = (
        "import sys, time\n"
        "from engage_rules.store import SQLiteStore\n"
        "from engage_rules.store.records import ReportContext\n"
        f"s = SQLiteStore({str(db)!r}); s.set_report_context(ReportContext())\n"
        "print('locked', flush=True); time.sleep(60)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=env)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"locked\n"
        with pytest.raises(StoreError, match=f"pid {proc.pid}"):
            SQLiteStore(db).set_report_context(ReportContext())
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    store = SQLiteStore(db)
    store.set_report_context(ReportContext())  # the kernel released the lock
    store.close()


# -- store failures after opening ----------------------------------------------------------------


@pytest.fixture
def pragma(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Pragmas every SQLite store opened from now on runs after its own setup."""
    extra: list[str] = []
    setup = SQLiteStore._setup

    def with_pragmas(self: SQLiteStore) -> None:
        setup(self)
        for statement in extra:
            self._db.execute(statement)

    monkeypatch.setattr(SQLiteStore, "_setup", with_pragmas)
    yield extra


def test_a_full_disk_is_one_line_and_exit_2(
    tmp_path: Path, pragma: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "s.db"
    SQLiteStore(db).close()
    pages = sqlite3.connect(db).execute("PRAGMA page_count").fetchone()[0]
    pragma.append(f"PRAGMA max_page_count = {pages + 2}")
    code, _, err = replay(capsys, "--store", f"sqlite:///{db}", "--batch-size", "100")
    assert code == 2
    assert "Traceback" not in err
    assert "error: SQLite store" in err and "full" in err


def test_a_read_only_store_is_one_line_and_exit_2(
    tmp_path: Path, pragma: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "s.db"
    SQLiteStore(db).close()
    pragma.append("PRAGMA query_only = 1")
    code, out, err = replay(capsys, "--store", f"sqlite:///{db}")
    assert code == 2 and out == ""
    assert err.strip().count("\n") == 0 and "readonly" in err


@pytest.mark.parametrize("table", ["members", "outbox", "audit", "review", "timers"])
def test_corrupted_rows_are_one_line_and_exit_2(
    tmp_path: Path, table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "s.db"
    moderation = [
        str(ROOT / "rules" / "moderation"),
        str(ROOT / "examples" / "moderation-events.jsonl"),
    ]
    assert main(["replay", *moderation, "--store", f"sqlite:///{db}"]) == 0
    capsys.readouterr()
    with sqlite3.connect(db) as conn:
        if table == "timers":
            conn.execute("INSERT INTO timers (id, due, json) VALUES ('x', 0, '{\"broken')")
        else:
            conn.execute(
                f"UPDATE {table} SET json = 'not json' WHERE rowid IN "
                f"(SELECT rowid FROM {table} LIMIT 1)"
            )
    commands = {
        # members are read when needed: here, by the snapshot, which reads them all
        "members": [
            "replay",
            *moderation,
            "--store",
            f"sqlite:///{db}",
            "--state-out",
            str(tmp_path / "state.json"),
        ],
        "timers": ["replay", *moderation, "--store", f"sqlite:///{db}"],
        "outbox": ["replay", *moderation, "--store", f"sqlite:///{db}"],
        "audit": ["audit", "--store", f"sqlite:///{db}"],
        "review": ["review", "--store", f"sqlite:///{db}"],
        "errors": ["report", "--store", f"sqlite:///{db}", "--json"],
    }
    code = main(commands[table])
    _, err = capsys.readouterr()
    assert code == 2, err
    assert "Traceback" not in err
    assert "corrupt" in err and str(db) in err


@pytest.mark.slow
@pytest.mark.subprocess
def test_interrupting_a_replay_prints_no_traceback(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    fifo = tmp_path / "in"
    os.mkfifo(fifo)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "engage_rules",
            "replay",
            str(STARTER),
            str(fifo),
            "--store",
            f"sqlite:///{tmp_path / 's.db'}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        # A command started in the background by a shell without job control inherits
        # SIGINT ignored (and Python then installs no handler): give it the default.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    with fifo.open("w") as writer:
        writer.write(SAMPLE.read_text().splitlines()[0] + "\n")
        writer.flush()
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
    # The writer is closed before waiting: a replay that missed the signal ends at the
    # end of its input (and fails the assertion) instead of waiting for more lines.
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert b"Traceback" not in err and b"interrupted" in err


# -- values JSON cannot hold never fail a commit ------------------------------------------------


def test_a_value_json_cannot_hold_never_fails_the_batch(tmp_path: Path) -> None:
    """The reader and the engine keep such values out; should one reach the store anyway
    (an event built in code, a plugin's action), the batch commits with the value
    replaced, and the replacement is recorded as an error of the store."""
    from datetime import UTC, datetime

    from engage_rules import Engine
    from engage_rules.events import Event, MemberRef
    from helpers import playbook

    pb = playbook("""
rules:
  - id: flag
    on: message.posted
    do: [{flag_for_review: {reason: look}}, {set: {seen: true}}]
""")
    db = tmp_path / "s.db"
    store = SQLiteStore(db)
    engine = Engine(pb, store.open(), trace=True)
    at = datetime(2026, 3, 1, tzinfo=UTC)
    ev = Event(
        id="e1",
        type="message.posted",
        at=at,
        member=MemberRef(id="u1"),
        data={"n": 2**70, "x": float("nan"), "text": "hi"},
        ts=at.timestamp(),
    )
    decisions = engine.process(ev)
    m = engine.state.community("default").member("u1")
    m.attrs["odd"] = object()  # what no rule can write: a plugin's mistake
    store.commit(decisions, engine.state)
    store.close()

    again = SQLiteStore(db)
    try:
        [item] = again.review_queue()
        assert item["event_json"]["data"]["n"] == str(2**70)
        assert again.is_processed("e1")
        errors = [e for e in again.rule_errors() if e.rule == "store"]
        assert any("wider than 64 bits" in e.message and e.cause == "e1" for e in errors)
        assert any("member default/u1" in e.message for e in errors)
        state = again.open()
        assert state.communities["default"].member("u1").attrs["odd"] == "<object>"
        assert state.communities["default"].member("u1").attrs["seen"] is True
    finally:
        again.close()


# -- the last line of defence -------------------------------------------------------------------


def test_an_unexpected_error_is_one_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import engage_rules.compile.compiler as compiler

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(compiler, "load", broken)
    monkeypatch.delenv("ENGAGE_RULES_DEBUG", raising=False)
    assert main(["validate", str(STARTER)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        f"{STARTER}:0:0: internal error while checking this playbook: "
        "RuntimeError: boom (this is a bug"
    )
    assert "Traceback" not in err and "second line" not in err
    assert main(["replay", str(STARTER), str(SAMPLE)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "engage-rules: internal error: RuntimeError: boom" in err
    monkeypatch.setenv("ENGAGE_RULES_DEBUG", "1")
    with pytest.raises(RuntimeError):
        main(["replay", str(STARTER), str(SAMPLE)])


def test_commands_read_time_zones_from_the_bundled_tzdata_only() -> None:
    import zoneinfo

    assert main(["validate", "-q", str(STARTER)]) == 0
    assert zoneinfo.TZPATH == ()
