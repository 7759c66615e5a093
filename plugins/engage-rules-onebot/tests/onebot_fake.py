"""A fake OneBot v11 implementation on 127.0.0.1 for the tests: it speaks the protocol
of github.com/botuniverse/onebot-11 (communication/ws.md, ws-reverse.md, http.md) the way
NapCat or go-cqhttp do — a forward WebSocket server checking the access token, a
reverse WebSocket client sending ``X-Self-ID`` and ``X-Client-Role``, and an HTTP API —
and answers API calls ``{"status", "retcode", "data", "echo"}``, recording each."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.client import ClientConnection, connect
from websockets.sync.server import ServerConnection, serve

SELF_ID = 10001000


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until ``check()`` holds (polling); fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not come true in time")
        time.sleep(0.01)


class Implementation:
    """The API side every transport shares: answers calls and records them."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        #: action → the retcode to answer with (default 0).
        self.retcodes: dict[str, int] = {}
        self._next_id = 1000
        self._lock = threading.Lock()
        #: Set: API calls get no answer at all (a hung implementation).
        self.silent = threading.Event()

    def answer(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.calls.append((action, params))
            self._next_id += 1
            message_id = self._next_id
        retcode = self.retcodes.get(action, 0)
        if retcode != 0:
            return {"status": "failed", "retcode": retcode, "data": None, "wording": "失败"}
        data = {"message_id": message_id} if action.startswith("send_") else None
        return {"status": "ok", "retcode": 0, "data": data}

    def actions(self) -> list[str]:
        with self._lock:
            return [a for a, _ in self.calls]

    def serve_api(self, conn: ClientConnection | ServerConnection) -> None:
        """Answer API calls arriving on ``conn`` until it closes."""
        try:
            for raw in conn:
                message = json.loads(raw)
                if self.silent.is_set():
                    continue
                reply = self.answer(message["action"], message.get("params") or {})
                conn.send(json.dumps({**reply, "echo": message.get("echo")}))
        except ConnectionClosed:
            pass


class ForwardServer(Implementation):
    """The implementation's WebSocket server (``ws://127.0.0.1:<port>/``)."""

    def __init__(self, token: str | None = "s3cret") -> None:
        super().__init__()
        self.token = token
        self.connections: list[ServerConnection] = []
        self.refused = 0
        self._server = serve(self._handle, "127.0.0.1", 0, process_request=self._check)
        self.port: int = self._server.socket.getsockname()[1]
        self.url = f"ws://127.0.0.1:{self.port}/"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _check(self, conn: ServerConnection, request: Request) -> Response | None:
        if self.token and request.headers.get("Authorization") != f"Bearer {self.token}":
            self.refused += 1
            return conn.respond(401, "unauthorized\n")
        return None

    def _handle(self, conn: ServerConnection) -> None:
        self.connections.append(conn)
        self.serve_api(conn)

    def open(self) -> list[ServerConnection]:
        return [c for c in self.connections if c.state.name == "OPEN"]

    def push(self, payload: Mapping[str, Any]) -> None:
        """Send an event on every open connection."""
        for conn in self.open():
            conn.send(json.dumps(payload, ensure_ascii=False))

    def drop(self) -> None:
        """Close every connection (the implementation restarted, the network broke)."""
        for conn in self.open():
            conn.close()

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join(5)


class ReverseClient(Implementation):
    """The implementation connecting to our reverse WebSocket URL."""

    def __init__(self, url: str, headers: Mapping[str, str]) -> None:
        super().__init__()
        self._stack = ExitStack()
        self.conn = self._stack.enter_context(connect(url, additional_headers=dict(headers)))
        self._thread = threading.Thread(target=self.serve_api, args=(self.conn,), daemon=True)
        self._thread.start()

    def push(self, payload: Mapping[str, Any]) -> None:
        self.conn.send(json.dumps(payload, ensure_ascii=False))

    def close(self) -> None:
        self._stack.close()
        self._thread.join(5)


class HttpApi(Implementation):
    """The implementation's HTTP API (``POST /<action>`` with a JSON body)."""

    def __init__(self, token: str | None = None) -> None:
        super().__init__()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the http.server name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if token and self.headers.get("Authorization") != f"Bearer {token}":
                    status, out = 401, b""
                else:
                    status = 200
                    reply = fake.answer(self.path.strip("/"), json.loads(body or b"{}"))
                    out = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def group_message(
    message_id: int, text: str, user_id: int = 20002000, group_id: int = 123456
) -> dict[str, Any]:
    """A group message event as OneBot v11 documents it (event/message.md), sent now."""
    return {
        "time": int(time.time()),
        "self_id": SELF_ID,
        "post_type": "message",
        "message_type": "group",
        "sub_type": "normal",
        "message_id": message_id,
        "group_id": group_id,
        "user_id": user_id,
        "anonymous": None,
        "message": [{"type": "text", "data": {"text": text}}],
        "raw_message": text,
        "font": 0,
        "sender": {"user_id": user_id, "nickname": f"member{user_id}", "role": "member"},
    }
