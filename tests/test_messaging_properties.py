"""docs/reference.md §11.6 as a property: no message to an opted-out member after the opt-out is
committed, whatever the interleaving of opt-outs, opt-ins, sends deferred by quiet hours
or caps, flow steps and clock advances.  Also: every deferred send ends up sent or
recorded as suppressed (none is silently lost), and no send is emitted twice."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from engage_rules import Engine
from engage_rules.compile.playbook import CompiledPlaybook
from engage_rules.model.decision import Decision
from engage_rules.testing import T0, event
from engage_rules.testing import strategies as est
from helpers import playbook

PB: CompiledPlaybook = playbook("""
messaging:
  quiet_hours: {from: "22:00", to: "08:00", mode: defer, spread: 2h}
  max_per_member: {count: 2, per: day}
  when_capped: defer
flows:
  journey:
    steps:
      - send: {text: "step one"}
      - wait: 5h
      - send: {text: "step two"}
      - wait: 1d
      - send: {text: "step three"}
rules:
  - id: dm
    on: message.posted
    do: [{send: {text: "thanks"}}]
  - id: urgent
    on: redeem.requested
    do: [{send: {text: "receipt", transactional: true}}]
  - id: journey
    on: poll.voted
    do: [{start_flow: {flow: journey, restart: true}}]
  - id: nudge-out
    on: reaction.added
    do: [{opt_out: {}}]
""")

MEMBERS = est.member_ids()
MINUTES = st.integers(min_value=0, max_value=16 * 60)


class OptOutMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.engine = Engine(PB)
        self.now = T0
        self.n = 0
        self.opted_out: dict[str, bool] = {}
        self.sent_keys: set[str] = set()
        self.deferred: set[str] = set()
        self.settled: set[str] = set()

    def _check(self, decisions: list[Decision]) -> None:
        """Decisions in commit order: no send to a member whose opt-out is committed."""
        for d in decisions:
            for a in d.actions:
                if a.type == "send":
                    assert not self.opted_out.get(a.member or "", False), (a, d.cause)
                    assert a.key not in self.sent_keys, a
                    self.sent_keys.add(a.key)
                    self.settled.add(a.key)
                if a.type == "opt_out":
                    self.opted_out[a.member or ""] = True
            for entry in d.audit:
                if entry["action"] == "message_deferred":
                    self.deferred.add(entry["key"])
                elif entry["action"] == "message_suppressed":
                    self.settled.add(entry["key"])
            ev_ = d.event
            if ev_ is not None and ev_.member is not None:
                if ev_.type == "member.opted_out":
                    self.opted_out[ev_.member.id] = True
                elif ev_.type == "member.opted_in":
                    self.opted_out[ev_.member.id] = False

    def _event(self, type_: str, member: str, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)
        self.n += 1
        self._check(self.engine.process(event(type_, member, self.now, id=f"x{self.n}")))

    @rule(member=MEMBERS, minutes=MINUTES)
    def post(self, member: str, minutes: int) -> None:
        self._event("message.posted", member, minutes)

    @rule(member=MEMBERS, minutes=MINUTES)
    def transactional(self, member: str, minutes: int) -> None:
        self._event("redeem.requested", member, minutes)

    @rule(member=MEMBERS, minutes=MINUTES)
    def start_journey(self, member: str, minutes: int) -> None:
        self._event("poll.voted", member, minutes)

    @rule(member=MEMBERS, minutes=MINUTES)
    def opt_out(self, member: str, minutes: int) -> None:
        self._event("member.opted_out", member, minutes)

    @rule(member=MEMBERS, minutes=MINUTES)
    def opt_out_by_rule(self, member: str, minutes: int) -> None:
        self._event("reaction.added", member, minutes)

    @rule(member=MEMBERS, minutes=MINUTES)
    def opt_in(self, member: str, minutes: int) -> None:
        self._event("member.opted_in", member, minutes)

    @rule(hours=st.integers(min_value=1, max_value=72))
    def advance(self, hours: int) -> None:
        self.now += timedelta(hours=hours)
        self._check(self.engine.advance_to(self.now))

    @invariant()
    def engine_agrees_with_the_model(self) -> None:
        members = self.engine.state.communities.get("default")
        if members is None:
            return
        for mid, m in members.members.items():
            assert m.opted_out == self.opted_out.get(mid, False)

    def teardown(self) -> None:
        # Far enough ahead for every deferral (caps defer a day at a time, flows wait a
        # day): each deferred send is sent or suppressed, never lost.
        for _ in range(40):
            self.now += timedelta(days=1)
            self._check(self.engine.advance_to(self.now))
        assert self.deferred <= self.settled, self.deferred - self.settled


TestOptOut = OptOutMachine.TestCase
