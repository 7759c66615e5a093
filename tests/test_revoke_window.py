"""What a `revoke` can reach (docs/language.md, "Actions"; docs/reference.md §5.3): the
engine keeps only the awards a revoke of the playbook may target, made within
`revoke_within`; older awards are final, and a playbook without revoke keeps nothing."""

from __future__ import annotations

import pytest

from engage_rules import Engine
from engage_rules.errors import PlaybookError
from engage_rules.model.state import REVOCABLE_MAX, State
from engage_rules.testing import T0, event
from helpers import ledger, playbook, run, types

DAY = 86400

RULES = """
rules:
  - id: post
    on: message.posted
    do: [{award: {points: 5}}]
  - id: checkin
    on: checkin
    do: [{award: {points: 2}}]
  - id: removed
    on: message.deleted
    do: [{revoke: {rule: post, event: "{{ event.data.message_id }}"}}]
"""


def test_only_awards_of_targeted_rules_are_kept() -> None:
    eng = Engine(playbook(RULES))
    run(eng, event("message.posted", "u1", 0, message_id="m1"), event("checkin", "u1", 60))
    m = eng.state.community("default").members["u1"]
    assert [(c[0], c[4]) for c in m.revocable] == [(1, "post")]
    assert types(run(eng, event("message.deleted", "u1", 120, message_id="m1"))) == ["revoke"]
    assert m.revocable == [] and m.balances == {"points": 2}


def test_awards_older_than_revoke_within_are_final() -> None:
    eng = Engine(playbook("revoke_within: 2d\n" + RULES))
    run(eng, event("message.posted", "u1", 0, message_id="m1"))
    run(eng, event("message.posted", "u1", 1 * DAY, message_id="m2"))
    # Three days on, m1 (three days old) is final; m2 (two days old) is not.
    assert run(eng, event("message.deleted", "u1", 3 * DAY, message_id="m1")) == []
    assert types(run(eng, event("message.deleted", "u1", 3 * DAY, message_id="m2"))) == ["revoke"]
    m = eng.state.community("default").members["u1"]
    assert m.balances == {"points": 5}
    assert [e.kind for e in ledger(eng)] == ["award", "award", "revoke"]


def test_the_window_counts_from_the_engine_clock() -> None:
    """A late revoke event cannot reach an award the clock has already made final."""
    eng = Engine(playbook("revoke_within: 2d\n" + RULES))
    run(eng, event("message.posted", "u1", 0, message_id="m1"))
    run(eng, event("checkin", "u2", 3 * DAY))  # the clock moves on
    assert run(eng, event("message.deleted", "u1", 1 * DAY, message_id="m1")) == []


def test_a_playbook_without_revoke_keeps_nothing_and_a_start_forgets() -> None:
    eng = Engine(playbook(RULES))
    run(eng, event("message.posted", "u1", 0, message_id="m1"))
    state: State = eng.state
    assert state.community("default").members["u1"].revocable
    # The same state under a playbook without any revoke: forgotten when it starts.
    plain = Engine(playbook(RULES.split("  - id: removed")[0]), state)
    plain.start()
    assert state.community("default").members["u1"].revocable == []
    run(plain, event("message.posted", "u1", 60, message_id="m2"))
    assert state.community("default").members["u1"].revocable == []


def test_a_member_keeps_at_most_revocable_max_credits() -> None:
    eng = Engine(playbook(RULES))
    m = eng.state.community("default").member("u1")
    at = T0.timestamp()
    m.revocable = [[i, at, "points", 1, "post", f"e{i}", None] for i in range(REVOCABLE_MAX)]
    m.ledger_seq = REVOCABLE_MAX
    run(eng, event("message.posted", "u1", 0, message_id="m1"))
    assert len(m.revocable) == REVOCABLE_MAX
    assert m.revocable[0][0] == 1 and m.revocable[-1][0] == REVOCABLE_MAX + 1


def test_revoke_within_must_be_a_duration() -> None:
    with pytest.raises(PlaybookError, match="revoke_within"):
        playbook("revoke_within: 0s\n" + RULES)
