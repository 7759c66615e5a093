"""Persons (docs/reference.md §4.3): one member across groups and platforms — person-wide
currencies, `member.linked`, `bind_code` / `bind`, merges, and messages routed to a group
or platform."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from engage_rules.engine.core import Engine
from engage_rules.errors import PlaybookError
from engage_rules.i18n import use_language
from engage_rules.model.decision import ActionRecord, Decision
from engage_rules.model.events import EventError, parse_event
from engage_rules.model.persons import PERSONS
from engage_rules.store.memory import MemoryStore
from engage_rules.testing import T0, event, playbook

MULTI = """
engage_rules: 1
name: multi
currencies: [{name: points, scope: person}, coins]
levels:
  by: points
  ladder: [{level: 1, name: 新手, at: 0}, {level: 2, name: 达人, at: 10}]
rules:
  - id: post
    on: message.posted
    do: [{award: {points: 5}}, {award: {currency: coins, amount: 1}}]
  - id: ask
    on: custom.bind_request
    do: [{bind_code: 10m}]
  - id: tell
    on: person.code_issued
    do: [{send: {text: "code {{ event.data.code }}"}}]
  - id: bind
    on: custom.bind
    do: [{bind: "{{ event.data.code }}"}]
    refused: [{reply: {text: "refused {{ refusal.reason }}"}}]
  - id: linked
    on: person.linked
    do: [{reply: {text: "linked to {{ event.data.person }} with {{ event.data.member }}"}}]
  - id: buy
    on: redeem.requested
    do: [{spend: {points: "{{ event.data.price }}"}}]
    else: [{reply: {text: "short: {{ member.points }}"}}]
  - id: show
    on: custom.show
    do: [{reply: {text: "{{ member.points }} {{ member.balances }} {{ member.person }}"}}]
  - id: dm-in
    on: custom.dm
    do:
      - send:
          text: hello
          community: "{{ event.data.group }}"
          platform: "{{ event.data.platform }}"
    refused: [{reply: {text: "no account: {{ refusal.community }}"}}]
  - id: shout
    on: custom.shout
    do: [{broadcast: {text: news, community: qq, platform: onebot}}]
  - id: take-back
    on: message.deleted
    do: [{revoke: {event: "{{ event.data.message_id }}"}}]
"""


class World:
    """An engine over a memory store that keeps its history (ledgers), one commit per
    event."""

    def __init__(self, text: str = MULTI) -> None:
        self.store = MemoryStore(keep_history=True)
        self.engine = Engine(playbook(text), self.store.open())
        self.n = 0
        self.later = timedelta(0)
        self.decisions: list[Decision] = []

    def __call__(
        self, type_: str, member: str, community: str, *, minutes: float = 0, **data: Any
    ) -> list[ActionRecord]:
        self.n += 1
        self.later += timedelta(minutes=minutes)  # the clock moves on by `minutes`
        at = T0 + timedelta(seconds=self.n) + self.later
        ev = event(type_, member, at, community=community, data=data, id=f"e{self.n}")
        decisions = self.engine.process(ev)
        self.store.commit(decisions, self.engine.state)
        self.decisions += decisions
        return [a for d in decisions for a in d.actions]

    def code(self, member: str, community: str) -> str:
        issued = [
            a for a in self("custom.bind_request", member, community) if a.type == "bind_code"
        ]
        code = issued[0].params["code"]
        assert isinstance(code, str)
        return code

    def member(self, community: str, mid: str) -> Any:
        return self.engine.state.community(community).find(mid)

    def texts(self, actions: list[ActionRecord]) -> list[str]:
        return [str(a.params.get("text")) for a in actions if "text" in a.params]

    def ledger_sums(self) -> None:
        """Every holder's balance is the sum of its stored ledger, per currency."""
        for c in self.engine.state.communities.values():
            for m in c.members.values():
                entries = self.store.ledger(c.name, m.id)
                for currency, balance in m.balances.items():
                    assert balance == sum(e.amount for e in entries if e.currency == currency)
                assert [e.seq for e in entries] == list(range(1, m.ledger_seq + 1))


def _linked_world() -> World:
    return _linked_world_of(World())


def _linked_world_of(w: World) -> World:
    w("message.posted", "alice", "tg")
    w("message.posted", "a2", "qq")
    code = w.code("alice", "tg")
    w("custom.bind", "a2", "qq", code=code)
    return w


