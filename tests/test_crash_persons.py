"""§11.4 for persons (docs/reference.md §4.3): kill -9 a SQLite-backed replay of the
multi-group playbook — points shared across a Telegram, a QQ and a Discord group, bind
codes redeemed, accounts linked and persons merged — at random moments, resume, and
compare with an uninterrupted run: the same state (persons included), the same ledgers
(the persons' merges included) and the same actions, none twice."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from engage_rules.features.persons import make_code
from engage_rules.model.state import MemberState
from engage_rules.testing import event_line, open_store

ROOT = Path(__file__).resolve().parents[1]
PLAYBOOK = ROOT / "rules" / "multi-group" / "community.yaml"
SECRET = "换成你自己的密钥"  # the playbook's vars.bind_secret
UNTIL = "2026-03-20T00:00:00+08:00"
GROUPS = ("tg-fans", "qq-fans", "dc-fans")


def _events(path: Path, n: int) -> None:
    """``n`` events over three groups: posts, check-ins, redemptions, `/bind` codes asked
    for and redeemed from another group (some late, some twice), and links from the
    operator's system."""
    rng = random.Random(7)
    codes: list[tuple[str, str]] = []  # (code, the group it was issued in)
    with path.open("w") as f:
        for i in range(n):
            group = rng.choice(GROUPS)
            member = f"{group[:2]}{rng.randrange(60)}"
            kind = rng.random()
            data: dict[str, object] = {}
            type_ = "message.posted"
            if kind < 0.55:
                data = {"text": "今天的活动真有意思，大家一起来参加吧！", "message_id": f"m{i}"}
            elif kind < 0.75:
                type_ = "checkin"
            elif kind < 0.82:
                type_ = "redeem.requested"
                data = {"item": rng.choice(["sticker", "badge-pin"])}
            elif kind < 0.89:
                data = {"text": "/bind"}
                m = MemberState(id=member, community=group)
                codes.append((make_code("multi-group", SECRET, m, f"e{i}", 6, 0), group))
            elif kind < 0.96 and codes:
                code, issued_in = rng.choice(codes[-5:])
                group = rng.choice([g for g in GROUPS if g != issued_in])
                member = f"{group[:2]}{rng.randrange(60)}"
                data = {"text": f"/bind {code}"}
            else:
                type_ = "member.linked"
                data = {"person": f"fan-{rng.randrange(20)}"}
            line = event_line(type_, member, i * 41, id=f"e{i}", community=group, data=data)
            f.write(line + "\n")


def _replay(db: Path, events: Path, state_out: Path | None = None) -> subprocess.Popen[bytes]:
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
        "500",
    ]
    if state_out is not None:
        cmd += ["--state-out", str(state_out)]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)


def _committed(db: Path) -> int:
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
            return int(conn.execute("SELECT count(*) FROM processed").fetchone()[0])
    except sqlite3.Error:
        return 0


def _ledgers(db: Path) -> dict[str, object]:
    store = open_store(f"sqlite:///{db}")
    out: dict[str, object] = {}
    for community, member, e in store.ledgers():
        out.setdefault(f"{community}/{member}", []).append(e.to_json())  # type: ignore[union-attr]
    out["__outbox__"] = [item.action.key for item in store.outbox()]
    store.close()
    return out


@pytest.mark.subprocess
@pytest.mark.slow
def test_kill_9_with_persons_resumes_to_the_uninterrupted_result(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    _events(events, 8000)
    clean_db, clean_state = tmp_path / "clean.db", tmp_path / "clean.json"
    proc = _replay(clean_db, events, clean_state)
    assert proc.wait(timeout=300) == 0, proc.stderr.read() if proc.stderr else ""
    snapshot = json.loads(clean_state.read_text())
    persons = snapshot["communities"]["@persons"]["members"]
    assert any(len(p.get("accounts", [])) >= 2 for p in persons.values())

    crash_db = tmp_path / "crash.db"
    rng = random.Random(3)
    kills = 0
    for _ in range(4):
        before = _committed(crash_db)
        proc = _replay(crash_db, events)
        deadline = time.monotonic() + 120
        while proc.poll() is None and _committed(crash_db) <= before:
            if time.monotonic() > deadline:
                break
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.4))
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        kills += 1
    crash_state = tmp_path / "crash.json"
    proc = _replay(crash_db, events, crash_state)
    assert proc.wait(timeout=300) == 0, proc.stderr.read() if proc.stderr else ""
    assert kills >= 1, "the replay finished before it could be killed; use more events"
    assert json.loads(crash_state.read_text()) == snapshot
    assert _ledgers(crash_db) == _ledgers(clean_db)
