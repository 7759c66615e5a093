"""Fast paths are exact: a specialised executor (``ActionDef.specialise``: the constant
forms of `award`, capped or not, and of `tag`) has exactly the effects of the general
executor it stands in for.

The same playbook is compiled twice — with the built-in registry, and with a copy of it
whose actions have no ``specialise`` — and both engines take the same events from the
same starting state.  Every decision (actions, ledger, errors, touched members, timers)
and the whole final state must be equal (docs/architecture.md, "Fast paths").
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from engage_rules.compile.playbook import CompiledPlaybook
from engage_rules.engine.core import Engine
from engage_rules.features.points import MAX_EARNED, do_award
from engage_rules.features.tags import do_tag
from engage_rules.model.decision import Decision
from engage_rules.model.events import Event
from engage_rules.model.state import MemberState, State, new_member
from engage_rules.plugins import Registry, build_registry
from engage_rules.testing import T0, event, playbook

FAST = build_registry(installed=False)
#: The same registry, every action without its fast path.
GENERAL: Registry = dataclasses.replace(
    FAST,
    actions={name: dataclasses.replace(a, specialise=None) for name, a in FAST.actions.items()},
)

MEMBERS = ("u1", "u2", "u3")
TYPES = ("message.posted", "reaction.added")
CURRENCIES = ("points", "coins")


@st.composite
def awards(draw: st.DrawFn) -> str:
    amount = draw(
        st.one_of(st.integers(0, 12), st.integers(0, 50), st.sampled_from([10**12, 10**12 - 1]))
    )
    currency = draw(st.sampled_from(CURRENCIES))
    form = draw(st.sampled_from(["points", "currency"])) if currency == "points" else "currency"
    params = (
        [f"points: {amount}"]
        if form == "points"
        else [f"currency: {currency}", f"amount: {amount}"]
    )
    if draw(st.booleans()):
        params.append(f"reason: {draw(st.sampled_from(['thanks', '感谢参与']))}")
    if draw(st.booleans()):
        per = draw(st.sampled_from(["day", "week", "month"]))
        params.append(f"cap: {{per: {per}, max: {draw(st.integers(1, 120))}}}")
    return "award: {" + ", ".join(params) + "}"


@st.composite
def playbooks(draw: st.DrawFn) -> str:
    rules = []
    for i in range(draw(st.integers(1, 4))):
        actions = draw(
            st.lists(
                st.one_of(awards(), st.sampled_from(["tag: regular", "tag: {name: 活跃}"])),
                min_size=1,
                max_size=3,
            )
        )
        on = draw(st.sampled_from(TYPES))
        rules.append(
            f"  - id: r{i}\n    on: {on}\n    do:\n" + "".join(f"      - {a}\n" for a in actions)
        )
    return "currencies: [points, coins]\nrules:\n" + "".join(rules)


@st.composite
def starts(draw: st.DrawFn) -> dict[str, Any]:
    """A starting state: members near the lifetime-credit limit, or tagged already
    (with or without expiry)."""
    start: dict[str, Any] = {}
    for mid in MEMBERS:
        start[mid] = {
            "earned": draw(
                st.one_of(
                    st.just(0),
                    st.integers(0, 12).map(lambda k: MAX_EARNED - k),  # at the limit
                    st.integers(-3, 3).map(lambda k: MAX_EARNED - 10**12 + k),
                )
            ),
            "tags": draw(
                st.sampled_from(
                    [{}, {"regular": None}, {"regular": T0 + timedelta(days=3)}, {"活跃": None}]
                )
            ),
        }
    return start


@st.composite
def streams(draw: st.DrawFn) -> list[Event]:
    """Events over ~70 days (calendar periods roll over), some of them late."""
    n = draw(st.integers(1, 30))
    offsets = draw(st.lists(st.integers(0, 70 * 24 * 60), min_size=n, max_size=n))
    if draw(st.booleans()):
        offsets.sort()  # mostly in order; otherwise as drawn (late events)
    return [
        event(
            draw(st.sampled_from(TYPES)),
            draw(st.sampled_from(MEMBERS)),
            at=T0 + timedelta(minutes=m),
            id=f"e{i}",
        )
        for i, m in enumerate(offsets)
    ]


def state_from(start: dict[str, Any]) -> State:
    state = State()
    community = state.community("default")
    for mid, fields in start.items():
        m = community.member(mid)
        if fields["earned"]:
            m.earned = {"points": fields["earned"], "coins": fields["earned"]}
        m.tags = dict(fields["tags"])
    return state


def outcome(d: Decision) -> dict[str, Any]:
    return {
        "actions": [a.to_json() for a in d.actions],
        "ledger": [repr(entry) for entry in d.ledger],
        "errors": [e.to_json() for e in d.errors],
        "touched": sorted(d.touched),
        "timers": [t.to_json() for t in d.timers_added],
        "fired": list(d.timers_fired),
    }


def run(pb: CompiledPlaybook, start: dict[str, Any], events: list[Event]) -> Any:
    engine = Engine(pb, state_from(start))
    decisions = [outcome(d) for e in events for d in engine.process(e)]
    members = {
        mid: m.to_json()
        for c in engine.state.communities.values()
        for mid, m in sorted(c.members.items())
    }
    return decisions, members


def test_the_registries_differ_only_in_fast_paths() -> None:
    text = "rules:\n  - {id: r, on: message.posted, do: [{award: {points: 2}}, {tag: x}]}\n"
    fast = playbook(text, registry=FAST).rules[0].do
    general = playbook(text, registry=GENERAL).rules[0].do
    assert [a.execute for a in general] == [do_award, do_tag]
    assert all(a.execute not in (do_award, do_tag) for a in fast)  # specialised


LIMIT_RULES = """
rules:
  - id: r
    on: message.posted
    do: [{award: {points: 5}}, {award: {points: 1}}]