def test_a_bind_code_links_two_accounts_and_their_points_add_up() -> None:
    w = World()
    w("message.posted", "alice", "tg")
    w("message.posted", "a2", "qq")
    issued = w("custom.bind_request", "alice", "tg")
    code = issued[0].params["code"]
    assert [a.type for a in issued] == ["bind_code", "send"]
    assert len(code) == 6 and code.isalnum() and not set(code) & set("01OI")
    assert w.texts(issued) == [f"code {code}"]
    out = w("custom.bind", "a2", "qq", code=code)
    bind = next(a for a in out if a.type == "bind")
    assert bind.params == {"code": code, "person": "tg/alice"}
    assert w.texts(out) == ["linked to tg/alice with alice"]
    person = w.member(PERSONS, "tg/alice")
    assert person.balances == {"points": 10}
    assert person.accounts == [["tg", "alice"], ["qq", "a2"]]
    assert w.member("tg", "alice").balances == {"points": 0, "coins": 1}
    assert w.member("qq", "a2").person == "tg/alice"
    # The merge: a debit where the points were, a credit on the person that names it.
    merges = [e for e in w.store.ledger(PERSONS, "tg/alice") if e.kind == "merge"]
    assert [(e.amount, e.origin) for e in merges] == [(5, ("tg", "alice")), (5, ("qq", "a2"))]
    assert [e.amount for e in w.store.ledger("qq", "a2") if e.kind == "merge"] == [-5]
    w.ledger_sums()


def test_points_earned_in_one_group_are_spent_in_another_and_group_currencies_stay() -> None:
    w = _linked_world()
    w("message.posted", "alice", "tg")
    assert w.texts(w("custom.show", "a2", "qq")) == ['15 {"coins": 1, "points": 15} tg/alice']
    spent = w("redeem.requested", "a2", "qq", price=12)
    assert [(a.type, a.member, a.community) for a in spent] == [("spend", "a2", "qq")]
    assert w.texts(w("redeem.requested", "alice", "tg", price=4)) == ["short: 3"]
    entries = w.store.ledger(PERSONS, "tg/alice")
    assert [(e.kind, e.amount, e.origin) for e in entries[-2:]] == [
        ("award", 5, ("tg", "alice")),
        ("spend", -12, ("qq", "a2")),
    ]
    assert w.texts(w("custom.show", "alice", "tg")) == ['3 {"coins": 2, "points": 3} tg/alice']
    w.ledger_sums()


def test_a_revoke_reverses_a_person_wide_award_made_in_the_group() -> None:
    w = _linked_world()
    w("message.posted", "alice", "tg", message_id="m9")
    out = w("message.deleted", "alice", "tg", message_id="m9")
    revoke = next(a for a in out if a.type == "revoke")
    reversed_ = {(r["currency"], r["amount"]) for r in revoke.params["reversed"]}
    assert reversed_ == {("coins", 1), ("points", 5)}  # the group's coins, the person's points
    assert w.member(PERSONS, "tg/alice").balances["points"] == 10
    last = w.store.ledger(PERSONS, "tg/alice")[-1]
    assert (last.kind, last.amount, last.origin) == ("revoke", -5, ("tg", "alice"))
    w.ledger_sums()


def test_levels_per_group_measure_the_persons_points() -> None:
    w = World()
    w("message.posted", "alice", "tg")
    w("message.posted", "a2", "qq")
    assert w.member("tg", "alice").level == 1
    code = w.code("alice", "tg")
    out = w("custom.bind", "a2", "qq", code=code)
    # Each group's account has its own level; the person's 10 points reach level 2 in
    # the groups the link touched.
    assert {(a.member, a.community) for a in out if a.type == "level_changed"} == {
        ("alice", "tg"),
        ("a2", "qq"),
    }
    assert w.member(PERSONS, "tg/alice").level is None  # a person is not on a ladder


