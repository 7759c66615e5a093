"""The Example Chat adapter: webhook payloads → events, actions → REST calls.

Example Chat posts one JSON object per update to the bot's webhook::

    {"update_id": 7, "kind": "message",
     "message": {"id": "m-1", "chat": "general", "text": "hi", "sent_at": "...",
                 "user": {"id": "u1", "name": "Ann", "bot": false}}}

``kind`` is ``message``, ``join``, ``leave`` or ``reaction``; other kinds are ignored.
Its REST API takes a bearer token and answers ``{"ok": true, "id": ...}``, or an error
status: 429 with ``Retry-After``, 5xx when it is down, 4xx when the call cannot succeed.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

from engage_rules.plugin_api import (
    Delivery,
    DeliveryError,
    Event,
    EventError,
    PayloadError,
    event_from_obj,
)

PLATFORM = "example_chat"
DEFAULT_BASE_URL = "https://api.example-chat.invalid"


def _field(obj: Mapping[str, Any], key: str, kind: type, path: str) -> Any:
    value = obj.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise PayloadError(
            f"expected {kind.__name__}, got {type(value).__name__}",
            path=f"{path}.{key}" if path else key,
        )
    return value


def _time(text: str, path: str) -> str:
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise PayloadError("not an ISO 8601 time", path=path) from None
    if at.tzinfo is None:
        raise PayloadError("the time has no UTC offset", path=path)
    return at.isoformat()


class ExampleChatAdapter:
    """Adapter for Example Chat.  Settings: ``token`` (required), ``base_url``,
    ``timeout`` (seconds, default 10)."""

    name = PLATFORM
    capabilities = frozenset(
        {"send", "reply", "broadcast", "delete_message", "kick", "example_chat.pin"}
    )

    def __init__(self, settings: Mapping[str, Any]) -> None:
        token = settings.get("token")
        if not isinstance(token, str) or not token:
            raise ValueError("example_chat: the `token` setting is required")
        self.token = token
        self.base_url = str(settings.get("base_url", DEFAULT_BASE_URL)).rstrip("/")
        self.timeout = float(settings.get("timeout", 10))

    # -- parse: pure ------------------------------------------------------------------------

    def parse(self, payload: Mapping[str, Any]) -> list[Event]:
        if not isinstance(payload, Mapping):
            raise PayloadError("an update must be a JSON object")
        update_id = _field(payload, "update_id", int, "")
        kind = _field(payload, "kind", str, "")
        if kind not in ("message", "join", "leave", "reaction"):
            return []  # an update the engine does not care about
        body = _field(payload, kind, dict, "")
        user = _field(body, "user", dict, kind)
        if user.get("bot") is True:
            return []  # the bot's own messages (and other bots') are not member activity
        obj: dict[str, Any] = {
            "id": f"{PLATFORM}-{update_id}",
            "type": {
                "message": "message.posted",
                "join": "member.joined",
                "leave": "member.left",
                "reaction": "reaction.added",
            }[kind],
            "at": _time(_field(body, "sent_at", str, kind), f"{kind}.sent_at"),
            "platform": PLATFORM,
            "member": {"id": _field(user, "id", str, f"{kind}.user")},
        }
        if isinstance(user.get("name"), str):
            obj["member"]["name"] = user["name"]
        if isinstance(body.get("chat"), str):
            obj["channel"] = body["chat"]
        if kind == "message":
            obj["data"] = {
                "message_id": _field(body, "id", str, kind),
                "text": _field(body, "text", str, kind),
            }
        elif kind == "reaction":
            obj["data"] = {
                "message_id": _field(body, "message_id", str, kind),
                "emoji": _field(body, "emoji", str, kind),
                "to_member": _field(body, "author_id", str, kind),
            }
        try:
            return [event_from_obj(obj)]
        except EventError as err:  # e.g. an empty member id
            raise PayloadError(str(err)) from None

    # -- deliver: I/O only --------------------------------------------------------------------

    def deliver(self, action: Mapping[str, Any]) -> Delivery:
        kind = action.get("type")
        params: Mapping[str, Any] = action.get("params") or {}
        member = action.get("member")
        channel = params.get("channel") or action.get("channel") or "general"
        if kind == "send":
            return self._call(
                "POST", "/v1/direct_messages", {"user": member, "text": params.get("text")}
            )
        if kind in ("reply", "broadcast"):
            return self._call(
                "POST", f"/v1/channels/{quote(str(channel))}/messages", {"text": params.get("text")}
            )
        if kind == "delete_message":
            message = params.get("message_id")
            if not message:
                raise DeliveryError("delete_message: no message_id", permanent=True)
            return self._call(
                "DELETE", f"/v1/channels/{quote(str(channel))}/messages/{quote(str(message))}", None
            )
        if kind == "kick":
            return self._call(
                "POST", f"/v1/members/{quote(str(member))}/kick", {"reason": params.get("reason")}
            )
        if kind == "example_chat.pin":
            return self._call(
                "POST",
                f"/v1/channels/{quote(str(channel))}/pins",
                {"message_id": params.get("message_id")},
            )
        raise DeliveryError(f"example_chat cannot deliver {kind!r}", permanent=True)

    def _call(self, method: str, path: str, body: dict[str, Any] | None) -> Delivery:
        request = urllib.request.Request(
            self.base_url + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as err:
            status = err.code
            if status == 429:
                raise DeliveryError(
                    "rate limited",
                    status=429,
                    route=path,
                    retry_after=_seconds(err.headers.get("Retry-After")),
                ) from None
            raise DeliveryError(
                f"{method} {path}: HTTP {status}",
                status=status,
                permanent=400 <= status < 500,
                route=path,
            ) from None
        except (urllib.error.URLError, TimeoutError, OSError) as err:
            raise DeliveryError(f"{method} {path}: {err}", route=path) from None
        except ValueError:
            raise DeliveryError(f"{method} {path}: the answer is not JSON", route=path) from None
        platform_id = answer.get("id") if isinstance(answer, dict) else None
        return Delivery(platform_id=None if platform_id is None else str(platform_id), route=path)

    def close(self) -> None:
        """Nothing to release: each call opens its own connection."""


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
