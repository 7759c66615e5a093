"""``replay PLAYBOOK EVENTS --compare OTHER``: the backtest of a playbook change.

The comparison is checked against two plain replays of the same events: what each rule
emitted in each run, counted independently from the actions JSON Lines.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from engage_rules.cli import main
from engage_rules.tools.compare import RunResult, compare_runs, comparison_json
from engage_rules.tools.compare_render import render

ROOT = Path(__file__).resolve().parents[1]
STARTER = ROOT / "rules" / "starter" / "community.yaml"
SAMPLE = ROOT / "examples" / "starter-events.jsonl"
UNTIL = "2026-05-01T12:00:00+08:00"
PROBLEM_RE = re.compile(r"^.+:\d+:\d+: .+$")

QUALITY_AWARD = "award: {points: 5, reason: 优质发言"
#: Two edits of one rule: a bigger award, and a stricter condition.
EDITS = {
    "higher-award": (QUALITY_AWARD, "award: {points: 8, reason: 优质发言"),
    "stricter-condition": (
        'if: "event.data.text | length >= 20"',
        'if: "event.data.text | length >= 40"',
    ),
}


def edited(tmp_path: Path, old: str, new: str, name: str = "other.yaml") -> Path:
    text = STARTER.read_text(encoding="utf-8")
    assert text.count(old) == 1
    path = tmp_path / name
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def plain_replay(playbook: Path, out: Path) -> list[dict[str, Any]]:
    """The actions of an ordinary replay, without their keys (which hash the name)."""
    assert (
        main(["replay", str(playbook), str(SAMPLE), "--until", UNTIL, "--actions-out", str(out)])
        == 0
    )
    actions = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    for action in actions:
        del action["key"]
    return actions


def compare(
    capsys: pytest.CaptureFixture[str], other: Path, *extra: str, base: Path = STARTER
) -> tuple[int, str, str]:
    code = main(
        ["replay", str(base), str(SAMPLE), "--until", UNTIL, "--compare", str(other), *extra]
    )
    out, err = capsys.readouterr()
    return code, out, err


def by_rule(actions: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Each rule's actions as sorted JSON texts: equal lists mean the rule is unchanged."""
    out: dict[str, list[str]] = {}
    for action in actions:
        out.setdefault(action["rule"], []).append(json.dumps(action, sort_keys=True))
    return {rule: sorted(texts) for rule, texts in out.items()}


def type_counts(actions: list[dict[str, Any]], rule: str) -> dict[str, int]:
    return dict(Counter(a["type"] for a in actions if a["rule"] == rule))