@pytest.mark.parametrize(
    ("steps", "reason"),
    [
        ("unknown", "unknown_code"),
        ("twice", "used_code"),
        ("late", "expired_code"),
        ("own", "own_code"),
        ("again", "already_linked"),
    ],
)
def test_a_code_is_refused_with_its_reason_and_links_nothing(steps: str, reason: str) -> None:
    w = World()
    w("message.posted", "alice", "tg")
    code = w.code("alice", "tg")
    if steps == "unknown":
        out = w("custom.bind", "bob", "qq", code="ZZZZZZ")
    elif steps == "twice":
        w("custom.bind", "bob", "qq", code=code)
        out = w("custom.bind", "carol", "dc", code=code)
    elif steps == "late":
        out = w("custom.bind", "bob", "qq", code=code, minutes=11)
    elif steps == "own":
        out = w("custom.bind", "alice", "tg", code=code)
    else:
        w("custom.bind", "bob", "qq", code=code)
        out = w("custom.bind", "bob", "qq", code=w.code("alice", "tg"))
    assert w.texts(out) == [f"refused {reason}"]
    assert not [a for a in out if a.type == "bind"]
    if steps in ("unknown", "late", "own"):
        assert w.member("tg", "alice").person is None
    w.ledger_sums()


def test_codes_are_lower_case_tolerant_and_forgotten_a_day_after_they_expire() -> None:
    w = World()
    code = w.code("alice", "tg")
    assert w.texts(w("custom.bind", "bob", "qq", code=f"  {code.lower()} ")) == [
        "linked to tg/alice with alice"
    ]
    old = w.code("carol", "tg")
    w.code("dave", "tg")  # issuing cleans up codes expired for a day: not this one yet
    w("custom.show", "x", "tg", minutes=60 * 25)
    w.code("erin", "tg")
    codes = w.engine.state.community(PERSONS).data["bind_codes"]
    assert old not in codes and code not in codes
    assert w.texts(w("custom.bind", "bob", "dc", code=old)) == ["refused unknown_code"]


def test_a_refusals_message_is_in_the_communitys_language() -> None:
    text = MULTI.replace('"refused {{ refusal.reason }}"', '"{{ refusal.message }}"')
    w = World(text)
    with use_language("zh_CN"):  # (the process's language does not matter)
        assert w.texts(w("custom.bind", "bob", "qq", code="zzzzzz")) == [
            "no code 'ZZZZZZ' was issued"
        ]
    chinese = World(text.replace("name: multi\n", "name: multi\ncommunity: {language: zh-CN}\n"))
    assert chinese.texts(chinese("custom.bind", "bob", "qq", code="zzzzzz")) == [
        "没有发出过绑定码 'ZZZZZZ'"
    ]


def test_member_linked_from_the_operators_system_links_and_merges_persons() -> None:
    w = World()
    w("message.posted", "alice", "tg")
    w("message.posted", "bob", "qq")
    out = w("member.linked", "alice", "tg", person="P1")
    assert [(a.type, a.rule, a.params) for a in out] == [("link", "persons", {"person": "P1"})]
    w("member.linked", "bob", "qq", person="P2")
    assert w("member.linked", "bob", "qq", person="P2") == []  # linked already: nothing
    # A code between two persons' accounts merges the redeemer's person into the
    # issuer's, with every account of it.
    w("member.linked", "carol", "dc", person="P2")
    w("message.posted", "carol", "dc")
    code = w.code("alice", "tg")
    w("custom.bind", "bob", "qq", code=code)
    p1, p2 = w.member(PERSONS, "P1"), w.member(PERSONS, "P2")
    assert p1.balances == {"points": 15}
    assert p2.balances == {"points": 0} and p2.accounts == [] and p2.person == "P1"
    assert p1.accounts == [["tg", "alice"], ["qq", "bob"], ["dc", "carol"]]
    assert w.member("dc", "carol").person == "P1"
    merged = [e for e in w.store.ledger(PERSONS, "P1") if e.kind == "merge"][-1]
    assert (merged.amount, merged.origin) == (10, (PERSONS, "P2"))
    # Linking to the merged person goes to the one it was merged into.
    w("member.linked", "dan", "tg", person="P2")
    assert w.member("tg", "dan").person == "P1"
    w.ledger_sums()


@pytest.mark.parametrize("person", [None, 5, "", "x" * 257])
def test_member_linked_without_a_good_person_id_is_a_rule_error(person: Any) -> None:
    w = World()
    out = w("member.linked", "alice", "tg", **({} if person is None else {"person": person}))
    assert out == []
    errors = [e for d in w.decisions for e in d.errors]
    assert [(e.rule, e.cause) for e in errors] == [("persons", "e1")]
    assert "data.person" in errors[0].message
    assert w.member("tg", "alice").person is None


