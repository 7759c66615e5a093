"""A small hand-written community history for the report tests, replayed into SQLite.

Asia/Shanghai days; the period the tests report on is Monday 2026-03-02 to Sunday
2026-03-22 (ISO weeks 10, 11 and 12).  Members: z joined before the period and went
quiet; a, b, c and d joined during it (b then left); e never joined, and is first seen
posting.  test_report.py works every figure out by hand from this list.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from engage_rules.cli import main

PLAYBOOK = """\
engage_rules: 1
name: report-test
community: {name: Test, timezone: Asia/Shanghai}
currencies: [points]
messaging:
  quiet_hours: {from: "22:00", to: "08:00", mode: drop}
rules:
  - id: welcome
    on: member.joined
    do:
      - send: {text: "welcome!"}
  - id: post-points
    on: message.posted
    do:
      - award: {points: 5, reason: post}
  - id: no-spam
    on: message.posted
    if: "'spam' in event.data.text"
    do:
      - mute: {for: 1h, reason: spam}
  - id: buy
    on: purchase
    do:
      - spend: {points: 3, reason: purchase}
"""

#: (type, member, local time +08:00, text)
EVENTS = [
    ("member.joined", "z", "2026-02-20T10:00", None),  # before the period
    ("message.posted", "z", "2026-02-20T10:30", "hello"),  # z's last activity
    ("member.joined", "a", "2026-03-02T09:00", None),  # W10
    ("message.posted", "a", "2026-03-02T09:30", "hi all"),
    ("member.joined", "b", "2026-03-03T23:00", None),  # quiet hours: welcome suppressed
    ("message.posted", "b", "2026-03-04T10:00", "hi"),
    ("message.posted", "a", "2026-03-05T10:00", "photo"),
    ("purchase", "a", "2026-03-05T11:00", None),
    ("member.joined", "c", "2026-03-10T10:00", None),  # W11
    ("message.posted", "c", "2026-03-10T10:05", "hey"),
    ("message.posted", "a", "2026-03-11T10:00", "more"),
    ("message.posted", "c", "2026-03-11T11:00", "again"),
    ("member.left", "b", "2026-03-12T10:00", None),
    ("message.posted", "c", "2026-03-12T12:00", "spam spam"),  # muted for 1h
    ("member.joined", "d", "2026-03-16T10:00", None),  # W12, never active in the period
    ("message.posted", "a", "2026-03-17T10:00", "x"),
    ("purchase", "a", "2026-03-17T11:00", None),
    ("checkin", "c", "2026-03-18T10:00", None),
    ("purchase", "c", "2026-03-18T12:00", None),
    ("message.posted", "e", "2026-03-19T10:00", "new here"),  # e: no join event
    ("message.posted", "a", "2026-03-22T21:00", "late"),
    ("message.posted", "e", "2026-03-22T21:30", "me too"),
    ("message.posted", "d", "2026-03-23T00:30", "after midnight"),  # 03-22 in UTC
]


def write_history(folder: Path) -> tuple[Path, Path]:
    playbook = folder / "playbook.yaml"
    playbook.write_text(PLAYBOOK, encoding="utf-8")
    events = folder / "events.jsonl"
    lines = []
    for i, (type_, member, at, text) in enumerate(EVENTS, 1):
        event: dict[str, object] = {
            "id": f"e{i}",
            "type": type_,
            "at": f"{at}:00+08:00",
            "community": "club",
            "member": {"id": member},
        }
        if text is not None:
            event["data"] = {"text": text, "message_id": f"m{i}"}
        lines.append(json.dumps(event))
    events.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return playbook, events


def replay_into_sqlite(folder: Path, capsys: pytest.CaptureFixture[str] | None = None) -> str:
    """Replay the history into ``folder/state.db``; its store URL."""
    playbook, events = write_history(folder)
    url = f"sqlite:///{folder / 'state.db'}"
    code = main(
        [
            "replay",
            str(playbook),
            str(events),
            "--store",
            url,
            "--until",
            "2026-03-23T12:00:00+08:00",
            "--actions-out",
            str(folder / "actions.jsonl"),
        ]
    )
    assert code == 0
    if capsys is not None:
        capsys.readouterr()
    return url


def report_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(["report", *args, "--json"]) == 0
    out: dict[str, object] = json.loads(capsys.readouterr().out)
    return out


#: The columns schema 4 added for reports (sqlite_reports.report_columns_upgrade).
REPORT_COLUMNS = {
    "members": ("joined", "status"),
    "ledger": ("ts", "currency", "kind", "amount"),
    "outbox": ("ts", "community", "type", "rule", "cause", "member", "direct", "first"),
    "audit": ("ts", "community", "action", "reason"),
}


def drop_report_columns(db: sqlite3.Connection) -> None:
    """Make a store's tables what they were in schema 3 (an outbox row's JSON held the
    whole action then)."""
    db.execute(
        "UPDATE outbox SET json = json_set(json_patch(json, json_object('key', key, "
        "'type', type, 'rule', rule, 'cause', cause, 'community', community)), "
        "'$.member', member) "
        "WHERE json_extract(json, '$.key') IS NULL"
    )
    for table, columns in REPORT_COLUMNS.items():
        for column in columns:
            db.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
