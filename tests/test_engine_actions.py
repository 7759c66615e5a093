"""Actions (docs/reference.md §5.3) from YAML to emitted actions and state."""

from __future__ import annotations

from datetime import timedelta

from engage_rules import Engine
from engage_rules.testing import T0, event
from helpers import ledger, playbook, run, types


def member(eng: Engine, mid: str = "u1", community: str = "default"):  # type: ignore[no-untyped-def]
    return eng.state.communities[community].members[mid]


def test_award_with_daily_cap_in_community_time_zone() -> None:
    pb = playbook("""
rules:
  - id: post
    on: message.posted
    do: [{award: {points: 20, reason: post, cap: {per: day, max: 50}}}]
""")
    eng = Engine(pb)
    acts = run(eng, *(event("message.posted", at=i * 60) for i in range(4)))
    assert [a.params["amount"] for a in acts] == [20, 20, 10]  # the remainder, then nothing
    # T0 is 10:00 in Shanghai; 14 hours later is the next local day.
    acts = run(eng, event("message.posted", at=14 * 3600))
    assert [a.params["amount"] for a in acts] == [20]
    assert member(eng).balances["points"] == 70


def test_spend_refused_runs_else_and_never_goes_negative() -> None:
    pb = playbook("""
templates:
  ok: "done"
  short: "need {{ event.data.cost }}, have {{ member.points }}"
rules:
  - id: earn
    on: checkin
    do: [{award: {points: 30, reason: c}}]
  - id: buy
    on: redeem.requested
    do:
      - spend: {points: "{{ event.data.cost }}", reason: "buy {{ event.data.item }}"}
      - send: {template: ok}
    else:
      - send: {template: short}
""")
    eng = Engine(pb)
    run(eng, event("checkin"))
    acts = run(eng, event("redeem.requested", at=1, cost=50, item="x"))
    assert types(acts) == ["send"]
    assert acts[0].params == {"template": "short", "text": "need 50, have 30"}
    acts = run(eng, event("redeem.requested", at=2, cost=20, item="x"))
    assert types(acts) == ["spend", "send"]
    assert acts[0].params == {"currency": "points", "amount": 20, "reason": "buy x"}
    assert member(eng).balances["points"] == 10


def test_award_to_another_member_and_currencies() -> None:
    pb = playbook("""
currencies: [points, coins]
rules:
  - id: referral
    on: referral.completed
    do:
      - award: {points: 50, reason: 邀请奖励, to: "{{ event.data.referrer }}"}
      - award: {currency: coins, amount: 3, reason: coin}
""")
    eng = Engine(pb)
    acts = run(eng, event("referral.completed", "new", referrer="old"))
    assert (acts[0].member, acts[0].params["amount"]) == ("old", 50)
    assert acts[1].params == {"currency": "coins", "amount": 3, "reason": "coin"}
    assert member(eng, "old").balances == {"points": 50}
    assert member(eng, "new").balances == {"coins": 3}


def test_revoke_reverses_entries_linked_to_the_originals() -> None:
    pb = playbook("""
rules:
  - id: quality-post
    on: message.posted
    do: [{award: {points: 5, reason: q}}]
  - id: removed
    on: message.deleted
    do: [{revoke: {rule: quality-post, event: "{{ event.data.message_id }}", reason: 删帖}}]
""")
    eng = Engine(pb)
    run(
        eng,
        event("message.posted", message_id="m1"),
        event("message.posted", at=1, message_id="m2"),
    )
    acts = run(eng, event("message.deleted", at=2, message_id="m1"))
    assert types(acts) == ["revoke"]
    m = member(eng)
    assert m.balances["points"] == 5
    entries = ledger(eng)
    reversal = entries[-1]
    assert reversal.amount == -5 and reversal.reverses == 1 and entries[0].reversed_by == 3
    cause = entries[1].cause
    assert m.revocable == [[2, T0.timestamp() + 1, "points", 5, "quality-post", cause, "m2"]]
    # Revoking again has no effect and emits nothing.
    assert run(eng, event("message.deleted", at=3, message_id="m1")) == []
    assert sum(e.amount for e in ledger(eng)) == m.balances["points"]


