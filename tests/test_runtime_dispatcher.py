"""The dispatcher: routing, retries with backoff and Retry-After, rate limits, order,
permanent failures, and the send window after a crash (possible duplicates).  The
stores keep history, so delivered items stay visible to the assertions."""

from __future__ import annotations

import logging
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engage_rules.adapters.base import Delivery, DeliveryError
from engage_rules.events import event_from_obj
from engage_rules.model.decision import ActionRecord, Decision
from engage_rules.runtime.config import DispatchConfig, RateLimit, RetryPolicy
from engage_rules.runtime.dispatcher import AdapterLimits, Dispatcher, route_of
from engage_rules.runtime.ratelimit import TokenBucket
from engage_rules.store import Store
from engage_rules.store.memory import MemoryStore
from engage_rules.store.sqlite import SQLiteStore
from engage_rules.testing import T0, FakeAdapter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def commit(
    store: Store,
    *actions: tuple[str, str, dict[str, Any]],
    platform: str | None = None,
    member: str | None = "u1",
    community: str = "default",
) -> None:
    """Commit one decision emitting (key, type, params) actions."""
    event = None
    if platform is not None:
        event = event_from_obj(
            {
                "id": f"evt-{actions[0][0]}",
                "type": "message.posted",
                "at": T0.isoformat(),
                "platform": platform,
                "member": {"id": "u1"},
            }
        )
    d = Decision(f"evt-{actions[0][0]}", T0, event)
    for key, kind, params in actions:
        d.actions.append(ActionRecord(key, kind, member, "r", d.cause, T0, params, community))
    store.commit([d], store.open())


def statuses(store: Store) -> dict[str, str]:
    return {i.action.key: i.status for i in store.outbox()}


def config(**kw: Any) -> DispatchConfig:
    kw.setdefault("retry", RetryPolicy(base=0.5, max_delay=10, max_attempts=4))
    return DispatchConfig(seed=7, **kw)


def drain(d: Dispatcher, clock: Clock, turns: int = 50) -> None:
    """Pump, jumping the clock to whatever is due next, until nothing is held."""
    for _ in range(turns):
        due = d.pump()
        if due is None and d.idle:
            return
        if due is not None:
            clock.now = max(clock.now, due)
    raise AssertionError("the dispatcher did not settle")


def test_routes_by_event_platform_then_community_then_default() -> None:
    store = MemoryStore(keep_history=True)
    discord, chat, default = (
        FakeAdapter("discord"),
        FakeAdapter("chat"),
        FakeAdapter("default", ["send", "kick"]),
    )
    commit(store, ("a", "send", {"text": "hi"}), platform="discord")
    commit(store, ("b", "send", {"text": "hi"}), community="fans")
    commit(store, ("c", "kick", {}))
    commit(store, ("d", "send", {"text": "x"}), platform="telegram")  # not configured
    clock = Clock()
    d = Dispatcher(
        store,
        {"discord": discord, "chat": chat, "default": default},
        config(default="default", communities={"fans": "chat"}),
        clock=clock,
    )
    drain(d, clock)
    assert [a["key"] for a in discord.delivered] == ["a"]
    assert [a["key"] for a in chat.delivered] == ["b"]
    assert [a["key"] for a in default.delivered] == ["c", "d"]
    assert set(statuses(store).values()) == {"delivered"}


def test_bookkeeping_no_adapter_declares_is_marked_delivered_without_a_call() -> None:
    store = MemoryStore(keep_history=True)
    platform = FakeAdapter("platform", ["send"])
    commit(
        store, ("a", "award", {"currency": "points", "amount": 5}), ("b", "send", {"text": "+5"})
    )
    clock = Clock()
    d = Dispatcher(store, {"platform": platform}, config(default="platform"), clock=clock)
    drain(d, clock)
    assert [a["key"] for a in platform.attempts] == ["b"]
    assert statuses(store) == {"a": "delivered", "b": "delivered"}
    assert (d.stats.delivered, d.stats.skipped) == (1, 1)
    # An adapter that declares bookkeeping (a console) gets it, wherever the default is.
    store2 = MemoryStore(keep_history=True)
    commit(store2, ("a", "award", {"amount": 5}), ("b", "send", {"text": "+5"}))
    console = FakeAdapter("console")
    d2 = Dispatcher(
        store2,
        {"platform": FakeAdapter("platform", ["send"]), "console": console},
        config(default="platform"),
        clock=clock,
    )
    drain(d2, clock)
    assert [a["key"] for a in console.delivered] == ["a"]


def test_retryable_failures_back_off_with_jitter_then_deliver() -> None:
    store = MemoryStore(keep_history=True)
    fake = FakeAdapter("p")
    fake.fail_next(DeliveryError("HTTP 503"), times=2)
    commit(store, ("a", "send", {"text": "hi"}))
    clock = Clock()
    d = Dispatcher(store, {"p": fake}, config(default="p"), clock=clock)
    start = clock.now
    drain(d, clock)
    [item] = store.outbox()
    assert (item.status, item.attempts, item.last_error) == ("delivered", 3, "HTTP 503")
    assert len(fake.attempts) == 3 and d.stats.retries == 2
    # full jitter: attempt n waits within [0, base * 2**(n-1)]
    assert 0 <= clock.now - start <= 0.5 + 1.0


