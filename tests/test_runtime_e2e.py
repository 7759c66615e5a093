"""End to end: ``engage-rules run`` as a real subprocess, a webhook source, a local
stand-in for the platform API; kill -9 mid-stream and restart; SIGTERM.

Guarantees checked: every event answered 202 is processed exactly once (the points it
earns are in the ledger once), every action reaches the platform, and an action reaches
it twice only if the restarted runtime logged it as a possible duplicate.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from engage_rules.store.sqlite import SQLiteStore
from engage_rules.testing import RecordingPlatform, event_obj, now, post_signed, wait_for
from runtime_helpers import ENV, HOOK_SECRET, PLATFORM_SECRET, write_setup

pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals"),
    pytest.mark.e2e,
    pytest.mark.subprocess,
]

LISTENING = re.compile(r"webhook source listening on http://127\.0\.0\.1:(\d+)/events")


class Runtime:
    """``engage-rules run --config`` in a subprocess, its stderr collected."""

    def __init__(self, config: Path) -> None:
        env = {**os.environ, **ENV, "ENGAGE_RULES_LOAD_PLUGINS": ""}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "engage_rules", "run", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        self.lines: list[str] = []
        self.port: int | None = None
        self.url = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        wait_for(lambda: self.port is not None or self.proc.poll() is not None, 60)
        if self.port is None:
            raise AssertionError("the runtime did not start:\n" + self.stderr())

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)
            m = LISTENING.search(line)
            if m:
                self.url = f"http://127.0.0.1:{m.group(1)}/events"
                self.port = int(m.group(1))

    def stderr(self) -> str:
        return "".join(self.lines)

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self._reader.join(10)

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(60)
        self._reader.join(10)
        return code


def post(url: str, n: int, *, secret: str = HOOK_SECRET, **kw: Any) -> tuple[int, Any]:
    """Post event n, a message by one of five members, signed with ``secret``."""
    message = event_obj("message.posted", f"u{n % 5}", now(), id=f"evt-{n}", text=f"post {n}")
    return post_signed(url, message, secret, **kw)


def try_post(url: str, n: int) -> int | None:
    """Post event n; its status, None if refused."""
    try:
        return post(url, n, delivery=f"delivery-{n}-{time.monotonic_ns()}")[0]
    except (OSError, http.client.HTTPException):  # refused, reset, or cut mid-answer
        return None


def points(tmp_path: Path) -> dict[str, int]:
    store = SQLiteStore(tmp_path / "state.db")
    try:
        members = store.open().load_all_members().community("default").members
        return {mid: m.balances.get("points", 0) for mid, m in members.items()}
    finally:
        store.close()


def outbox_statuses(tmp_path: Path) -> Counter[str]:
    store = SQLiteStore(tmp_path / "state.db")
    try:
        return Counter(i.status for i in store.outbox())
    finally:
        store.close()


def test_kill_9_mid_stream_then_restart_loses_and_doubles_nothing(tmp_path: Path) -> None:
    total = 120
    # Each platform call takes a little time, so that a backlog builds up.
    with RecordingPlatform(secret=PLATFORM_SECRET, delay=0.004) as platform:
        config = write_setup(tmp_path, platform.url)
        first = Runtime(config)
        accepted: set[int] = set()
        lock = threading.Lock()
        killed = threading.Event()

        def send(n: int) -> None:
            status = try_post(first.url, n)
            with lock:
                if status == 202:
                    accepted.add(n)
                    if len(accepted) == 50 and not killed.is_set():
                        killed.set()
                        first.kill9()

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(send, range(total)))
        if not killed.is_set():
            first.kill9()
        assert 50 <= len(accepted) < total
        delivered_before_crash = len(platform.calls)

        second = Runtime(config)
        answers: dict[int, int | None] = {}
        for n in range(total):  # the sender retries everything it was not sure of
            answers[n] = try_post(second.url, n)
        for n in accepted:  # and accepted ones come back as duplicates
            assert answers[n] == 200, (n, answers[n])
        # unanswered ones may have been committed just before the kill: then duplicates
        assert all(answers[n] in (200, 202) for n in set(range(total)) - accepted)

        expected = total  # one reply per event
        wait_for(lambda: len(set(platform.keys())) >= expected, 60)
        assert second.terminate() == 0
    log = second.stderr()
    assert "Traceback" not in log, log
    replies = [c for c in platform.calls if c["type"] == "reply"]
    assert sorted({c["cause"] for c in replies}) == sorted(f"evt-{n}" for n in range(total))
    counts = Counter(c["key"] for c in replies)
    doubled = {k for k, c in counts.items() if c > 1}
    logged = set(re.findall(r"possible duplicate: action (\w+)", log))
    assert doubled <= logged, (doubled, logged)
    assert all(c <= 2 for c in counts.values())
    # every event processed once: one point per post, in the ledger
    assert sum(points(tmp_path).values()) == total
    assert outbox_statuses(tmp_path) == Counter({"delivered": 2 * total})
    assert platform.bad_signatures == 0
    assert delivered_before_crash <= len(platform.calls)


def test_sigterm_commits_what_was_accepted_flushes_deliveries_and_exits_0(tmp_path: Path) -> None:
    # Each platform call takes a little time, so that a backlog builds up.
    with RecordingPlatform(secret=PLATFORM_SECRET, delay=0.004) as platform:
        runtime = Runtime(write_setup(tmp_path, platform.url))
        url = runtime.url
        statuses = [try_post(url, n) for n in range(30)]
        assert statuses == [202] * 30
        # forged, stale and replayed requests change nothing
        assert post(url, 100, secret="forged-secret-000000")[0] == 401
        assert post(url, 101, timestamp=time.time() - 3600)[0] == 401
        assert post(url, 102, delivery="once")[0] == 202
        assert post(url, 102, delivery="once")[0] == 409
        assert post(url, 103, delivery="once")[0] == 409
        assert runtime.terminate() == 0
        assert sorted(c["cause"] for c in platform.calls) == sorted(
            f"evt-{n}" for n in [*range(30), 102]
        )
    log = runtime.stderr()
    assert "SIGTERM received" in log and "stopped: 31 events accepted" in log
    assert "2 replayed" in log
    assert outbox_statuses(tmp_path) == Counter({"delivered": 62})
    assert try_post(url, 99) is None  # no longer listening
    # The live runtime keeps rule traces by default: `explain` answers from the store.
    store = SQLiteStore(tmp_path / "state.db")
    try:
        traces = store.traces(event="evt-7")
        assert [t["type"] for t in traces] == ["message.posted"]
        assert {r["outcome"] for r in traces[0]["rules"]} >= {"fired"}
        assert len({t["event"] for t in store.traces()}) == 31
        assert sum(n for *_, n in store.activity()) == 31
    finally:
        store.close()


def test_platform_outage_is_retried_until_delivered(tmp_path: Path) -> None:
    with RecordingPlatform(secret=PLATFORM_SECRET, fail_next=5) as platform:  # five 503s
        runtime = Runtime(write_setup(tmp_path, platform.url))
        assert try_post(runtime.url, 1) == 202
        wait_for(lambda: len(platform.calls) == 1, 60)
        assert runtime.terminate() == 0
    assert "retry 5" in runtime.stderr()
    store = SQLiteStore(tmp_path / "state.db")
    try:
        reply = next(i for i in store.outbox() if i.action.type == "reply")
        assert (reply.status, reply.attempts) == ("delivered", 6)
    finally:
        store.close()
