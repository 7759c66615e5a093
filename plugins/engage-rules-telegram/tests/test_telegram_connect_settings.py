"""The connection settings (``mode``, ``polling``, ``webhook``) and what they ask
Telegram for (``allowed_updates``)."""

from __future__ import annotations

from typing import Any

import pytest
from engage_rules_telegram.plugin import TelegramAdapter
from engage_rules_telegram.updates import allowed_updates, bot_id

TOKEN = "123456:settings-test"
SECRET = "a-secret_token-of-24char"


def adapter(**settings: Any) -> TelegramAdapter:
    return TelegramAdapter({"token": TOKEN, **settings})


def test_polling_is_the_default() -> None:
    s = adapter().settings
    assert s.mode == "polling"
    assert (s.polling.timeout, s.polling.limit, s.polling.delete_webhook) == (30, 100, False)
    assert s.webhook is None


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"mode": "webhook"}, "mode: webhook needs a `webhook` section"),
        ({"mode": "push"}, "Input should be 'polling' or 'webhook'"),
        ({"polling": {"timeout": 51}}, "less than or equal to 50"),
        ({"polling": {"limit": 0}}, "greater than or equal to 1"),
        ({"polling": {"every": 3}}, "Extra inputs are not permitted"),
        ({"webhook": {}}, "secret_token"),
        ({"webhook": {"secret_token": "short"}}, "16 to 256 characters"),
        ({"webhook": {"secret_token": "has spaces in it, no good"}}, "16 to 256 characters"),
        (
            {"webhook": {"secret_token": SECRET, "url": "http://bot.example.com/t"}},
            "must be an https:// URL",
        ),
        ({"webhook": {"secret_token": SECRET, "set_webhook": True}}, "set_webhook needs `url`"),
        ({"webhook": {"secret_token": SECRET, "listen": "8443"}}, "must be HOST:PORT"),
        ({"webhook": {"secret_token": SECRET, "path": "telegram"}}, "must start with /"),
        ({"webhook": {"secret_token": SECRET, "max_connections": 101}}, "less than or equal"),
    ],
)
def test_bad_connection_settings_are_refused(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as err:
        adapter(**settings)
    assert message in str(err.value)


def test_the_secret_token_is_not_shown() -> None:
    s = adapter(mode="webhook", webhook={"secret_token": SECRET}).settings
    assert SECRET not in repr(s)


@pytest.mark.parametrize(
    ("event_types", "member_updates", "expected"),
    [
        ({"message.posted"}, "chat_member", ["message"]),
        ({"member.joined"}, "chat_member", ["chat_member"]),
        ({"member.left"}, "service_messages", ["message"]),
        ({"reaction.added"}, "chat_member", ["message", "message_reaction"]),
        (
            {"message.edited", "member.join_requested"},
            "chat_member",
            ["edited_message", "chat_join_request"],
        ),
        (
            {"message.posted", "member.joined", "reaction.added", "checkin"},
            "chat_member",
            ["message", "message_reaction", "chat_member"],
        ),
        # nothing Telegram sends: the bot still listens
        ({"checkin", "purchase"}, "chat_member", ["message", "message_reaction", "chat_member"]),
        (set(), "service_messages", ["message", "message_reaction"]),
    ],
)
def test_allowed_updates_follow_the_playbook(
    event_types: set[str], member_updates: str, expected: list[str]
) -> None:
    assert allowed_updates(event_types, member_updates) == expected


@pytest.mark.parametrize(
    ("token", "expected"),
    [("123456:ABC-def", "123456"), ("no-colon", None), ("abc:def", None), (":x", None)],
)
def test_the_bot_id_is_the_tokens_prefix(token: str, expected: str | None) -> None:
    assert bot_id(token) == expected