def test_backoff_is_bounded_seeded_and_honours_retry_after() -> None:
    store = MemoryStore(keep_history=True)
    cfg = config(retry=RetryPolicy(base=1, max_delay=30, max_attempts=20))
    a = Dispatcher(store, {}, cfg, rng=random.Random(3))
    b = Dispatcher(store, {}, cfg, rng=random.Random(3))
    delays = [a._backoff(n, None) for n in range(1, 12)]
    assert delays == [b._backoff(n, None) for n in range(1, 12)]
    assert all(0 <= x <= min(30, 2 ** (n - 1)) for n, x in enumerate(delays, 1))
    assert all(a._backoff(n, 42.0) >= 42.0 for n in range(1, 6))


def test_a_429_pauses_its_route_for_retry_after() -> None:
    store = MemoryStore(keep_history=True)
    fake = FakeAdapter("p")
    fake.fail_next(DeliveryError("HTTP 429", retry_after=5.0, status=429))
    commit(
        store,
        ("a", "send", {"text": "1", "channel": "general"}),
        ("b", "send", {"text": "2", "channel": "general"}),
        ("c", "send", {"text": "3", "channel": "random"}),
    )
    clock = Clock()
    d = Dispatcher(store, {"p": fake}, config(default="p"), clock=clock)
    due = d.pump()  # a fails with 429; c goes through on its own route
    assert [x["key"] for x in fake.delivered] == ["c"]
    due = d.pump()
    assert due is not None and due >= clock.now + 5.0
    clock.now += 4.9
    d.pump()
    assert [x["key"] for x in fake.delivered] == ["c"]  # general is still paused
    clock.now += 0.1
    drain(d, clock)
    assert [x["key"] for x in fake.delivered] == ["c", "a", "b"]  # general in order


def test_permanent_failures_are_recorded_and_the_route_moves_on() -> None:
    store = MemoryStore(keep_history=True)
    fake = FakeAdapter("p")
    fake.fail_always("kick", DeliveryError("HTTP 403: no rights", permanent=True, status=403))
    commit(store, ("a", "kick", {}), ("b", "send", {"text": "hi"}))
    clock = Clock()
    d = Dispatcher(store, {"p": fake}, config(default="p"), clock=clock)
    drain(d, clock)
    view = {i.action.key: (i.status, i.attempts, i.last_error) for i in store.outbox()}
    assert view == {"a": ("failed", 1, "HTTP 403: no rights"), "b": ("delivered", 1, None)}
    assert d.stats.failed == 1


def test_retryable_failures_give_up_after_max_attempts() -> None:
    store = MemoryStore(keep_history=True)
    fake = FakeAdapter("p")
    fake.fail_always("send", DeliveryError("HTTP 502"))
    commit(store, ("a", "send", {"text": "hi"}))
    clock = Clock()
    d = Dispatcher(store, {"p": fake}, config(default="p"), clock=clock)
    drain(d, clock)
    [item] = store.outbox()
    assert (item.status, item.attempts) == ("failed", 4)


def test_each_route_is_delivered_in_commit_order_with_many_workers() -> None:
    store = MemoryStore(keep_history=True)
    fake = FakeAdapter("p")
    for n in range(30):
        commit(store, (f"k{n:02d}", "send", {"text": str(n), "channel": f"c{n % 3}"}))
    clock = Clock()
    d = Dispatcher(store, {"p": fake}, config(default="p", workers=4, batch=7), clock=clock)
    drain(d, clock, turns=200)
    assert len(fake.delivered) == 30
    for c in range(3):
        keys = [a["key"] for a in fake.delivered if a["params"]["channel"] == f"c{c}"]
        assert keys == sorted(keys)


def test_platform_and_route_token_buckets_pace_calls() -> None:
    store = MemoryStore(keep_history=True)
    fake = FakeAdapter("p")
    commit(store, *[(f"k{n}", "send", {"text": str(n), "channel": "general"}) for n in range(3)])
    commit(store, ("other", "send", {"text": "x", "channel": "random"}))
    clock = Clock()
    d = Dispatcher(
        store,
        {"p": fake},
        config(default="p"),
        clock=clock,
        limits={
            "p": AdapterLimits(
                platform=RateLimit(rate=10, burst=10), route=RateLimit(rate=1, burst=1)
            )
        },
    )
    d.pump()
    d.pump()
    assert sorted(a["key"] for a in fake.delivered) == ["k0", "other"]
    clock.now += 1.0
    d.pump()
    d.pump()
    assert [a["key"] for a in fake.delivered][2:] == ["k1"]


def test_token_bucket() -> None:
    bucket = TokenBucket(rate=2, burst=2, now=0.0)
    assert bucket.wait_time(0.0) == 0
    bucket.take(0.0)
    bucket.take(0.0)
    assert bucket.wait_time(0.0) == pytest.approx(0.5)
    assert bucket.wait_time(0.5) == 0
    bucket.drain(0.5, 3.0)
    assert bucket.wait_time(0.5) == pytest.approx(3.0)
    with pytest.raises(ValueError):
        TokenBucket(0, 1, 0.0)


