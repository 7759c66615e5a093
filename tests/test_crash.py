"""§11.4: kill -9 a SQLite-backed replay at random moments, resume, and compare with an
uninterrupted run: nothing committed is lost and no effect is applied twice."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from engage_rules.testing import event_line, open_store

ROOT = Path(__file__).resolve().parents[1]
PLAYBOOK = ROOT / "rules" / "starter" / "community.yaml"
UNTIL = "2026-04-15T00:00:00+08:00"


def _events(path: Path, n: int) -> None:
    rng = random.Random(5)
    texts = [
        "这是一条足够长的分享帖子，介绍今天拍摄的参数和构图心得。",
        "好",
        "加微信领取",
        "刷-单",
        "今天天气很好，适合出门扫街拍照，大家一起来吧！",
    ]
    with path.open("w") as f:
        for i in range(n):
            mid = f"u{rng.randrange(300)}"
            kind = rng.random()
            data: dict[str, object] = {}
            if kind < 0.05:
                type_ = "member.joined"
            elif kind < 0.75:
                type_ = "message.posted"
                data = {"text": rng.choice(texts), "message_id": f"m{i}"}
            elif kind < 0.9:
                type_ = "checkin"
            elif kind < 0.95:
                type_ = "redeem.requested"
                data = {"item": "sticker-pack"}
            else:
                type_ = "referral.completed"
                data = {"referrer": f"u{rng.randrange(300)}"}
            line = event_line(
                type_,
                mid,
                i * 37,
                id=f"e{i}",
                community="photo",
                created_at="2025-01-01T00:00:00Z",
                data=data,
            )
            f.write(line + "\n")


def _replay(
    db: Path,
    events: Path,
    state_out: Path | None = None,
    *,
    actions_out: Path | None = None,
    stdout: int | None = subprocess.DEVNULL,
) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "engage_rules",
        "replay",
        str(PLAYBOOK),
        str(events),
        "--store",
        f"sqlite:///{db}",
        "--until",
        UNTIL,
        "--batch-size",
        "2000",
    ]
    if state_out is not None:
        cmd += ["--state-out", str(state_out)]
    if actions_out is not None:
        cmd += ["--actions-out", str(actions_out)]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    return subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE, env=env)


def _committed(db: Path) -> int:
    """How many events the store at ``db`` has committed (0 before it exists); a WAL
    reader, so it never gets in the replay's way."""
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
            return int(conn.execute("SELECT count(*) FROM processed").fetchone()[0])
    except sqlite3.Error:
        return 0


def _kill_repeatedly(
    rng: random.Random, db: Path, times: int, start: Callable[[], subprocess.Popen[bytes]]
) -> int:
    """Start the replay ``times`` times, each time kill -9 it at a random moment after it
    committed a batch of its own (however slow the machine is to start it)."""
    kills = 0
    for _ in range(times):
        before = _committed(db)
        proc = start()
        deadline = time.monotonic() + 120
        while proc.poll() is None and _committed(db) <= before and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.6))
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        kills += 1
    return kills


def _ledgers(db: Path) -> dict[str, list[dict[str, object]]]:
    store = open_store(f"sqlite:///{db}")
    out = {}
    for community, member, e in store.ledgers():
        out.setdefault(f"{community}/{member}", []).append(e.to_json())
    keys = [item.action.key for item in store.outbox()]
    store.close()
    out["__outbox__"] = keys  # type: ignore[assignment]
    return out


@pytest.mark.subprocess
@pytest.mark.slow
def test_kill_9_and_resume_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    _events(events, 60000)

    clean_db = tmp_path / "clean.db"
    clean_state = tmp_path / "clean.json"
    clean_actions = tmp_path / "clean.jsonl"
    proc = _replay(clean_db, events, clean_state, actions_out=clean_actions)
    assert proc.wait(timeout=300) == 0, proc.stderr.read() if proc.stderr else ""

    # Every interrupted run writes its actions to the same --actions-out file.
    crash_db = tmp_path / "crash.db"
    crash_actions = tmp_path / "crash.jsonl"
    rng = random.Random(11)
    kills = _kill_repeatedly(
        rng, crash_db, 6, lambda: _replay(crash_db, events, actions_out=crash_actions)
    )
    crash_state = tmp_path / "crash.json"
    proc = _replay(crash_db, events, crash_state, actions_out=crash_actions)
    assert proc.wait(timeout=300) == 0, proc.stderr.read() if proc.stderr else ""
    assert kills >= 1, "the replay finished before it could be killed; use more events"

    assert json.loads(crash_state.read_text()) == json.loads(clean_state.read_text())
    clean, crashed = _ledgers(clean_db), _ledgers(crash_db)
    assert crashed["__outbox__"] == clean["__outbox__"]  # same actions, none twice
    assert crashed == clean
    # The file the interrupted runs appended to is the uninterrupted run's, byte for byte.
    assert crash_actions.read_bytes() == clean_actions.read_bytes()

    # On standard output, the run that completes prints the whole output.
    stdout_db = tmp_path / "stdout.db"
    assert _kill_repeatedly(rng, stdout_db, 2, lambda: _replay(stdout_db, events)) >= 1
    proc = _replay(stdout_db, events, stdout=subprocess.PIPE)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert out == clean_actions.read_bytes()
    assert b"committed by an earlier run of this replay were printed again" in err