def test_tags_with_expiry_fire_untag_on_time() -> None:
    pb = playbook("""
rules:
  - id: welcome
    on: member.joined
    do: [{tag: {name: newcomer, expires: 1d}}]
""")
    eng = Engine(pb)
    acts = run(eng, event("member.joined"))
    assert acts[0].params["name"] == "newcomer"
    ds = eng.advance_to(T0 + timedelta(days=2))
    untag = [a for d in ds for a in d.actions]
    assert types(untag) == ["untag"]
    assert untag[0].rule == "welcome" and untag[0].at == T0 + timedelta(days=1)
    assert member(eng).tags == {}


def test_messages_render_templates_and_member_text_stays_data() -> None:
    pb = playbook("""
templates:
  hi: "你好 {{ member.name }}，你说：{{ event.data.text }}"
rules:
  - id: r
    on: message.posted
    do:
      - reply: {template: hi}
      - send: {text: "points={{ member.points }}"}
""")
    e = event("message.posted", channel="general", text="{{ 7*7 }}", message_id="m9")
    acts = run(Engine(pb), e)
    assert acts[0].params["text"] == "你好 u1，你说：{{ 7*7 }}"
    assert acts[0].params["channel"] == "general" and acts[0].params["reply_to"] == "m9"
    assert acts[1].params == {"text": "points=0"}


def test_opted_out_members_get_no_direct_messages() -> None:
    pb = playbook("""
rules:
  - id: dm
    on: checkin
    do: [{send: {text: hi}}]
  - id: stop
    on: custom.stop
    do: [{opt_out: {}}]
""")
    eng = Engine(pb)
    assert types(run(eng, event("checkin"))) == ["send"]
    assert types(run(eng, event("custom.stop", at=1))) == ["opt_out"]
    assert run(eng, event("checkin", at=2)) == []
    run(eng, event("member.opted_in", at=3))
    assert types(run(eng, event("checkin", at=4))) == ["send"]


def test_strike_ladder_mute_expiry_and_ban() -> None:
    pb = playbook("""
templates:
  warning: "请注意：{{ match }}"
moderation:
  exempt: {roles: [admin]}
  strikes:
    expire_after: 30d
    ladder:
      - {at: 1, do: [{warn: {template: warning}}]}
      - {at: 2, do: [{mute: {for: 1h}}]}
      - {at: 3, do: [{ban: {reason: 多次违规}}]}
rules:
  - id: words
    on: message.posted
    if: "contains_any(event.data.text, ['加微信'])"
    do: [{delete_message: {}}, {strike: {reason: "违规词: {{ match }}"}}]
  - id: count
    on: strike.added
    do: [{set: {strikes_seen: "{{ event.data.total }}"}}]
""")
    eng = Engine(pb)
    a1 = run(eng, event("message.posted", text="加微信", message_id="a"))
    assert types(a1) == ["delete_message", "strike", "warn", "set"]
    assert a1[1].params == {"reason": "违规词: 加微信", "total": 1}
    assert a1[2].rule == "moderation.strikes" and a1[2].params["text"] == "请注意：加微信"
    a2 = run(eng, event("message.posted", at=60, text="加 微 信", message_id="b"))
    assert types(a2) == ["delete_message", "strike", "mute", "set"]
    assert member(eng).status == "muted"
    later = [a for d in eng.advance_to(T0 + timedelta(hours=2)) for a in d.actions]
    assert types(later) == ["unmute"]
    assert member(eng).status == "active"
    a3 = run(eng, event("message.posted", at=3 * 3600, text="加微信", message_id="c"))
    assert "ban" in types(a3)
    assert member(eng).status == "banned"
    assert member(eng).attrs["strikes_seen"] == 3
    # Exempt members never receive strikes.
    assert (
        types(run(eng, event("message.posted", "boss", 4 * 3600, roles=["admin"], text="加微信")))
        == []
    )