def test_route_of() -> None:
    assert route_of({"params": {"channel": "g"}, "member": "u1"}) == "channel:g"
    assert route_of({"params": {}, "member": "u1"}) == "member:u1"
    assert route_of({"params": {}, "member": None, "community": "fans"}) == "community:fans"


def test_items_in_flight_at_a_crash_are_logged_as_possible_duplicates_and_resent(
    tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "s.db"
    store = SQLiteStore(path)
    commit(
        store,
        ("a", "send", {"text": "1"}),
        ("b", "send", {"text": "2"}),
        ("c", "send", {"text": "3"}),
    )
    store.mark_delivered(["a"])
    store.mark_sending(["b"])  # the crash came after the call to the platform began
    store.close()

    store = SQLiteStore(path)
    fake = FakeAdapter("p")
    clock = Clock()
    d = Dispatcher(store, {"p": fake}, config(default="p"), clock=clock)
    with caplog.at_level(logging.WARNING, "engage_rules.runtime.dispatcher"):
        d.recover()
    drain(d, clock)
    assert [a["key"] for a in fake.delivered] == ["b", "c"]
    assert d.stats.possible_duplicates == 1
    [warning] = [r for r in caplog.records if "possible duplicate" in r.getMessage()]
    assert " b " in warning.getMessage()
    assert statuses(store) == {"a": "delivered", "b": "delivered", "c": "delivered"}
    store.close()


def test_a_started_dispatcher_delivers_what_is_committed_later_and_stops() -> None:
    store = MemoryStore(keep_history=True)
    fake = FakeAdapter("p")
    d = Dispatcher(store, {"p": fake}, config(default="p", shutdown_timeout=5))
    d.start()
    commit(store, ("a", "send", {"text": "hi"}))
    d.notify()
    d.stop()
    assert [a["key"] for a in fake.delivered] == ["a"]


def test_stop_leaves_what_is_not_due_in_the_store() -> None:
    store = MemoryStore(keep_history=True)
    fake = FakeAdapter("p")
    fake.fail_next(DeliveryError("HTTP 429", retry_after=3600, status=429))
    commit(store, ("a", "send", {"text": "hi"}))
    d = Dispatcher(store, {"p": fake}, config(default="p"))
    d.start()
    d.notify()
    d.stop(timeout=0.3)
    [item] = store.outbox()
    assert (item.status, item.attempts) == ("pending", 1)


class ScriptedAdapter:
    """Fails each action's first attempts as scripted, then delivers it."""

    name = "p"
    capabilities = frozenset({"send"})

    def __init__(self, script: dict[str, list[DeliveryError]]) -> None:
        self.script = {k: list(v) for k, v in script.items()}
        self.calls: list[str] = []
        self.delivered: list[str] = []

    def parse(self, payload: Any) -> list[Any]:
        return []

    def deliver(self, action: Any) -> Delivery:
        key = action["key"]
        self.calls.append(key)
        if self.script.get(key):
            raise self.script[key].pop(0)
        self.delivered.append(key)
        return Delivery()

    def close(self) -> None:
        pass


_failures = st.sampled_from(
    [
        DeliveryError("HTTP 503"),
        DeliveryError("HTTP 429", retry_after=2.0, status=429),
        DeliveryError("HTTP 403", permanent=True, status=403),
    ]
)


@given(
    plan=st.lists(
        st.tuples(st.integers(0, 2), st.lists(_failures, max_size=4)), min_size=1, max_size=12
    ),
    workers=st.integers(1, 4),
)
def test_every_action_ends_delivered_or_failed_in_route_order(
    plan: list[tuple[int, list[DeliveryError]]], workers: int
) -> None:
    store = MemoryStore(keep_history=True)
    script: dict[str, list[DeliveryError]] = {}
    for n, (channel, failures) in enumerate(plan):
        key = f"k{n:02d}"
        commit(store, (key, "send", {"text": str(n), "channel": f"c{channel}"}))
        script[key] = failures
    adapter = ScriptedAdapter(script)
    clock = Clock()
    d = Dispatcher(store, {"p": adapter}, config(default="p", workers=workers), clock=clock)
    drain(d, clock, turns=500)
    items = {i.action.key: i for i in store.outbox()}
    for key, failures in script.items():
        item = items[key]
        permanent = next((i for i, f in enumerate(failures) if f.permanent), None)
        gives_up = permanent is None and len(failures) >= 4  # max_attempts
        if permanent is not None or gives_up:
            assert item.status == "failed"
            assert item.attempts == (permanent + 1 if permanent is not None else 4)
            assert key not in adapter.delivered
        else:
            assert item.status == "delivered" and item.attempts == len(failures) + 1
            assert adapter.delivered.count(key) == 1
    for channel in range(3):  # a route's calls never overtake each other
        keys = [k for k in adapter.calls if plan[int(k[1:])][0] == channel]
        assert keys == sorted(keys)
