"""§11.4: kill -9 a SQLite-backed replay at random moments, resume, and compare with an
uninterrupted run: nothing committed is lost and no effect is applied twice."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from engage_rules.store import open_store

ROOT = Path(__file__).resolve().parents[1]
PLAYBOOK = ROOT / "rules" / "starter" / "community.yaml"
UNTIL = "2026-04-15T00:00:00+08:00"


def _events(path: Path, n: int) -> None:
    rng = random.Random(5)
    start = datetime(2026, 3, 2, 9, 0, tzinfo=timezone(timedelta(hours=8)))
    texts = ["这是一条足够长的分享帖子，介绍今天拍摄的参数和构图心得。", "好", "加微信领取",
             "刷-单", "今天天气很好，适合出门扫街拍照，大家一起来吧！"]
    with path.open("w") as f:
        for i in range(n):
            at = start + timedelta(seconds=i * 37)
            mid = f"u{rng.randrange(300)}"
            kind = rng.random()
            ev: dict[str, object] = {"id": f"e{i}", "at": at.isoformat(), "community": "photo",
                                     "member": {"id": mid, "created_at": "2025-01-01T00:00:00Z"}}
            if kind < 0.05:
                ev["type"] = "member.joined"
            elif kind < 0.75:
                ev.update(type="message.posted",
                          data={"text": rng.choice(texts), "message_id": f"m{i}"})
            elif kind < 0.9:
                ev["type"] = "checkin"
            elif kind < 0.95:
                ev.update(type="redeem.requested", data={"item": "sticker-pack"})
            else:
                ev.update(type="referral.completed", data={"referrer": f"u{rng.randrange(300)}"})
            f.write(json.dumps(ev, ensure_ascii=False) + "\n")


def _replay(db: Path, events: Path, state_out: Path | None = None, *,
            actions_out: Path | None = None, stdout: int | None = subprocess.DEVNULL
            ) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "engage_rules", "replay", str(PLAYBOOK), str(events),
           "--store", f"sqlite:///{db}", "--until", UNTIL, "--batch-size", "2000"]
    if state_out is not None:
        cmd += ["--state-out", str(state_out)]
    if actions_out is not None:
        cmd += ["--actions-out", str(actions_out)]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    return subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE, env=env)


def _kill_repeatedly(rng: random.Random, times: int, start: Callable[[], subprocess.Popen[bytes]]
                     ) -> int:
    kills = 0
    for _ in range(times):
        proc = start()
        time.sleep(rng.uniform(0.5, 1.5))
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        kills += 1
    return kills


def _ledgers(db: Path) -> dict[str, list[dict[str, object]]]:
    store = open_store(f"sqlite:///{db}")
    state = store.open()
    out = {}
    for c in state.communities.values():
        for m in c.members.values():
            out[f"{c.name}/{m.id}"] = [e.to_json() for e in m.ledger]
    keys = [item.action.key for item in store.outbox()]
    store.close()
    out["__outbox__"] = keys  # type: ignore[assignment]
    return out


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
    kills = _kill_repeatedly(rng, 6, lambda: _replay(crash_db, events,
                                                     actions_out=crash_actions))
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
    assert _kill_repeatedly(rng, 2, lambda: _replay(stdout_db, events)) >= 1
    proc = _replay(stdout_db, events, stdout=subprocess.PIPE)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert out == clean_actions.read_bytes()
    assert b"committed by an earlier run of this replay were printed again" in err