def test_a_playbook_without_persons_ignores_member_linked() -> None:
    w = World("engage_rules: 1\nname: plain\nrules: [{id: r, on: checkin, do: [{tag: x}]}]\n")
    assert w("member.linked", "alice", "tg", person="P1") == []
    assert w.member("tg", "alice").person is None
    assert PERSONS not in w.engine.state.communities


def test_send_to_another_group_goes_to_the_persons_account_there_through_its_platform() -> None:
    w = _linked_world()
    out = w("custom.dm", "alice", "tg", group="qq", platform="onebot")
    assert [(a.type, a.member, a.community, a.params) for a in out] == [
        ("send", "a2", "qq", {"text": "hello", "platform": "onebot"})
    ]
    item = w.store.outbox()[-1]
    assert (item.action.type, item.platform) == ("send", "onebot")
    assert w.texts(w("custom.dm", "alice", "tg", group="dc", platform="")) == ["no account: dc"]
    shout = w("custom.shout", "alice", "tg")
    assert [(a.type, a.member, a.community) for a in shout] == [("broadcast", None, "qq")]
    assert w.store.outbox()[-1].platform == "onebot"


def test_send_with_the_events_own_group_is_the_plain_send() -> None:
    w = World()
    out = w("custom.dm", "bob", "tg", group="tg", platform="")
    assert [(a.member, a.community, a.params) for a in out] == [("bob", "tg", {"text": "hello"})]


def test_a_person_wide_currency_cannot_expire() -> None:
    text = MULTI.replace(
        "{name: points, scope: person}", "{name: points, scope: person, expires_after: 30d}"
    )
    with pytest.raises(PlaybookError) as err:
        playbook(text)
    assert "test.yaml:4:" in str(err.value)
    assert "`scope: person` cannot have `expires_after`" in str(err.value)


def test_bad_bind_code_parameters_are_load_errors() -> None:
    text = MULTI.replace("[{bind_code: 10m}]", "[{bind_code: {expires: 1s, length: 3}}]")
    with pytest.raises(PlaybookError) as err:
        playbook(text)
    message = str(err.value)
    assert "between 10s and 30d" in message and "length" in message


def test_events_of_the_persons_community_are_quarantined() -> None:
    line = '{"id": "x", "type": "checkin", "at": "2026-03-02T10:00:00Z", "community": "@persons"}'
    with pytest.raises(EventError) as err:
        parse_event(line)
    assert err.value.reason == "wrong_type"


BADGES = """
engage_rules: 1
name: person-badges
currencies: [{name: points, scope: person}]
badges:
  fan: {name: 铁杆粉丝, title: true, scope: person}
  local: {name: 本群之星}
rules:
  - id: grant
    on: custom.grant
    do: [{grant_badge: fan}, {grant_badge: local}]
  - id: take
    on: custom.take
    do: [{revoke_badge: fan}]
  - id: show
    on: custom.show
    do: [{reply: {text: "{{ member.badges }} {{ member.titles }}"}}]
"""


def test_a_person_wide_badge_shows_in_every_group_of_the_person() -> None:
    w = World(BADGES)
    w("member.linked", "alice", "tg", person="P1")
    w("member.linked", "a2", "qq", person="P1")
    out = w("custom.grant", "alice", "tg")
    assert [(a.type, a.member, a.community, a.params["badge"]) for a in out] == [
        ("grant_badge", "alice", "tg", "fan"),
        ("grant_badge", "alice", "tg", "local"),
    ]
    assert w.texts(w("custom.show", "a2", "qq")) == ['["fan"] ["fan"]']
    assert w.texts(w("custom.show", "alice", "tg")) == ['["fan", "local"] ["fan"]']
    assert w("custom.grant", "a2", "qq")[0].params["badge"] == "local"  # fan: held already
    w("custom.take", "a2", "qq")
    assert w.texts(w("custom.show", "alice", "tg")) == ['["local"] []']


def test_badges_move_to_the_person_when_accounts_are_linked() -> None:
    w = World(BADGES)
    w("custom.grant", "alice", "tg")
    w("custom.grant", "a2", "qq")
    w("member.linked", "alice", "tg", person="P1")
    w("member.linked", "a2", "qq", person="P1")
    person = w.member(PERSONS, "P1")
    assert person.badges["fan"]["count"] == 2 and person.titles == ["fan"]
    assert person.badges["fan"]["granted_at"] == (T0 + timedelta(seconds=1)).isoformat()
    assert w.member("tg", "alice").badges.keys() == {"local"}
    assert w.member("qq", "a2").titles == []
    assert w.texts(w("custom.show", "a2", "qq")) == ['["fan", "local"] ["fan"]']


