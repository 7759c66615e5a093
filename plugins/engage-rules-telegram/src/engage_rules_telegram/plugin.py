"""The ``telegram`` adapter and its registration with engage_rules (entry point
``engage_rules: telegram``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from engage_rules.plugin_api import (
    Delivery,
    DeliveryError,
    Event,
    RegisterCommand,
    Source,
    SourceContext,
    hookimpl,
)

from . import commands
from .client import CAPABILITIES, DEFAULT_BASE_URL, TelegramClient
from .connect_settings import BotWebhookSettings, Mode, PollingSettings
from .connection import make_source
from .i18n import _
from .mapping import PLATFORM, MappingConfig
from .parser import UpdateParser

#: The Bot API gives no account creation time, so events carry no ``member.created_at``.
MISSING_FIELDS = _.table(
    {
        "member.account_age": _.N_("the Bot API gives no account creation time"),
        "member.created_at": _.N_("the Bot API gives no account creation time"),
    }
)


class TelegramSettings(BaseModel):
    """The adapter's section of the runtime config."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    platform: str = Field(
        default=PLATFORM,
        min_length=1,
        description="the adapter's name in the runtime config (events carry it)",
    )
    token: str = Field(min_length=1, description="Bot token from @BotFather (a secret)")
    base_url: str = Field(default=DEFAULT_BASE_URL, description="Bot API server")
    chats: dict[str, str] = Field(
        default_factory=dict,
        description="chat id → community name; when given, other chats are ignored",
    )
    member_updates: Literal["chat_member", "service_messages"] = Field(
        default="chat_member", description="where joins and leaves are read from"
    )
    roles: dict[str, str] = Field(
        default_factory=dict,
        description="role name → member tag (at most 16 characters) for grant_role; "
        "default: the role's name",
    )
    timeout: float = Field(default=10.0, gt=0, description="seconds per API call")
    author_cache: int = Field(
        default=100_000,
        ge=0,
        description="message authors remembered for reaction.added's to_member",
    )
    mode: Mode = Field(
        default="polling", description="how `engage-rules run` reads updates: polling or webhook"
    )
    polling: PollingSettings = Field(default_factory=PollingSettings)
    webhook: BotWebhookSettings | None = None

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http:// or https:// URL")
        _port = parts.port  # raises ValueError for a port that is not a number
        return value

    @field_validator("chats", mode="before")
    @classmethod
    def _chat_ids(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        out = {}
        for key, name in value.items():
            try:
                out[str(int(key))] = name
            except (TypeError, ValueError):
                raise ValueError(f"chat id {key!r} is not an integer") from None
        return out

    @field_validator("roles")
    @classmethod
    def _short_tags(cls, value: dict[str, str]) -> dict[str, str]:
        for role, tag in value.items():
            if not 0 < len(tag) <= 16:
                raise ValueError(f"role {role!r}: a member tag has 1 to 16 characters, not {tag!r}")
        return value

    @model_validator(mode="after")
    def _webhook_for_webhook_mode(self) -> TelegramSettings:
        if self.mode == "webhook" and self.webhook is None:
            raise ValueError("mode: webhook needs a `webhook` section with its secret_token")
        return self

    @model_validator(mode="after")
    def _one_chat_per_community(self) -> TelegramSettings:
        names = list(self.chats.values())
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(
                f"communities mapped to several chats: {twice}; each community needs its own chat"
            )
        return self


class TelegramAdapter:
    """Telegram Bot API adapter: ``Update`` objects in, Bot API calls out."""

    capabilities = CAPABILITIES
    #: Fields rules may read that Telegram never gives (``engage-rules validate
    #: --platform telegram`` warns about rules reading them).
    missing_fields = MISSING_FIELDS

    def __init__(
        self,
        settings: Mapping[str, Any] | TelegramSettings,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        s = (
            settings
            if isinstance(settings, TelegramSettings)
            else TelegramSettings.model_validate(dict(settings))
        )
        self.settings = s
        self.name = s.platform
        config = MappingConfig(
            chats=dict(s.chats), member_updates=s.member_updates, platform=s.platform
        )
        self._chat_ids = {name: int(chat) for chat, name in s.chats.items()}
        self.parser = UpdateParser(config, author_cache=s.author_cache)
        self._client = TelegramClient(s.token, base_url=s.base_url, timeout=s.timeout, clock=clock)
        self._closed = False

    def parse(self, payload: Mapping[str, Any]) -> list[Event]:
        """An ``Update`` (webhook body or one ``getUpdates`` result) → events."""
        return self.parser.parse(payload)

    def chat_of(self, community: str) -> int:
        """The chat id of a community: from ``chats``, else the community name itself (or
        the supergroup it was migrated to, when this run saw the migration)."""
        if community in self._chat_ids:
            chat = self._chat_ids[community]
            return self.parser.migrated_to(chat) or chat
        try:
            chat = int(community)
        except ValueError:
            raise DeliveryError(
                f"community {community!r} has no Telegram chat: map its chat id to it in `chats`",
                permanent=True,
            ) from None
        return self.parser.migrated_to(chat) or chat

    def deliver(self, action: Mapping[str, Any]) -> Delivery:
        if self._closed:
            raise DeliveryError("the telegram adapter is closed")
        return self._client.deliver(action, self.chat_of, self.settings.roles)

    def connect(self, context: SourceContext) -> Source:
        """Read the bot's updates by itself: ``getUpdates`` long polling, or Telegram's
        webhook calls with ``mode: webhook`` (the README, "Connecting")."""
        return make_source(self.settings, self.parse, context)

    def close(self) -> None:
        self._closed = True


def make_adapter(settings: Mapping[str, Any]) -> TelegramAdapter:
    return TelegramAdapter(settings)


@hookimpl
def register_adapters(register: Callable[..., None]) -> None:
    register(
        "telegram",
        TelegramAdapter,
        lambda: _(
            "Telegram Bot API: group messages, edits, joins, join requests, leaves and "
            "reactions in; messages, deletions, mutes, kicks, bans, member tags, pins, join "
            "answers and polls out"
        ),
    )


@hookimpl
def register_commands(register: RegisterCommand) -> None:
    register(
        "telegram",
        commands.configure,
        commands.run,
        lambda: _("Telegram: `map` Bot API updates to events, `import` a Telegram Desktop export"),
    )
