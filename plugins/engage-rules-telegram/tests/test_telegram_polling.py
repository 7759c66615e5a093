"""``getUpdates`` long polling against a local fake Bot API (tests/fake_bot_api.py): the
offset follows what is durable, failures back off, a bad token stops, bad updates are
skipped without stalling."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from engage_rules_telegram import botapi
from engage_rules_telegram.botapi import BotApi
from engage_rules_telegram.connect_settings import PollingSettings
from engage_rules_telegram.plugin import TelegramAdapter
from engage_rules_telegram.polling import Poller
from fake_bot_api import FakeBotApi, fake_bot_api
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tg_context import Context

from engage_rules import i18n
from engage_rules.testing import strategies as est
from engage_rules.testing import wait_for

pytestmark = pytest.mark.e2e

DATA = Path(__file__).parent / "data"
TOKEN = "123456:polling-test"
CURSOR = "telegram:123456"
FAST = {"timeout": 1, "retry_base": 0.01, "retry_max": 0.05}


def load(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text("utf-8"))
    payload.pop("_source", None)
    return payload


@pytest.fixture
def fake() -> Iterator[FakeBotApi]:
    with fake_bot_api(TOKEN) as api:
        yield api


def poller(
    fake: FakeBotApi,
    context: Context,
    *,
    on_fatal: Any = None,
    token: str = TOKEN,
    allowed: tuple[str, ...] = ("message", "chat_member"),
    **settings: Any,
) -> Poller:
    adapter = TelegramAdapter({"token": token, "base_url": fake.url})
    return Poller(
        BotApi(token, fake.url),
        adapter.parse,
        context.source_context(on_fatal),
        PollingSettings.model_validate({**FAST, **settings}),
        bot="123456",
        allowed_updates=list(allowed),
        on_fatal=on_fatal,
    )


@contextmanager
def running(p: Poller) -> Iterator[Poller]:
    p.start()
    try:
        yield p
    finally:
        p.stop()
        p.join()
        assert p._thread is not None and not p._thread.is_alive()


def test_updates_are_submitted_with_their_cursor_and_confirmed_after(fake: FakeBotApi) -> None:
    first = fake.add(load("message_text"))
    fake.add(load("chat_member_joined"))
    fake.add(load("message_from_bot"))  # no event, but its cursor moves
    context = Context()
    with running(poller(fake, context)):
        wait_for(lambda: context.cursors.get(CURSOR) == str(first + 2))
        wait_for(lambda: len(fake.calls_of("getUpdates")) >= 2)
    assert context.ids() == [
        "telegram:-1001234567890:4521",
        "telegram:-1001234567890:joined:6333333333:1772453900",
    ]
    assert [c for _, c in context.submissions] == [
        (CURSOR, str(first)),
        (CURSOR, str(first + 1)),
        (CURSOR, str(first + 2)),
    ]
    polls = fake.calls_of("getUpdates")
    assert "offset" not in polls[0]  # nothing committed yet: what Telegram kept
    assert polls[1]["offset"] == first + 3
    assert polls[0]["allowed_updates"] == ["message", "chat_member"]
    assert polls[0]["timeout"] == 1 and polls[0]["limit"] == 100
    assert fake.confirmed_below() == first + 3  # Telegram forgot them


def test_a_restart_asks_for_the_update_after_the_committed_cursor(fake: FakeBotApi) -> None:
    done = fake.add(load("message_text"))
    fake.add(load("chat_member_joined"))
    context = Context({CURSOR: str(done)})
    with running(poller(fake, context)):
        wait_for(lambda: context.cursors[CURSOR] == str(done + 1))
    assert fake.calls_of("getUpdates")[0]["offset"] == done + 1
    assert context.ids() == ["telegram:-1001234567890:joined:6333333333:1772453900"]


def test_the_next_offset_waits_until_the_submissions_are_durable(fake: FakeBotApi) -> None:
    first = fake.add(load("message_text"))
    fake.add(load("chat_member_joined"))
    context = Context(hold=True)
    with running(poller(fake, context)):
        wait_for(lambda: len(context.held) == 2)
        threading.Event().wait(0.3)  # give a wrong poller the time to ask again
        assert len(fake.calls_of("getUpdates")) == 1
        assert fake.confirmed_below() == first  # Telegram still has both
        context.release()
        wait_for(lambda: len(fake.calls_of("getUpdates")) >= 2)
    assert fake.calls_of("getUpdates")[1]["offset"] == first + 2


def test_a_stopping_runtime_leaves_the_held_updates_to_telegram(fake: FakeBotApi) -> None:
    first = fake.add(load("message_text"))
    context = Context(hold=True)
    p = poller(fake, context)
    with running(p):
        wait_for(lambda: len(context.held) == 1)
    for future, _ in context.held:  # the runtime refuses them as it shuts down
        future.cancel()
    assert len(fake.calls_of("getUpdates")) == 1
    assert fake.confirmed_below() == first


def test_rate_limits_server_errors_and_network_failures_are_retried(
    fake: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail_next(
        "getUpdates",
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 0",
            "parameters": {"retry_after": 0},
        },
    )
    fake.fail_next(
        "getUpdates", 502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}
    )
    fake.fail_next("getUpdates", 500, "<html><body>500 Internal Server Error</body></html>")
    first = fake.add(load("message_text"))
    context = Context()
    with caplog.at_level(logging.WARNING), running(poller(fake, context)):
        wait_for(lambda: context.cursors.get(CURSOR) == str(first))
    assert len(fake.calls_of("getUpdates")) >= 4
    text = caplog.text
    assert "Too Many Requests: retry after 0; retrying in 0 s" in text
    assert "getUpdates: Bad Gateway; retrying in" in text
    assert "not a Bot API answer" in text
    assert TOKEN not in text


def test_an_unreachable_server_is_retried(caplog: pytest.LogCaptureFixture) -> None:
    with fake_bot_api(TOKEN) as gone:
        url = gone.url
    context = Context()
    adapter = TelegramAdapter({"token": TOKEN, "base_url": url})
    p = Poller(
        BotApi(TOKEN, url),
        adapter.parse,
        context.source_context(),
        PollingSettings.model_validate(FAST),
        bot=None,
        allowed_updates=["message"],
    )
    with caplog.at_level(logging.WARNING), running(p):
        wait_for(lambda: caplog.text.count("could not reach Telegram") >= 2)
    assert p.error is None


def test_a_set_webhook_is_a_conflict_reported_and_retried(
    fake: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    fake.webhook = {"url": "https://bot.example.com/telegram"}
    first = fake.add(load("message_text"))
    context = Context()
    with caplog.at_level(logging.WARNING), running(poller(fake, context)):
        wait_for(lambda: len(fake.calls_of("getUpdates")) >= 2)
        assert "can't use getUpdates method while webhook is active" in caplog.text
        assert "set `polling: {delete_webhook: true}`" in caplog.text
        assert fake.calls_of("deleteWebhook") == []
        with fake.cv:
            fake.webhook = None  # the operator deleted it
        wait_for(lambda: context.cursors.get(CURSOR) == str(first))


def test_delete_webhook_when_asked(fake: FakeBotApi) -> None:
    fake.webhook = {"url": "https://bot.example.com/telegram"}
    first = fake.add(load("message_text"))
    context = Context()
    with running(poller(fake, context, delete_webhook=True)):
        wait_for(lambda: context.cursors.get(CURSOR) == str(first))
    assert fake.calls_of("deleteWebhook") == [{"drop_pending_updates": False}]
    methods = [m for m, _ in fake.calls]
    assert methods.index("deleteWebhook") < methods.index("getUpdates")


def test_another_poller_with_the_same_token_is_a_conflict(
    fake: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    one, two = Context(), Context()
    with caplog.at_level(logging.WARNING), running(poller(fake, one)), running(poller(fake, two)):
        wait_for(lambda: "terminated by other getUpdates request" in caplog.text)
        assert "another program is polling with this bot token" in caplog.text


def test_a_bad_token_stops_polling_with_a_clear_error(fake: FakeBotApi) -> None:
    fatal: list[str] = []
    context = Context()
    p = poller(fake, context, token="123456:wrong", on_fatal=fatal.append)
    with running(p):
        wait_for(lambda: bool(fatal))
        assert p._thread is not None
        p._thread.join(5)
        assert not p._thread.is_alive()
    assert fatal == [
        "Telegram refused the bot token (getMe: Unauthorized): check the token from "
        "@BotFather (token_env)"
    ]
    assert p.error == fatal[0]
    assert fake.calls == []  # the wrong token never reached a method
    assert "wrong" not in fatal[0]


def test_a_401_while_polling_stops_it(fake: FakeBotApi) -> None:
    fake.fail_next(
        "getUpdates", 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
    )
    fatal: list[str] = []
    with running(poller(fake, Context(), on_fatal=fatal.append)) as p:
        wait_for(lambda: bool(fatal))
    assert p.error is not None and "getUpdates: Unauthorized" in p.error
    assert len(fake.calls_of("getUpdates")) == 1


def test_updates_that_cannot_be_read_are_skipped_not_stalled(
    fake: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    bad_chat = load("message_text")
    bad_chat["message"]["chat"]["id"] = "not a number"
    bad_id = fake.add(bad_chat)
    fake.add({"message": "not an object"})
    fake.add({"update_id": "seven", "message": {}}, keep_id=True)  # no usable id: skipped
    fake.add({"update_id": 1}, keep_id=True)  # below the others: not ours to commit
    good = fake.add(load("message_text"))
    context = Context()
    with caplog.at_level(logging.WARNING), running(poller(fake, context)):
        wait_for(lambda: context.cursors.get(CURSOR) == str(good))
    assert context.ids() == ["telegram:-1001234567890:4521"]
    assert [c for _, c in context.submissions] == [
        (CURSOR, str(bad_id)),
        (CURSOR, str(bad_id + 1)),
        (CURSOR, str(good)),
    ]
    assert f"update {bad_id} could not be read, skipped: message.chat.id" in caplog.text
    assert f"update {bad_id + 1} could not be read" in caplog.text
    assert "skipped an update without an integer update_id" in caplog.text


@pytest.mark.parametrize(
    "result",
    [None, {"update_id": 5}, "updates", 17],
)
def test_a_result_that_is_not_a_list_backs_off(
    fake: FakeBotApi, caplog: pytest.LogCaptureFixture, result: Any
) -> None:
    fake.fail_next("getUpdates", 200, {"ok": True, "result": result})
    first = fake.add(load("message_text"))
    context = Context()
    with caplog.at_level(logging.WARNING), running(poller(fake, context)):
        wait_for(lambda: context.cursors.get(CURSOR) == str(first))
    assert "not a list of updates" in caplog.text


def test_stop_ends_a_held_long_poll(fake: FakeBotApi) -> None:
    context = Context()
    p = poller(fake, context, timeout=50)
    p.start()
    wait_for(lambda: len(fake.calls_of("getUpdates")) == 1)
    p.stop()
    p.join()
    assert p._thread is not None and not p._thread.is_alive()
    assert p.error is None


def test_the_bot_id_comes_from_get_me_when_the_token_does_not_say(fake: FakeBotApi) -> None:
    context = Context()
    adapter = TelegramAdapter({"token": TOKEN, "base_url": fake.url})
    first = fake.add(load("message_text"))
    p = Poller(
        BotApi(TOKEN, fake.url),
        adapter.parse,
        context.source_context(),
        PollingSettings.model_validate(FAST),
        bot=None,
        allowed_updates=["message"],
    )
    with running(p):
        wait_for(lambda: context.cursors.get(CURSOR) == str(first))
    assert p.bot == "123456"


def test_privacy_mode_is_reported(fake: FakeBotApi, caplog: pytest.LogCaptureFixture) -> None:
    fake.bot["can_read_all_group_messages"] = False
    with caplog.at_level(logging.INFO), running(poller(fake, Context())):
        wait_for(lambda: len(fake.calls_of("getUpdates")) >= 1)
    assert "privacy mode is on" in caplog.text
    assert "connected as @fans_test_bot (id 123456)" in caplog.text


def test_the_log_speaks_the_operators_language(
    fake: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    fake.bot["can_read_all_group_messages"] = False
    previous = i18n.current_language()
    i18n.set_language("zh_CN")  # as `engage-rules --lang zh_CN run` (the poller's threads too)
    try:
        one, two = Context(), Context()
        with caplog.at_level(logging.INFO), running(poller(fake, one)), running(poller(fake, two)):
            wait_for(lambda: "terminated by other getUpdates request" in caplog.text)
    finally:
        i18n.set_language(previous)
    assert "telegram：已作为 @fans_test_bot（id 123456）连接" in caplog.text
    assert "telegram：隐私模式开着：机器人在群里只能看到命令" in caplog.text
    assert "（另一个程序正在用这个机器人令牌轮询：请停掉它）；" in caplog.text
    assert "privacy mode is on" not in caplog.text


_json = est.json_values(est.json_scalars(text=st.text(max_size=12)), max_leaves=12)
_KINDS = ("message", "chat_member", "message_reaction", "edited_message", "poll")
_hostile = st.builds(
    lambda kind, body: {kind: body},
    st.sampled_from(_KINDS),
    st.one_of(
        _json,
        est.json_objects(
            ("message_id", "date", "chat", "from", "text", "new_chat_member", "new_reaction"),
            _json,
            max_size=6,
        ),
    ),
)


@pytest.mark.slow
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_hostile, min_size=1, max_size=12))
def test_hostile_updates_never_stop_the_poller(updates: list[dict[str, Any]]) -> None:
    with fake_bot_api(TOKEN) as api:
        for update in updates:
            api.add(update)
        good = api.add(load("message_text"))
        context = Context()
        with running(poller(api, context, allowed=_KINDS)) as p:
            wait_for(lambda: context.cursors.get(CURSOR) == str(good))
        assert p.error is None
        assert len(context.submissions) == len(updates) + 1
        assert context.ids()[-1] == "telegram:-1001234567890:4521"


def test_an_oversized_answer_is_refused_and_retried(
    fake: FakeBotApi, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(botapi, "MAX_ANSWER", 4096)
    fake.fail_next("getUpdates", 200, {"ok": True, "result": [], "padding": "x" * 5000})
    first = fake.add(load("message_text"))
    context = Context()
    with caplog.at_level(logging.WARNING), running(poller(fake, context)):
        wait_for(lambda: context.cursors.get(CURSOR) == str(first))
    assert "getUpdates: an answer over 4096 bytes; retrying in" in caplog.text
