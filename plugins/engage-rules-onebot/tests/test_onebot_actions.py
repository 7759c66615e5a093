"""``onebot.set_card`` (the group card, 群名片): validated at load time, resolved by the
engine for the event's member or ``to:``; and the adapter's capabilities checked when
the runtime starts (an action no configured adapter can carry out is refused)."""

from __future__ import annotations

import pytest
from engage_rules_onebot import OneBotAdapter

from engage_rules.errors import PlaybookError, SetupError
from engage_rules.plugin_api import Adapter
from engage_rules.runtime.service import check_capabilities
from engage_rules.testing import event, playbook, run_decisions, run_events

CARDS = """\
rules:
  - id: newcomer-card
    on: member.joined
    do:
      - onebot.set_card: "【新人】{{ member.name }}"
      - onebot.set_card: {card: "", to: "{{ event.data.inviter }}", reason: 邀请了新人}
"""


def test_set_card_is_resolved_for_the_member_and_to() -> None:
    joined = event("member.joined", "20002000", name="小王", data={"inviter": "30003000"})
    first, second = run_events(playbook(CARDS), [joined])
    assert (first.type, first.member, first.params) == (
        "onebot.set_card",
        "20002000",
        {"card": "【新人】小王"},
    )
    assert (second.member, second.params) == ("30003000", {"card": "", "reason": "邀请了新人"})
    assert first.key != second.key


def test_a_card_too_long_for_qq_is_an_error_of_the_rule() -> None:
    text = CARDS.replace('"【新人】{{ member.name }}"', '"{{ member.name * 30 }}"')
    joined = event("member.joined", "20002000", name="小王", data={"inviter": "30003000"})
    [decision] = run_decisions(playbook(text), [joined])
    # The rule fails as a whole (nothing of it is emitted) and the failure says why.
    assert decision.actions == []
    assert len(decision.errors) == 1
    failure = decision.errors[0]
    assert failure.rule == "newcomer-card"
    assert failure.message == "onebot.set_card: a QQ group card has at most 60 bytes, not 180"


def test_set_card_parameters_are_checked_at_load_time() -> None:
    with pytest.raises(PlaybookError) as err:
        playbook(CARDS.replace("{card: ", "{cards: "))
    assert "cards" in str(err.value)
    with pytest.raises(PlaybookError):
        playbook(CARDS.replace('"【新人】{{ member.name }}"', repr("名" * 61)))


def test_capabilities_are_checked_when_the_runtime_starts() -> None:
    adapters: dict[str, Adapter] = {"onebot": OneBotAdapter({"url": "ws://127.0.0.1:3001"})}
    check_capabilities(playbook(CARDS), adapters)  # onebot.set_card: declared
    moderation = """\
rules:
  - id: ads
    on: message.posted
    if: "contains_any(event.data.text, ['加微信'])"
    do: [{delete_message: {}}, {mute: {for: 1h}}, {pin: {}}, {grant_role: vip}]
"""
    check_capabilities(playbook(moderation), adapters)
    polls = (
        "rules:\n  - id: ask\n    on: member.joined\n"
        "    do: [{poll: {question: q, options: [a, b]}}]\n"
    )
    with pytest.raises(SetupError) as err:
        check_capabilities(playbook(polls), adapters)
    assert "action `poll` is not supported by any configured adapter" in str(err.value)
    assert "onebot (" in str(err.value)


def test_without_a_onebot_adapter_set_card_is_refused() -> None:
    with pytest.raises(SetupError) as err:
        check_capabilities(playbook(CARDS), {})
    assert "action `onebot.set_card` is not supported by any configured adapter" in str(err.value)
