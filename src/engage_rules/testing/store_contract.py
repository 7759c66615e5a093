"""The store contract (docs/reference.md §9): the behaviour every store backend must have.

Subclass :class:`StoreContract` in a test module and override the ``backend`` fixture to
return a :class:`StoreBackend` for your store::

    from engage_rules.testing import StoreBackend, StoreContract

    class TestRedisStore(StoreContract):
        @pytest.fixture
        def backend(self, redis_url: str) -> StoreBackend:
            def reopen(store: Store) -> Store:
                store.close()
                return RedisStore(redis_url)
            return StoreBackend(create=lambda: RedisStore(redis_url), reopen=reopen)

``StoreBackend.reopen`` closes a store and returns a new instance over the same data
(for a durable store, a new object on the same database; for an in-process store, the
store itself).  The built-in memory and SQLite stores pass this suite
(tests/test_store_contract.py).

A store that keeps only what is live (the memory store without ``keep_history``) sets
``keeps_history = False`` on its subclass: the suite then holds it to that contract
instead — :meth:`~engage_rules.store.Store.ledger`, ``ledgers()`` and ``activity()``
raise :class:`~engage_rules.errors.StoreError`, delivered items leave the outbox, and
shadow items never enter it.  Everything else is checked alike.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from ..errors import StoreError
from ..model.decision import ActionRecord, Decision, RuleError
from ..model.events import event_from_obj
from ..model.persons import PERSONS, link
from ..model.state import LedgerEntry, MemberState, State, Strike, Timer
from ..store.base import Store
from ..store.records import ReportContext
from .builders import T0

# -- building decisions the way the engine does ------------------------------------------


def decision(n: int, *, cause: str | None = None, timer: bool = False) -> Decision:
    """A decision for event ``n`` (a minute after the previous one)."""
    return Decision(cause=cause or f"evt-{n}", at=T0 + timedelta(minutes=n), is_timer=timer)


def award(
    state: State,
    d: Decision,
    member: str,
    amount: int = 5,
    *,
    community: str = "default",
    kind: str = "award",
    reverses: int | None = None,
) -> LedgerEntry:
    """Award ``amount`` to a member in ``state``, recorded in decision ``d``."""
    m = state.community(community).member(member)
    m.ledger_seq += 1
    entry = LedgerEntry(
        seq=m.ledger_seq,
        currency="points",
        amount=amount,
        kind=kind,
        reason="quality post",
        rule="quality-post",
        cause=d.cause,
        key=f"{d.cause}:{member}:{m.ledger_seq}",
        at=d.at,
        ref=f"msg-{d.cause}",
        reverses=reverses,
    )
    m.balances["points"] = m.balances.get("points", 0) + amount
    d.ledger.append((community, member, entry))
    d.touched.add((community, member))
    return entry


def revoke(
    state: State, d: Decision, member: str, original: LedgerEntry, *, community: str = "default"
) -> LedgerEntry:
    """Revoke a member's ledger entry ``original``, recorded in decision ``d`` (the store
    derives the original's ``reversed_by`` from the reversal)."""
    return award(
        state,
        d,
        member,
        -original.amount,
        community=community,
        kind="revoke",
        reverses=original.seq,
    )


def action(
    d: Decision, key: str, type_: str = "send", member: str | None = "u1", **params: Any
) -> ActionRecord:
    """An action record added to decision ``d``."""
    record = ActionRecord(
        key=key,
        type=type_,
        member=member,
        rule="welcome",
        cause=d.cause,
        at=d.at,
        params=params or {"text": "欢迎!"},
    )
    d.actions.append(record)
    return record


def add_timer(
    state: State, d: Decision, timer_id: str, due_minutes: float, member: str | None = "u1"
) -> Timer:
    """A timer due ``due_minutes`` after T0, added to decision ``d``."""
    timer = Timer(
        due=(T0 + timedelta(minutes=due_minutes)).timestamp(),
        seq=0,
        id=timer_id,
        kind="unmute",
        community="default",
        member=member,
        rule="moderation",
        payload={"reason": "flood"},
    )
    assert state.add_timer(timer)
    d.add_timer(timer)
    return timer


def fire_timer(state: State, d: Decision, timer_id: str) -> None:
    """Remove a pending timer from the heap, as the engine does when it fires."""
    kept = [t for t in state.timers if t.id != timer_id]
    assert len(kept) == len(state.timers) - 1, f"timer {timer_id} is not pending"
    state.timers[:] = kept
    heapq.heapify(state.timers)
    state.timer_ids.discard(timer_id)
    d.add_fired(timer_id)


