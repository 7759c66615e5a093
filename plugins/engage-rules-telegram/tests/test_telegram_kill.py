"""``kill -9`` an ``engage-rules run`` that polls the fake Bot API while updates keep
coming, restart it, and check the store: every update's events processed exactly once
(none missing, none doubled), because the offset is committed with the engine's
transaction and asked for only once durable."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
from fake_bot_api import FakeBotApi, fake_bot_api
from tg_updates import CHAT, joined, message

from engage_rules.testing import open_store, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.subprocess, pytest.mark.slow]

TOKEN = "777000:kill-test"
#: Updates fed at most while the runs are killed (a bound, should the machine be slow).
MAX_UPDATES = 20_000
PLAYBOOK = """\
engage_rules: 1
name: telegram-kill
community: {name: Fans, timezone: Asia/Shanghai}
currencies: [points]
rules:
  - id: welcome
    on: member.joined
    do:
      - send: {text: "欢迎!"}
  - id: post
    on: message.posted
    do:
      - award: {points: 1, reason: post}
      - reply: {text: "收到"}
"""


def _start(config: Path, stderr: Path, *options: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, TELEGRAM_BOT_TOKEN=TOKEN)
    with stderr.open("ab") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "engage_rules", *options, "run", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
        )


def _cursor(db: Path) -> int:
    """The committed update id (0 before any), read without getting in the way."""
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
            row = conn.execute(
                "SELECT value FROM meta WHERE key = ?", ("cursor:telegram:777000",)
            ).fetchone()
    except sqlite3.Error:
        return 0
    return int(row[0]) if row else 0


def _progress(db: Path, before: int, proc: subprocess.Popen[bytes]) -> Callable[[], bool]:
    """Whether the run committed an update of its own (or ended)."""
    return lambda: _cursor(db) > before or proc.poll() is not None


class Feed:
    """Queues updates a few at a time, as a busy group does, until told to stop: mostly
    messages (each from one of 25 members), some joins."""

    def __init__(self, api: FakeBotApi) -> None:
        self.api = api
        self.messages = 0
        self.joins = 0
        self.rng = random.Random(3)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def add(self) -> None:
        if self.rng.random() < 0.1:
            self.api.add(joined(5_200_000_000 + self.joins))
            self.joins += 1
        else:
            i = self.messages
            self.api.add(message(10_000 + i, 5_100_000_000 + i % 25, f"消息 {i}"))
            self.messages += 1

    def _run(self) -> None:
        n = 0
        while not self.stopped.is_set() and n < MAX_UPDATES:
            self.add()
            n += 1
            if n % 4 == 0:
                time.sleep(0.01)

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(30)


def test_kill_9_while_polling_loses_nothing_and_doubles_nothing(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    config = tmp_path / "run.yaml"
    (tmp_path / "community.yaml").write_text(PLAYBOOK, "utf-8")
    stderr = tmp_path / "stderr.log"
    with fake_bot_api(TOKEN) as api:
        config.write_text(
            f"playbook: community.yaml\n"
            f"store: sqlite:///{db}\n"
            f"timer_poll: 0.2\n"
            f"max_batch: 16\n"
            f"adapters:\n"
            f"  telegram:\n"
            f"    token_env: TELEGRAM_BOT_TOKEN\n"
            f"    base_url: {api.url}\n"
            f"    polling: {{timeout: 1, limit: 20, retry_base: 0.05, retry_max: 0.2}}\n"
            f"dispatch:\n"
            f"  retry: {{base: 0.05, max_delay: 0.2, max_attempts: 100}}\n",
            "utf-8",
        )
        feed = Feed(api)
        feed.thread.start()
        rng = random.Random(7)
        kills = 0
        try:
            for _ in range(4):
                before = _cursor(db)
                proc = _start(config, stderr)
                wait_for(_progress(db, before, proc), timeout=120)
                time.sleep(rng.uniform(0.0, 0.3))  # mid-stream: updates keep coming
                assert proc.poll() is None, stderr.read_text("utf-8")
                proc.send_signal(signal.SIGKILL)
                proc.wait(30)
                kills += 1
        finally:
            feed.stop()
        for _ in range(20):  # and more while it is down
            feed.add()
        last = api.next_id - 1
        proc = _start(config, stderr)
        try:
            wait_for(lambda: _cursor(db) == last, timeout=120)
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(60) == 0, stderr.read_text("utf-8")
        assert api.confirmed_below() >= last  # or Telegram would send them again
        again = sum(1 for n in api.delivered.values() if n > 1)
        print(f"{kills} kills; {last - 100_000 + 1} updates; {again} fetched again after a kill")
        messages, joins = feed.messages, feed.joins

    assert kills == 4
    store = open_store(f"sqlite:///{db}")
    try:
        outbox = [i.action for i in store.outbox()]
        message_ids = [f"telegram:{CHAT}:{10_000 + i}" for i in range(messages)]
        assert store.processed_among(message_ids) == set(message_ids)  # none missing
        replies = Counter(a.params["reply_to"] for a in outbox if a.type == "reply")
        assert sorted(replies) == sorted(str(10_000 + i) for i in range(messages))
        assert set(replies.values()) == {1}  # none twice
        welcomed = Counter(str(a.member) for a in outbox if a.type == "send")
        assert sorted(welcomed) == sorted(str(5_200_000_000 + i) for i in range(joins))
        assert set(welcomed.values()) == {1}
        awards = Counter(a.member for a in outbox if a.type == "award")
        assert sum(awards.values()) == messages
        state = store.open()
        assert state.cursors == {"telegram:777000": str(last)}
    finally:
        store.close()


@pytest.mark.parametrize(
    ("options", "refused"),
    [
        ((), "Telegram refused the bot token (getMe: Unauthorized): check the token from"),
        (("--lang", "zh_CN"), "Telegram 拒绝了机器人令牌（getMe: Unauthorized）：请检查"),
    ],
)
def test_engage_rules_run_exits_2_on_a_refused_token(
    tmp_path: Path, options: tuple[str, ...], refused: str
) -> None:
    config = tmp_path / "run.yaml"
    (tmp_path / "community.yaml").write_text(PLAYBOOK, "utf-8")
    stderr = tmp_path / "stderr.log"
    with fake_bot_api("777000:the-right-token") as api:
        config.write_text(
            f"playbook: community.yaml\nstore: sqlite:///{tmp_path}/state.db\n"
            f"adapters:\n  telegram: {{token_env: TELEGRAM_BOT_TOKEN, base_url: '{api.url}'}}\n",
            "utf-8",
        )
        proc = _start(config, stderr, *options)  # with TOKEN, which this server does not know
        assert proc.wait(60) == 2
    err = stderr.read_text("utf-8")
    assert refused in err
    assert TOKEN.split(":")[1] not in err  # the token's secret half is never logged