def test_flag_for_review_and_audit_log() -> None:
    pb = playbook("""
rules:
  - id: links
    on: message.posted
    if: "links(event.data.text)"
    do: [{flag_for_review: {reason: "link: {{ match }}"}}]
""")
    eng = Engine(pb)
    d = eng.process(event("message.posted", text="see https://x.example/a"))[-1]
    assert d.review[0]["reason"] == "link: https://x.example/a"
    assert d.audit[0]["action"] == "flag_for_review"


def test_action_keys_are_deterministic_and_independent_of_file_path() -> None:
    body = """
rules:
  - id: r
    on: checkin
    do: [{award: {points: 1, reason: x}}, {tag: t}]
"""
    e = event("checkin", id="fixed")
    k1 = [a.key for a in run(Engine(playbook(body)), e)]
    k2 = [a.key for a in run(Engine(playbook(body)), e)]
    assert k1 == k2 and len(set(k1)) == 2


def test_set_kick_unban_and_mute() -> None:
    pb = playbook("""
rules:
  - id: mod
    on: custom.mod
    do:
      - mute: {for: 10m, reason: calm down}
      - set: {level_hint: "{{ event.data.n * 2 }}", note: fixed}
  - id: kick
    on: custom.kick
    do: [{kick: {reason: bye}}]
""")
    eng = Engine(pb)
    acts = run(eng, event("custom.mod", n=4))
    assert acts[0].params["until"] == (T0 + timedelta(minutes=10)).isoformat()
    assert acts[1].params == {"level_hint": 8, "note": "fixed"}
    run(eng, event("custom.kick", at=1))
    assert member(eng).status == "left"


def test_amounts_beyond_the_limit_fail_the_rule_not_the_stream() -> None:
    pb = playbook("""
rules:
  - id: huge
    on: checkin
    do: [{award: {points: "{{ 10 ** 15 }}", reason: x}}]
  - id: fine
    on: checkin
    do: [{tag: ok}]
""")
    eng = Engine(pb)
    d = eng.process(event("checkin"))[-1]
    assert types(d.actions) == ["tag"]
    assert d.errors[0].rule == "huge" and "limit" in d.errors[0].message


def test_one_action_rules_fail_and_refuse_as_in_traced_dispatch() -> None:
    """Generated dispatch writes out the actions of a rule of one action (no `else`);
    a failure, a refusal and a success decide what traced dispatch (which calls
    run_actions) decides, and `member.points` read by later rules is current."""
    pb = playbook("""
rules:
  - id: huge
    on: checkin
    do: [{award: {points: "{{ 10 ** 15 }}", reason: x}}]
  - id: short
    on: checkin
    do: [{spend: {points: 5, reason: y}}]
  - id: give
    on: checkin
    do: [{award: {points: 3, reason: z}}]
  - id: rich
    on: checkin
    if: "member.points >= 3"
    do: [{tag: rich}]
  - id: buy
    on: checkin
    do: [{spend: {points: 2, reason: w}}]
  - id: poorer
    on: checkin
    if: "member.points < 3"
    do: [{tag: poorer}]
""")
    assert "run_actions(" not in pb.dispatch_source
    decided = []
    for trace in (False, True):
        d = Engine(pb, trace=trace).process(event("checkin", id="e1"))[-1]
        decided.append(
            ([a.to_json() for a in d.actions], [e.to_json() for e in d.errors], d.ledger)
        )
    assert decided[0] == decided[1]
    actions, errors, _ = decided[0]
    assert [(a["rule"], a["type"]) for a in actions] == [
        ("give", "award"),
        ("rich", "tag"),
        ("buy", "spend"),
        ("poorer", "tag"),
    ]
    assert [(e["rule"], e["message"].split(":")[0]) for e in errors] == [("huge", "award")]
