"""The adapter connecting by itself inside the runtime (engage_rules.runtime.Service,
a SQLite store, the fake Bot API of tests/fake_bot_api.py): a config with only the
token polls, turns updates into actions, and restarts where the store is; webhook mode
checks Telegram's secret token and processes a redelivered update once."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from engage_rules_telegram.bot_webhook import BotWebhook
from fake_bot_api import FakeBotApi, fake_bot_api
from tg_updates import CHAT, joined, message

from engage_rules.testing import LiveService, live_service, open_store, wait_for

pytestmark = pytest.mark.e2e

TOKEN = "424242:connect-test"
SECRET = "telegram-secret_token-0123456789"
PLAYBOOK = """\
engage_rules: 1
name: telegram-connect
community: {name: Fans, timezone: Asia/Shanghai}
currencies: [points]
rules:
  - id: welcome
    on: member.joined
    do:
      - send: {text: "欢迎 {{ member.name }}!"}
  - id: post
    on: message.posted
    do:
      - award: {points: 1, reason: post}
  - id: no-ads
    on: message.posted
    if: "contains_any(event.data.text, ['加微信'])"
    do:
      - delete_message: {reason: advertising}
"""


def config(tmp_path: Path, api: FakeBotApi, extra: str = "") -> str:
    """A config with no `sources`: the adapter connects by itself."""
    return f"""\
store: sqlite:///{tmp_path}/state.db
timer_poll: 0.2
adapters:
  telegram:
    token_env: TELEGRAM_BOT_TOKEN
    base_url: {api.url}
    polling: {{timeout: 1, retry_base: 0.05, retry_max: 0.2}}
{extra}dispatch:
  retry: {{base: 0.05, max_delay: 0.5, max_attempts: 50}}
  shutdown_timeout: 5
"""


@pytest.fixture
def fake() -> Iterator[FakeBotApi]:
    with fake_bot_api(TOKEN) as api:
        yield api


def run(tmp_path: Path, api: FakeBotApi, extra: str = "") -> Any:
    return live_service(
        config(tmp_path, api, extra),
        playbook=PLAYBOOK,
        directory=tmp_path,
        env={"TELEGRAM_BOT_TOKEN": TOKEN},
    )


def stored(tmp_path: Path) -> tuple[dict[str, str], list[tuple[str, str | None]]]:
    """The committed cursors, and every action in the outbox (type, member)."""
    store = open_store(f"sqlite:///{tmp_path}/state.db")
    try:
        cursors = dict(store.open().cursors)
        actions = [(i.action.type, i.action.member) for i in store.outbox()]
    finally:
        store.close()
    return cursors, actions


def test_a_token_is_enough_to_run_a_playbook_on_a_group(tmp_path: Path, fake: FakeBotApi) -> None:
    fake.add(joined(6333333333))
    ad = fake.add(message(4521, 5012345678, "兼职日结，加微信 abc123"))
    with run(tmp_path, fake):
        wait_for(lambda: fake.calls_of("sendMessage") and fake.calls_of("deleteMessage"))
        wait_for(lambda: fake.confirmed_below() == ad + 1)
    assert fake.calls_of("sendMessage") == [{"chat_id": 6333333333, "text": "欢迎 Omar!"}]
    assert fake.calls_of("deleteMessage") == [{"chat_id": CHAT, "message_id": 4521}]
    # what the playbook reacts to, and what Telegram sends only when asked for
    assert fake.calls_of("getUpdates")[0]["allowed_updates"] == [
        "message",
        "edited_message",  # message rules see edits too
        "message_reaction",
        "chat_member",
    ]
    cursors, actions = stored(tmp_path)
    assert cursors == {"telegram:424242": str(ad)}
    assert sorted(actions) == [
        ("award", "5012345678"),
        ("delete_message", "5012345678"),
        ("send", "6333333333"),
    ]


def test_a_restart_goes_on_after_the_committed_update(tmp_path: Path, fake: FakeBotApi) -> None:
    first = fake.add(message(1, 5000000001, "第一条"))
    with run(tmp_path, fake):
        wait_for(lambda: stored(tmp_path)[0].get("telegram:424242") == str(first))
    second = fake.add(joined(5000000002))  # arrives while the runtime is stopped
    with run(tmp_path, fake):
        wait_for(lambda: fake.calls_of("sendMessage"))
        wait_for(lambda: stored(tmp_path)[0].get("telegram:424242") == str(second))
    polls = fake.calls_of("getUpdates")
    restarted = [p for p in polls if p.get("offset") == first + 1]
    assert restarted, "the second run asked for the update after the committed one"
    store = open_store(f"sqlite:///{tmp_path}/state.db")
    try:
        assert store.is_processed(f"telegram:{CHAT}:1")
        # the first run's award, the second run's welcome: nothing twice
        assert [i.action.type for i in store.outbox()] == ["award", "send"]
    finally:
        store.close()


def test_a_revoked_token_stops_the_runtime(tmp_path: Path, fake: FakeBotApi) -> None:
    fake.fail_next("getMe", 401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    with run(tmp_path, fake) as live:
        live.thread.join(30)
        assert not live.thread.is_alive()
        failure = live.service.source_failure
    assert failure is not None
    assert failure.startswith("telegram: Telegram refused the bot token (getMe: Unauthorized)")
    assert fake.calls_of("getUpdates") == []


# -- webhook mode ---------------------------------------------------------------------------

WEBHOOK = """\
    mode: webhook
    webhook:
      listen: 127.0.0.1:0
      path: /tg
      secret_token_env: TG_SECRET
      url: https://bot.example.com/tg
      set_webhook: true
      read_timeout: 1
