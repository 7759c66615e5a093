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


def _replay(db: Path, events: Path, state_out: Path | None = None) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "engage_rules", "replay", str(PLAYBOOK), str(events),
           "--store", f"sqlite:///{db}", "--until", UNTIL, "--batch-size", "2000"]
    if state_out is not None:
        cmd += ["--state-out", str(state_out)]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)


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
    proc = _replay(clean_db, events, clean_state)
    assert proc.wait(timeout=300) == 0, proc.stderr.read() if proc.stderr else ""

    crash_db = tmp_path / "crash.db"
    rng = random.Random(11)
    kills = 0
    for _ in range(6):
        proc = _replay(crash_db, events)
        time.sleep(rng.uniform(0.5, 1.5))
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        kills += 1
    crash_state = tmp_path / "crash.json"
    proc = _replay(crash_db, events, crash_state)
    assert proc.wait(timeout=300) == 0, proc.stderr.read() if proc.stderr else ""
    assert kills >= 1, "the replay finished before it could be killed; use more events"

    assert json.loads(crash_state.read_text()) == json.loads(clean_state.read_text())
    clean, crashed = _ledgers(clean_db), _ledgers(crash_db)
    assert crashed["__outbox__"] == clean["__outbox__"]  # same actions, none twice
    assert crashed == clean
