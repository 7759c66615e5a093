"""One platform API call and what its answer means for delivery, shared by the HTTP
adapters (the Telegram and Discord plugins use it; so may any plugin's adapter).

An adapter does not retry on its own: it raises :class:`~.base.DeliveryError` saying
whether a retry can help and when, and the dispatcher retries (docs/running.md §5).
This module holds what every platform's answer has in common:

* :func:`send` makes one HTTP request with the standard library; a network failure or
  timeout is a *retryable* error naming the platform.
* :func:`failure` maps an error answer: 429 is retryable after the platform's own
  ``retry_after`` (from its body) or else the ``Retry-After`` header (seconds or an HTTP
  date); 408, 425 and 5xx are retryable; any other 4xx is permanent.
* :class:`Buckets` remembers which rate-limit bucket each route belongs to, for
  platforms that share limits between routes and name the bucket in their answers
  (Discord's ``X-RateLimit-Bucket``), so a delivery reports the bucket's route even
  before the next answer names it.
* :func:`until` reads an action's ``params.until`` (mutes and bans), and
  :func:`passed` says when it is over: there is nothing left to do on the platform.
* :func:`seconds`, :func:`count` and :func:`permanent`: small readers and a shortcut.
"""

from __future__ import annotations

import json
import math
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http.client import HTTPException
from typing import Any

from .base import DeliveryError
from .http import RETRYABLE_4XX, retry_after_seconds

__all__ = [
    "Answer",
    "Buckets",
    "count",
    "failure",
    "passed",
    "permanent",
    "seconds",
    "send",
    "until",
]


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer: status, lower-cased headers, and the body (``data``: its JSON,
    or None when it is empty or not JSON)."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def data(self) -> Any:
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def send(
    url: str,
    *,
    method: str = "POST",
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    timeout: float,
    what: str,
    platform: str,
    route: str | None = None,
) -> Answer:
    """Make one request (``body``, when not None, is sent as JSON) and return its answer,
    whatever its status.  A network failure raises a retryable DeliveryError
    ``"{what}: could not reach {platform}: {reason}"``."""
    all_headers = dict(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        all_headers.setdefault("Content-Type", "application/json")
    request = urllib.request.Request(url, data=data, headers=all_headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Answer(response.status, _lower(response.headers.items()), response.read())
    except urllib.error.HTTPError as err:
        with err:
            return Answer(err.code, _lower(err.headers.items()), err.read())
    except (TimeoutError, urllib.error.URLError, HTTPException, OSError) as err:
        reason = getattr(err, "reason", err)
        raise DeliveryError(f"{what}: could not reach {platform}: {reason}", route=route) from None


def _lower(items: Any) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in items}


def failure(
    what: str,
    status: int,
    message: str,
    *,
    retry_after: Any = None,
    headers: Mapping[str, str] | None = None,
    route: str | None = None,
) -> DeliveryError:
    """The DeliveryError for an error answer ``status`` with the platform's ``message``.
    ``retry_after`` is the platform's own value from its body (seconds), preferred to
    the ``Retry-After`` header of ``headers`` (lower-cased names)."""
    text = f"{what}: {message}"
    if status == 429:
        wait = seconds(retry_after)
        if wait is None and headers is not None:
            wait = retry_after_seconds(headers.get("retry-after"))
        return DeliveryError(text, retry_after=wait, status=429, route=route)
    is_permanent = 400 <= status < 500 and status not in RETRYABLE_4XX
    return DeliveryError(text, permanent=is_permanent, status=status, route=route)


def permanent(message: str) -> DeliveryError:
    """A DeliveryError that retrying cannot help (an action the platform cannot take)."""
    return DeliveryError(message, permanent=True)


def message_text(params: Mapping[str, Any], limit: int, platform: str) -> str:
    """``params.text``, the text of a message to send; a permanent DeliveryError when it
    is missing, blank, or longer than the ``limit`` characters ``platform`` allows."""
    text = params.get("text")
    if not isinstance(text, str) or not text.strip():
        raise permanent("the message has no text")
    if len(text) > limit:
        raise permanent(f"the message is {len(text)} characters; {platform} allows {limit}")
    return text


def whole_id(value: Any, what: str, kind: str) -> int:
    """An id written as a whole number or its text (``kind`` names it in the error: "a
    Telegram id"); a permanent DeliveryError otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    raise permanent(f"{what} {value!r} is not {kind}")


def seconds(value: Any) -> float | None:
    """A finite, non-negative number of seconds (a number or numeric text), else None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) and out >= 0 else None


def count(value: Any) -> int | None:
    """A whole number (an int or its text), else None."""
    if isinstance(value, bool):
        return None
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def until(params: Mapping[str, Any]) -> datetime | None:
    """``params.until`` (an ISO 8601 time with an offset) in UTC; None when absent.
    Raises a permanent DeliveryError when it cannot be read."""
    raw = params.get("until")
    if raw is None:
        return None
    try:
        when = datetime.fromisoformat(str(raw))
    except ValueError:
        raise permanent(f"`until` {raw!r} is not an ISO 8601 time") from None
    if when.tzinfo is None:
        raise permanent(f"`until` {raw!r} has no UTC offset")
    return when.astimezone(UTC)


def passed(when: datetime | None, now: float) -> bool:
    """True when a mute's or ban's end ``when`` is not after ``now`` (Unix time)."""
    return when is not None and when.timestamp() <= now


class Buckets:
    """Which rate-limit bucket each route is in, learnt from the platform's answers.

    ``route`` is a request's rate-limit route (Discord: the path template with its
    *major* parameter filled in, ``POST /channels/123/messages``); ``major`` is that id
    (a channel, a guild), since a bucket's limit is kept per major parameter.  At most
    ``limit`` routes are remembered (the oldest learnt is forgotten first).
    Thread-safe."""

    def __init__(self, platform: str, limit: int = 10_000) -> None:
        self.platform = platform
        self._limit = limit
        self._bucket: dict[str, str] = {}
        self._lock = threading.Lock()

    def learn(self, route: str, bucket: str | None) -> None:
        """Remember that ``route`` is in ``bucket`` (nothing when the answer named none)."""
        if not bucket:
            return
        with self._lock:
            if route not in self._bucket and len(self._bucket) >= self._limit:
                self._bucket.pop(next(iter(self._bucket)))
            self._bucket[route] = bucket

    def key(self, route: str, major: str) -> str:
        """``<platform>:<bucket>:<major>`` once the bucket of ``route`` is known, else
        ``<platform>:<route>``: the route the dispatcher paces calls on."""
        with self._lock:
            bucket = self._bucket.get(route)
        return f"{self.platform}:{route}" if bucket is None else f"{self.platform}:{bucket}:{major}"
