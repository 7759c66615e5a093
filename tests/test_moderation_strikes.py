"""Strikes (docs/reference.md §5.9) over time, moderators' events, and exemptions."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engage_rules import Engine
from engage_rules.cli import main
from engage_rules.errors import PlaybookError
from engage_rules.testing import T0, event, message
from helpers import playbook
from moderation_helpers import acts, decide, kinds

LADDER = """
moderation:
  exempt: {roles: [admin, moderator], channels: [staff]}
  strikes:
    expire_after: 30d
    ladder:
      - {at: 1, do: [{warn: {text: "警告 {{ match }}"}}]}
      - {at: 2, do: [{mute: {for: 1h, reason: second}}]}
      - {at: 3, do: [{mute: {for: 1d, reason: third}}]}
      - {at: 4, do: [{ban: {for: 7d, reason: fourth}}]}
rules:
  - id: banned
    on: message.posted
    if: "contains_any(event.data.text, ['代刷'])"
    do: [{delete_message: {}}, {strike: {reason: "违规: {{ match }}"}}]
  - id: strike-seen
    on: strike.added
    do: [{set: {last_total: "{{ event.data.total }}", status_then: "{{ member.status }}"}}]
  - id: status-probe
    on: checkin
    do: [{set: {status: "{{ member.status }}", strikes: "{{ member.strikes }}"}}]
"""
DAY = 86400


def member(engine: Engine, mid: str = "u1") -> dict[str, object]:
    return engine.state.community("default").members[mid].attrs


def probe(engine: Engine, at: float, mid: str = "u1") -> tuple[object, object]:
    decide(engine, event("checkin", mid, at))
    attrs = member(engine, mid)
    return attrs["status"], attrs["strikes"]


def test_the_ladder_escalates_and_mutes_and_bans_expire_by_timer() -> None:
    engine = Engine(playbook(LADDER))
    a1 = acts(engine, message("u1", "代刷", 0))
    assert kinds(a1) == ["delete_message", "strike", "warn", "set"]
    assert a1[2].params["text"] == "警告 代刷" and a1[2].rule == "moderation.strikes"
    assert member(engine)["last_total"] == 1
    second = kinds(acts(engine, message("u1", "代 刷", 60)))
    assert second == ["delete_message", "strike", "mute", "set"]
    assert probe(engine, 120) == ("muted", 2)
    # The mute ends by timer, as its own decision.
    ds = decide(engine, event("checkin", "u1", 3700))
    assert [a.type for a in ds[0].actions] == ["unmute"] and ds[0].is_timer
    assert probe(engine, 3800) == ("active", 2)
    assert kinds(acts(engine, message("u1", "代刷", 4000)))[2] == "mute"
    assert probe(engine, 4100) == ("muted", 3)
    a4 = acts(engine, message("u1", "代刷", 5000))
    assert kinds(a4) == ["delete_message", "strike", "ban", "set"]
    assert a4[2].params["for"] == "7d"
    assert member(engine)["status_then"] == "banned"
    assert probe(engine, 6000) == ("banned", 4)
    # The ban lifts after 7 days; the strikes expire 30 days after each was given.
    assert probe(engine, 5000 + 7 * DAY + 10) == ("active", 4)
    assert probe(engine, 30 * DAY + 1) == ("active", 3)
    assert probe(engine, 30 * DAY + 5001) == ("active", 0)
    # With every strike expired, the ladder starts again at the warning.
    assert kinds(acts(engine, message("u1", "代刷", 31 * DAY)))[:3] == [
        "delete_message",
        "strike",
        "warn",
    ]


def test_strikes_past_the_top_of_the_ladder_repeat_its_last_step() -> None:
    engine = Engine(
        playbook(
            LADDER.replace("ban: {for: 7d, reason: fourth}", "mute: {for: 2d, reason: fourth}")
        )
    )
    for i in range(4):
        acts(engine, message("u1", "代刷", i * 10))
    assert kinds(acts(engine, message("u1", "代刷", 100)))[2] == "mute"


MOD_EVENTS = (
    LADDER
    + """
  - id: appeal
    on: feedback.submitted
    if: "event.data.kind == 'appeal-accepted'"
    do: [{reset_strikes: {to: "{{ event.data.member }}", reason: appeal}}]
