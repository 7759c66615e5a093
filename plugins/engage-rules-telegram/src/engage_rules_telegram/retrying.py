"""Bot API calls retried the way every connection of the adapter retries them: backoff
on failures, ``retry_after`` on a 429, a clear stop on a bad token (:mod:`.botapi`)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from .botapi import BotApiError
from .i18n import _


class Stopped(Exception):
    """The connection is stopping (asked to, or for a bad token)."""


class Retrier:
    """Runs calls until they succeed, sleeping on ``stop`` between attempts: an attempt
    after ``n`` failures in a row waits ``min(retry_max, retry_base * 2**(n-1))``."""

    def __init__(
        self,
        stop: threading.Event,
        log: logging.Logger,
        *,
        retry_base: float,
        retry_max: float,
        on_fatal: Callable[[str], None] | None = None,
    ) -> None:
        self.stop = stop
        self.log = log
        self.retry_base = retry_base
        self.retry_max = retry_max
        self.on_fatal = on_fatal
        #: Why the connection stopped for good (a bad token), else None.
        self.error: str | None = None
        self.failures = 0

    def call(self, call: Callable[[], Any]) -> Any:
        """``call()``, retried until it succeeds; raises :class:`Stopped` on a bad token
        or when ``stop`` is set."""
        while True:
            if self.stop.is_set():
                raise Stopped
            try:
                result = call()
            except BotApiError as err:
                if self.stop.is_set():
                    raise Stopped from None
                self.failed(err)
                continue
            self.failures = 0
            return result

    def failed(self, err: BotApiError) -> None:
        """Wait as ``err`` requires (or raise :class:`Stopped` for a bad token)."""
        if err.kind == "unauthorized":
            refused = (
                _(
                    "Telegram refused the bot token ({error}): check the token from "
                    "@BotFather (token_env) and base_url"
                )
                if err.status == 404
                else _(
                    "Telegram refused the bot token ({error}): check the token from "
                    "@BotFather (token_env)"
                )
            )
            self.fatal(refused.format(error=err))
            raise Stopped
        if err.kind == "rate_limited" and err.retry_after is not None:
            self.log.warning(
                _("telegram: %(error)s; retrying in %(delay)g s"),
                {"error": err, "delay": err.retry_after},
            )
            self.sleep(err.retry_after)
            return
        hint = ""
        if err.kind == "conflict":
            hint = " " + (
                _(
                    "(a webhook is set for this bot: set `polling: {delete_webhook: true}` "
                    "or use `mode: webhook`)"
                )
                if "webhook" in err.description.lower()
                else _("(another program is polling with this bot token: stop it)")
            )
        self.back_off(f"{err}{hint}")

    def back_off(self, why: str) -> None:
        self.failures += 1
        delay = min(self.retry_max, self.retry_base * 2 ** (self.failures - 1))
        self.log.warning(
            _("telegram: %(error)s; retrying in %(delay)g s"), {"error": why, "delay": delay}
        )
        self.sleep(delay)

    def sleep(self, seconds: float) -> None:
        if self.stop.wait(seconds):
            raise Stopped

    def fatal(self, message: str) -> None:
        """Stop for good with ``message`` (logged, and told to ``on_fatal``)."""
        self.error = message
        self.log.error("telegram: %s", message)
        self.stop.set()
        if self.on_fatal is not None:
            self.on_fatal(message)


__all__ = ["Retrier", "Stopped"]