def rich_member(state: State, member: str, community: str = "default") -> MemberState:
    """Fill every kind of member field, so a round trip exercises them all."""
    m = state.community(community).member(member)
    utc = datetime(2025, 12, 1, tzinfo=UTC)
    m.name = "阿明"
    m.roles = ("member", "mod")
    m.created_at = utc
    m.level, m.level_name, m.level_locked = 2, "活跃成员", True
    m.badges = {"first-post": {"at": T0.isoformat(), "count": 2}}
    m.titles = ["优秀贡献者"]
    m.tags = {"newcomer": T0 + timedelta(days=7), "vip": None}
    m.strikes = [Strike(T0, "flood", "anti-flood", T0 + timedelta(days=30))]
    m.status, m.muted_until = "muted", T0 + timedelta(hours=1)
    m.opted_out = False
    m.joined_at, m.last_active_at = utc, T0
    m.record("message.posted", T0.timestamp(), 86400.0)
    m.texts = [(T0.timestamp(), "abc123")]
    m.cooldowns = {"welcome": T0.timestamp()}
    m.spent = {"welcome", "first-post"}
    m.windows = {"anti-flood": [T0.timestamp(), T0.timestamp() + 1.5]}
    m.caps = {"quality-post:points:day": ["2026-03-02", 10]}
    m.attrs = {"city": "上海", "score": 1.25, "nested": {"a": [1, None, True]}}
    m.flows = {"onboarding": {"step": 2, "since": T0.isoformat()}}
    m.spending = {"count": 2, "last": T0.timestamp(), "totals": {"CNY": "199.90", "": "0.5"}}
    return m


def state_json(state: State) -> dict[str, Any]:
    """Everything a store must restore, in a comparable form."""
    return {
        "communities": {
            name: {
                "data": c.data,
                "members": {
                    mid: m.to_json()
                    for mid in c.member_ids()  # stored members too: a store may load on demand
                    if (m := c.peek(mid)) is not None
                },
            }
            for name, c in sorted(state.communities.items())
        },
        "clock": state.clock.isoformat() if state.clock else None,
        "timers": [(t.due, t.seq, t.id, str(t.to_json())) for t in state.pending_timers()],
        "timer_ids": sorted(state.timer_ids),
        "timer_seq": state.timer_seq,
    }


def copy_timers(state: State) -> State:
    """A state holding (copies of) the timers ``state`` holds in memory."""
    copy = State()
    copy.timers = [replace(t) for t in state.timers]
    copy.timer_ids = set(state.timer_ids)
    return copy


def pop_order(state: State) -> list[str]:
    """The order in which the restored timer heap fires its timers."""
    ids = []
    while (t := state.pop_due(float("inf"))) is not None:
        ids.append(t.id)
    return ids


# -- the suite -------------------------------------------------------------------------


@dataclass
class StoreBackend:
    """How the contract suite creates and reopens one kind of store."""

    create: Callable[[], Store]
    reopen: Callable[[Store], Store]
    opened: list[Store] = field(default_factory=list)

    def new(self) -> Store:
        store = self.create()
        self.opened.append(store)
        return store

    def again(self, store: Store) -> Store:
        fresh = self.reopen(store)
        self.opened.append(fresh)
        return fresh


