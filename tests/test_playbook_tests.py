"""`engage-rules test` (docs/reference.md §8): loading, running and comparing playbook tests."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engage_rules.cli import main
from engage_rules.errors import PlaybookError
from engage_rules.model.decision import ActionRecord
from engage_rules.testing import T0
from engage_rules.tools.playbook_test_compare import ActionExpect, check_actions, check_not_actions
from engage_rules.tools.playbook_tests import (
    find_test_files,
    load_test_file,
    observed_path,
)

ROOT = Path(__file__).resolve().parent.parent

PLAYBOOK = """\
engage_rules: 1
name: t
community: {name: T, timezone: Asia/Shanghai}
currencies: [points]
rules:
  - id: welcome
    on: member.joined
    do:
      - send: {text: hi}
      - tag: {name: newcomer, expires: 1d}
      - tag: regular
  - id: post
    on: message.posted
    do:
      - award: {points: 5, reason: post}
"""


def write(tmp_path: Path, body: str, name: str = "t.test.yaml") -> Path:
    (tmp_path / "community.yaml").write_text(PLAYBOOK, encoding="utf-8")
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def run(
    capsys: pytest.CaptureFixture[str], *paths: Path | str, update: bool = False
) -> tuple[int, str, str]:
    code = main(["test", *map(str, paths), *(["--update"] if update else [])])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_passing_case(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path,
        """\
playbook: community.yaml
cases:
  - name: joined then posted
    events:
      - {type: member.joined, member: u1}
      - {type: message.posted, member: u1}
    until: "2026-03-04T00:00:00+08:00"
    expect:
      actions:
        - {type: send, member: u1, rule: welcome, params: {text: hi}}
        - {type: award, params: {amount: 5}}
        - {type: untag, member: u1, params: {name: newcomer}}
      not_actions:
        - {type: award, params: {amount: 6}}
      members:
        u1: {points: 5, tags: [regular], balances: {points: 5}, status: active, strikes: 0}
""",
    )
    code, out, err = run(capsys, path)
    assert (code, err) == (0, "")
    assert out == "1 passed, 0 failed\n"


def test_tags_compare_as_sets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path,
        """\
playbook: community.yaml
cases:
  - name: order of tags does not matter
    events: [{type: member.joined, member: u1}]
    expect: {members: {u1: {tags: [regular, newcomer]}}}
""",
    )
    assert run(capsys, path)[0] == 0


def test_a_missing_action_shows_the_nearest_actual_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        """\
playbook: community.yaml
cases:
  - name: wrong amount
    events: [{type: message.posted, member: u1}]
    expect:
      actions: [{type: award, member: u1, params: {amount: 7}}]
""",
    )
    code, out, _ = run(capsys, path)
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == f"FAIL {path}: wrong amount"
    assert lines[1] == (
        "  expected action #1 not found: {type: 'award', member: 'u1', params: {'amount': 7}}"
    )
    assert "nearest actual actions" in lines[2]
    assert lines[3].startswith("      - type: 'award', member: 'u1', rule: 'post', ")
    assert "*params: {'currency': 'points', 'amount': 5" in lines[3]
    assert lines[-1] == "0 passed, 1 failed"


def test_actions_must_come_in_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path,
        """\
playbook: community.yaml
cases:
  - name: reversed
    events: [{type: member.joined, member: u1}]
    expect:
      actions: [{type: tag, params: {name: newcomer}}, {type: send}]
""",
    )
    code, out, _ = run(capsys, path)
    assert code == 1
    assert "expected action #2 not found: {type: 'send'}" in out
    assert "it happened as actual action #1, before the action that matched" in out


def test_not_actions_failure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path,
        """\
playbook: community.yaml
cases:
  - name: no award please
    events: [{type: message.posted, member: u1}]
    expect: {not_actions: [{type: award}]}
""",
    )
    code, out, _ = run(capsys, path)
    assert code == 1
    assert "  unexpected action matching {type: 'award'}:\n" in out
    assert "      actual action #1: type: 'award', member: 'u1', rule: 'post'" in out


def test_members_mismatch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path,
        """\
playbook: community.yaml
cases:
  - name: state
    events: [{type: message.posted, member: u1}]
    expect:
      members:
        u1: {points: 3, tags: [vip], status: active}
        u9: {points: 0}
""",
    )
    code, out, _ = run(capsys, path)
    assert code == 1
    assert (
        "  member 'u1':\n      points: expected 3, actual 5\n"
        "      tags: expected ['vip'], actual []\n"
    ) in out
    assert "member 'u9': no state" in out
    assert "status" not in out


def test_shorthand_ids_and_times(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path,
        """\
playbook: community.yaml
cases:
  - name: generated ids and times
    events:
      - {type: message.posted, member: u1}
      - {type: message.posted, member: u1}
      - {type: message.posted, member: u2, at: "2026-05-01T08:00:00+08:00"}
      - {type: message.posted, member: u2}
    expect:
      actions:
        - {cause: e1, member: u1, at: "2026-03-02T10:00:00+08:00"}
        - {cause: e2, member: u1, at: "2026-03-02T02:00:01Z"}
        - {cause: e3, member: u2, at: "2026-05-01T08:00:00+08:00"}
        - {cause: e4, member: u2, at: "2026-05-01T08:00:01+08:00"}