@pytest.fixture(scope="module")
def starter_actions(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return plain_replay(STARTER, tmp_path_factory.mktemp("a") / "a.jsonl")


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_one_rule_changed_matches_two_plain_replays(
    edit: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    starter_actions: list[dict[str, Any]],
) -> None:
    other = edited(tmp_path, *EDITS[edit])
    other_actions = plain_replay(other, tmp_path / "b.jsonl")
    capsys.readouterr()
    code, out, err = compare(capsys, other, "--json")
    assert code == 0
    doc = json.loads(out)
    rules = {r["rule"]: r for r in doc["rules"]}
    assert doc["a"]["actions"] == len(starter_actions)
    assert doc["b"]["actions"] == len(other_actions)
    plain_a, plain_b = by_rule(starter_actions), by_rule(other_actions)
    for rule in set(plain_a) | set(plain_b):
        counts_a, counts_b = type_counts(starter_actions, rule), type_counts(other_actions, rule)
        r = rules[rule]
        assert r["actions_a"] == counts_a and r["actions_b"] == counts_b, rule
        assert r["delta"] == {
            t: counts_b.get(t, 0) - counts_a.get(t, 0)
            for t in set(counts_a) | set(counts_b)
            if counts_b.get(t, 0) != counts_a.get(t, 0)
        }, rule
        assert r["added"] - r["removed"] == sum(counts_b.values()) - sum(counts_a.values())
        same = plain_a.get(rule) == plain_b.get(rule)
        assert (r["added"] + r["removed"] + r["changed"] == 0) is same, rule
    assert not rules["welcome"]["differs"] and not rules["first-post"]["differs"]
    assert rules["quality-post"]["differs"]
    # The text says the same: the edited rule is listed, unchanged ones on one line.
    code, text, _ = compare(capsys, other)
    assert code == 0
    assert (
        f"{len(starter_actions):,} actions in A, {len(other_actions):,} in B, "
        f"{doc['actions_differing']:,} differ" in text
    )
    same_line = next(x for x in text.splitlines() if x.startswith("Rules with the same"))
    assert "welcome" in same_line and "quality-post" not in same_line
    assert "\nquality-post\n" in text
    # Both replays' summaries are on stderr, labelled; the quarantined lines once.
    assert f"A: {STARTER}" in err and f"B: {other}" in err
    assert err.count("line 121: bad_json") == 1


def test_higher_award_reports_amounts_and_points(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], starter_actions: list[dict[str, Any]]
) -> None:
    other = edited(tmp_path, *EDITS["higher-award"])
    awards = [a for a in starter_actions if a["rule"] == "quality-post"]
    assert awards and all(a["params"]["amount"] == 5 for a in awards)
    code, out, _ = compare(capsys, other, "--json")
    assert code == 0
    quality = next(r for r in json.loads(out)["rules"] if r["rule"] == "quality-post")
    assert quality["changed"] == len(awards)
    assert quality["added"] == quality["removed"] == 0
    assert quality["ledger_a"] == {"points": 5 * len(awards)}
    assert quality["ledger_b"] == {"points": 8 * len(awards)}
    example = quality["examples"][0]
    assert example["a"]["params"]["amount"] == 5 and example["b"]["params"]["amount"] == 8
    _, text, _ = compare(capsys, other)
    assert (
        f"points from this rule (net): {5 * len(awards):,} in A, "
        f"{8 * len(awards):,} in B (+{3 * len(awards):,})" in text
    )
    assert re.search(r"would award 8 points to u\d+ .*\(in A: award 5 points to u\d+", text)
    assert "Final state:" in text and "balances.points" in text


def test_identical_playbooks_have_no_differences(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "copy.yaml"
    copy.write_text(STARTER.read_text(encoding="utf-8"), encoding="utf-8")
    code, text, _ = compare(capsys, copy)
    assert code == 0
    assert "No differences: both playbooks decide the same actions and all 26 members" in text
    assert "Rules that behave differently" not in text
    code, out, _ = compare(capsys, copy, "--json")
    doc = json.loads(out)
    assert doc["identical"] is True and doc["actions_differing"] == 0
    assert doc["state"]["fields"] == [] and doc["state"]["members_differing"] == 0
    assert not any(r["differs"] for r in doc["rules"])


def test_rule_removed_in_b(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], starter_actions: list[dict[str, Any]]
) -> None:
    text = STARTER.read_text(encoding="utf-8")
    start, end = text.index("  - id: daily-checkin"), text.index("  - id: referral")
    other = tmp_path / "no-checkin.yaml"
    other.write_text(text[:start] + text[end:], encoding="utf-8")
    checkins = [a for a in starter_actions if a["rule"] == "daily-checkin"]
    assert checkins
    code, out, _ = compare(capsys, other, "--json")
    assert code == 0
    doc = json.loads(out)
    rule = next(r for r in doc["rules"] if r["rule"] == "daily-checkin")
    assert (rule["in_a"], rule["in_b"]) == (True, False)
    assert rule["removed"] == len(checkins) and rule["added"] == rule["changed"] == 0
    assert rule["actions_b"] == {} and rule["delta"] == {"award": -len(checkins)}
    assert rule["ledger_a"] == {"points": sum(a["params"]["amount"] for a in checkins)}
    assert rule["ledger_b"] == {}
    members = {a["member"] for a in checkins}
    points = next(f for f in doc["state"]["fields"] if f["field"] == "balances.points")
    assert points["members"] == len(members)
    assert all(e["a"] > e["b"] for e in points["examples"])
    _, text, _ = compare(capsys, other)
    assert "daily-checkin (only in A: removed in B)" in text
    assert "would no longer award 2 points to" in text