class StoreContract:
    """The behaviour every :class:`~engage_rules.store.Store` must have."""

    #: False for a store that keeps only what is live (see the module docstring).
    keeps_history = True

    def forgotten(self, call: Callable[[], Any]) -> None:
        """A store without history refuses ``call`` (a ledger or activity query)."""
        with pytest.raises(StoreError, match="history"):
            call()

    def delivered(self, keys: list[str]) -> list[str]:
        """What the outbox lists of delivered items ``keys``: nothing without history."""
        return keys if self.keeps_history else []

    @pytest.fixture
    def backend(self) -> StoreBackend:
        pytest.fail(
            f"{type(self).__name__}: a StoreContract subclass must override the `backend` fixture"
        )

    @pytest.fixture
    def store(self, backend: StoreBackend) -> Iterator[Store]:
        yield backend.new()
        for s in backend.opened:
            s.close()

    # state ----------------------------------------------------------------------------
    def test_a_new_store_opens_an_empty_state(self, store: Store) -> None:
        state = store.open()
        assert state.communities == {}
        assert state.clock is None
        assert state.timers == [] and state.timer_ids == set() and state.timer_seq == 0
        assert store.outbox() == [] and store.rule_errors() == []
        assert store.audit_log() == [] and store.review_queue() == []
        if self.keeps_history:
            assert store.ledger("default", "u1") == []
        else:
            self.forgotten(lambda: store.ledger("default", "u1"))

    def test_state_round_trips(self, backend: StoreBackend, store: Store) -> None:
        state = store.open()
        d1 = decision(1)
        rich_member(state, "u1")
        d1.touched.add(("default", "u1"))
        award(state, d1, "u1", 5)
        award(state, d1, "u2", 3, community="fans")
        state.community("fans").data = {
            "lottery": {"stock": 3},
            "board": [["u2", 3]],
            "shop": {"mug": {"sold": 2, "by": {"u2": 1, "阿明": 1}}},
            "draws": {
                "weekly": {
                    "open": {"2026-W10": {"start": T0.isoformat(), "entrants": {"u2": 3}}},
                    "closed": {"round-1": {"seed": "s\x1fweekly\x1fround-1", "entrants": 1}},
                    "rounds": 1,
                }
            },
        }
        d1.touch_community("fans")
        add_timer(state, d1, "unmute:u1", 60)
        add_timer(state, d1, "untag:u1", 30)
        state.clock = d1.at
        d2 = decision(2)
        award(state, d2, "u1", 7)
        state.community("default").member("u3").status = "left"
        d2.touched.add(("default", "u3"))
        state.clock = d2.at
        store.commit([d1, d2], state)
        expected = state_json(state)

        again = backend.again(store)
        restored = again.open()
        assert state_json(restored) == expected
        assert pop_order(restored) == ["untag:u1", "unmute:u1"]

    def test_touched_members_are_saved_as_of_the_commit(
        self, backend: StoreBackend, store: Store
    ) -> None:
        state = store.open()
        d1, d2 = decision(1), decision(2)
        award(state, d1, "u1", 5)
        award(state, d2, "u1", 6)  # the same member, changed again later in the batch
        state.community("default").member("u1").attrs["last"] = "d2"
        store.commit([d1, d2], state)
        expected = state.community("default").member("u1").to_json()
        restored = backend.again(store).open()
        assert restored.community("default").member("u1").to_json() == expected
        assert restored.community("default").member("u1").balance("points") == 11

    def test_state_accumulates_over_commits(self, backend: StoreBackend, store: Store) -> None:
        state = store.open()
        for n in range(1, 6):
            d = decision(n)
            award(state, d, f"u{n % 2}", n)
            if n == 3:
                add_timer(state, d, "t3", 10)
            if n == 5:
                fire_timer(state, d, "t3")
            state.clock = d.at
            store.commit([d], state)
        expected = state_json(state)
        assert state_json(backend.again(store).open()) == expected

    def test_a_member_removed_from_state_is_removed(
        self, backend: StoreBackend, store: Store
    ) -> None:
        state = store.open()
        d1 = decision(1)
        award(state, d1, "gone", 5)
        award(state, d1, "kept", 5)
        store.commit([d1], state)
        d2 = decision(2)
        del state.community("default").members["gone"]
        d2.touched.add(("default", "gone"))
        store.commit([d2], state)
        restored = backend.again(store).open()
        assert restored.community("default").member_ids() == ["kept"]
        assert restored.community("default").find("gone") is None
        if self.keeps_history:
            assert backend.opened[-1].ledger("default", "gone") == []
            assert [len(backend.opened[-1].ledger("default", "kept"))] == [1]

    def test_clock_and_timer_seq_survive(self, backend: StoreBackend, store: Store) -> None:
        state = store.open()
        d = decision(1)
        add_timer(state, d, "a", 5)
        add_timer(state, d, "b", 5)  # same due time: the heap orders by seq
        fire_timer(state, d, "a")
        state.clock = T0 + timedelta(days=1)
        store.commit([d], state)
        restored = backend.again(store).open()
        assert restored.clock == T0 + timedelta(days=1)
        assert restored.timer_seq == 2
        assert pop_order(restored) == ["b"]

    def test_source_cursors_are_committed_with_the_batch(
        self, backend: StoreBackend, store: Store
    ) -> None:
        state = store.open()
        assert state.cursors == {}
        state.cursors["telegram:1"] = "41"
        state.cursors["discord:9:0"] = '{"seq": 7}'
        state.cursors_moved = True
        store.commit([decision(1)], state)
        assert not state.cursors_moved
        # A batch without decisions still commits a cursor that moved (a delivery that
        # mapped to no event), and only then.
        state.cursors["telegram:1"] = "42"
        state.cursors_moved = True
        store.commit_async([], state).result(timeout=10)
        assert not state.cursors_moved
        restored = backend.again(store).open()
        assert restored.cursors == {"telegram:1": "42", "discord:9:0": '{"seq": 7}'}

    # processed ids ----------------------------------------------------------------------
    def test_processed_ids(self, backend: StoreBackend, store: Store) -> None:
        state = store.open()
        d1, d2 = decision(1), decision(2, cause="timer:unmute:u1", timer=True)
        assert not store.is_processed("evt-1")
        store.commit([d1, d2], state)
        assert store.is_processed("evt-1") and store.is_processed("timer:unmute:u1")
        assert not store.is_processed("evt-2")
        again = backend.again(store)
        again.open()
        assert again.is_processed("evt-1") and again.is_processed("timer:unmute:u1")
        assert not again.is_processed("evt-3")

    def test_processed_among_answers_for_many_ids_at_once(
        self, backend: StoreBackend, store: Store
    ) -> None:
        state = store.open()
        store.commit([decision(1), decision(2, cause="timer:unmute:u1", timer=True)], state)
        asked = ["evt-1", "evt-9", "timer:unmute:u1", "evt-1"]
        assert store.processed_among(asked) == {"evt-1", "timer:unmute:u1"}
        assert store.processed_among([]) == set()
        again = backend.again(store)
        again.open()
        assert again.processed_among(asked) == {"evt-1", "timer:unmute:u1"}

    def test_the_dedup_window_forgets_old_ids_and_says_up_to_when(
        self, backend: StoreBackend, store: Store
    ) -> None:
        store.keep_processed(86400.0)
        state = store.open()
        assert store.dedup_horizon() is None
        state.clock = T0
        store.commit([decision(1)], state)
        state.clock = T0 + timedelta(days=3)
        store.commit([decision(2)], state)
        assert not store.is_processed("evt-1") and store.is_processed("evt-2")
        horizon = store.dedup_horizon()
        assert horizon is not None
        assert T0.timestamp() <= horizon < (T0 + timedelta(days=2)).timestamp()
        again = backend.again(store)
        again.keep_processed(86400.0)
        again.open()
        assert again.dedup_horizon() == horizon
        assert again.is_processed("evt-2") and not again.is_processed("evt-1")

    def test_without_a_dedup_window_no_id_is_forgotten(self, store: Store) -> None:
        store.keep_processed(None)
        state = store.open()
        state.clock = T0
        store.commit([decision(1)], state)
        state.clock = T0 + timedelta(days=400)
        store.commit([decision(2)], state)
        assert store.is_processed("evt-1") and store.dedup_horizon() is None

    def test_stored_members_are_found_by_id_and_listed(
        self, backend: StoreBackend, store: Store
    ) -> None:
        state = store.open()
        d = decision(1)
        for mid in ("b", "a", "c"):
            award(state, d, mid, 1)
        store.commit([d], state)
        restored = backend.again(store).open()
        community = restored.community("default")
        assert community.member_ids() == ["a", "b", "c"]
        found = community.find("b")
        assert found is not None and found.balance("points") == 1
        assert community.find("nobody") is None
        assert community.peek("c") is not None

    def test_a_chunk_of_members_is_loaded_at_once(
        self, backend: StoreBackend, store: Store
    ) -> None:
        """``State.prefetch_members``: a store giving members on demand loads the stored
        ones a chunk of events names, in memory afterwards; the others stay unknown."""
        state = store.open()
        d = decision(1)
        for mid in ("a", "b", "c"):
            award(state, d, mid, 2)
        award(state, d, "x", 1, community="fans")
        store.commit([d], state)
        restored = backend.again(store).open()
        keys = [("default", "a"), ("default", "c"), ("default", "nobody"), ("fans", "x")]
        loaded = restored.prefetch_members(keys)
        if restored.source is None:  # all members in memory already
            assert loaded == 0
        else:
            assert loaded == 3
            assert set(restored.community("default").members) == {"a", "c"}
        assert restored.community("default").members["a"].balance("points") == 2
        assert restored.community("fans").members["x"].to_json() == (
            state.community("fans").member("x").to_json()
        )
        assert restored.community("default").find("nobody") is None

    def test_an_empty_batch_changes_nothing(self, store: Store) -> None:
        state = store.open()
        store.commit([], state)
        assert store.outbox() == []
        assert store.commit_async([], state).result(timeout=10) is None

    def test_commit_async_is_durable_when_its_future_completes(
        self, backend: StoreBackend, store: Store
    ) -> None:
        state = store.open()
        futures = []
        for n in range(1, 4):
            d = decision(n)
            award(state, d, "u1", n)
            action(d, f"a{n}")
            futures.append(store.commit_async([d], state))
            assert store.is_processed(f"evt-{n}")
        for f in futures:
            assert f.result(timeout=30) is None
        assert [i.action.key for i in store.outbox()] == ["a1", "a2", "a3"]
        restored = backend.again(store).open()
        assert restored.community("default").member("u1").balance("points") == 6

    # outbox ------------------------------------------------------------------------------
    def test_outbox_keeps_commit_order_and_ignores_duplicate_keys(
        self, backend: StoreBackend, store: Store
    ) -> None:
        state = store.open()
        d1, d2, d3 = decision(1), decision(2), decision(3)
        a1 = action(d1, "k1", "send", text="hi")
        action(d1, "k2", "award", currency="points", amount=5)
        action(d2, "k1", "send", text="duplicate in the same batch")
        action(d2, "k3", "mute", member="u2", duration=600)
        store.commit([d1, d2], state)
        action(d3, "k3", "mute", member="u2")  # a duplicate of a committed action
        action(d3, "k4", "announce", member=None, text="本周话题")
        store.commit([d3], state)
        items = store.outbox()
        assert [i.action.key for i in items] == ["k1", "k2", "k3", "k4"]
        assert items[0].action == a1
        assert items[3].action.member is None
        assert all(
            i.status == "pending" and i.attempts == 0 and i.last_error is None for i in items
        )
        seqs = [i.seq for i in items]
        assert seqs == sorted(seqs) and len(set(seqs)) == 4

        again = backend.again(store)
        assert [(i.seq, i.action) for i in again.outbox()] == [(i.seq, i.action) for i in items]
        state2 = again.open()
        d4 = decision(4)
        action(d4, "k2")
        action(d4, "k5")
        again.commit([d4], state2)
        keys = [i.action.key for i in again.outbox()]
        assert keys == ["k1", "k2", "k3", "k4", "k5"]
        assert again.outbox()[-1].seq > seqs[-1]

    def test_outbox_filters_and_limits(self, store: Store) -> None:
        state = store.open()
        d = decision(1)
        for k in range(5):
            action(d, f"k{k}")
        store.commit([d], state)
        store.mark_delivered(["k1", "k3"])
        assert [i.action.key for i in store.outbox(status="pending")] == ["k0", "k2", "k4"]
        assert [i.action.key for i in store.outbox(status="delivered")] == self.delivered(
            ["k1", "k3"]
        )
        assert store.outbox(status="failed") == []
        assert [i.action.key for i in store.outbox(limit=2)] == (
            ["k0", "k1"] if self.keeps_history else ["k0", "k2"]
        )
        assert [i.action.key for i in store.outbox(status="pending", limit=2)] == ["k0", "k2"]
        assert store.outbox(limit=0) == []
        with pytest.raises(ValueError, match="unknown outbox status"):
            store.outbox(status="sent")
        with pytest.raises(ValueError, match="limit"):
            store.outbox(limit=-1)

    def test_mark_delivered_and_failed(self, backend: StoreBackend, store: Store) -> None:
        state = store.open()
        d = decision(1)
        for k in ("a", "b", "c", "d"):
            action(d, k)
        store.commit([d], state)
        store.mark_failed("a", "HTTP 503", permanent=False)
        store.mark_failed("a", "HTTP 429: retry after 5 s", permanent=False)
        store.mark_failed("b", "HTTP 403: forbidden", permanent=True)
        store.mark_delivered(["c", "c", "unknown-key"])
        store.mark_delivered(["c"])  # already delivered: no new attempt
        store.mark_failed("c", "late failure", permanent=True)  # delivered stays delivered
        store.mark_failed("unknown-key", "x", permanent=True)
        store.mark_delivered([])

        def view(s: Store) -> dict[str, tuple[str, int, str | None]]:
            return {i.action.key: (i.status, i.attempts, i.last_error) for i in s.outbox()}

        expected = {
            "a": ("pending", 2, "HTTP 429: retry after 5 s"),
            "b": ("failed", 1, "HTTP 403: forbidden"),
            "c": ("delivered", 1, None),
            "d": ("pending", 0, None),
        }
        if not self.keeps_history:
            del expected["c"]
        assert view(store) == expected
        again = backend.again(store)
        assert view(again) == expected
        again.mark_delivered(["a", "b"])  # a retry may still succeed
        if self.keeps_history:
            assert view(again)["a"] == ("delivered", 3, "HTTP 429: retry after 5 s")
            assert view(again)["b"][0] == "delivered"
        else:
            assert view(again) == {"d": ("pending", 0, None)}

    def test_sending_is_durable_and_resolves_to_delivered_or_failed(
        self, backend: StoreBackend, store: Store
    ) -> None:
        state = store.open()
        d = decision(1)
        for k in ("a", "b", "c", "d"):
            action(d, k)
        store.commit([d], state)
        store.mark_delivered(["d"])
        store.mark_sending(["a", "b", "c", "d", "unknown-key"])  # d is final: unchanged
        assert [i.action.key for i in store.outbox(status="sending")] == ["a", "b", "c"]
        assert [i.action.key for i in store.outbox(status="pending")] == []
        again = backend.again(store)  # a restart sees what was in flight
        assert [i.action.key for i in again.outbox(status="sending")] == ["a", "b", "c"]
        again.mark_delivered(["a"])
        again.mark_failed("b", "HTTP 503", permanent=False)
        again.mark_failed("c", "HTTP 403", permanent=True)
        view = {i.action.key: (i.status, i.attempts) for i in again.outbox()}
        expected = {
            "a": ("delivered", 1),
            "b": ("pending", 1),
            "c": ("failed", 1),
            "d": ("delivered", 1),
        }
        assert view == {
            k: v for k, v in expected.items() if self.keeps_history or v[0] != "delivered"
        }

    def test_outbox_after_seq_and_the_platform_of_the_causing_event(
        self, backend: StoreBackend, store: Store
    ) -> None:
        state = store.open()
        d1 = Decision(
            "evt-1",
            T0,
            event_from_obj(
                {
                    "id": "evt-1",
                    "type": "message.posted",
                    "at": T0.isoformat(),
                    "platform": "discord",
                    "member": {"id": "u1"},
                }
            ),
        )
        action(d1, "k1")
        action(d1, "k2")
        d2 = decision(2, cause="timer-1", timer=True)
        action(d2, "k3")
        store.commit([d1, d2], state)
        items = store.outbox()
        assert [(i.action.key, i.platform) for i in items] == [
            ("k1", "discord"),
            ("k2", "discord"),
            ("k3", None),
        ]
        first = items[0].seq
        assert [i.action.key for i in store.outbox(after=first)] == ["k2", "k3"]
        assert [i.action.key for i in store.outbox(status="pending", after=first, limit=1)] == [
            "k2"
        ]
        assert store.outbox(after=items[-1].seq) == []
        again = backend.again(store)
        assert [(i.action.key, i.platform) for i in again.outbox(after=first)] == [
            ("k2", "discord"),
            ("k3", None),
        ]
        assert again.outbox(status="pending")[0].action == items[0].action
        with pytest.raises(ValueError, match="after"):
            store.outbox(after=-1)

    # timers --------------------------------------------------------------------------------
    def test_timers_added_and_fired_in_one_batch(self, backend: StoreBackend, store: Store) -> None:
        state = store.open()
        d0 = decision(0)
        add_timer(state, d0, "old", 1)
        store.commit([d0], state)

        d1, d2, d3 = decision(1), decision(2, cause="old", timer=True), decision(3)
        add_timer(state, d1, "short", 5)
        add_timer(state, d1, "long", 50)
        fire_timer(state, d2, "old")
        d2.is_timer = True
        d2b = decision(4, cause="short", timer=True)
        fire_timer(state, d2b, "short")  # added and fired in the same batch
        add_timer(state, d3, "old", 20)  # fired, then scheduled again, same batch
        store.commit([d1, d2, d2b, d3], state)
        restored = backend.again(store).open()
        assert restored.timer_ids == {"long", "old"}
        assert restored.timer_seq == state.timer_seq == 4
        assert state_json(restored)["timers"] == state_json(state)["timers"]
        assert pop_order(restored) == ["old", "long"]

    def test_a_timer_fired_later_is_gone(self, backend: StoreBackend, store: Store) -> None:
        state = store.open()
        d1 = decision(1)
        add_timer(state, d1, "t", 5)
        store.commit([d1], state)
        d2 = decision(2, cause="t", timer=True)
        fire_timer(state, d2, "t")
        store.commit([d2], state)
        restored = backend.again(store).open()
        assert restored.timers == [] and restored.timer_ids == set()

    def test_many_timers_come_back_in_order_whatever_a_state_holds_at_once(
        self, backend: StoreBackend, store: Store, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A store may give timers on demand (``State.timer_source``): restored through
        a window of 3, every pending timer still fires in (due, seq) order, and an id
        pending beyond the window is not scheduled twice."""
        monkeypatch.setattr(State, "TIMER_WINDOW", 3)
        state = store.open()
        d1, d2 = decision(1), decision(2)
        for i in range(12):
            add_timer(state, d1 if i % 2 else d2, f"t{i}", [30, 10, 20, 10, 40][i % 5] + i)
        store.commit([d1, d2], state)
        order = pop_order(copy_timers(state))
        restored = backend.again(store).open()
        assert not restored.add_timer(Timer(1.0, 0, order[-1], "test", "default", "u1", "r"))
        assert pop_order(restored) == order

    # ledger ------------------------------------------------------------------------------
    def test_ledger_round_trips_with_reversals(self, backend: StoreBackend, store: Store) -> None:
        state = store.open()
        d1 = decision(1)
        award(state, d1, "u1", 5)
        award(state, d1, "u1", 7)
        award(state, d1, "u2", 1, community="fans")
        store.commit([d1], state)
        first = d1.ledger[0][2]
        d2, d3 = decision(2), decision(3)
        revoke(state, d2, "u1", first)  # reverses an entry committed earlier
        later = award(state, d3, "u1", 2)
        revoke(state, d3, "u1", later)  # reverses an entry of the same batch
        store.commit([d2, d3], state)
        if not self.keeps_history:
            self.forgotten(lambda: store.ledger("default", "u1"))
            self.forgotten(lambda: list(store.ledgers()))
            return

        written = [
            e for d in (d1, d2, d3) for c, mid, e in d.ledger if (c, mid) == ("default", "u1")
        ]
        assert [(e.seq, e.reverses) for e in written] == [
            (1, None),
            (2, None),
            (3, 1),
            (4, None),
            (5, 4),
        ]
        ledger = store.ledger("default", "u1")
        assert [(e.seq, e.amount, e.reverses, e.reversed_by) for e in ledger] == [
            (1, 5, None, 3),
            (2, 7, None, None),
            (3, -5, 1, None),
            (4, 2, None, 5),
            (5, -2, 4, None),
        ]
        assert [e.to_json() for e in store.ledger("fans", "u2")] == [d1.ledger[2][2].to_json()]
        assert store.ledger("default", "nobody") == []
        assert [(c, mid, e.seq) for c, mid, e in store.ledgers()] == [
            ("default", "u1", seq) for seq in range(1, 6)
        ] + [("fans", "u2", 1)]
        assert [e.seq for _, _, e in store.ledgers("fans")] == [1]

        again = backend.again(store)
        restored = again.open()
        assert again.ledger("default", "u1") == ledger
        m = restored.community("default").member("u1")
        assert m.ledger_seq == 5
        assert m.balance("points") == sum(e.amount for e in again.ledger("default", "u1")) == 7

    # persons (docs/reference.md §4.3) ----------------------------------------------------
    def test_persons_round_trip_with_their_accounts_ledger_and_codes(
        self, backend: StoreBackend, store: Store
    ) -> None:
        state = store.open()
        d1 = decision(1)
        award(state, d1, "u1", 5, community="tg")
        award(state, d1, "u2", 3, community="qq")
        store.commit([d1], state)
        d2 = decision(2)
        record = action(d2, "k-link", "link", "u2")
        for community, member in (("tg", "u1"), ("qq", "u2")):
            account = state.community(community).member(member)
            link(state, d2, account, "P1", frozenset({"points"}), record, d2.at, "persons")
        state.community(PERSONS).data = {
            "bind_codes": {"ABC234": {"community": "tg", "member": "u1", "expires": 1.5e9}}
        }
        d2.touch_community(PERSONS)
        store.commit([d2], state)
        expected = state_json(state)
        assert expected["communities"][PERSONS]["members"]["P1"]["accounts"] == [
            ["tg", "u1"],
            ["qq", "u2"],
        ]
        again = backend.again(store)
        restored = again.open()
        assert state_json(restored) == expected
        person = restored.community(PERSONS).member("P1")
        assert person.balance("points") == 8
        assert restored.community("qq").member("u2").person == "P1"
        if not self.keeps_history:
            return
        ledger = again.ledger(PERSONS, "P1")
        assert [(e.kind, e.amount, e.origin) for e in ledger] == [
            ("merge", 5, ("tg", "u1")),
            ("merge", 3, ("qq", "u2")),
        ]
        assert sum(e.amount for e in ledger) == person.balance("points")
        assert [(e.kind, e.amount, e.origin) for e in again.ledger("tg", "u1")] == [
            ("award", 5, None),
            ("merge", -5, None),
        ]

    def test_a_send_that_names_a_platform_is_delivered_through_it(self, store: Store) -> None:
        state = store.open()
        d1 = Decision(
            "evt-1",
            T0,
            event_from_obj(
                {
                    "id": "evt-1",
                    "type": "custom.dm",
                    "at": T0.isoformat(),
                    "platform": "telegram",
                    "member": {"id": "u1"},
                }
            ),
        )
        # The engine lists the actions that name their platform in `Decision.routed`.
        d1.routed = [
            action(d1, "k1", "send", text="hi", platform="onebot"),
            action(d1, "k2", "broadcast", None, text="all", platform="discord"),
        ]
        action(d1, "k3", "reply", text="re")
        d2 = decision(2, cause="timer-1", timer=True)
        d2.routed = [action(d2, "k4", "send", text="later", platform="onebot")]
        store.commit([d1, d2], state)
        assert [(i.action.key, i.platform) for i in store.outbox()] == [
            ("k1", "onebot"),
            ("k2", "discord"),
            ("k3", "telegram"),
            ("k4", "onebot"),
        ]

    # logs --------------------------------------------------------------------------------
    def test_rule_errors_audit_and_review(self, backend: StoreBackend, store: Store) -> None:
        state = store.open()
        d1, d2 = decision(1), decision(2)
        e1 = RuleError("quality-post", "evt-1", "division by zero", d1.at)
        d1.add_error(e1)
        d1.add_audit({"action": "mute", "member": "u1", "reason": "flood", "at": "x"})
        d2.add_error(RuleError("welcome", "evt-2", "unknown template 'hi'", d2.at))
        d2.add_review({"member": "u2", "reason": "possible ad", "text": "加我微信"})
        d2.add_audit({"action": "delete_message", "member": "u2"})
        store.commit([d1], state)
        store.commit([d2], state)

        def check(s: Store) -> None:
            errors = s.rule_errors()
            assert errors[0] == e1
            assert [e.rule for e in errors] == ["quality-post", "welcome"]
            assert [a["action"] for a in s.audit_log()] == ["mute", "delete_message"]
            assert s.review_queue() == [
                {"member": "u2", "reason": "possible ad", "text": "加我微信"}
            ]

        check(store)
        check(backend.again(store))

    # reports, traces and shadow actions -------------------------------------------------
    def test_activity_is_counted_per_member_and_local_day(
        self, backend: StoreBackend, store: Store
    ) -> None:
        store.set_report_context(ReportContext("fans", "Asia/Shanghai", ("message.posted",)))
        state = store.open()
        batch = []
        # 23:50 and 00:10 in Shanghai fall on two local days; the timer and the
        # internal event count nothing.
        for n, (hour, minute, type_) in enumerate(
            [(23, 50, "message.posted"), (23, 55, "message.posted"), (0, 10, "checkin.done")]
        ):
            at = datetime(
                2026, 3, 2 if hour else 3, hour, minute, tzinfo=timezone(timedelta(hours=8))
            )
            ev = event_from_obj(
                {"id": f"e{n}", "type": type_, "at": at.isoformat(), "member": {"id": "u1"}}
            )
            batch.append(Decision(ev.id, ev.at, ev))
        batch.append(decision(9, timer=True))
        store.commit(batch, state)
        store.commit(
            [
                Decision(
                    "e9",
                    batch[0].at,
                    event_from_obj(
                        {
                            "id": "e9",
                            "type": "message.posted",
                            "at": "2026-03-02T12:00:00+00:00",
                            "member": {"id": "u2"},
                            "community": "other",
                        }
                    ),
                )
            ],
            state,
        )
        expected = [
            ("default", "u1", "2026-03-02", "message.posted", 2),
            ("default", "u1", "2026-03-03", "checkin.done", 1),
            ("other", "u2", "2026-03-02", "message.posted", 1),
        ]
        if not self.keeps_history:
            self.forgotten(store.activity)
        else:
            assert sorted(store.activity()) == expected
        again = backend.again(store)
        if self.keeps_history:
            assert sorted(again.activity()) == expected
        assert again.report_context() == ReportContext("fans", "Asia/Shanghai", ("message.posted",))

    def test_traces_are_kept_for_their_retention(self, backend: StoreBackend, store: Store) -> None:
        state = store.open()
        store.keep_traces(3600.0)

        def traced(n: int, member: str, minutes: float) -> Decision:
            d = decision(n)
            d.add_trace(
                {
                    "event": d.cause,
                    "cause": d.cause,
                    "community": "default",
                    "member": member,
                    "ts": T0.timestamp() + 60 * minutes,
                    "rules": [{"rule": "r"}],
                }
            )
            return d

        store.commit([traced(1, "u1", 0), traced(2, "u2", 10)], state)
        store.commit([traced(3, "u1", 30)], state)
        assert [t["event"] for t in store.traces()] == ["evt-1", "evt-2", "evt-3"]
        assert [t["event"] for t in store.traces(member="u1")] == ["evt-1", "evt-3"]
        assert store.traces(event="evt-2")[0]["rules"] == [{"rule": "r"}]
        assert [t["event"] for t in store.traces(cause="evt-3")] == ["evt-3"]
        assert store.traces(member="u1", community="elsewhere") == []
        store.commit([traced(4, "u2", 65)], state)  # evt-1 is now over an hour old
        assert [t["event"] for t in store.traces()] == ["evt-2", "evt-3", "evt-4"]
        assert [t["event"] for t in backend.again(store).traces()] == ["evt-2", "evt-3", "evt-4"]

    def test_shadow_actions_are_kept_but_never_pending(
        self, backend: StoreBackend, store: Store
    ) -> None:
        state = store.open()
        d = decision(1)
        action(d, "k1")
        shadow = action(d, "k2", "ban")
        shadow.shadow = True
        store.commit([d], state)

        def check(s: Store) -> None:
            assert [i.action.key for i in s.outbox(status="pending")] == ["k1"]
            items = s.outbox(status="shadow")
            if not self.keeps_history:  # never delivered: not kept
                assert items == []
                return
            assert [i.action.key for i in items] == ["k2"]
            assert items[0].action.shadow and items[0].action.to_json()["shadow"] is True

        check(store)
        check(backend.again(store))

    def test_close_is_idempotent(self, backend: StoreBackend) -> None:
        store = backend.new()
        store.open()
        store.close()
        store.close()
