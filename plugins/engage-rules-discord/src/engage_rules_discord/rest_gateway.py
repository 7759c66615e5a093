"""The REST calls the gateway source makes before it connects.

* ``GET /applications/@me``: the application's id, which names the source's cursors
  (``discord:<application id>:<shard>``).  A 401 means the token is wrong.
* ``GET /gateway/bot``: the WSS URL, the recommended shard count and the session start
  limit (``total``, ``remaining``, ``reset_after`` ms, ``max_concurrency``): see
  https://discord.com/developers/docs/events/gateway#get-gateway-bot
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.client import HTTPException
from typing import Any

from .client import USER_AGENT
from .i18n import _


class RestError(Exception):
    """A REST call failed.  ``fatal``: retrying cannot help (the token was refused)."""

    def __init__(self, message: str, *, fatal: bool = False) -> None:
        super().__init__(message)
        self.fatal = fatal


@dataclass(frozen=True, slots=True)
class GatewayInfo:
    """What ``GET /gateway/bot`` says."""

    url: str
    shards: int
    remaining: int
    reset_after: float  # seconds until ``remaining`` is full again
    max_concurrency: int


def get_json(base_url: str, path: str, token: str, timeout: float) -> Any:
    """``GET base_url + path`` as the bot; its JSON body."""
    request = urllib.request.Request(
        base_url.rstrip("/") + path,
        headers={"Authorization": f"Bot {token}", "User-Agent": USER_AGENT},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
    except urllib.error.HTTPError as err:
        if err.code == 401:
            refused = _(
                "Discord refused the bot token (401 Unauthorized): check the token in the "
                "environment variable named by `token_env`"
            )
            raise RestError(f"GET {path}: {refused}", fatal=True) from None
        raise RestError(f"GET {path}: HTTP {err.code}") from None
    except (urllib.error.URLError, HTTPException, OSError) as err:
        reason = _("could not reach Discord: {reason}").format(reason=getattr(err, "reason", err))
        raise RestError(f"GET {path}: {reason}") from None
    try:
        return json.loads(raw)
    except ValueError:
        raise RestError(f"GET {path}: " + _("the answer is not JSON")) from None


def _positive_int(value: Any, default: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return default
    return value


def application_id(base_url: str, token: str, timeout: float) -> str:
    body = get_json(base_url, "/applications/@me", token, timeout)
    raw = body.get("id") if isinstance(body, dict) else None
    if not (isinstance(raw, str) and raw.isascii() and raw.isdigit()):
        raise RestError("GET /applications/@me: " + _("the answer has no application id"))
    return raw


def gateway_bot(base_url: str, token: str, timeout: float) -> GatewayInfo:
    body = get_json(base_url, "/gateway/bot", token, timeout)
    if not isinstance(body, dict) or not isinstance(body.get("url"), str) or not body["url"]:
        raise RestError("GET /gateway/bot: " + _("the answer has no gateway url"))
    limit = body.get("session_start_limit")
    limit = limit if isinstance(limit, dict) else {}
    remaining = limit.get("remaining")
    reset_after = limit.get("reset_after")
    return GatewayInfo(
        url=body["url"],
        shards=_positive_int(body.get("shards"), 1),
        remaining=remaining
        if isinstance(remaining, int) and not isinstance(remaining, bool)
        else 1,
        reset_after=(
            reset_after / 1000
            if isinstance(reset_after, int | float) and not isinstance(reset_after, bool)
            else 0.0
        ),
        max_concurrency=_positive_int(limit.get("max_concurrency"), 1),
    )


__all__ = ["GatewayInfo", "RestError", "application_id", "gateway_bot", "get_json"]
