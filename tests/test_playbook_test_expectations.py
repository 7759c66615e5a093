"""Playbook tests can expect what a playbook refuses and where it fails: `expect.refused`
(an action that could not take effect, such as a `spend` the member cannot afford) and
`expect.errors` (a rule error); an error nobody expects still fails the case."""

from __future__ import annotations

from pathlib import Path

import pytest

from engage_rules.cli import main

PLAYBOOK = """\
engage_rules: 1
name: shop
community: {name: Shop, timezone: Asia/Shanghai}
currencies: [points]
rules:
  - id: earn
    on: checkin
    do:
      - award: {points: 5, reason: checkin}
  - id: buy
    on: redeem.requested
    do:
      - spend: {points: 10, reason: gift}
      - send: {text: "兑换成功"}
  - id: buy-with-else
    on: purchase
    do:
      - spend: {points: 10, reason: gift}
    else:
      - send: {text: "积分不足"}
  - id: broken
    on: feedback.submitted
    do:
      - award: {points: "{{ 10 // event.data.n }}"}
"""


def run(tmp_path: Path, cases: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    (tmp_path / "shop.yaml").write_text(PLAYBOOK, encoding="utf-8")
    path = tmp_path / "shop.test.yaml"
    path.write_text("playbook: shop.yaml\ncases:\n" + cases, encoding="utf-8")
    code = main(["test", str(path)])
    out, err = capsys.readouterr()
    return code, out + err


def test_a_refusal_can_be_expected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(
        tmp_path,
        """\
  - name: too few points to redeem
    events:
      - {type: checkin, member: u1}
      - {type: redeem.requested, member: u1, id: r1}
      - {type: purchase, member: u1, id: p1}
    expect:
      refused:
        - {rule: buy, member: u1, cause: r1}
        - {rule: buy-with-else, member: u1}
      not_actions:
        - {type: spend}
      actions:
        - {type: send, rule: buy-with-else, params: {text: 积分不足}}
""",
        capsys,
    )
    assert code == 0, out
    assert "1 passed" in out


def test_an_expected_refusal_that_does_not_happen_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(
        tmp_path,
        """\
  - name: enough points
    events:
      - {type: checkin, member: u1}
      - {type: checkin, member: u1}
      - {type: redeem.requested, member: u1, id: r1}
    expect:
      refused:
        - {rule: buy, member: u1}
""",
        capsys,
    )
    assert code == 1
    assert "expected a refusal of rule 'buy' for u1; refusals: none" in out


def test_a_rule_error_can_be_expected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(
        tmp_path,
        """\
  - name: a zero divides
    events:
      - {type: feedback.submitted, member: u1, id: f1, data: {n: 0}}
    expect:
      errors:
        - {rule: broken, cause: f1, message: division}
""",
        capsys,
    )
    assert code == 0, out


def test_an_unexpected_or_missing_error_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(
        tmp_path,
        """\
  - name: nobody expects it
    events:
      - {type: feedback.submitted, member: u1, id: f1, data: {n: 0}}
  - name: expected but fine
    events:
      - {type: feedback.submitted, member: u1, id: f2, data: {n: 2}}
    expect:
      errors:
        - {rule: broken}
""",
        capsys,
    )
    assert code == 1
    assert "rule 'broken' failed on f1" in out
    assert "expected rule 'broken' to fail; it did not" in out
