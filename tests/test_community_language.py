"""`community.language`: the texts the engine writes into a community's actions when the
operator gave none (default reasons of expiries, moderation and purchases) are in the
community's language (docs/reference.md, "community"), end to end: YAML → replay →
emitted actions.  The operator's own texts are never translated."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from engage_rules.errors import PlaybookError
from engage_rules.i18n import translate, use_language
from engage_rules.testing import T0, event_line, playbook, run_cli

PLAYBOOK = """\
engage_rules: 1
name: language
community: {{name: 手作市集, timezone: Asia/Shanghai{language}}}
currencies: [{{name: points, expires_after: 1d}}]
badges:
  helper: {{name: 热心成员, revoke_after: 1d}}
moderation:
  strikes: {{expire_after: 30d, ladder: [{{at: 3, do: [{{kick: {{}}}}]}}]}}
shop:
  items:
    mug: {{name: 马克杯, price: 5}}
rules:
  - id: joined
    on: member.joined
    do:
      - award: {{points: 10}}
      - tag: {{name: newcomer, expires: 1d}}
      - grant_badge: helper
      - redeem: mug
  - id: flood
    on: checkin
    do: [{{mute: {{for: 1h}}}}, {{ban: {{to: u3, for: 2h}}}}]
  - id: post
    on: message.posted
    do: [{{award: {{points: 3, reason: 好帖}}}}]
  - id: removed
    on: message.deleted
    do: [{{revoke: {{event: "{{{{ event.data.message_id }}}}"}}}}]
"""

EVENTS = [
    event_line("member.joined", "u1", 0),
    event_line("checkin", "u2", 1),
    event_line("message.posted", "u4", 2, message_id="m1"),
    event_line("message.deleted", "u4", 3, message_id="m1"),
    event_line("moderation.strike", "mod", 4, roles=["moderator"], data={"member": "u5"}),
    event_line("moderation.strike_reset", "mod", 5, roles=["moderator"], data={"member": "u5"}),
    event_line(
        "moderation.strike", "mod", 6, roles=["moderator"], data={"member": "u6", "reason": "刷屏"}
    ),
]

#: (action, member) → the default reason the engine writes, in each language.
EXPECTED = {
    ("redeem", "u1"): ("shop: 马克杯", "商店：马克杯"),
    ("expire", "u1"): ("points expired", "points 已过期"),
    ("untag", "u1"): ("tag expired", "标签已过期"),
    ("revoke_badge", "u1"): ("expired", "已过期"),
    ("unmute", "u2"): ("mute expired", "禁言到期"),
    ("unban", "u3"): ("ban expired", "封禁到期"),
    ("revoke", "u4"): ("revoked: m1", "已撤销：m1"),
    ("strike", "u5"): ("manual strike", "管理员手动警告"),
    ("reset_strikes", "u5"): ("strikes reset", "警告已清除"),
    ("strike", "u6"): ("刷屏", "刷屏"),  # the moderator's own reason, as written
}


def replay(tmp_path: Path, language: str | None, *cli: str) -> dict[tuple[str, str], Any]:
    setting = "" if language is None else f", language: {language}"
    (tmp_path / "community.yaml").write_text(PLAYBOOK.format(language=setting), encoding="utf-8")
    (tmp_path / "events.jsonl").write_text("\n".join(EVENTS) + "\n", encoding="utf-8")
    until = (T0 + timedelta(days=3)).isoformat()
    result = run_cli(
        *cli, "replay", tmp_path / "community.yaml", tmp_path / "events.jsonl", "--until", until
    )
    assert result.returncode == 0, result.stderr
    reasons: dict[tuple[str, str], Any] = {}
    for action in result.jsonl():
        if "reason" in action["params"]:
            reasons[(action["type"], action["member"])] = action["params"]["reason"]
    return reasons


@pytest.mark.parametrize(("language", "column"), [(None, 0), ("en", 0), ("zh-CN", 1)])
def test_default_reasons_are_in_the_communitys_language(
    tmp_path: Path, language: str | None, column: int
) -> None:
    reasons = replay(tmp_path, language)
    for key, texts in EXPECTED.items():
        assert reasons.get(key) == texts[column], key
    # The operator's own reason and the default of `award` (the rule's id) stay as is.
    assert reasons[("award", "u4")] == "好帖"
    assert reasons[("award", "u1")] == "joined"


def test_the_operators_language_does_not_change_the_communitys(tmp_path: Path) -> None:
    """`--lang zh_CN` is the operator's: an English community's actions stay English,
    and the other way round."""
    english = replay(tmp_path, "en", "--lang", "zh_CN")
    assert english[("untag", "u1")] == "tag expired"
    chinese = replay(tmp_path, "zh-CN", "--lang", "en")
    assert chinese[("untag", "u1")] == "标签已过期"


def test_the_compiled_playbook_says_texts_in_its_language() -> None:
    header = "engage_rules: 1\ncommunity: {name: x, language: zh-CN}\nrules: []\n"
    pb = playbook(header)
    assert pb.language == "zh-CN"
    assert pb.say("tag expired") == "标签已过期"
    with use_language("en"):  # whatever the process speaks
        assert pb.say("{currency} expired").format(currency="积分") == "积分 已过期"
    assert playbook("engage_rules: 1\nrules: []\n").say("tag expired") == "tag expired"
    assert translate("tag expired", "zh_CN") == translate("tag expired", "zh-CN") == "标签已过期"


@pytest.mark.parametrize("written", ["zh_CN", "chinese", "fr", "1"])
def test_an_unknown_language_is_refused_where_it_is_written(written: str) -> None:
    text = f"engage_rules: 1\ncommunity:\n  name: x\n  language: {written}\nrules: []\n"
    with pytest.raises(PlaybookError) as err:
        playbook(text)
    message = str(err.value)
    assert "test.yaml:4:13" in message and "community.language" in message, message
    assert "'en'" in message and "'zh-CN'" in message, message
