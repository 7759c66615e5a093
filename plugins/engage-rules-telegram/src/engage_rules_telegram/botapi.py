"""Bot API calls for receiving updates (``getMe``, ``getUpdates``, ``deleteWebhook``,
``setWebhook``), with an error that says what to do next.

Unlike :class:`~engage_rules_telegram.client.TelegramClient`, which delivers actions, a
call here can wait a long time (a ``getUpdates`` long poll holds the request for up to
its ``timeout``), so each call gets its own deadline, and :meth:`BotApi.abort` ends the
call in progress at once (a runtime that stops must not wait out a 30 second poll).

Every answer is classified by :class:`BotApiError.kind`:

==================  ==========================================================
``unauthorized``    401 (a revoked or mistyped token), 404 (a token that is no
                    token at all): polling stops, retrying cannot help
``conflict``        409: another ``getUpdates`` is running with this token, or a
                    webhook is set (``deleteWebhook`` first): retried with backoff
``rate_limited``    429: retried after ``parameters.retry_after``
``unavailable``     5xx, a network failure, an answer that is not a Bot API
                    answer (a proxy's error page): retried with backoff
``rejected``        any other error (400 with a bad parameter): retried with
                    backoff, as it cannot be told from a server-side fault
==================  ==========================================================

Error messages never contain the token.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import socket
import threading
from typing import Any, Literal
from urllib.parse import urlsplit

#: Bytes of one answer at most (100 updates are far less; more is not a Bot API answer).
MAX_ANSWER = 16 << 20

ErrorKind = Literal["unauthorized", "conflict", "rate_limited", "unavailable", "rejected"]


class BotApiError(Exception):
    """A Bot API call that failed; :attr:`kind` says whether and when to retry."""

    def __init__(
        self,
        method: str,
        description: str,
        kind: ErrorKind,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{method}: {description}")
        self.method = method
        self.description = description
        self.kind: ErrorKind = kind
        self.status = status
        self.retry_after = retry_after


class BotApi:
    """Bot API calls over HTTP(S), one connection per call (thread-safe)."""

    def __init__(self, token: str, base_url: str) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{base_url!r} is not an http:// or https:// URL")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = f"{parts.path.rstrip('/')}/bot{token}/"
        self._lock = threading.Lock()
        self._open: set[http.client.HTTPConnection] = set()
        self._aborted = False

    def call(self, method: str, params: dict[str, Any], *, timeout: float) -> Any:
        """``POST <base_url>/bot<token>/<method>`` with ``params`` as JSON; the answer's
        ``result``, else :class:`BotApiError`.  ``timeout``: seconds for the whole call
        (a long poll's own ``timeout`` plus a margin)."""
        conn: http.client.HTTPConnection
        if self._https:
            conn = http.client.HTTPSConnection(self._host, self._port, timeout=timeout)
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=timeout)
        try:
            # Connected before it is registered, so that abort() always has a socket
            # to shut down (or the call sees the abort and does not start).
            conn.connect()
            with self._lock:
                if self._aborted:
                    raise OSError("stopped")
                self._open.add(conn)
            conn.request(
                "POST",
                self._prefix + method,
                body=json.dumps(params).encode(),
                headers={"Content-Type": "application/json"},
            )
            response = conn.getresponse()
            status, body = response.status, response.read(MAX_ANSWER + 1)
            if len(body) > MAX_ANSWER:
                raise BotApiError(method, f"an answer over {MAX_ANSWER} bytes", "unavailable")
            retry_header = response.getheader("Retry-After")
        except (OSError, http.client.HTTPException) as err:
            reason = "the call timed out" if isinstance(err, TimeoutError) else str(err)
            raise BotApiError(
                method, f"could not reach Telegram: {reason or type(err).__name__}", "unavailable"
            ) from None
        finally:
            with self._lock:
                self._open.discard(conn)
            conn.close()
        return answer(method, status, body, retry_header)

    def abort(self) -> None:
        """End the calls in progress now (they raise ``unavailable``) and refuse more."""
        with self._lock:
            self._aborted = True
            conns = list(self._open)
        for conn in conns:
            sock = conn.sock
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def answer(method: str, status: int, body: bytes, retry_header: str | None = None) -> Any:
    """The ``result`` of a Bot API answer, or the :class:`BotApiError` it means."""
    try:
        decoded = json.loads(body)
    except ValueError:
        decoded = None
    if not isinstance(decoded, dict):
        kind: ErrorKind = "unauthorized" if status in (401, 404) else "unavailable"
        if status == 429:
            kind = "rate_limited"
        raise BotApiError(
            method,
            f"HTTP {status} with a body that is not a Bot API answer",
            kind,
            status=status,
            retry_after=_seconds(retry_header),
        )
    if 200 <= status < 300 and decoded.get("ok") is True:
        return decoded.get("result")
    code = decoded.get("error_code", status)
    code = code if isinstance(code, int) and not isinstance(code, bool) else status
    description = str(decoded.get("description") or f"HTTP {status}")[:500]
    parameters = decoded.get("parameters")
    parameters = parameters if isinstance(parameters, dict) else {}
    if code == 429 or status == 429:
        retry_after = _seconds(parameters.get("retry_after"))
        if retry_after is None:
            retry_after = _seconds(retry_header)
        raise BotApiError(method, description, "rate_limited", status=429, retry_after=retry_after)
    if code in (401, 404):
        kind = "unauthorized"
    elif code == 409:
        kind = "conflict"
    elif code >= 500 or status >= 500 or 200 <= status < 300:
        kind = "unavailable"  # a 200 without ``ok``: not a Bot API answer
    else:
        kind = "rejected"
    raise BotApiError(method, description, kind, status=code)


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


__all__ = ["BotApi", "BotApiError", "ErrorKind", "answer"]