def test_a_person_wide_badge_cannot_have_tiers_or_expire() -> None:
    text = BADGES.replace(
        "fan: {name: 铁杆粉丝, title: true, scope: person}",
        "fan: {name: 铁杆粉丝, scope: person, revoke_after: 30d}",
    )
    with pytest.raises(PlaybookError) as err:
        playbook(text)
    assert "test.yaml:6:" in str(err.value)
    assert "`scope: person` cannot have `tiers` or `revoke_after`" in str(err.value)


LADDER = """
engage_rules: 1
name: person-levels
currencies: [{name: points, scope: person}, coins]
levels:
  by: points
  scope: person
  ladder:
    - {level: 1, name: 新手, at: 0}
    - {level: 2, name: 达人, at: 10}
    - {level: 3, name: 元老, at: 100}
rules:
  - id: post
    on: message.posted
    do: [{award: {points: 5}}]
  - id: promote
    on: custom.promote
    do: [{set_level: 3}, {lock_level: true}]
  - id: show
    on: custom.show
    do: [{reply: {text: "{{ member.level }} {{ member.level_name }}"}}]
"""


def test_a_person_wide_level_is_earned_across_groups_and_shown_in_each() -> None:
    w = World(LADDER)
    w("member.linked", "alice", "tg", person="P1")
    w("member.linked", "a2", "qq", person="P1")
    assert w.texts(w("custom.show", "a2", "qq")) == ["1 新手"]
    assert not [a for a in w("message.posted", "alice", "tg") if a.type == "level_changed"]
    out = w("message.posted", "a2", "qq")  # the person's 10th point: announced in qq
    changes = [(a.member, a.community, a.params["to"]) for a in out if a.type == "level_changed"]
    assert changes == [("a2", "qq", 2)]
    assert w.texts(w("custom.show", "alice", "tg")) == ["2 达人"]
    assert w.member(PERSONS, "P1").level == 2 and w.member("tg", "alice").level in (None, 1)
    promoted = w("custom.promote", "alice", "tg")
    assert [(a.type, a.member, a.community) for a in promoted if a.rule == "promote"] == [
        ("set_level", "alice", "tg"),
        ("lock_level", "alice", "tg"),
    ]
    assert w.member(PERSONS, "P1").level_locked
    assert w.texts(w("custom.show", "a2", "qq")) == ["3 元老"]


def test_an_unlinked_account_of_a_person_wide_ladder_has_its_own_level() -> None:
    w = World(LADDER)
    w("message.posted", "bob", "tg")
    out = w("message.posted", "bob", "tg")
    assert [(a.type, a.member) for a in out if a.type == "level_changed"] == [
        ("level_changed", "bob")
    ]
    assert w.member("tg", "bob").level == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("  scope: person\n", "cannot have `demotion`"),
        ("  by: coins\n", "measured by a currency with `scope: person`, not 'coins'"),
    ],
)
def test_a_person_wide_ladder_needs_a_person_wide_measure_and_no_demotion(
    change: str, message: str
) -> None:
    text = LADDER
    if "demotion" in message:
        text = text.replace("  scope: person\n", "  scope: person\n  demotion: {below: 0.9}\n")
    else:
        text = text.replace("  by: points\n", change)
    with pytest.raises(PlaybookError) as err:
        playbook(text)
    assert message in str(err.value) and "test.yaml:" in str(err.value)


def test_a_deferred_send_keeps_its_platform_when_released() -> None:
    text = MULTI.replace(
        "rules:\n",
        'messaging: {quiet_hours: {from: "00:00", to: "12:00", mode: defer}}\nrules:\n',
        1,
    )
    w = _linked_world_of(World(text))
    out = w("custom.dm", "alice", "tg", group="qq", platform="onebot")
    assert not [a for a in out if a.type == "send"]  # deferred by quiet hours
    released = w("custom.show", "x", "tg", minutes=60 * 14)
    sends = [a for a in released if a.type == "send" and a.rule == "dm-in"]
    assert [(a.member, a.community, a.params["platform"]) for a in sends] == [
        ("a2", "qq", "onebot")
    ]
    items = [i for i in w.store.outbox() if i.action.rule == "dm-in"]
    assert [i.platform for i in items] == ["onebot"]
