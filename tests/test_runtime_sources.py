"""Adapters that connect by themselves (adapters/sources.py): the runtime starts their
sources, and the cursor each delivery carries is committed with its transaction, so a
restarted source starts where the store is."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from engage_rules.adapters.base import Delivery
from engage_rules.adapters.sources import Outcome, SourceContext, playbook_event_types
from engage_rules.api import load, load_text
from engage_rules.errors import ServiceStopping, SetupError
from engage_rules.model.events import Event, event_from_obj
from engage_rules.runtime.config import load_config
from engage_rules.runtime.service import Service
from engage_rules.testing import open_store

pytestmark = pytest.mark.e2e

PLAYBOOK = """\
engage_rules: 1
name: sources-test
community: {name: c1, timezone: UTC}
currencies: [points]
rules:
  - id: post
    on: message.posted
    do:
      - award: {points: 1, reason: post}
"""


def _event(n: int, *, ts: str = "2026-01-01T00:00:00+00:00") -> Event:
    return event_from_obj(
        {
            "id": f"ev-{n}",
            "type": "message.posted",
            "at": ts,
            "community": "c1",
            "member": {"id": f"m{n % 3}"},
            "platform": "feed",
            "data": {"text": f"hello {n}"},
        }
    )


class FeedSource:
    """Submits ``updates`` (update number -> events) after the context's cursor, one
    submission each, waiting for each to be durable (as Telegram's long polling does)."""

    def __init__(self, context: SourceContext, updates: dict[int, list[Event]]) -> None:
        self.context = context
        self.updates = updates
        self.outcomes: list[tuple[int, Outcome]] = []
        self.started_after: int | None = None
        self.done = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        got = self.context.cursor("feed:bot")
        after = int(got) if got is not None else 0
        self.started_after = after
        for number in sorted(self.updates):
            if number <= after or self._stop.is_set():
                continue
            future = self.context.submit(self.updates[number], cursor=("feed:bot", str(number)))
            try:
                self.outcomes.append((number, future.result(timeout=10)))
            except ServiceStopping:
                return
        self.done.set()


class FeedAdapter:
    """An adapter that reads its (in-memory) platform by itself."""

    name = "feed"
    capabilities = frozenset({"award"})

    def __init__(self, updates: dict[int, list[Event]]) -> None:
        self.updates = updates
        self.sources: list[FeedSource] = []
        self.contexts: list[SourceContext] = []

    def parse(self, payload: Mapping[str, Any]) -> list[Event]:
        return []

    def deliver(self, action: Mapping[str, Any]) -> Delivery:
        return Delivery()

    def close(self) -> None:
        pass

    def connect(self, context: SourceContext) -> FeedSource:
        self.contexts.append(context)
        source = FeedSource(context, self.updates)
        self.sources.append(source)
        return source


def _config(tmp_path: Path, *, sources: str = "", adapter: str = "{}") -> Path:
    (tmp_path / "playbook.yaml").write_text(PLAYBOOK, encoding="utf-8")
    path = tmp_path / "live.yaml"
    path.write_text(
        f"""\
playbook: playbook.yaml
store: sqlite:///{tmp_path}/state.db
timer_poll: 0.05
{sources}adapters:
  feed: {adapter}
dispatch:
  default: feed
""",
        encoding="utf-8",
    )
    return path


def _service(path: Path, adapter: FeedAdapter, clock: Any = time.time) -> Service:
    config = load_config(path, {"HOOK_SECRET": "x" * 20})
    return Service(
        config,
        load(config.playbook_path()),
        open_store(config.store),
        {"feed": adapter},
        clock=clock,
    )


def _run_until(service: Service, done: threading.Event) -> None:
    runner = threading.Thread(target=service.run, daemon=True)
    runner.start()
    assert done.wait(20), "the source did not finish"
    service.request_stop()
    runner.join(20)
    assert not runner.is_alive()
    assert service.failure is None


def _balances(path: Path) -> dict[str, int]:
    store = open_store(f"sqlite:///{path}")
    try:
        state = store.open().load_all_members()
        return {
            mid: m.balances.get("points", 0) for mid, m in state.communities["c1"].members.items()
        }
    finally:
        store.close()


def test_a_connected_source_restarts_after_its_committed_cursor(tmp_path: Path) -> None:
    updates = {n: [_event(n)] for n in range(1, 7)}
    first = FeedAdapter({n: evs for n, evs in updates.items() if n <= 4})
    service = _service(_config(tmp_path), first)
    assert service.connected == ["feed"]
    _run_until(service, first.sources[0].done)
    assert first.sources[0].started_after == 0
    assert [(n, o.status) for n, o in first.sources[0].outcomes] == [
        (n, "accepted") for n in range(1, 5)
    ]
    assert _balances(tmp_path / "state.db") == {"m1": 2, "m2": 1, "m0": 1}

    # The platform keeps every update (none confirmed); the restarted source asks only
    # for those after the committed cursor.
    second = FeedAdapter(updates)
    service = _service(_config(tmp_path), second)
    _run_until(service, second.sources[0].done)
    assert second.sources[0].started_after == 4
    assert [n for n, _ in second.sources[0].outcomes] == [5, 6]
    assert _balances(tmp_path / "state.db") == {"m1": 2, "m2": 2, "m0": 2}


def test_the_cursor_moves_without_events_and_past_a_quarantined_delivery(tmp_path: Path) -> None:
    far_future = "2100-01-01T00:00:00+00:00"
    updates = {1: [], 2: [_event(2, ts=far_future)], 3: [_event(3)]}
    adapter = FeedAdapter(updates)
    service = _service(_config(tmp_path), adapter)
    _run_until(service, adapter.sources[0].done)
    statuses = {n: o.status for n, o in adapter.sources[0].outcomes}
    assert statuses == {1: "accepted", 2: "quarantined", 3: "accepted"}
    store = open_store(f"sqlite:///{tmp_path}/state.db")
    try:
        assert store.open().cursors == {"feed:bot": "3"}
    finally:
        store.close()


def test_an_empty_delivery_commits_its_cursor_alone(tmp_path: Path) -> None:
    adapter = FeedAdapter({1: [], 2: []})
    service = _service(_config(tmp_path), adapter)
    _run_until(service, adapter.sources[0].done)
    store = open_store(f"sqlite:///{tmp_path}/state.db")
    try:
        state = store.open()
        assert state.cursors == {"feed:bot": "2"}
        assert state.communities == {}
    finally:
        store.close()


def test_the_source_sees_what_the_playbook_listens_to(tmp_path: Path) -> None:
    adapter = FeedAdapter({})
    service = _service(_config(tmp_path), adapter)
    try:
        (context,) = adapter.contexts
        assert context.platform == "feed"
        assert "message.posted" in context.event_types
        assert "member.joined" not in context.event_types
    finally:
        service.store.close()


def test_connect_false_and_no_sources_is_refused_with_a_reason(tmp_path: Path) -> None:
    adapter = FeedAdapter({})
    with pytest.raises(SetupError, match="nothing to read events from"):
        _service(_config(tmp_path, adapter="{connect: false}"), adapter)
    assert adapter.contexts == []


def test_an_adapter_read_through_a_webhook_relay_does_not_connect_unless_asked(
    tmp_path: Path,
) -> None:
    relay = (
        "sources:\n"
        "  - {type: webhook, listen: 127.0.0.1:0, secret_env: HOOK_SECRET, parser: feed}\n"
    )
    adapter = FeedAdapter({})
    service = _service(_config(tmp_path, sources=relay), adapter)
    try:
        assert service.connected == []
        assert adapter.contexts == []
    finally:
        service.store.close()
    adapter = FeedAdapter({})
    service = _service(_config(tmp_path, sources=relay, adapter="{connect: true}"), adapter)
    try:
        assert service.connected == ["feed"]
    finally:
        service.store.close()


def test_a_submission_after_shutdown_is_refused_not_lost_silently(tmp_path: Path) -> None:
    adapter = FeedAdapter({})
    service = _service(_config(tmp_path), adapter)
    runner = threading.Thread(target=service.run, daemon=True)
    runner.start()
    time.sleep(0.1)
    service.request_stop()
    runner.join(20)
    (context,) = adapter.contexts
    future: Future[Outcome] = context.submit([_event(9)], cursor=("feed:bot", "9"))
    with pytest.raises(ServiceStopping):
        future.result(timeout=5)


def test_event_types_include_observers_and_activity() -> None:
    playbook = load_text(
        """\
engage_rules: 1
name: t
community: {name: c1, timezone: UTC}
currencies: [points]
rules:
  - id: hello
    on: member.joined
    do: [{award: {points: 1}}]
  - id: quiet
    on: {silent_for: 7d}
    do: [{send: {text: hi}}]
"""
    )
    types = playbook_event_types(playbook)
    assert "member.joined" in types
    assert not any(t.startswith("@") for t in types)