"""
AT_LIMIT = {"u1": {"earned": MAX_EARNED - 5, "tags": {"regular": T0 + timedelta(days=3)}}}
ONE_POST = [event("message.posted", "u1", at=T0, id="e1")]


@settings(max_examples=120, deadline=None)
@given(text=playbooks(), start=starts(), events=streams())
@example(  # the lifetime-credit limit, exactly reached and just passed
    text=LIMIT_RULES,
    start=AT_LIMIT,
    events=ONE_POST,
)
@example(  # an expiring tag made permanent by a constant `tag:`
    text="rules:\n  - {id: r, on: message.posted, do: [{tag: regular}]}\n",
    start=AT_LIMIT,
    events=ONE_POST,
)
def test_fast_paths_have_exactly_the_effects_of_the_general_executors(
    text: str, start: dict[str, Any], events: list[Event]
) -> None:
    fast = playbook(text, registry=FAST)
    general = playbook(text, registry=GENERAL)
    assert run(fast, start, events) == run(general, start, events)


# -- the observation of an event's member (engine/core.py `_light_types`) -------------
# `_decide` writes out what `Engine._observe` does for the types where that is at most
# the activity time; an engine without that table observes every event the long way.

OBSERVED = {
    "plain": "rules:\n  - {id: r, on: message.posted, do: [{tag: x}]}\n",
    "counted": (
        "rules:\n  - id: r\n    on: message.posted\n"
        "    if: \"count('checkin', within='2d') >= 2 and streak('reaction.added') >= 1\"\n"
        "    do: [{tag: x}]\n"
    ),
    "gaps": (
        "activity_events: [message.posted, checkin]\nrules:\n  - id: r\n"
        "    on: reaction.added\n    if: 'member.typical_gap is not none'\n    do: [{tag: x}]\n"
    ),
    "duplicates": (
        "rules:\n  - id: r\n    on: message.posted\n"
        "    if: \"duplicates(within='1h') >= 2\"\n    do: [{tag: x}]\n"
    ),
}
OBSERVED_TYPES = ("message.posted", "reaction.added", "checkin", "member.joined", "custom.x")


@st.composite
def observed_streams(draw: st.DrawFn) -> list[Event]:
    """Events of several types, some late, some with profile fields on the member."""
    n = draw(st.integers(1, 25))
    out = []
    for i in range(n):
        profile: dict[str, Any] = {}
        if draw(st.integers(0, 3)) == 0:
            profile = {
                "name": draw(st.sampled_from(["阿明", "Ann", None])),
                "roles": draw(st.sampled_from([None, ["member"], ["mod", "member"]])),
                "created_at": draw(st.sampled_from([None, T0 - timedelta(days=9)])),
            }
        out.append(
            event(
                draw(st.sampled_from(OBSERVED_TYPES)),
                draw(st.sampled_from(MEMBERS)),
                at=T0 + timedelta(minutes=draw(st.integers(0, 5 * 24 * 60))),
                id=f"e{i}",
                text=draw(st.sampled_from(["hello", "Hello!", "bye"])),
                **{k: v for k, v in profile.items() if v is not None},
            )
        )
    return out


def observe_all(pb: CompiledPlaybook, events: list[Event], light: bool) -> Any:
    engine = Engine(pb)
    if not light:
        engine._light = {}  # every event through Engine._observe
    decisions = [outcome(d) for e in events for d in engine.process(e)]
    members = {mid: m.to_json() for mid, m in engine.state.community("default").members.items()}
    return decisions, members


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(sorted(OBSERVED)), events=observed_streams())
def test_the_written_out_observation_equals_observe(name: str, events: list[Event]) -> None:
    pb = playbook(OBSERVED[name])
    assert observe_all(pb, events, light=True) == observe_all(pb, events, light=False)
    assert Engine(pb)._light  # some types take the written-out path


def test_new_member_is_the_dataclass_default() -> None:
    """model/state.py writes new members' state out from MemberState's fields: equal to
    ``MemberState(id, community)``, every container its own."""
    made = new_member("u1", "club")
    assert made == MemberState(id="u1", community="club")
    assert made.to_json() == MemberState(id="u1", community="club").to_json()
    other = new_member("u2", "club")
    for f in dataclasses.fields(MemberState):
        value = getattr(made, f.name)
        assert type(value) is type(getattr(other, f.name))
        if isinstance(value, dict | list | set):
            assert value is not getattr(other, f.name)
    assert State().community("club").member("u1") == made