"""
)


def test_moderators_strike_by_event_and_reset_strikes() -> None:
    engine = Engine(playbook(MOD_EVENTS))
    a = acts(
        engine,
        event(
            "moderation.strike",
            "mod",
            0,
            roles=["moderator"],
            channel="staff",
            data={"member": "u1"},
            reason="私信骚扰",
        ),
    )
    assert kinds(a) == ["strike", "warn", "set"]
    assert a[0].member == "u1" and a[0].rule == "moderation.strike"
    assert a[0].params == {"reason": "私信骚扰", "total": 1}
    [d] = decide(
        engine, event("moderation.strike", "mod", 10, roles=["moderator"], data={"member": "u1"})
    )
    assert d.actions[0].params["reason"] == "manual strike"
    assert {e["actor"] for e in d.audit} == {"mod"}
    reset = acts(
        engine,
        event(
            "moderation.strike_reset",
            "mod",
            20,
            roles=["moderator"],
            data={"member": "u1"},
            reason="申诉通过",
        ),
    )
    assert kinds(reset) == ["reset_strikes"]
    assert reset[0].params == {"reason": "申诉通过", "cleared": 2}
    assert probe(engine, 30)[1] == 0
    # Nothing to clear: no action.
    assert (
        acts(
            engine,
            event("moderation.strike_reset", "mod", 40, roles=["moderator"], data={"member": "u1"}),
        )
        == []
    )
    # The ladder starts again; a rule can reset strikes too.
    assert kinds(acts(engine, message("u1", "代刷", 50)))[2] == "warn"
    assert kinds(
        acts(
            engine,
            event("feedback.submitted", "mod", 60, kind="appeal-accepted", data={"member": "u1"}),
        )
    ) == ["reset_strikes"]


@pytest.mark.parametrize(
    ("actor", "roles", "data", "message"),
    [
        ("u9", [], {"member": "u1"}, "sent by u9, who is not a moderator"),
        ("mod", ["moderator"], {}, "needs data.member"),
    ],
)
def test_moderator_events_from_others_or_incomplete_change_nothing(
    actor: str, roles: list[str], data: dict[str, str], message: str
) -> None:
    engine = Engine(playbook(MOD_EVENTS))
    [d] = decide(engine, event("moderation.strike", actor, 0, roles=roles, data=data))
    assert d.actions == [] and message in d.errors[0].message


def test_moderators_can_be_named_apart_from_the_exemption() -> None:
    engine = Engine(
        playbook(MOD_EVENTS.replace("  strikes:", "  moderators: {members: [lead]}\n  strikes:", 1))
    )
    [d] = decide(
        engine, event("moderation.strike", "mod", 0, roles=["moderator"], data={"member": "u1"})
    )
    assert d.errors and not d.actions
    assert (
        kinds(acts(engine, event("moderation.strike", "lead", 1, data={"member": "u1"})))[0]
        == "strike"
    )
    # Exempt members never receive strikes, even from a moderator.
    decide(engine, message("boss", "hello", 2, roles=["admin"]))
    assert acts(engine, event("moderation.strike", "lead", 3, data={"member": "boss"})) == []


# -- exemptions ------------------------------------------------------------------------------

PUNITIVE_RULE = """
rules:
  - id: banned
    on: message.posted
    if: "contains_any(event.data.text, ['代刷'])"
    do: [{delete_message: {}}]
  - id: points
    on: message.posted
    do: [{award: {points: 1}}]
"""


def test_admins_and_moderators_are_exempt_by_default() -> None:
    engine = Engine(playbook(PUNITIVE_RULE))
    for role in ("admin", "moderator"):
        assert kinds(acts(engine, message(role, "代刷", roles=[role]))) == ["award"]
    assert kinds(acts(engine, message("u1", "代刷"))) == ["delete_message", "award"]


def test_an_empty_exemption_exempts_nobody() -> None:
    engine = Engine(playbook("moderation: {exempt: {}}\n" + PUNITIVE_RULE))
    assert kinds(acts(engine, message("m", "代刷", roles=["moderator"]))) == [
        "delete_message",
        "award",
    ]


def test_playbook_wide_and_per_rule_exemptions() -> None:
    engine = Engine(
        playbook("""
moderation:
  exempt: {roles: [admin], members: [bot-1], channels: [staff]}
