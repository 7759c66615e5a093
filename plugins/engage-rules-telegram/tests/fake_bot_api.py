"""A Bot API server on 127.0.0.1 that speaks the protocol the poller relies on.

What it does, as https://core.telegram.org/bots/api#getupdates describes:

* ``getUpdates``: the updates with ``update_id >= offset`` (all kept ones without an
  offset), at most ``limit``; with none, the call is held until one arrives or its
  ``timeout`` passes (long polling), then ``[]``.  "An update is considered confirmed as
  soon as getUpdates is called with an offset higher than its update_id": those are
  forgotten.  ``allowed_updates`` filters by type (an empty list: every type except
  ``chat_member``, ``message_reaction`` and ``message_reaction_count``), and is kept
  for the next calls when left out.
* A second ``getUpdates`` while one is held ends the first with 409 "Conflict:
  terminated by other getUpdates request"; with a webhook set, 409 "Conflict: can't use
  getUpdates method while webhook is active".
* ``getMe``, ``deleteWebhook``, ``setWebhook``; ``sendMessage`` and the other methods
  are recorded and answered ``ok``.
* A wrong token: 401 Unauthorized.
* :meth:`FakeBotApi.fail_next` scripts the next answers of a method (429 with
  ``parameters.retry_after``, 5xx, 409...).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_EXCLUDED = {"chat_member", "message_reaction", "message_reaction_count"}


class FakeBotApi:
    """The server's state; use :func:`fake_bot_api` to run it."""

    def __init__(self, token: str, *, bot: dict[str, Any] | None = None) -> None:
        self.token = token
        self.bot = bot or {
            "id": int(token.split(":", 1)[0]),
            "is_bot": True,
            "first_name": "Fans Bot",
            "username": "fans_test_bot",
            "can_join_groups": True,
            "can_read_all_group_messages": True,
            "supports_inline_queries": False,
        }
        self.cv = threading.Condition()
        self.pending: deque[dict[str, Any]] = deque()
        self.next_id = 100_000
        self.allowed: list[str] | None = None
        self.webhook: dict[str, Any] | None = None
        #: Every call: (method, JSON body), in order.
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.failures: dict[str, deque[tuple[int, Any]]] = {}
        #: How many times each update id was returned by getUpdates.
        self.delivered: Counter[int] = Counter()
        self._poll_generation = 0
        self.url = ""

    # -- the test's side ---------------------------------------------------------------
    def add(self, update: dict[str, Any], *, keep_id: bool = False) -> int:
        """Queue an update under the next ``update_id`` (or, with ``keep_id``, its own);
        its id."""
        with self.cv:
            if not keep_id:
                update = {**update, "update_id": self.next_id}
            uid = update["update_id"]
            if isinstance(uid, int):
                self.next_id = max(self.next_id, uid + 1)
            self.pending.append(update)
            self.cv.notify_all()
        return uid if isinstance(uid, int) else -1

    def fail_next(self, method: str, status: int, body: Any, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` are answered ``status`` with ``body``
        (JSON, or a ``str`` sent as an HTML page, like a proxy's)."""
        with self.cv:
            queue = self.failures.setdefault(method, deque())
            for _ in range(times):
                queue.append((status, body))

    def calls_of(self, method: str) -> list[dict[str, Any]]:
        with self.cv:
            return [body for m, body in self.calls if m == method]

    def confirmed_below(self) -> int:
        """The lowest update id still kept (everything below was confirmed)."""
        with self.cv:
            return self.pending[0]["update_id"] if self.pending else self.next_id

    # -- the protocol ------------------------------------------------------------------
    def handle(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        prefix = f"/bot{self.token}/"
        if not path.startswith(prefix):
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        method = path[len(prefix) :]
        with self.cv:
            self.calls.append((method, body))
            scripted = self.failures.get(method)
            if scripted:
                return scripted.popleft()
        if method == "getUpdates":
            return self._get_updates(body)
        if method == "getMe":
            return 200, {"ok": True, "result": self.bot}
        if method == "deleteWebhook":
            with self.cv:
                self.webhook = None
                if body.get("drop_pending_updates"):
                    self.pending.clear()
            return 200, {"ok": True, "result": True, "description": "Webhook was deleted"}
        if method == "setWebhook":
            with self.cv:
                self.webhook = body
                self._poll_generation += 1  # a held getUpdates ends
                self.cv.notify_all()
            return 200, {"ok": True, "result": True, "description": "Webhook was set"}
        return 200, {"ok": True, "result": {"message_id": len(self.calls)}}

    def _get_updates(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        offset = body.get("offset")
        limit = body.get("limit", 100)
        timeout = float(body.get("timeout", 0))
        with self.cv:
            if self.webhook is not None:
                return _conflict(
                    "can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first"
                )
            if "allowed_updates" in body:
                self.allowed = list(body["allowed_updates"])
            if isinstance(offset, int):
                while self.pending and _id(self.pending[0]) < offset:
                    self.pending.popleft()  # confirmed
            self._poll_generation += 1
            generation = self._poll_generation
            self.cv.notify_all()  # a held call of another poller ends with a conflict
            deadline = time.monotonic() + timeout
            while True:
                if generation != self._poll_generation:
                    return _conflict(
                        "terminated by other getUpdates request; make sure that only one "
                        "bot instance is running"
                    )
                ready = [u for u in self.pending if self._wanted(u)][:limit]
                if ready:
                    self.delivered.update(_id(u) for u in ready)
                    return 200, {"ok": True, "result": ready}
                left = deadline - time.monotonic()
                if left <= 0:
                    return 200, {"ok": True, "result": []}
                self.cv.wait(left)

    def _wanted(self, update: dict[str, Any]) -> bool:
        kinds = set(update) - {"update_id"}
        if self.allowed is None or self.allowed == []:
            return not kinds & DEFAULT_EXCLUDED
        return bool(kinds & set(self.allowed)) or not kinds


def _id(update: dict[str, Any]) -> int:
    uid = update.get("update_id")
    return uid if isinstance(uid, int) else -1


def _conflict(description: str) -> tuple[int, dict[str, Any]]:
    return 409, {"ok": False, "error_code": 409, "description": f"Conflict: {description}"}


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        status, answer = self.server.api.handle(self.path, body if isinstance(body, dict) else {})
        html = isinstance(answer, str)
        data = answer.encode() if html else json.dumps(answer).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "text/html" if html else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the poller went away (stopped, or killed)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, api: FakeBotApi) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.api = api

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A poller killed mid-request resets its connection: not an error here."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextmanager
def fake_bot_api(token: str) -> Iterator[FakeBotApi]:
    """A running fake Bot API for ``token``; its ``url`` is the ``base_url`` to use."""
    api = FakeBotApi(token)
    server = _Server(api)
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        with api.cv:
            api._poll_generation += 1  # end held polls
            api.cv.notify_all()
        server.shutdown()
        server.server_close()
        thread.join(5)
