"""Several dispatchers on one PostgreSQL outbox (store/postgres_claims.py): claims are
disjoint, one community is held by one dispatcher at a time, a retry keeps its claim,
and a dead dispatcher's claims are taken over once their lease ran out."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engage_rules.store.base import OutboxItem
from engage_rules.store.postgres import PostgreSQLStore
from engage_rules.store.postgres_claims import OutboxClaims
from engage_rules.store.postgres_worker import PartitionStore
from engage_rules.testing.store_contract import action, decision


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def url(pg_url: str) -> Iterator[str]:
    """A store whose outbox holds 3 actions in each of the communities a, b and c (in
    commit order a1 b1 c1 a2 b2 c2 a3 b3 c3)."""
    store = PostgreSQLStore(pg_url, worker=True)
    try:
        view = PartitionStore(store, store.fence("t", [0])[0])
        state = view.open()
        batch = []
        for n in range(1, 4):
            for community in "abc":
                d = decision(n, cause=f"{community}{n}")
                action(d, f"{community}{n}").community = community
                batch.append(d)
        view.commit(batch, state)
    finally:
        store.close()
    yield pg_url


@pytest.fixture
def two(url: str) -> Iterator[tuple[OutboxClaims, OutboxClaims, Clock]]:
    clock = Clock()
    stores = [PostgreSQLStore(url, worker=True) for _ in range(2)]
    try:
        yield OutboxClaims(stores[0], clock=clock), OutboxClaims(stores[1], clock=clock), clock
    finally:
        for s in stores:
            s.close()


def _keys(items: list[OutboxItem]) -> list[str]:
    return [i.action.key for i in items]


def test_claims_are_disjoint_and_keep_communities_apart(
    two: tuple[OutboxClaims, OutboxClaims, Clock],
) -> None:
    first, second, _ = two
    assert _keys(first.outbox(status="pending", limit=2)) == ["a1", "b1"]
    # a and b are held by the first dispatcher: the second takes c only.
    assert _keys(second.outbox(status="pending", limit=10)) == ["c1", "c2", "c3"]
    assert _keys(first.outbox(status="pending", limit=10)) == ["a2", "b2", "a3", "b3"]
    assert second.outbox(status="pending") == []
    first.mark_delivered(["a1", "a2", "a3", "c1"])  # c1 is not the first's: unchanged
    statuses = {i.action.key: i.status for i in first.store.outbox()}
    assert statuses == {
        "a1": "delivered",
        "a2": "delivered",
        "a3": "delivered",
        "b1": "sending",
        "b2": "sending",
        "b3": "sending",
        "c1": "sending",
        "c2": "sending",
        "c3": "sending",
    }


def test_a_retry_keeps_the_claim_and_a_permanent_failure_ends_it(
    two: tuple[OutboxClaims, OutboxClaims, Clock],
) -> None:
    first, second, clock = two
    assert _keys(first.outbox(status="pending", limit=1)) == ["a1"]
    first.mark_failed("a1", "timeout", permanent=False)
    clock.now += first.lease / 2
    first.mark_failed("a1", "timeout again", permanent=False)  # renews the lease
    clock.now += first.lease * 0.9
    assert "a1" not in _keys(second.outbox(status="pending", limit=10))
    [a1] = [i for i in first.store.outbox() if i.action.key == "a1"]
    assert (a1.status, a1.attempts, a1.last_error) == ("sending", 2, "timeout again")
    first.mark_failed("a1", "gone", permanent=True)
    [a1] = [i for i in first.store.outbox() if i.action.key == "a1"]
    assert (a1.status, a1.attempts, a1.last_error) == ("failed", 3, "gone")


def test_a_dead_dispatchers_claims_are_taken_over_after_the_lease(
    two: tuple[OutboxClaims, OutboxClaims, Clock], caplog: pytest.LogCaptureFixture
) -> None:
    first, second, clock = two
    assert len(first.outbox(status="pending", limit=3)) == 3  # a1 b1 c1, then it dies
    assert second.outbox(status="sending") == []  # the leases run
    clock.now += first.lease / 2
    assert second.renew() == 0 and first.renew() == 3  # the first renews...
    clock.now += first.lease * 0.9
    assert second.outbox(status="sending") == []
    clock.now += first.lease  # ...and then stops renewing
    recovered = second.outbox(status="sending")
    assert _keys(recovered) == ["a1", "b1", "c1"]
    assert "possible duplicate" in caplog.text
    first.mark_delivered(["a1"])  # too late: the second holds it now
    assert {i.action.key: i.status for i in second.store.outbox()}["a1"] == "sending"
    second.mark_delivered(["a1"])
    assert {i.action.key: i.status for i in second.store.outbox()}["a1"] == "delivered"
