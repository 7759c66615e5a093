"""Stands for the runtime in the tests of one source: a :class:`SourceContext` whose
submissions commit at once, or when the test says."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

from engage_rules.plugin_api import Event, Outcome, SourceContext


class Context:
    """Stands for the runtime: commits at once (or, with ``hold``, when told to)."""

    def __init__(self, cursors: dict[str, str] | None = None, *, hold: bool = False) -> None:
        self.cursors = dict(cursors or {})
        self.submissions: list[tuple[list[Event], tuple[str, str] | None]] = []
        self.held: list[tuple[Future[Outcome], tuple[str, str] | None]] = []
        self.hold = hold
        self.lock = threading.Lock()

    def source_context(self, fail: Callable[[str], None] | None = None) -> SourceContext:
        return SourceContext(
            platform="telegram",
            event_types=frozenset({"message.posted", "member.joined"}),
            submitter=self.submit,
            cursors=self.cursors,
            clock=time.time,
            log=logging.getLogger("test.telegram"),
            fail=fail or (lambda message: None),
        )

    def submit(
        self,
        events: list[Event],
        key: str | None = None,
        *,
        cursor: tuple[str, str] | None = None,
    ) -> Future[Outcome]:
        future: Future[Outcome] = Future()
        with self.lock:
            self.submissions.append((events, cursor))
            if self.hold:
                self.held.append((future, cursor))
                return future
        self._commit(future, cursor)
        return future

    def _commit(self, future: Future[Outcome], cursor: tuple[str, str] | None) -> None:
        if cursor is not None:
            self.cursors[cursor[0]] = cursor[1]
        future.set_result(Outcome("accepted"))

    def release(self) -> None:
        with self.lock:
            held, self.held = self.held, []
        for future, cursor in held:
            self._commit(future, cursor)

    def ids(self) -> list[str]:
        with self.lock:
            return [e.id for events, _ in self.submissions for e in events]

    def fail_held(self, err: BaseException) -> None:
        """The runtime refuses what is held (it stopped before taking it)."""
        with self.lock:
            held, self.held = self.held, []
        for future, _ in held:
            future.set_exception(err)
