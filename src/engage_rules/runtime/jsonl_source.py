"""The jsonl source: events (docs/language.md, "Events"), one JSON object per line, from a
file or stdin.

The file is read from its start at every start-up; events already processed are
skipped by id (the store remembers them), so a restart loses and doubles nothing.  With
``follow: true`` the source keeps reading as the file grows.  A malformed line is
quarantined (logged with its line number and reason code) and the stream goes on; so is
a line the service loop refuses (``future_time``: dated too far ahead of the clock;
``beyond_dedup_window``: dated before what the store has forgotten of processed ids),
once the loop has decided it.  :attr:`JsonlReader.quarantined` counts both by reason.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import IO

from ..i18n import _
from ..model.event_problems import in_words
from ..model.events import EventError, parse_event
from .config import JsonlSource
from .intake import Intake, Outcome

log = logging.getLogger("engage_rules.runtime.jsonl")

FOLLOW_POLL_SECONDS = 0.2


class JsonlReader:
    """Reads events from a JSON Lines file or stdin into the intake."""

    def __init__(self, config: JsonlSource, intake: Intake, base_dir: str = ".") -> None:
        self.config = config
        self.intake = intake
        self.base_dir = base_dir
        self.read = 0
        self.quarantined: Counter[str] = Counter()
        self._lock = threading.Lock()  # quarantined is also counted on the loop's threads
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="engage-jsonl", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self.config.path != "-":
            self._thread.join(timeout=5)

    def _open(self) -> IO[bytes]:
        if self.config.path == "-":
            return sys.stdin.buffer
        path = Path(self.config.path)
        if not path.is_absolute():
            path = Path(self.base_dir) / path
        return open(path, "rb")

    def _run(self) -> None:
        try:
            stream = self._open()
        except OSError as err:
            log.error(
                _("jsonl source: cannot open %(path)s: %(error)s"),
                {"path": self.config.path, "error": err},
            )
            return
        line_no = 0
        partial = b""
        try:
            while not self._stop.is_set():
                chunk = stream.readline()
                if not chunk:
                    if not self.config.follow or self.config.path == "-":
                        break
                    time.sleep(FOLLOW_POLL_SECONDS)
                    continue
                if not chunk.endswith(b"\n") and self.config.follow:
                    partial += chunk  # a line still being written
                    continue
                line, partial = partial + chunk, b""
                line_no += 1
                if not line.strip():
                    continue
                try:
                    event = parse_event(line.rstrip(b"\r\n"))
                except EventError as err:
                    self._quarantine(line_no, err.reason, err.message)
                    continue
                self.read += 1
                future = self.intake.submit([event])
                if future.done() and future.exception() is not None:
                    break  # the runtime is stopping
                future.add_done_callback(self._outcome_of(line_no))
        except OSError as err:
            log.error(
                _("jsonl source: cannot read %(path)s: %(error)s"),
                {"path": self.config.path, "error": err},
            )
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()

    def _quarantine(self, line_no: int, reason: str, message: str) -> None:
        with self._lock:
            self.quarantined[reason] += 1
        log.warning(
            _("jsonl source: line %(line)d quarantined: %(reason)s: %(message)s"),
            {"line": line_no, "reason": reason, "message": in_words(message)},
        )

    def _outcome_of(self, line_no: int) -> Callable[[Future[Outcome]], None]:
        def done(future: Future[Outcome]) -> None:
            if future.cancelled() or future.exception() is not None:
                return  # the runtime stopped or failed: it says so itself
            outcome = future.result()
            if outcome.status == "quarantined":
                self._quarantine(line_no, outcome.reason or "", outcome.message or "")

        return done
