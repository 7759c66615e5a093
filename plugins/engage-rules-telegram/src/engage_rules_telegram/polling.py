"""``mode: polling``: read updates with ``getUpdates`` long polling, exactly once.

The offset is committed with the engine's transaction: every update is submitted with
``cursor=("telegram:<bot id>", "<update_id>")``, and the next ``getUpdates`` asks for
``offset = last update_id + 1`` only once every submission of the previous batch is
durable.  Telegram forgets the updates below the offset it is sent, so an update is
confirmed to Telegram only after it is committed; and at start the poller asks for
``offset = committed cursor + 1``.  After a crash (even ``kill -9``), the updates that
were not committed come again and those that were do not.

An update that cannot be read is logged with its ``update_id`` and its cursor still
committed (with no events), so one bad update never stalls the bot.

Failures (:mod:`.retrying`): a network failure, a 5xx, a 409 Conflict and any other
error back off exponentially (``retry_base`` doubling up to ``retry_max``); a 429 waits
its ``retry_after``; a 401 (a bad token) stops polling and reports the error through
``on_fatal`` (the runtime stops with that message).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_EXCEPTION, Future, wait
from typing import Any

from engage_rules.plugin_api import Event, Outcome, ServiceStopping, SourceContext

from .botapi import BotApi
from .connect_settings import PollingSettings
from .i18n import _
from .retrying import Retrier, Stopped
from .updates import check_bot

#: Seconds a getUpdates call may take beyond its long-poll ``timeout``.
HTTP_MARGIN = 10.0
#: How long :meth:`Poller.stop` waits for the polling thread.
STOP_WAIT = 5.0
#: How often a wait for submissions checks whether the poller is stopping.
WAIT_TICK = 0.2


class Poller:
    """One bot's ``getUpdates`` loop on a thread of its own."""

    def __init__(
        self,
        api: BotApi,
        parse: Callable[[Mapping[str, Any]], list[Event]],
        context: SourceContext,
        settings: PollingSettings,
        *,
        bot: str | None,
        allowed_updates: list[str],
        call_timeout: float = 10.0,
        on_fatal: Callable[[str], None] | None = None,
    ) -> None:
        self.api = api
        self.parse = parse
        self.context = context
        self.settings = settings
        self.bot = bot
        self.allowed_updates = allowed_updates
        self.call_timeout = call_timeout
        self.on_fatal = on_fatal
        self.log = context.log
        #: Updates submitted, and those among them that could not be read.
        self.submitted = 0
        self.unreadable = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.retry = Retrier(
            self._stop,
            self.log,
            retry_base=settings.retry_base,
            retry_max=settings.retry_max,
            on_fatal=on_fatal,
        )

    # -- life cycle ------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"telegram-poll-{self.context.platform}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop polling: the call in progress is ended, no more is submitted, and what
        was submitted is left to the runtime to commit (returns at once)."""
        self._stop.set()
        self.api.abort()

    def join(self, timeout: float = STOP_WAIT) -> None:
        """Wait for the polling thread to end (after :meth:`stop`)."""
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def error(self) -> str | None:
        """Why polling stopped for good (a bad token), else None."""
        return self.retry.error

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _run(self) -> None:
        try:
            self._prepare()
            offset = self._start_offset()
            while not self._stop.is_set():
                offset = self._poll_once(offset)
        except Stopped:
            pass
        except Exception as err:  # a bug: say so rather than die silently
            self.retry.fatal(
                _("Telegram polling failed: {error}").format(error=f"{type(err).__name__}: {err}")
            )

    # -- steps -----------------------------------------------------------------------------
    @property
    def cursor_name(self) -> str:
        return f"telegram:{self.bot}"

    def _prepare(self) -> None:
        """``getMe`` (the token works; the bot's id when the token does not show it),
        then ``deleteWebhook`` when the operator asked for it."""
        me = self.retry.call(lambda: self.api.call("getMe", {}, timeout=self.call_timeout))
        self.bot = check_bot(me, self.bot, self.allowed_updates, self.log)
        if self.settings.delete_webhook:
            params = {"drop_pending_updates": self.settings.drop_pending_updates}
            self.retry.call(
                lambda: self.api.call("deleteWebhook", params, timeout=self.call_timeout)
            )
            self.log.info(_("telegram: deleted the bot's webhook before polling"))

    def _start_offset(self) -> int | None:
        committed = self.context.cursor(self.cursor_name)
        if committed is None:
            return None
        try:
            return int(committed) + 1
        except ValueError:
            self.log.warning(
                _(
                    "telegram: the stored cursor %(cursor)s is %(value)r, not an update id; "
                    "polling from what Telegram kept"
                ),
                {"cursor": self.cursor_name, "value": committed[:40]},
            )
            return None

    def _poll_once(self, offset: int | None) -> int | None:
        """One ``getUpdates`` call and the commit of what it returned: the next offset."""
        params: dict[str, Any] = {
            "timeout": self.settings.timeout,
            "limit": self.settings.limit,
            "allowed_updates": self.allowed_updates,
        }
        if offset is not None:
            params["offset"] = offset
        timeout = self.settings.timeout + self.call_timeout + HTTP_MARGIN
        result = self.retry.call(lambda: self.api.call("getUpdates", params, timeout=timeout))
        if not isinstance(result, list):
            self.retry.back_off(
                _("getUpdates answered {kind}, not a list of updates").format(
                    kind=type(result).__name__
                )
            )
            return offset
        futures: list[Future[Outcome]] = []
        last = offset
        for update in result:
            update_id = _update_id(update)
            if update_id is None:
                self.log.warning(_("telegram: skipped an update without an integer update_id"))
                continue
            if last is not None and update_id < last:
                continue  # below the offset: already committed
            if self._stop.is_set():
                break
            futures.append(self._submit(update, update_id))
            last = update_id + 1
        if futures and not self._durable(futures):
            raise Stopped
        if last == offset and result:
            self.retry.back_off(_("getUpdates returned no update that could be read"))
        return last

    def _submit(self, update: Any, update_id: int) -> Future[Outcome]:
        try:
            events = self.parse(update)
        except Exception as err:  # PayloadError, or a parser that did not expect this
            self.unreadable += 1
            self.log.warning(
                _("telegram: update %(update)d could not be read, skipped: %(error)s"),
                {"update": update_id, "error": err},
            )
            events = []
        self.submitted += 1
        return self.context.submit(events, cursor=(self.cursor_name, str(update_id)))

    def _durable(self, futures: list[Future[Outcome]]) -> bool:
        """Wait until every submission is committed; False if the runtime is stopping
        (or failed) first."""
        pending = set(futures)
        while pending:
            done, pending = wait(pending, WAIT_TICK, return_when=FIRST_EXCEPTION)
            for future in done:
                err = future.exception()
                if err is None:
                    outcome = future.result()
                    if outcome.status == "quarantined":
                        self.log.warning(
                            _("telegram: an update was quarantined: %(reason)s: %(message)s"),
                            {"reason": outcome.reason, "message": outcome.message},
                        )
                    continue
                if not isinstance(err, ServiceStopping):
                    self.log.error(
                        _("telegram: an update was not committed: %(error)s"), {"error": err}
                    )
                return False
            if pending and self._stop.is_set():
                return False
        return True


def _update_id(update: Any) -> int | None:
    if not isinstance(update, dict):
        return None
    value = update.get("update_id")
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


__all__ = ["Poller"]
