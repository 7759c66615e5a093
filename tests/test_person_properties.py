"""Persons, as invariants (docs/reference.md §4.3, §11.3): for random awards, spends,
revokes, bind codes and `member.linked` links across three groups, a person-wide balance
is always the sum of its ledger entries across the groups, merges move points without
making or losing any, and accounts and persons agree on who is linked to whom."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from engage_rules.engine.core import Engine
from engage_rules.model.persons import PERSONS, holder
from engage_rules.store.memory import MemoryStore
from engage_rules.testing import T0, event, playbook

PLAYBOOK = playbook(
    """
engage_rules: 1
name: person-props
currencies: [{name: points, scope: person}, coins]
rules:
  - id: post
    on: message.posted
    do: [{award: {points: "{{ event.data.n }}"}}, {award: {currency: coins, amount: 1}}]
  - id: buy
    on: redeem.requested
    do: [{spend: {points: "{{ event.data.n }}"}}]
  - id: take-back
    on: message.deleted
    do: [{revoke: {event: "{{ event.data.message_id }}"}}]
  - id: ask
    on: custom.ask
    do: [{bind_code: 1h}]
  - id: bind
    on: custom.bind
    do: [{bind: "{{ event.data.code }}"}]
"""
)

ACCOUNTS = [(g, m) for g in ("tg", "qq", "dc") for m in ("u1", "u2", "u3")]
account = st.sampled_from(ACCOUNTS)
step = st.one_of(
    st.tuples(st.just("post"), account, st.integers(0, 20)),
    st.tuples(st.just("buy"), account, st.integers(1, 30)),
    st.tuples(st.just("revoke"), account, st.integers(0, 30)),
    st.tuples(st.just("bind"), account, account),
    st.tuples(st.just("link"), account, st.sampled_from(["P1", "P2", "P3"])),
)


def _events(steps: list[tuple[Any, ...]], engine: Engine, store: MemoryStore) -> int:
    """Decide ``steps``; returns how many points were awarded less spent and revoked."""
    net = 0
    for i, (kind, (group, member), arg) in enumerate(steps):
        at = T0 + timedelta(minutes=i)
        evs = []
        if kind == "post":
            evs = [
                event("message.posted", member, at, community=group, id=f"m{i}", data={"n": arg})
            ]
        elif kind == "buy":
            evs = [
                event("redeem.requested", member, at, community=group, id=f"b{i}", data={"n": arg})
            ]
        elif kind == "revoke":
            data = {"message_id": f"m{arg}"}
            evs = [event("message.deleted", member, at, community=group, id=f"r{i}", data=data)]
        elif kind == "link":
            data = {"person": arg}
            evs = [event("member.linked", member, at, community=group, id=f"l{i}", data=data)]
        else:
            ask = event("custom.ask", member, at, community=group, id=f"a{i}")
            decisions = engine.process(ask)
            store.commit(decisions, engine.state)
            code = next(
                a.params["code"] for d in decisions for a in d.actions if a.type == "bind_code"
            )
            other_group, other = arg
            data = {"code": code}
            evs = [event("custom.bind", other, at, community=other_group, id=f"c{i}", data=data)]
        for ev in evs:
            decisions = engine.process(ev)
            store.commit(decisions, engine.state)
            for d in decisions:
                assert not d.errors, d.errors
                for _c, _m, entry in d.ledger:
                    if entry.currency == "points" and entry.kind != "merge":
                        net += entry.amount
        _check(engine, store)
    return net


def _check(engine: Engine, store: MemoryStore) -> None:
    state = engine.state
    for c in state.communities.values():
        for m in c.members.values():
            entries = store.ledger(c.name, m.id)
            for currency in ("points", "coins"):
                balance = m.balances.get(currency, 0)
                assert balance >= 0
                assert balance == sum(e.amount for e in entries if e.currency == currency)
            if c.name == PERSONS:
                # A person's entries each name the group (or merged person) of origin.
                assert all(e.origin is not None for e in entries)
                for group, mid in m.accounts:
                    acct = state.community(group).find(mid)
                    assert acct is not None and holder(state, acct) is m
            elif m.person is not None:
                # A linked account holds no person-wide points of its own.
                assert m.balances.get("points", 0) == 0
                person = holder(state, m)
                assert [m.community, m.id] in person.accounts


@settings(max_examples=50, deadline=None)
@given(steps=st.lists(step, min_size=1, max_size=30))
def test_person_balance_is_the_sum_of_its_ledger_across_groups(
    steps: list[tuple[Any, ...]],
) -> None:
    store = MemoryStore(keep_history=True)
    engine = Engine(PLAYBOOK, store.open())
    net = _events(steps, engine, store)
    # Merges move points between holders: every point awarded, less spent and revoked,
    # is held by exactly one holder (an unlinked account, or a person).
    held = sum(
        m.balances.get("points", 0)
        for c in engine.state.communities.values()
        for m in c.members.values()
    )
    assert held == net