rules:
  - id: banned
    on: message.posted
    if: "contains_any(event.data.text, ['代刷'])"
    exempt: {roles: [trusted], members: [u7], channels: [market]}
    do: [{delete_message: {}}]
""")
    )
    cases = [
        (message("a", "代刷", roles=["admin"]), []),
        (message("bot-1", "代刷"), []),
        (message("u1", "代刷", channel="staff"), []),
        (message("t", "代刷", roles=["trusted"]), []),
        (message("u7", "代刷"), []),
        (message("u1", "代刷", channel="market"), []),
        (message("m", "代刷", roles=["moderator"]), ["delete_message"]),  # not in this exempt
        (message("u1", "代刷"), ["delete_message"]),
    ]
    for ev, expected in cases:
        assert kinds(acts(engine, ev)) == expected, ev


def test_validate_reports_who_is_exempt_from_punitive_rules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("engage_rules: 1\nname: t\n" + PUNITIVE_RULE, encoding="utf-8")
    assert main(["validate", str(path)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (
        f"note: {path}, line 5: rule 'banned' takes moderation actions: "
        "members with role admin, moderator are exempt from it "
        "(moderation.exempt)"
    )
    assert err[-1] == "ok: 1 playbook(s) valid" and len(err) == 2
    assert main(["validate", "-q", str(path)]) == 0
    assert capsys.readouterr().err == ""


def test_member_account_age_and_joined_at_for_new_account_rules() -> None:
    engine = Engine(
        playbook("""
rules:
  - id: new-accounts
    on: message.posted
    if:
      - "member.account_age is not none and member.account_age < days(7)"
      - "links(event.data.text)"
    do: [{delete_message: {reason: "{{ match }}"}}]
  - id: recent-joiners
    on: message.posted
    if:
      - "member.joined_at is not none and now - member.joined_at < hours(1)"
      - "mentions(event.data.text)"
    do: [{flag_for_review: {reason: "{{ match }}"}}]
""")
    )
    young = (T0 - timedelta(days=2)).isoformat()
    old = (T0 - timedelta(days=200)).isoformat()
    assert kinds(acts(engine, message("n", "see x.io", created_at=young))) == ["delete_message"]
    assert acts(engine, message("o", "see x.io", created_at=old)) == []
    assert acts(engine, message("unknown", "see x.io")) == []
    decide(engine, event("member.joined", "j", 0))
    assert kinds(acts(engine, message("j", "hi @bob", 60))) == ["flag_for_review"]
    assert acts(engine, message("j", "hi @bob", 7200)) == []


@given(st.lists(st.integers(min_value=60, max_value=20 * DAY), min_size=1, max_size=12))
def test_the_ladder_step_always_follows_the_active_strike_count(gaps: list[int]) -> None:
    """Whatever the times of the offences, each strike's total is the number of strikes
    given in the 30 days before it, and the ladder step run is the one for that total."""
    engine = Engine(
        playbook(
            LADDER.replace("ban: {for: 7d, reason: fourth}", "mute: {for: 2d, reason: fourth}")
        )
    )
    at = 0
    given_at: list[int] = []
    step_for = {1: "warn", 2: "mute", 3: "mute"}
    for gap in gaps:
        at += gap
        given_at.append(at)
        a = decide(engine, message("u1", "代刷", at))[-1].actions  # not the timers before it
        strike = next(x for x in a if x.type == "strike")
        total = sum(1 for t in given_at if t > at - 30 * DAY)
        assert strike.params["total"] == total
        ladder = [x for x in a if x.rule == "moderation.strikes"]
        expected = step_for.get(total, "mute")
        got = [x.type for x in ladder]
        if expected == "mute":
            # A mute ending before one already running has no effect (and no action).
            assert got in (["mute"], [])
        else:
            assert got == [expected]


def test_notes_when_nobody_is_exempt_and_reserved_rule_ids() -> None:
    pb = playbook("moderation: {exempt: {}}\n" + PUNITIVE_RULE)
    assert [n.message for n in pb.notes] == [
        "note: rule 'banned' takes moderation actions: nobody is exempt from it "
        "(moderation.exempt is empty)"
    ]
    with pytest.raises(PlaybookError, match=r"'moderation\.strike' is reserved"):
        playbook("moderation: {}\n" + PUNITIVE_RULE.replace("id: points", "id: moderation.strike"))
