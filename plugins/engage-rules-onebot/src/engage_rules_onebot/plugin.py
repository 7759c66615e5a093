"""The ``onebot`` adapter and its registration with engage_rules (entry point
``engage_rules: onebot``): QQ groups through any OneBot v11 implementation."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from engage_rules.plugin_api import (
    Delivery,
    DeliveryError,
    Event,
    PayloadError,
    RegisterAction,
    RegisterAdapter,
    RegisterCommand,
    RegisterEventType,
    Source,
    SourceContext,
    hookimpl,
)

from . import actions, client
from .client import CAPABILITIES, Caller, HttpCaller, Targets
from .commands import configure, run
from .connection import ForwardSource, Intake, ReverseSource, WsApi
from .http_source import HttpPostSource
from .i18n import _
from .mapping import EVENT_TYPES, PLATFORM, MappingConfig, parse_payload

#: QQ has no message edits, so no ``message.edited`` is ever produced: ``engage-rules
#: validate --platform onebot`` (and ``run``) warn about rules that ask for one.
MISSING_EVENTS = _.table(
    {"message.edited": _.N_("QQ has no message edits: OneBot v11 reports none")}
)
#: OneBot v11 events carry no account creation time, so events have no
#: ``member.created_at`` and ``member.account_age`` is always none.
MISSING_FIELDS = _.table(
    {
        "member.account_age": _.N_("OneBot v11 events carry no QQ account creation time"),
        "member.created_at": _.N_("OneBot v11 events carry no QQ account creation time"),
    }
)


class OneBotSettings(BaseModel):
    """The adapter's section of the runtime config (plugin README, "Settings")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    platform: str = Field(default=PLATFORM, min_length=1)
    mode: Literal["forward", "reverse", "http"] = Field(
        default="forward",
        description="forward: connect to the implementation's WebSocket server; reverse: "
        "run a WebSocket server it connects to; http: receive HTTP POST events",
    )
    url: str | None = Field(default=None, description="forward: the implementation's ws:// URL")
    host: str = Field(default="127.0.0.1", description="reverse/http: the address to listen on")
    port: int = Field(default=8080, ge=0, le=65535, description="reverse/http: the port")
    path: str = Field(default="/onebot/v11/ws", description="reverse/http: the URL path")
    access_token: str | None = Field(default=None, description="OneBot access_token (secret)")
    secret: str | None = Field(default=None, description="http: the X-Signature HMAC secret")
    self_id: str | None = Field(default=None, description="reverse: accept only this bot")
    api_url: str | None = Field(
        default=None, description="the HTTP API base URL (required in http mode)"
    )
    groups: dict[str, str] = Field(default_factory=dict, description="group number → community")
    private_community: str | None = Field(
        default=None, description="the community private messages count in (else ignored)"
    )
    titles: dict[str, str] = Field(default_factory=dict, description="role → 专属头衔")
    badge_titles: dict[str, str] = Field(
        default_factory=dict,
        description="badge id → 专属头衔 shown while the member holds the badge",
    )
    admin_role: str = Field(default="admin", description="the role set_group_admin grants")
    timeout: float = Field(default=10.0, gt=0, description="seconds per API call")

    @field_validator("groups", mode="before")
    @classmethod
    def _group_numbers(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        out = {}
        for key, name in value.items():
            text = str(key)
            if not (text.isascii() and text.isdigit()):
                raise ValueError(_("group {key!r} is not a QQ group number").format(key=key))
            out[text] = name
        return out

    @field_validator("badge_titles")
    @classmethod
    def _titles_shown(cls, value: dict[str, str]) -> dict[str, str]:
        empty = sorted(badge for badge, title in value.items() if not title.strip())
        if empty:
            raise ValueError(
                _("badge_titles: give each badge the title QQ shows: {badges}").format(badges=empty)
            )
        return value

    @field_validator("url", "api_url")
    @classmethod
    def _urls(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("ws", "wss", "http", "https") or not parts.hostname:
            raise ValueError(
                _("{url!r} is not a ws://, wss://, http:// or https:// URL").format(url=value)
            )
        _port = parts.port  # raises ValueError for a port that is not a number
        return value

    @model_validator(mode="after")
    def _complete(self) -> OneBotSettings:
        if self.mode == "forward" and (self.url is None or not self.url.startswith("ws")):
            raise ValueError(_("mode forward needs `url`: the implementation's ws:// address"))
        if self.mode == "http" and self.api_url is None:
            raise ValueError(_("mode http needs `api_url`: the implementation's HTTP API address"))
        if self.api_url is not None and not self.api_url.startswith("http"):
            raise ValueError(_("`api_url` must be an http:// or https:// URL"))
        names = list(self.groups.values())
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(
                _("community names given to several groups: {names}").format(names=twice)
            )
        return self


class OneBotAdapter:
    """OneBot v11 adapter: events in over WebSocket or HTTP POST, API calls out."""

    capabilities = CAPABILITIES
    #: Event types QQ never gives (``engage-rules validate --platform onebot`` warns about
    #: rules that ask for them).
    missing_events = MISSING_EVENTS
    #: Fields QQ events never fill (the same commands warn about rules reading them).
    missing_fields = MISSING_FIELDS

    def __init__(
        self,
        settings: Mapping[str, Any] | OneBotSettings,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        s = (
            settings
            if isinstance(settings, OneBotSettings)
            else OneBotSettings.model_validate(dict(settings))
        )
        self.settings = s
        self.name = s.platform
        self._clock = clock
        self._config = MappingConfig(
            groups=dict(s.groups), private_community=s.private_community, platform=s.platform
        )
        self._group_ids = {name: int(gid) for gid, name in s.groups.items()}
        self._flags: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()
        self._targets = Targets(
            self.group_of, dict(s.titles), s.admin_role, self._flag_of, dict(s.badge_titles)
        )
        if s.badge_titles:  # granting and revoking those badges sets the special title
            self.capabilities = CAPABILITIES | {"grant_badge", "revoke_badge"}
        self.ws_api = WsApi(s.timeout)
        self._caller: Caller = (
            HttpCaller(s.api_url, s.access_token, s.timeout) if s.api_url else self.ws_api
        )
        self._closed = False

    def parse(self, payload: Mapping[str, Any]) -> list[Event]:
        """A OneBot event payload → events (remembers join requests' flags)."""
        events = parse_payload(payload, self._config)
        for event in events:
            if event.type == "member.join_requested" and event.member is not None:
                with self._lock:
                    if len(self._flags) >= 10_000:
                        self._flags.pop(next(iter(self._flags)))
                    self._flags[(event.community, event.member.id)] = str(event.data["flag"])
        return events

    def _flag_of(self, community: str, member: str) -> str | None:
        with self._lock:
            return self._flags.get((community, member))

    def group_of(self, community: str) -> int:
        if community in self._group_ids:
            return self._group_ids[community]
        if community.isascii() and community.isdigit() and not self._group_ids:
            return int(community)
        raise DeliveryError(
            _(
                "community {community!r} has no QQ group: map its group number to it in `groups`"
            ).format(community=community),
            permanent=True,
        )

    def deliver(self, action: Mapping[str, Any]) -> Delivery:
        if self._closed:
            raise DeliveryError(_("the onebot adapter is closed"))
        return client.deliver(action, self._targets, self._caller, self._clock())

    def connect(self, context: SourceContext) -> Source:
        """The source the settings' ``mode`` names (not started yet)."""
        s = self.settings
        intake = Intake(context, self.parse)
        if s.mode == "forward":
            assert s.url is not None  # checked by the settings
            return ForwardSource(s.url, s.access_token, intake, self.ws_api)
        if s.mode == "reverse":
            return ReverseSource(
                s.host, s.port, s.path, s.access_token, s.self_id, intake, self.ws_api
            )
        return HttpPostSource(s.host, s.port, s.path, s.secret, intake)

    def close(self) -> None:
        self._closed = True


def make_adapter(settings: Mapping[str, Any]) -> OneBotAdapter:
    return OneBotAdapter(settings)


@hookimpl
def register_adapters(register: RegisterAdapter) -> None:
    register(
        "onebot",
        OneBotAdapter,
        lambda: _(
            "QQ groups through OneBot v11 (NapCat, go-cqhttp, Lagrange.OneBot, LLOneBot): "
            "messages, recalls, joins, leaves and join requests in; messages, recalls, mutes, "
            "kicks, titles, essence messages and join answers out"
        ),
    )


@hookimpl
def register_actions(register: RegisterAction) -> None:
    register(actions.SPEC, actions.do_set_card)


@hookimpl
def register_event_types(register: RegisterEventType) -> None:
    for name, description in EVENT_TYPES.items():
        register(name, _in_current_language(description))


def _in_current_language(text: str) -> Callable[[], str]:
    """A function returning ``text`` (marked with ``_.N_``) in the current language."""
    return lambda: _(text)


@hookimpl
def register_commands(register: RegisterCommand) -> None:
    register(
        "onebot", configure, run, lambda: _("OneBot v11 payloads and QQ exports → engine events")
    )


__all__ = ["OneBotAdapter", "OneBotSettings", "PayloadError", "make_adapter"]
