"""§11.4, §11.7: kill -9 a SQLite-backed replay while flows are waiting, silence
deadlines and delays are pending and mutes are running; resume; the result equals an
uninterrupted run — no timer lost, none fired twice, no effect applied twice."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engage_rules.testing import event_line

ROOT = Path(__file__).resolve().parents[1]
UNTIL = "2026-04-20T00:00:00+08:00"

PLAYBOOK = """\
engage_rules: 1
name: crash-timers
community: {name: t, timezone: Asia/Shanghai}
flows:
  onboarding:
    exit_on: [member.left]
    goal: {event: checkin, if: "count('checkin') >= 3"}
    steps:
      - send: {text: 欢迎}
      - wait: 6h
      - if: "count('message.posted') == 0"
        then: [{send: {text: 发个帖吧}}]
      - wait_for: {event: message.posted, timeout: 1d}
        on_timeout: [{tag: {name: stalled, expires: 2d}}]
      - award: {points: 5, reason: onboarding}
rules:
  - id: welcome
    on: member.joined
    do: [{start_flow: {flow: onboarding, restart: true}}]
  - id: spam
    on: message.posted
    if: "'spam' in event.data.text"
    do: [{mute: {for: 3h, reason: spam}}]
  - id: post
    on: message.posted
    do: [{award: {points: 1, reason: post}}]
  - id: later
    on: {after: message.posted, delay: 5h}
    if: "event.data.text | length > 6"
    do: [{award: {points: 2, reason: still here}}]
  - id: quiet
    on: {silent_for: 2d}
    do: [{send: {text: 想你了}}, {award: {points: 1, reason: comeback bonus}}]
  - id: cycle
    on: {silent_for: {factor: 2, min: 12h, max: 5d}}
    do: [{tag: {name: drifting, expires: 1d}}]
"""


def _events(path: Path, n: int) -> None:
    rng = random.Random(7)
    with path.open("w") as f:
        for i in range(n):
            mid = f"u{rng.randrange(400)}"
            kind = rng.random()
            data: dict[str, object] = {}
            if kind < 0.04:
                type_ = "member.joined"
            elif kind < 0.05:
                type_ = "member.left"
            elif kind < 0.75:
                type_ = "message.posted"
                text = rng.choice(["hello there", "spam offer", "ok", "今天的照片分享一下"])
                data = {"text": text}
            else:
                type_ = "checkin"
            line = event_line(type_, mid, i * 60, id=f"e{i}", community="c", data=data)
            f.write(line + "\n")


def _replay(
    pb: Path, db: Path, events: Path, state_out: Path | None = None
) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "engage_rules",
        "replay",
        str(pb),
        str(events),
        "--store",
        f"sqlite:///{db}",
        "--until",
        UNTIL,
        "--batch-size",
        "1000",
    ]
    if state_out is not None:
        cmd += ["--state-out", str(state_out)]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)


def _rows(db: Path) -> dict[str, object]:
    con = sqlite3.connect(db)
    try:
        processed = sorted(r[0] for r in con.execute("SELECT id FROM processed"))
        pending = sorted(r[0] for r in con.execute("SELECT id FROM timers"))
        outbox = [r[0] for r in con.execute("SELECT key FROM outbox ORDER BY seq")]
    finally:
        con.close()
    return {"processed": processed, "pending": pending, "outbox": outbox}


@pytest.mark.subprocess
@pytest.mark.slow
def test_kill_9_with_pending_timers_resumes_without_loss_or_repeats(tmp_path: Path) -> None:
    pb = tmp_path / "pb.yaml"
    pb.write_text(PLAYBOOK, encoding="utf-8")
    events = tmp_path / "events.jsonl"
    _events(events, 40000)

    clean_db, clean_state = tmp_path / "clean.db", tmp_path / "clean.json"
    proc = _replay(pb, clean_db, events, clean_state)
    assert proc.wait(timeout=300) == 0, proc.stderr.read() if proc.stderr else ""

    crash_db = tmp_path / "crash.db"
    rng = random.Random(3)
    kills = 0
    for _ in range(6):
        proc = _replay(pb, crash_db, events)
        time.sleep(rng.uniform(0.6, 1.6))
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        kills += 1
    crash_state = tmp_path / "crash.json"
    proc = _replay(pb, crash_db, events, crash_state)
    assert proc.wait(timeout=300) == 0, proc.stderr.read() if proc.stderr else ""
    assert kills >= 1, "the replay finished before it could be killed; use more events"

    clean, crashed = _rows(clean_db), _rows(crash_db)
    fired = [
        c
        for c in clean["processed"]
        if c.startswith(("flow:", "silence:", "after:", "unmute:", "untag:"))
    ]
    assert len(fired) > 1000  # the run did exercise timers of every kind
    assert {c.split(":")[0] for c in fired} == {"flow", "silence", "after", "unmute", "untag"}
    processed = crashed["processed"]
    assert isinstance(processed, list) and len(processed) == len(set(processed))  # once each
    assert processed == clean["processed"]  # every timer fired, none lost
    assert crashed["pending"] == clean["pending"]
    outbox = crashed["outbox"]
    assert isinstance(outbox, list) and len(outbox) == len(set(outbox))  # nothing twice
    assert outbox == clean["outbox"]
    assert json.loads(crash_state.read_text()) == json.loads(clean_state.read_text())
