"""OneBot v11's HTTP POST events (communication/http-post.md): the implementation POSTs
each event as JSON to a URL of ours.

When a ``secret`` is set, every request must carry ``X-Signature: sha1=<hex>``, the
HMAC-SHA1 of the body with the secret: a missing signature is answered 401, a wrong one
403, and neither is read.  A body that is not JSON is answered 400.  An event is
answered 204 once the transaction holding its events is durable (the implementation
does not retry, so the answer only tells it the event was taken); a payload the adapter
cannot read is logged and answered 204 too, since sending it again cannot help.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BufferedIOBase

from engage_rules.plugin_api import ServiceStopping

from .connection import Intake
from .i18n import _

MAX_BODY = 1024 * 1024
#: How long a request waits for its events to be committed.
COMMIT_WAIT = 30.0


def signature_ok(secret: str, body: bytes, header: str) -> bool:
    """True when ``header`` is ``sha1=<HMAC-SHA1 of body with secret>``."""
    expected = "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
    return hmac.compare_digest(expected, header.strip())


class HttpPostSource:
    """An HTTP server receiving OneBot events on ``path``."""

    def __init__(self, host: str, port: int, path: str, secret: str | None, intake: Intake) -> None:
        source = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # the http.server name
                status, text = source.receive(
                    self.path, self.headers.get("Content-Length"), self.headers, self.rfile
                )
                body = text.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                if body:
                    self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                intake.context.log.debug("onebot http: " + format, *args)

        self._path = path
        self._secret = secret
        self._intake = intake
        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.address: tuple[str, int] = self._server.server_address[:2]  # type: ignore[assignment]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="onebot-http", daemon=True
        )

    def receive(
        self, path: str, length: str | None, headers: Message, stream: BufferedIOBase
    ) -> tuple[int, str]:
        """One POST → (status, text)."""
        if path.split("?", 1)[0].rstrip("/") != self._path.rstrip("/"):
            return 404, "no OneBot endpoint here\n"
        try:
            size = int(length or "")
        except ValueError:
            return 411, "Content-Length is required\n"
        if not 0 <= size <= MAX_BODY:
            return 413, f"an event is at most {MAX_BODY} bytes\n"
        body = stream.read(size)
        if self._secret:
            given = headers.get("X-Signature")
            if not given:
                return 401, "X-Signature is missing\n"
            if not signature_ok(self._secret, body, str(given)):
                return 403, "X-Signature does not match the body\n"
        try:
            payload = json.loads(body)
        except ValueError:
            return 400, "the body is not JSON\n"
        try:
            future = self._intake.handle(payload)
            if future is not None:
                future.result(COMMIT_WAIT)
        except ServiceStopping:
            return 503, "the runtime is stopping\n"
        except TimeoutError:
            return 503, "the event was not committed in time\n"
        return 204, ""

    def start(self) -> None:
        self._thread.start()
        host, port = self.address
        self._intake.context.log.info(
            _("OneBot HTTP POST events on http://%s:%d%s"), host, port, self._path
        )

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


__all__ = ["HttpPostSource", "signature_ok"]
