"""A small HTTP/1.1 JSON client for adapters: keep-alive connections, timeouts, and the
mapping of platform answers to :class:`~.base.Delivery` / :class:`~.base.DeliveryError`.

Status mapping (the adapter contract): 2xx delivered; 429 retryable, honouring
``Retry-After`` (seconds or an HTTP date); 408, 425 and 5xx retryable; any other 4xx
permanent (retrying cannot help); a connection or timeout error retryable.
"""

from __future__ import annotations

import http.client
import ssl
import threading
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from ..i18n import _
from .base import DeliveryError

RETRYABLE_4XX = frozenset({408, 425, 429})


@dataclass(frozen=True, slots=True)
class Response:
    """An HTTP response: status, lower-cased headers and body."""

    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """A ``Retry-After`` header as seconds from now (None if absent or unreadable)."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class HttpClient:
    """POSTs to one origin over keep-alive connections (one per calling thread)."""

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(_("{url!r} is not an http:// or https:// URL").format(url=base_url))
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.base_path = parts.path.rstrip("/")
        self.timeout = timeout
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def _connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self.scheme == "https":
                conn = http.client.HTTPSConnection(
                    self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
                )
            else:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> Response:
        """POST ``body`` to ``base_url + path``; raises a retryable DeliveryError when the
        server cannot be reached.  One retry on a stale keep-alive connection."""
        url_path = self.base_path + path or "/"
        all_headers = {"Content-Type": "application/json", **headers}
        try:
            return self._post_once(url_path, body, all_headers)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            pass  # the server closed an idle keep-alive connection: one more try
        try:
            return self._post_once(url_path, body, all_headers)
        except (OSError, http.client.HTTPException) as err:
            raise DeliveryError(
                f"cannot reach {self.host}:{self.port}: {err}", permanent=False
            ) from err

    def _post_once(self, url_path: str, body: bytes, headers: dict[str, str]) -> Response:
        conn = self._connection()
        try:
            conn.request("POST", url_path, body=body, headers=headers)
            raw = conn.getresponse()
            data = raw.read()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            self._drop()
            raise
        except (OSError, http.client.HTTPException) as err:
            self._drop()
            raise DeliveryError(
                f"cannot reach {self.host}:{self.port}: {err}", permanent=False
            ) from err
        if raw.will_close:
            self._drop()
        return Response(raw.status, {k.lower(): v for k, v in raw.getheaders()}, data)

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()


def raise_for_status(resp: Response, *, what: str, route: str | None = None) -> None:
    """Turn an error answer into a DeliveryError (nothing for 2xx)."""
    status = resp.status
    if 200 <= status < 300:
        return
    text = resp.body[:300].decode("utf-8", "replace")
    retry_after = retry_after_seconds(resp.headers.get("retry-after"))
    permanent = 400 <= status < 500 and status not in RETRYABLE_4XX
    raise DeliveryError(
        f"{what}: HTTP {status}: {text}",
        permanent=permanent,
        retry_after=retry_after if status == 429 or not permanent else None,
        status=status,
        route=route,
    )