def test_json_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = edited(tmp_path, *EDITS["stricter-condition"])
    code, out, _ = compare(capsys, other, "--json")
    assert code == 0
    doc = json.loads(out)  # one document, nothing else on stdout
    assert set(doc) == {"a", "b", "identical", "same_name", "actions_differing", "rules", "state"}
    assert set(doc["a"]) == {"playbook", "name", "actions"} and doc["b"]["playbook"] == str(other)
    assert doc["identical"] is False and doc["same_name"] is True
    for r in doc["rules"]:
        assert set(r) == {
            "rule",
            "in_a",
            "in_b",
            "differs",
            "actions_a",
            "actions_b",
            "shadow_a",
            "shadow_b",
            "delta",
            "added",
            "removed",
            "changed",
            "ledger_a",
            "ledger_b",
            "examples",
        }
        for e in r["examples"]:
            assert e["change"] in ("added", "removed", "changed")
            assert (e["a"] is None) is (e["change"] == "added")
            assert (e["b"] is None) is (e["change"] == "removed")
            for action in (e["a"], e["b"]):
                assert action is None or ("key" not in action and action["rule"] == r["rule"])
    assert doc["actions_differing"] == sum(
        r["added"] + r["removed"] + r["changed"] for r in doc["rules"]
    )
    assert set(doc["state"]) == {"members_compared", "members_differing", "fields"}
    for f in doc["state"]["fields"]:
        assert set(f) == {"field", "members", "examples"} and f["members"] > 0
        assert all(
            set(e) == {"community", "member", "a", "b"} and e["a"] != e["b"] for e in f["examples"]
        )


def test_invalid_other_playbook_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = edited(tmp_path, "    cooldown: 60s", "    cooldown: 60 seconds")
    code, out, err = compare(capsys, other)
    assert code == 1 and out == ""
    problems = err.splitlines()
    assert problems and all(PROBLEM_RE.match(p) for p in problems)
    assert all(p.startswith(f"{other}:") for p in problems)


@pytest.mark.parametrize(
    "option", [["--store", "memory:"], ["--actions-out", "a.jsonl"], ["--state-out", "s.json"]]
)
def test_one_run_options_with_compare_exit_2(
    option: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = compare(capsys, STARTER, *option)
    assert code == 2 and out == ""
    assert err.startswith(f"error: {option[0]} cannot be used with --compare")
    assert len(err.splitlines()) == 1


def test_json_without_compare_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(STARTER), str(SAMPLE), "--json"]) == 2
    assert capsys.readouterr().err.startswith("error: --json is for --compare")


def _run(actions: list[dict[str, Any]], balance: int) -> RunResult:
    return RunResult(
        label="x.yaml",
        name="x",
        rule_ids=("greet",),
        actions=tuple(actions),
        members={"c": {"u1": {"balances": {"points": balance}, "status": "active"}}},
        ledger={("greet", "points"): balance},
    )


def test_shadow_actions_are_counted_apart_and_marked() -> None:
    at = datetime(2026, 3, 2, 9, tzinfo=UTC).isoformat()
    live = {
        "type": "send",
        "member": "u1",
        "rule": "greet",
        "cause": "e1",
        "at": at,
        "params": {"text": "hello"},
        "community": "c",
    }
    comparison = compare_runs(_run([live], 5), _run([{**live, "shadow": True}], 0))
    (rule,) = comparison.rules
    assert (rule.changed, rule.added, rule.removed) == (1, 0, 0)
    doc = comparison_json(comparison)["rules"][0]
    assert doc["actions_a"] == {"send": 1} and doc["shadow_a"] == {}
    assert doc["actions_b"] == {} and doc["shadow_b"] == {"send": 1}
    assert doc["delta"] == {"send": -1, "send (shadow)": 1}
    text = render(comparison)
    assert "send (shadow)" in text
    assert "would send u1 “hello” [shadow: recorded, not delivered]" in text
    assert re.search(r"balances\.points +1  u1: 5 → 0\n", text)
    assert "1 action in A, 1 in B, 1 differ" in text