""",
    )
    code, out, _ = run(capsys, path)
    assert code == 0, out


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "playbook: community.yaml\ncases:\n  - name: x\n    evnets: []\n",
            ":4:5: unknown key 'evnets' in 'cases[0]'; did you mean 'events'?",
        ),
        (
            "playbook: community.yaml\ncases:\n  - name: x\n    expect: {actions: [{typ: send}]}\n",
            ":4:25: unknown key 'typ' in 'cases[0].expect.actions[0]'; did you mean 'type'?",
        ),
        (
            "playbook: community.yaml\ncases:\n  - name: x\n    events:\n      - {member: u1}\n",
            ":5:9: event 1 of case 'x': ",
        ),
        (
            "playbook: community.yaml\ncases:\n  - name: x\n    until: '2026-03-01T10:00:00'\n",
            ":4:12: ",
        ),
        ("cases: []\n", ":1:1: missing required key 'playbook'"),
        ("- just a list\n", ":1:1: a test file must be a mapping"),
        ("playbook: community.yaml\ncases: [{name: x, events: [}\n", ":2:"),
    ],
)
def test_bad_test_files_are_located(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, expected: str
) -> None:
    path = write(tmp_path, body)
    code, _, err = run(capsys, path)
    assert code == 1
    assert f"{path}{expected}" in err, err


def test_bad_until_says_why(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "playbook: community.yaml\ncases:\n  - name: x\n    until: '2026-03-01T10:00:00'\n",
    )
    with pytest.raises(PlaybookError) as info:
        load_test_file(path)
    assert "UTC offset" in str(info.value.problems[0])


def test_a_missing_or_invalid_playbook_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "playbook: nowhere.yaml\ncases: [{name: x}]\n")
    code, _, err = run(capsys, path)
    assert code == 1
    assert err.startswith(f"{path}:1:11: playbook 'nowhere.yaml' not found")
    (tmp_path / "bad.yaml").write_text("engage_rules: 1\nname: b\nrulez: []\n")
    path.write_text("playbook: bad.yaml\ncases: [{name: x}]\n")
    code, _, err = run(capsys, path)
    assert code == 1 and "did you mean 'rules'" in err


def test_a_rule_error_fails_the_case(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "community.yaml").write_text(
        PLAYBOOK
        + """\
  - id: broken
    on: checkin
    do:
      - award: {points: "{{ event.data.n * 2 }}", reason: x}
"""
    )
    path = tmp_path / "t.test.yaml"
    path.write_text(
        "playbook: community.yaml\ncases:\n  - name: x\n"
        "    events: [{type: checkin, member: u1, data: {n: abc}}]\n"
    )
    code, out, _ = run(capsys, path)
    assert code == 1
    assert "  rule 'broken' failed on e1: " in out


def test_no_case_found_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    code, out, err = run(capsys, tmp_path / "empty")
    assert code == 1
    assert out == "0 passed, 0 failed\n" and "no test case found" in err
    path = write(tmp_path, "playbook: community.yaml\ncases: []\n")
    assert run(capsys, path)[0] == 1


def test_folders_are_searched_recursively(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / ".hidden").mkdir()
    for rel in (
        "a/b/x.test.yaml",
        "a/y.test.yaml",
        "a/z.yaml",
        ".hidden/h.test.yaml",
        "a/y.observed.test.yaml",
    ):
        (tmp_path / rel).write_text("")
    assert find_test_files([tmp_path]) == [tmp_path / "a/b/x.test.yaml", tmp_path / "a/y.test.yaml"]


def test_update_writes_the_observed_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        """\
playbook: community.yaml
cases:
  - name: to be filled in
    events: [{type: message.posted, member: u1}]
    expect:
      actions: [{type: send}]
      not_actions: [{type: award}, {type: ban}]
""",
    )
    code, _, err = run(capsys, path, update=True)
    assert code == 1
    observed = observed_path(path)
    assert observed == tmp_path / "t.observed.test.yaml"
    assert f"observed results written to {observed}" in err
    text = observed.read_text(encoding="utf-8")
    assert "- type: award\n      member: u1\n      rule: post\n" in text
    loaded = load_test_file(observed)
    expect = loaded.spec.cases[0].expect
    assert [a.type for a in expect.not_actions] == ["ban"]  # the violated one is dropped
    assert expect.members["u1"].points == 5
    assert run(capsys, observed)[0] == 0  # adopting it makes the case pass
    assert run(capsys, tmp_path)[1].endswith("0 passed, 1 failed\n")  # not picked up


def test_the_shipped_playbook_tests_pass(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, ROOT / "rules")
    assert code == 0, out + err
    assert out.endswith(" passed, 0 failed\n")
    assert len(find_test_files([ROOT / "rules"])) == 10


_actions = st.lists(
    st.builds(
        lambda i, t, m, amount: ActionRecord(
            f"k{i}",
            t,
            m,
            "r",
            f"e{i}",
            T0 + timedelta(seconds=i),
            {"amount": amount, "reason": "x"},
        ),
        st.integers(0, 50),
        st.sampled_from(["send", "award", "tag"]),
        st.sampled_from(["u1", "u2", None]),
        st.integers(0, 3),
    ),
    max_size=8,
)
_FIELDS = ["type", "member", "rule", "cause", "at", "params"]


def _expectation(action: ActionRecord, fields: list[str]) -> ActionExpect:
    data = action.to_json()
    given_ = {f: data[f] for f in fields}
    if "params" in given_:
        given_["params"] = {"amount": action.params["amount"]}
    return ActionExpect.model_validate(given_)


@given(_actions, st.data())
def test_any_ordered_subsequence_of_the_actual_actions_matches(
    actions: list[ActionRecord], data: st.DataObject
) -> None:
    chosen = sorted(
        data.draw(
            st.sets(st.integers(0, max(len(actions) - 1, 0))) if actions else st.just(set[int]())
        )
    )
    expected = [
        _expectation(actions[i], data.draw(st.lists(st.sampled_from(_FIELDS)))) for i in chosen
    ]
    assert check_actions(expected, actions) == []
    # ...and each expectation, as a not_action, is reported.
    assert len(check_not_actions(expected, actions)) >= len(expected)
