"""The ``discord`` adapter and its registration with engage_rules (entry point
``engage_rules: discord``)."""

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
    SourceContext,
    hookimpl,
)

from . import commands
from .client import CAPABILITIES, DEFAULT_BASE_URL, DiscordClient, Targets
from .i18n import _
from .mapping import PLATFORM, MappingConfig
from .parser import DispatchParser
from .source import GatewaySource


def _snowflake_keys(value: Any, what: str) -> Any:
    if not isinstance(value, Mapping):
        return value
    out = {}
    for key, name in value.items():
        text = str(key)
        if not (text.isascii() and text.isdigit()):
            raise ValueError(f"{what} id {key!r} is not a Discord id")
        out[text] = name
    return out


def _unique_names(mapping: Mapping[str, str], what: str) -> None:
    names = list(mapping.values())
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"{what} names given to several ids: {twice}")


class DiscordSettings(BaseModel):
    """The adapter's section of the runtime config."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    platform: str = Field(
        default=PLATFORM,
        min_length=1,
        description="the adapter's name in the runtime config (events carry it)",
    )
    token: str = Field(min_length=1, description="Bot token (a secret)")
    base_url: str = Field(default=DEFAULT_BASE_URL, description="REST API base URL")
    guilds: dict[str, str] = Field(
        default_factory=dict,
        description="guild id → community name; when given, other guilds are ignored",
    )
    channels: dict[str, str] = Field(default_factory=dict, description="channel id → name")
    roles: dict[str, str] = Field(default_factory=dict, description="role id → role name")
    broadcast_channels: dict[str, str] = Field(
        default_factory=dict,
        description="community → channel (id or name) for broadcasts without a channel",
    )
    timeout: float = Field(default=10.0, gt=0, description="seconds per API call")
    shards: Literal["auto"] | int = Field(
        default="auto",
        description="gateway connections: `auto` (Discord's recommended count) or a number",
    )

    @field_validator("shards")
    @classmethod
    def _shard_count(cls, value: Literal["auto"] | int) -> Literal["auto"] | int:
        if isinstance(value, int) and not 1 <= value <= 4096:
            raise ValueError(f"shards: {value} is not `auto` or a number from 1 to 4096")
        return value

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http:// or https:// URL")
        _port = parts.port  # raises ValueError for a port that is not a number
        return value

    @field_validator("guilds", mode="before")
    @classmethod
    def _guild_ids(cls, value: Any) -> Any:
        return _snowflake_keys(value, "guild")

    @field_validator("channels", mode="before")
    @classmethod
    def _channel_ids(cls, value: Any) -> Any:
        return _snowflake_keys(value, "channel")

    @field_validator("roles", mode="before")
    @classmethod
    def _role_ids(cls, value: Any) -> Any:
        return _snowflake_keys(value, "role")

    @field_validator("broadcast_channels", mode="before")
    @classmethod
    def _channel_values(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        return {k: str(v) if isinstance(v, int) else v for k, v in value.items()}

    @model_validator(mode="after")
    def _reversible(self) -> DiscordSettings:
        _unique_names(self.guilds, "community")
        _unique_names(self.channels, "channel")
        known = set(self.channels) | set(self.channels.values())
        for community, channel in self.broadcast_channels.items():
            if not channel.isdigit() and channel not in known:
                raise ValueError(
                    f"broadcast_channels: {community}: channel {channel!r} is "
                    "neither an id nor a name in `channels`"
                )
        return self


class DiscordAdapter:
    """Discord adapter: gateway dispatch payloads in, REST calls out."""

    capabilities = CAPABILITIES

    def __init__(
        self,
        settings: Mapping[str, Any] | DiscordSettings,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        s = (
            settings
            if isinstance(settings, DiscordSettings)
            else DiscordSettings.model_validate(dict(settings))
        )
        self.settings = s
        self._clock = clock
        self.name = s.platform
        config = MappingConfig(
            guilds=dict(s.guilds),
            channels=dict(s.channels),
            roles=dict(s.roles),
            platform=s.platform,
        )
        self.parser = DispatchParser(config, clock=clock)
        self._guild_ids = {name: gid for gid, name in s.guilds.items()}
        self._channel_ids = {name: cid for cid, name in s.channels.items()}
        self._role_ids: dict[str, list[str]] = {}
        for rid, name in s.roles.items():
            self._role_ids.setdefault(name, []).append(rid)
        self._targets = Targets(
            self.guild_of, self.channel_id, self.broadcast_channel, self.role_id
        )
        self._client = DiscordClient(s.token, base_url=s.base_url, timeout=s.timeout, clock=clock)
        self._closed = False

    def parse(self, payload: Mapping[str, Any]) -> list[Event]:
        """A gateway payload → events.  A relay that forwards gateway payloads may add a
        top-level ``received_at`` (ISO 8601) for the dispatches that carry no time;
        without it they are dated when parsed."""
        return self.parser.parse(payload)

    def guild_of(self, community: str) -> str:
        if community in self._guild_ids:
            return self._guild_ids[community]
        if community.isascii() and community.isdigit():
            return community
        raise DeliveryError(
            f"community {community!r} has no Discord guild: map its guild id to it in `guilds`",
            permanent=True,
        )

    def channel_id(self, channel: str) -> str:
        if channel in self._channel_ids:
            return self._channel_ids[channel]
        if channel.isascii() and channel.isdigit():
            return channel
        raise DeliveryError(
            f"channel {channel!r} is not a Discord channel id: map its id to it in `channels`",
            permanent=True,
        )

    def role_id(self, role: str) -> str:
        """The id of a role named in ``roles`` (or given as an id) for grant_role."""
        ids = self._role_ids.get(role, [])
        if len(ids) == 1:
            return ids[0]
        if ids:
            raise DeliveryError(
                f"role {role!r} is the name of several ids in `roles` ({', '.join(ids)}): "
                "grant_role needs one; give the id",
                permanent=True,
            )
        if role.isascii() and role.isdigit():
            return role
        raise DeliveryError(
            f"role {role!r} is not a Discord role id: map its id to it in `roles`",
            permanent=True,
        )

    def broadcast_channel(self, community: str) -> str:
        channel = self.settings.broadcast_channels.get(community)
        if channel is None:
            raise DeliveryError(
                f"community {community!r} has no broadcast channel: "
                "set one in `broadcast_channels`",
                permanent=True,
            )
        return self.channel_id(channel)

    def deliver(self, action: Mapping[str, Any]) -> Delivery:
        if self._closed:
            raise DeliveryError("the discord adapter is closed")
        return self._client.deliver(action, self._targets)

    def connect(self, context: SourceContext) -> GatewaySource:
        """The gateway connection(s) that read the bot's guilds into the runtime
        (source.py; not started yet)."""
        s = self.settings
        return GatewaySource(
            context,
            token=s.token,
            base_url=s.base_url,
            shards=s.shards,
            parse=self.parse,
            timeout=s.timeout,
        )

    def close(self) -> None:
        self._closed = True


def make_adapter(settings: Mapping[str, Any]) -> DiscordAdapter:
    return DiscordAdapter(settings)


@hookimpl
def register_adapters(register: Callable[..., None]) -> None:
    register(
        "discord",
        make_adapter,
        lambda: _(
            "Discord: gateway messages, joins, leaves and reactions in; messages, "
            "deletions, timeouts, kicks, bans, roles, pins and polls out over REST"
        ),
    )


@hookimpl
def register_commands(register: RegisterCommand) -> None:
    register(
        "discord",
        commands.configure,
        commands.run,
        lambda: _(
            "Discord: `map` gateway dispatches to events, `import` a DiscordChatExporter export"
        ),
    )
