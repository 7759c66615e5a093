"""The ``webhook`` adapter: events in (docs/language.md, "Events"; the runtime's webhook
source verifies and receives them), signed action POSTs out.

Each action is POSTed as its JSON line (docs/language.md, "Outputs") to
``base_url + path`` with the same headers the webhook source checks (see
:mod:`.signing`): ``X-Engage-Timestamp``, ``X-Engage-Delivery`` = the action's key,
which is stable across retries, so the receiver can drop a re-sent action, and
``X-Engage-Signature`` (when a secret is set), version 2 — the delivery id is signed
too — unless ``signing: v1`` asks for the legacy form a receiver not yet updated checks.

Settings: ``base_url`` (or ``url``; required), ``path`` (default ``/actions``),
``secret`` (usually ``secret_env: NAME`` in the runtime config), ``signing`` (``v2``, the
default, or ``v1``), ``platform`` (the name it answers to and that events' ``platform``
routes to; default ``webhook``),
``capabilities`` (default: the platform actions: messages, moderation, roles, pins, join
requests, polls), ``timeout``
(seconds, default 10).  The receiver's 429 ``Retry-After``, and its
``X-RateLimit-Remaining`` / ``X-RateLimit-Reset-After`` headers, pace the dispatcher.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from ..i18n import _
from ..model.events import Event
from .base import Delivery
from .capabilities import PLATFORM_ACTIONS, check_capabilities
from .events_payload import parse_engage_event
from .http import HttpClient, raise_for_status
from .settings import reject_unknown
from .signing import DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, signature

SETTINGS = ("base_url", "url", "path", "secret", "signing", "capabilities", "timeout")
SIGNING = ("v2", "v1")


class WebhookAdapter:
    """The ``webhook`` adapter: POSTs each action, signed, to a URL."""

    def __init__(
        self,
        base_url: str,
        *,
        path: str = "/actions",
        secret: str | None = None,
        name: str = "webhook",
        capabilities: frozenset[str] = PLATFORM_ACTIONS,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        signing: str = "v2",
    ) -> None:
        if signing not in SIGNING:
            raise ValueError(
                f"webhook: signing must be one of {', '.join(SIGNING)}, not {signing!r}"
            )
        self.name = name
        self.signing = signing
        self.capabilities = capabilities
        self.path = path if path.startswith("/") else "/" + path
        self._secret = secret.encode() if secret else None
        self._client = HttpClient(base_url, timeout=timeout)
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> WebhookAdapter:
        reject_unknown(settings, SETTINGS, "webhook")
        url = settings.get("base_url") or settings.get("url")
        if not isinstance(url, str) or not url:
            raise ValueError(_("webhook: base_url (the URL actions are POSTed to) is required"))
        caps = settings.get("capabilities")
        secret = settings.get("secret")
        if secret is not None and not isinstance(secret, str):
            raise ValueError(_("webhook: secret must be a string"))
        signing = settings.get("signing", "v2")
        if signing not in SIGNING:
            raise ValueError(
                f"webhook: signing must be one of {', '.join(SIGNING)}, not {signing!r}"
            )
        timeout = settings.get("timeout", 10.0)
        if not isinstance(timeout, int | float) or timeout <= 0:
            raise ValueError(_("webhook: timeout must be a positive number of seconds"))
        return cls(
            url,
            path=str(settings.get("path", "/actions")),
            secret=secret,
            name=str(settings.get("platform") or "webhook"),
            capabilities=(
                PLATFORM_ACTIONS
                if caps is None
                else check_capabilities(
                    caps if isinstance(caps, list) else [caps], "webhook", settings
                )
            ),
            timeout=float(timeout),
            signing=str(signing),
        )

    def parse(self, payload: Mapping[str, Any]) -> list[Event]:
        return parse_engage_event(payload, self.name)

    def deliver(self, action: Mapping[str, Any]) -> Delivery:
        body = orjson.dumps(dict(action))
        timestamp = str(int(self._clock()))
        headers = {TIMESTAMP_HEADER: timestamp}
        key = action.get("key")
        delivery = key if isinstance(key, str) else ""
        if delivery:
            headers[DELIVERY_HEADER] = delivery
        if self._secret is not None:
            headers[SIGNATURE_HEADER] = (
                sign(self._secret, timestamp, delivery, body)
                if self.signing == "v2"
                else signature(self._secret, timestamp, body)
            )
        route = route_of(action)
        resp = self._client.post(self.path, body, headers)
        raise_for_status(resp, what=f"webhook {action.get('type')}", route=route)
        remaining = _number(resp.headers.get("x-ratelimit-remaining"))
        reset = _number(resp.headers.get("x-ratelimit-reset-after"))
        platform_id = None
        if resp.body:
            try:
                answer = orjson.loads(resp.body)
            except orjson.JSONDecodeError:
                answer = None
            if isinstance(answer, dict) and isinstance(answer.get("id"), str | int):
                platform_id = str(answer["id"])
        return Delivery(
            platform_id=platform_id,
            route=route,
            remaining=int(remaining) if remaining is not None else None,
            reset_after=reset,
        )

    def close(self) -> None:
        self._client.close()


def route_of(action: Mapping[str, Any]) -> str:
    """The conversation an action targets: its channel, else its member, else the
    community (what per-route rate limits count)."""
    params = action.get("params")
    channel = params.get("channel") if isinstance(params, Mapping) else None
    if channel:
        return f"channel:{channel}"
    member = action.get("member")
    if member:
        return f"member:{member}"
    return f"community:{action.get('community', 'default')}"


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None
