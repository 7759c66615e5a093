"""Discord's REST rate limits, honoured *before* each call (not only after a 429).

From https://discord.com/developers/docs/topics/rate-limits:

* Each route has a bucket, named by the ``X-RateLimit-Bucket`` hash of its answers;
  routes with the same hash share it.  A bucket is counted per *major parameter*: the
  channel, guild or webhook id at the start of the path.  ``X-RateLimit-Remaining`` calls
  are left until ``X-RateLimit-Reset-After`` seconds have passed.
* The global limit: 50 requests a second for the whole bot, and a 429 with
  ``global: true`` (or ``X-RateLimit-Scope: global``) stops every route for its
  ``retry_after``.

:meth:`RateLimits.before` waits while the call's bucket is spent or the global limit is
reached.  A wait longer than ``max_wait`` is not slept: it raises a retryable
:class:`DeliveryError` with ``retry_after``, so the dispatcher schedules the action again
later instead of holding a worker; no request is made.  :meth:`RateLimits.after` learns
from every answer's headers (and from a 429's ``retry_after``).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from engage_rules.plugin_api import DeliveryError

#: Requests a second Discord allows a bot in all (the global rate limit).
GLOBAL_PER_SECOND = 50
#: The longest wait slept before a call; longer waits are handed back to the dispatcher.
MAX_WAIT = 2.0
#: Path segments whose id is a major parameter.
MAJOR = ("channels", "guilds", "webhooks")


@dataclass(slots=True)
class _Bucket:
    remaining: int
    reset_at: float  # monotonic time when ``remaining`` is full again


def split_route(route: str) -> tuple[str, str]:
    """``"POST /channels/123/messages"`` → (``"POST /channels/{id}/messages"``, ``"123"``):
    the route's template and its major parameter (``""`` for none)."""
    method, _, path = route.partition(" ")
    parts = path.split("/")
    if len(parts) > 2 and parts[1] in MAJOR:
        major = parts[2]
        parts[2] = "{id}"
        return f"{method} {'/'.join(parts)}", major
    return route, ""


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number >= 0 else None


class RateLimits:
    """Per-route buckets and the global limit of one bot token (thread-safe)."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float = MAX_WAIT,
        per_second: int = GLOBAL_PER_SECOND,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._max_wait = max_wait
        self._per_second = per_second
        self._lock = threading.Lock()
        self._hashes: dict[str, str] = {}  # route template → bucket hash
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._global_until = 0.0
        self._recent: deque[float] = deque()  # the times of the calls of the last second

    def _key(self, route: str) -> tuple[str, str]:
        template, major = split_route(route)
        return self._hashes.get(template, template), major

    def _wait(self, key: tuple[str, str], now: float) -> tuple[float, str]:
        waits = [(self._global_until - now, "global rate limit")]
        bucket = self._buckets.get(key)
        if bucket is not None and bucket.remaining <= 0:
            waits.append((bucket.reset_at - now, "route rate limit"))
        while self._recent and self._recent[0] <= now - 1.0:
            self._recent.popleft()
        if len(self._recent) >= self._per_second:
            waits.append((self._recent[0] + 1.0 - now, "50 requests a second"))
        return max(waits)

    def before(self, route: str) -> None:
        """Wait until ``route`` may be called (and count the call); raise a retryable
        :class:`DeliveryError` instead of waiting longer than ``max_wait``."""
        while True:
            with self._lock:
                key = self._key(route)
                now = self._clock()
                wait, why = self._wait(key, now)
                if wait <= 0:
                    bucket = self._buckets.get(key)
                    if bucket is not None:
                        if bucket.reset_at <= now:  # a new window: unknown until answered
                            del self._buckets[key]
                        else:
                            bucket.remaining -= 1
                    self._recent.append(now)
                    return
            if wait > self._max_wait:
                raise DeliveryError(
                    f"{route}: Discord's {why} allows the next call in {wait:.2f} s",
                    retry_after=wait,
                    route=f"discord:{route}",
                )
            self._sleep(wait)

    def after(self, route: str, status: int, headers: Mapping[str, str], body: Any) -> None:
        """Learn from an answer: its bucket, what is left of it, and a 429's wait."""
        template, major = split_route(route)
        info = body if isinstance(body, Mapping) else {}
        with self._lock:
            now = self._clock()
            bucket_hash = headers.get("x-ratelimit-bucket")
            if bucket_hash:
                self._hashes[template] = bucket_hash
            key = (self._hashes.get(template, template), major)
            remaining = _number(headers.get("x-ratelimit-remaining"))
            reset_after = _number(headers.get("x-ratelimit-reset-after"))
            if remaining is not None and reset_after is not None:
                self._buckets[key] = _Bucket(int(remaining), now + reset_after)
            if status != 429:
                return
            retry_after = _number(info.get("retry_after"))
            if retry_after is None:
                retry_after = _number(headers.get("retry-after")) or 1.0
            scope = headers.get("x-ratelimit-scope")
            if info.get("global") is True or scope == "global":
                self._global_until = max(self._global_until, now + retry_after)
            else:
                self._buckets[key] = _Bucket(0, now + retry_after)


__all__ = ["GLOBAL_PER_SECOND", "MAX_WAIT", "RateLimits", "split_route"]
