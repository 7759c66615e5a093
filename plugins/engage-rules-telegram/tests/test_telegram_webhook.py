"""Webhook mode's server on its own (a stand-in runtime, real HTTP): an update is
answered 200 only once durable, 503 when the runtime stops before taking it or the
commit takes too long, and a stopping server still answers the requests in progress."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from engage_rules_telegram.bot_webhook import SECRET_HEADER, BotWebhook
from engage_rules_telegram.botapi import BotApi
from engage_rules_telegram.connect_settings import BotWebhookSettings
from engage_rules_telegram.plugin import TelegramAdapter
from fake_bot_api import FakeBotApi, fake_bot_api
from tg_context import Context
from tg_updates import message

from engage_rules.plugin_api import ServiceStopping
from engage_rules.testing import post_json, wait_for

pytestmark = pytest.mark.e2e

TOKEN = "515151:webhook-test"
SECRET = "webhook-test-secret-token"


@pytest.fixture
def fake() -> Iterator[FakeBotApi]:
    with fake_bot_api(TOKEN) as api:
        yield api


@contextmanager
def serving(fake: FakeBotApi, context: Context, **settings: Any) -> Iterator[BotWebhook]:
    adapter = TelegramAdapter({"token": TOKEN, "base_url": fake.url})
    hook = BotWebhook(
        BotApi(TOKEN, fake.url),
        adapter.parse,
        context.source_context(),
        BotWebhookSettings.model_validate(
            {"listen": "127.0.0.1:0", "secret_token": SECRET, **settings}
        ),
        bot="515151",
        allowed_updates=["message"],
    )
    hook.start()
    try:
        yield hook
    finally:
        hook.stop()
        hook.join(10)


def send(hook: BotWebhook, update: dict[str, Any]) -> tuple[int, Any]:
    host, port = hook.address
    return post_json(
        f"http://{host}:{port}/telegram", update, headers={SECRET_HEADER: SECRET}, timeout=30
    )


def in_background(hook: BotWebhook, update: dict[str, Any]) -> tuple[threading.Thread, list[Any]]:
    answers: list[Any] = []
    thread = threading.Thread(target=lambda: answers.append(send(hook, update)), daemon=True)
    thread.start()
    return thread, answers


def test_the_answer_waits_for_the_commit(fake: FakeBotApi) -> None:
    context = Context(hold=True)
    with serving(fake, context) as hook:
        thread, answers = in_background(hook, {"update_id": 1, **message(5, 5000000005, "你好")})
        wait_for(lambda: len(context.held) == 1)
        assert answers == []  # not durable yet: no answer
        context.release()
        thread.join(30)
    assert answers == [(200, {"status": "accepted"})]
    assert context.ids() == ["telegram:-1001234567890:5"]


def test_a_stopping_server_answers_the_requests_in_progress(fake: FakeBotApi) -> None:
    context = Context(hold=True)
    with serving(fake, context) as hook:
        thread, answers = in_background(hook, {"update_id": 2, **message(6, 5000000006, "好")})
        wait_for(lambda: len(context.held) == 1)
        hook.stop()  # as the runtime does first, before committing what was queued
        context.release()
        thread.join(30)
        assert answers == [(200, {"status": "accepted"})]


def test_an_update_the_runtime_did_not_take_is_a_503(fake: FakeBotApi) -> None:
    context = Context(hold=True)
    with serving(fake, context) as hook:
        thread, answers = in_background(hook, {"update_id": 3, **message(7, 5000000007, "好")})
        wait_for(lambda: len(context.held) == 1)
        context.fail_held(ServiceStopping("the runtime is shutting down"))
        thread.join(30)
    assert answers == [(503, {"status": "unavailable", "reason": "shutting down"})]


def test_a_commit_that_takes_too_long_is_a_503(fake: FakeBotApi) -> None:
    context = Context(hold=True)
    with serving(fake, context, commit_timeout=0.2) as hook:
        status, answer = send(hook, {"update_id": 4, **message(8, 5000000008, "好")})
        context.release()
    assert (status, answer) == (503, {"status": "unavailable", "reason": "commit timed out; retry"})


def test_other_methods_and_paths(fake: FakeBotApi) -> None:
    with serving(fake, Context()) as hook:
        host, port = hook.address
        url = f"http://{host}:{port}"
        assert post_json(f"{url}/elsewhere", {}, headers={SECRET_HEADER: SECRET})[0] == 404
        conn = http.client.HTTPConnection(host, port, timeout=30)
        conn.request("GET", "/telegram")
        assert conn.getresponse().status == 405
        conn.close()
        chunked = {SECRET_HEADER: SECRET, "Transfer-Encoding": "chunked"}
        assert post_json(f"{url}/telegram", b'{"update_id": 9}', headers=chunked)[0] == 411
