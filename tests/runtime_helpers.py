"""Shared setup of the runtime tests: a small playbook, and the config of a service with a
webhook source, a webhook adapter to a platform and a jsonl adapter for bookkeeping.

The running service, the signed posts and the platform come from the test kit
(``engage_rules.testing``: live_service, LiveService.post, RecordingPlatform)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from engage_rules.testing import write_setup as write_kit_setup

HOOK_SECRET = "test-hook-secret-0123456789"
PLATFORM_SECRET = "test-platform-secret-9876"
ENV = {"HOOK_SECRET": HOOK_SECRET, "PLATFORM_SECRET": PLATFORM_SECRET}

PLAYBOOK = """\
engage_rules: 1
name: live-test
community: {name: 测试社群, timezone: Asia/Shanghai}
currencies: [points]
rules:
  - id: welcome
    on: member.joined
    do:
      - send: {text: "欢迎 {{ member.id }}"}
      - award: {points: 5, reason: joined}
  - id: echo
    on: message.posted
    if: "event.data.text != 'spam'"
    do:
      - reply: {text: "收到 {{ event.data.text }}"}
      - award: {points: 1, reason: post}
  - id: spam
    on: message.posted
    if: "event.data.text == 'spam'"
    do:
      - delete_message: {reason: spam}
      - mute: {for: 2s, reason: spam}
"""


def committed_ids(path: str | Path) -> set[str]:
    """Every processed id a SQLite store file holds (read with a connection of its own:
    the store looks ids up, it does not keep them)."""
    db = sqlite3.connect(path)
    try:
        return {row[0] for row in db.execute("SELECT id FROM processed")}
    finally:
        db.close()


def config_text(tmp_path: Path, platform_url: str, *, port: int = 0, extra: str = "") -> str:
    """The config: a webhook source on ``port`` (0: a free one), a webhook adapter to
    ``platform_url``, a jsonl adapter writing bookkeeping to bookkeeping.jsonl."""
    return f"""\
store: sqlite:///{tmp_path}/state.db
timer_poll: 0.2
sources:
  - type: webhook
    listen: 127.0.0.1:{port}
    secret_env: HOOK_SECRET
    window: 5m
adapters:
  platform:
    type: webhook
    base_url: {platform_url}
    secret_env: PLATFORM_SECRET
  log:
    type: jsonl
    actions_out: {tmp_path}/bookkeeping.jsonl
dispatch:
  default: platform
  retry: {{base: 0.05, max_delay: 0.5, max_attempts: 50}}
  shutdown_timeout: 5
{extra}"""


def write_setup(tmp_path: Path, platform_url: str, *, port: int = 0, extra: str = "") -> Path:
    """The playbook and the config written to ``tmp_path``; the config's path."""
    return write_kit_setup(
        tmp_path, config_text(tmp_path, platform_url, port=port, extra=extra), playbook=PLAYBOOK
    )
