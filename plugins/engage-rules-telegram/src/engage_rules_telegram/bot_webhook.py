"""``mode: webhook``: an HTTP server for Telegram's own webhook calls.

Telegram POSTs each ``Update`` as JSON to the URL given to ``setWebhook``, with the
``X-Telegram-Bot-Api-Secret-Token`` header set to the ``secret_token`` given there.
Answers (each a JSON object with ``status``):

=====  ============================================================================
 200   the update is durable (committed), or was before (a redelivery: its key
       ``telegram-update:<bot id>:<update_id>`` is a processed id, so it is not
       processed twice), or it could not be read (logged with its update_id, and
       recorded, so Telegram does not send it forever), or the runtime refused it
       (quarantined, logged with its reason: sending it again would not help)
 400   the body is not a JSON object with an integer ``update_id``
 401   no secret token header;  403: a wrong one
 404   another path;  405: another method;  411: no ``Content-Length``
 408   the request was not complete within ``read_timeout``
 413   a body over ``max_body``;  431: headers over 16 KiB
 503   too many connections, the runtime is stopping, or the commit did not
       complete within ``commit_timeout``: Telegram retries later
=====  ============================================================================

Telegram retries an update until it gets a 2xx answer, so a 200 is answered only once
the update is durable.  Each connection has one request (the answer closes it): a slow
or silent client is cut off after ``read_timeout``, at most ``max_connections`` are
open at once, and headers and body are bounded.  The server's TLS is a reverse proxy's
job (Telegram only calls ``https://`` URLs on ports 443, 80, 88 and 8443).

Why not the runtime's webhook server (``engage_rules.runtime.webhook_source``): a plugin
imports engage_rules only through ``engage_rules.plugin_api``, and that server is built
around engage_rules' own signatures and keep-alive connections.  Telegram needs far
less (one request per connection, one header to compare), so this server keeps only the
defences against hostile clients: a deadline on the whole request, a connection cap,
bounded headers and body.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import socket
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any

from engage_rules.plugin_api import Event, Outcome, ServiceStopping, SourceContext

from .botapi import BotApi
from .connect_settings import BotWebhookSettings
from .i18n import _
from .retrying import Retrier, Stopped
from .updates import check_bot

SECRET_HEADER = "x-telegram-bot-api-secret-token"
MAX_HEAD = 16_384
#: How long a stopping server waits for the requests in progress to get their answers.
DRAIN_SECONDS = 2.0
#: After refusing a request it did not read to its end (413...), what the client still
#: sends is read and dropped for at most this long and this many bytes, so that the
#: client reads the answer rather than a connection reset.
LINGER_SECONDS = 2.0
LINGER_BYTES = 8 << 20

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    411: "Length Required",
    413: "Content Too Large",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
}


class _Answer(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class BotWebhook:
    """Serves Telegram's webhook calls on a thread of its own."""

    def __init__(
        self,
        api: BotApi,
        parse: Callable[[Mapping[str, Any]], list[Event]],
        context: SourceContext,
        settings: BotWebhookSettings,
        *,
        bot: str | None,
        allowed_updates: list[str],
        call_timeout: float = 10.0,
        retry_base: float = 1.0,
        retry_max: float = 60.0,
    ) -> None:
        self.api = api
        self.parse = parse
        self.context = context
        self.settings = settings
        self.bot = bot
        self.allowed_updates = allowed_updates
        self.call_timeout = call_timeout
        self.log = context.log
        self.secret = settings.secret_token.encode()
        self.counts: dict[str, int] = {}
        self._stop = threading.Event()
        self.retry = Retrier(
            self._stop, self.log, retry_base=retry_base, retry_max=retry_max, on_fatal=context.fail
        )
        host, port = settings.address()
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        # Bound now: a port in use fails the start-up, and port 0 is known.
        self._sock = socket.create_server((host, port), family=family, backlog=128)
        self.address: tuple[str, int] = tuple(self._sock.getsockname()[:2])
        self._open = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._ready = threading.Event()

    # -- life cycle ------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"telegram-webhook-{self.context.platform}", daemon=True
        )
        self._thread.start()
        self._ready.wait(10)

    def stop(self) -> None:
        """Stop accepting; requests in progress get their answers (returns at once)."""
        self._stop.set()
        self.api.abort()
        loop, stopped = self._loop, self._stopped
        if loop is not None and stopped is not None:
            with contextlib.suppress(RuntimeError):  # the loop has ended already
                loop.call_soon_threadsafe(stopped.set)

    def join(self, timeout: float = DRAIN_SECONDS) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def error(self) -> str | None:
        return self.retry.error

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except Exception as err:  # pragma: no cover - the loop itself failed
            self.retry.fatal(_("the Telegram webhook server failed: {error}").format(error=err))
        finally:
            self._ready.set()
            self._sock.close()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        server = await asyncio.start_server(self._connection, sock=self._sock, limit=MAX_HEAD)
        self._ready.set()
        host, port = self.address
        self.log.info(
            _("telegram: webhook listening on %(url)s"),
            {"url": f"http://{host}:{port}{self.settings.path}"},
        )
        setup = asyncio.create_task(asyncio.to_thread(self._set_up))
        await self._stopped.wait()
        server.close()
        setup.cancel()
        if self._tasks:  # requests in progress: their commits complete as the runtime stops
            await asyncio.wait(set(self._tasks), timeout=self.settings.commit_timeout)

    def _set_up(self) -> None:
        """``getMe`` (the token works, the bot's id), then ``setWebhook`` if asked."""
        try:
            me = self.retry.call(lambda: self.api.call("getMe", {}, timeout=self.call_timeout))
            self.bot = check_bot(me, self.bot, self.allowed_updates, self.log)
            s = self.settings
            if s.set_webhook:
                params = {
                    "url": s.url,
                    "secret_token": s.secret_token,
                    "allowed_updates": self.allowed_updates,
                    "max_connections": s.max_connections,
                    "drop_pending_updates": s.drop_pending_updates,
                }
                self.retry.call(
                    lambda: self.api.call("setWebhook", params, timeout=self.call_timeout)
                )
                self.log.info(_("telegram: webhook set to %(url)s"), {"url": s.url})
        except Stopped:
            pass

    # -- one connection, one request -------------------------------------------------------
    def count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._open += 1
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            read_all = False
            if self._open > self.settings.max_connections or self._stop.is_set():
                self.count("refused")
                status, body = 503, {"status": "unavailable", "reason": "too many connections"}
            else:
                status, body, read_all = await self._request(reader)
            data = json.dumps(body).encode()
            writer.write(
                f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode()
                + data
            )
            async with asyncio.timeout(self.settings.read_timeout):
                await writer.drain()
            if not read_all:
                await _linger(reader, writer)
        except (ConnectionError, TimeoutError, OSError):
            pass  # the client went away or would not read its answer
        finally:
            self._open -= 1
            if task is not None:
                self._tasks.discard(task)
            writer.close()

    async def _request(self, reader: asyncio.StreamReader) -> tuple[int, dict[str, Any], bool]:
        """(status, JSON body, whether the request was read to its end)."""
        try:
            async with asyncio.timeout(self.settings.read_timeout):
                body = await self._read(reader)
        except TimeoutError:
            self.count("read_timeout")
            return 408, {"status": "rejected", "reason": "request not complete in time"}, False
        except _Answer as a:
            self.count(f"http_{a.status}")
            return a.status, {"status": "rejected", "reason": a.reason}, False
        except (asyncio.IncompleteReadError, ConnectionError):
            raise ConnectionResetError from None
        status, answer = await self._update(body)
        return status, answer, True

    async def _read(self, reader: asyncio.StreamReader) -> bytes:
        """The body of a request that passed the checks of the head."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            raise _Answer(431, "request line and headers too large") from None
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise _Answer(400, "malformed request line")
        method, target = parts[0], parts[1]
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, sep, value = line.partition(":")
                if not sep:
                    raise _Answer(400, "malformed header line")
                headers.setdefault(name.strip().lower(), value.strip())
        if target.split("?", 1)[0] != self.settings.path:
            raise _Answer(404, "unknown path")
        if method != "POST":
            raise _Answer(405, "use POST")
        given = headers.get(SECRET_HEADER)
        if given is None:
            self.log.warning(_("telegram: webhook request without a secret token, refused"))
            raise _Answer(401, "missing X-Telegram-Bot-Api-Secret-Token")
        if not hmac.compare_digest(given.encode("latin-1"), self.secret):
            self.log.warning(_("telegram: webhook request with a wrong secret token, refused"))
            raise _Answer(403, "wrong X-Telegram-Bot-Api-Secret-Token")
        if "transfer-encoding" in headers:
            raise _Answer(411, "Content-Length required (no Transfer-Encoding)")
        length = headers.get("content-length")
        if length is None:
            raise _Answer(411, "Content-Length required")
        if not (length.isascii() and length.isdigit()):
            raise _Answer(400, "malformed Content-Length")
        if len(length) > 18 or int(length) > self.settings.max_body:
            raise _Answer(413, "body too large")
        return await reader.readexactly(int(length))

    async def _update(self, body: bytes) -> tuple[int, dict[str, Any]]:
        """Submit one update and answer once it is durable."""
        try:
            update = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            update = None
        uid = update.get("update_id") if isinstance(update, dict) else None
        if not isinstance(uid, int) or isinstance(uid, bool) or not isinstance(update, dict):
            self.count("bad_update")
            return 400, {"status": "rejected", "reason": "not an Update with an update_id"}
        try:
            events = self.parse(update)
        except Exception as err:  # PayloadError, or a parser that did not expect this
            self.count("unreadable")
            self.log.warning(
                _("telegram: update %(update)d could not be read, skipped: %(error)s"),
                {"update": uid, "error": err},
            )
            events = []
        key = f"telegram-update:{self.bot or self.context.platform}:{uid}"
        loop = asyncio.get_running_loop()
        try:  # submit() waits while the intake is full: not on the event loop
            future: Future[Outcome] = await loop.run_in_executor(
                None, lambda: self.context.submit(events, key=key)
            )
            outcome = await asyncio.wait_for(
                asyncio.shield(asyncio.wrap_future(future)), self.settings.commit_timeout
            )
        except TimeoutError:
            self.count("commit_timeout")
            return 503, {"status": "unavailable", "reason": "commit timed out; retry"}
        except ServiceStopping:
            return 503, {"status": "unavailable", "reason": "shutting down"}
        except Exception as err:  # the store failed
            return 503, {"status": "unavailable", "reason": str(err)}
        self.count(outcome.status)
        if outcome.status == "quarantined":
            self.log.warning(
                _("telegram: update %(update)d was quarantined: %(reason)s: %(message)s"),
                {"update": uid, "reason": outcome.reason, "message": outcome.message},
            )
        return 200, {"status": outcome.status}


async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Half-close, then drop what the client still sends (within bounds)."""
    try:
        async with asyncio.timeout(LINGER_SECONDS):
            if writer.can_write_eof():
                writer.write_eof()
            dropped = 0
            while dropped < LINGER_BYTES:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                dropped += len(chunk)
    except (TimeoutError, ConnectionError, OSError):
        pass


__all__ = ["SECRET_HEADER", "BotWebhook"]
