"""The adapter's own connection to Telegram (``connect``): long polling by default, or
a server for Telegram's webhook calls with ``mode: webhook`` (the README, "Connecting")."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from engage_rules.plugin_api import Event, SourceContext

from .bot_webhook import BotWebhook
from .botapi import BotApi
from .polling import Poller
from .updates import allowed_updates, bot_id

if TYPE_CHECKING:
    from .plugin import TelegramSettings


def make_source(
    settings: TelegramSettings,
    parse: Callable[[Mapping[str, Any]], list[Event]],
    context: SourceContext,
) -> Poller | BotWebhook:
    """The source that reads the bot's updates into ``context`` (not started)."""
    allowed = allowed_updates(context.event_types, settings.member_updates)
    api = BotApi(settings.token, settings.base_url)
    bot = bot_id(settings.token)
    polling = settings.polling
    if settings.mode == "webhook":
        assert settings.webhook is not None  # checked with the settings
        return BotWebhook(
            api,
            parse,
            context,
            settings.webhook,
            bot=bot,
            allowed_updates=allowed,
            call_timeout=settings.timeout,
            retry_base=polling.retry_base,
            retry_max=polling.retry_max,
        )
    return Poller(
        api,
        parse,
        context,
        polling,
        bot=bot,
        allowed_updates=allowed,
        call_timeout=settings.timeout,
        on_fatal=context.fail,
    )


__all__ = ["make_source"]