"""


def run_webhook(tmp_path: Path, api: FakeBotApi) -> Any:
    return live_service(
        config(tmp_path, api, WEBHOOK),
        playbook=PLAYBOOK,
        directory=tmp_path,
        env={"TELEGRAM_BOT_TOKEN": TOKEN, "TG_SECRET": SECRET},
    )


def hook_of(live: LiveService) -> BotWebhook:
    hooks = [s for s in live.service.sources if isinstance(s, BotWebhook)]
    assert len(hooks) == 1
    return hooks[0]


def post(
    hook: BotWebhook, body: bytes, headers: dict[str, str], path: str = "/tg"
) -> tuple[int, bytes]:
    host, port = hook.address
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def telegram_post(hook: BotWebhook, update: dict[str, Any], secret: str | None = SECRET) -> int:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    return post(hook, json.dumps(update).encode(), headers)[0]


def test_webhook_mode_checks_the_secret_and_processes_a_redelivery_once(
    tmp_path: Path, fake: FakeBotApi
) -> None:
    with run_webhook(tmp_path, fake) as live:
        hook = hook_of(live)
        wait_for(lambda: fake.calls_of("setWebhook"))
        update = {"update_id": 700, **joined(6333333333)}
        assert telegram_post(hook, update, secret=None) == 401
        assert telegram_post(hook, update, secret="not-the-secret-token-at-all") == 403
        assert telegram_post(hook, update, secret=SECRET[:-1]) == 403
        assert telegram_post(hook, update) == 200
        assert telegram_post(hook, update) == 200  # Telegram sends it again: no effect
        wait_for(lambda: fake.calls_of("sendMessage"))
        assert hook.counts.get("accepted") == 1 and hook.counts.get("replayed") == 1
    assert fake.calls_of("setWebhook") == [
        {
            "url": "https://bot.example.com/tg",
            "secret_token": SECRET,
            "allowed_updates": ["message", "edited_message", "message_reaction", "chat_member"],
            "max_connections": 40,
            "drop_pending_updates": False,
        }
    ]
    assert fake.calls_of("sendMessage") == [{"chat_id": 6333333333, "text": "欢迎 Omar!"}]
    assert fake.calls_of("getUpdates") == []  # no polling in webhook mode
    store = open_store(f"sqlite:///{tmp_path}/state.db")
    try:
        assert store.is_processed("telegram-update:424242:700")
    finally:
        store.close()


def test_webhook_mode_answers_hostile_requests_and_keeps_serving(
    tmp_path: Path, fake: FakeBotApi
) -> None:
    good = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET}
    with run_webhook(tmp_path, fake) as live:
        hook = hook_of(live)
        assert post(hook, b"{not json", good)[0] == 400
        assert post(hook, b'{"message": {}}', good)[0] == 400  # no update_id
        assert post(hook, b'{"update_id": true}', good)[0] == 400
        assert post(hook, b"[1, 2]", good)[0] == 400
        assert post(hook, b"{}", good, path="/other")[0] == 404
        assert post(hook, b"x" * 2_000_000, good)[0] == 413
        unreadable = {"update_id": 801, "message": {"chat": {"id": "x"}, "date": 1}}
        assert telegram_post(hook, unreadable) == 200  # logged and recorded, not retried
        # a client that sends half a request and waits is cut off
        with socket.create_connection(hook.address, timeout=30) as slow:
            slow.sendall(b"POST /tg HTTP/1.1\r\nContent-Length: 100\r\n")
            answer = slow.recv(4096)
        assert answer.startswith(b"HTTP/1.1 408 ")
        with socket.create_connection(hook.address, timeout=30) as huge:
            huge.sendall(b"POST /tg HTTP/1.1\r\nX-Pad: " + b"a" * 20_000 + b"\r\n\r\n")
            assert huge.recv(4096).startswith(b"HTTP/1.1 431 ")
        assert telegram_post(hook, {"update_id": 802, **message(9, 5000000009, "你好")}) == 200
    store = open_store(f"sqlite:///{tmp_path}/state.db")
    try:
        assert store.is_processed("telegram-update:424242:801")
        assert store.is_processed(f"telegram:{CHAT}:9")
    finally:
        store.close()


def test_webhook_mode_refuses_connections_beyond_its_cap(tmp_path: Path, fake: FakeBotApi) -> None:
    capped = WEBHOOK.replace("read_timeout: 1", "read_timeout: 20\n      max_connections: 1")
    with live_service(
        config(tmp_path, fake, capped),
        playbook=PLAYBOOK,
        directory=tmp_path,
        env={"TELEGRAM_BOT_TOKEN": TOKEN, "TG_SECRET": SECRET},
    ) as live:
        hook = hook_of(live)
        with socket.create_connection(hook.address, timeout=30) as first:
            first.sendall(b"POST /tg HTTP/1.1\r\n")  # and nothing more for now
            wait_for(lambda: hook._open == 1)
            status, _ = post(hook, b"{}", {"X-Telegram-Bot-Api-Secret-Token": SECRET})
            assert status == 503
            assert hook.counts.get("refused") == 1
        wait_for(lambda: hook._open == 0)
        assert telegram_post(hook, {"update_id": 901, **message(7, 5000000007, "好")}) == 200
