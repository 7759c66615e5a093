"""Segments (docs/reference.md §5.10): named member conditions, `segment('name')` in conditions
and templates, load-time checks (unknown names with suggestions, cycles, bad
expressions), and the histories segments need being kept."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engage_rules import Engine
from engage_rules.errors import PlaybookError
from engage_rules.expr.expressions import ExprCompileError, compile_expression
from engage_rules.testing import T0, event, expr_env
from helpers import playbook, run

ENV = expr_env()

SEGMENTS = """
segments:
  active: "count('message.posted', within='7d') >= 2"
  core: ["segment('active')", "member.points >= 20"]
  at-risk: {all: ["member.silent_for >= days(7)", {not: "segment('core')"}]}
templates:
  status: "{{ member.id }}: {{ 'core' if segment('core') else 'member' }}"
rules:
  - id: post
    on: message.posted
    do: [{award: {points: 10, reason: post}}]
  - id: welcome-core
    on: message.posted
    if: "segment('core')"
    once: true
    do: [{tag: core}, {send: {template: status}}]
  - id: check
    on: poll.voted
    if: "segment('at-risk')"
    do: [{tag: at-risk}]
"""


def test_segments_in_conditions_and_templates() -> None:
    engine = Engine(playbook(SEGMENTS))
    assert [a.type for a in run(engine, event("message.posted", "u1", 0))] == ["award"]
    acts = run(engine, event("message.posted", "u1", 60))
    assert [a.type for a in acts] == ["award", "tag", "send"]
    assert acts[2].params["text"] == "u1: core"
    # Eight days later the posts are out of the 7-day window: no longer core, and silent.
    acts = run(engine, event("poll.voted", "u1", 8 * 86400))
    assert [(a.type, a.params.get("name")) for a in acts] == [("tag", "at-risk")]


def test_segment_windows_are_kept() -> None:
    pb = playbook(SEGMENTS)
    assert pb.count_windows["message.posted"] == 7 * 86400


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "segments: {core: 'member.points > 1'}\nrules:\n  - id: a\n    on: x\n"
            "    if: \"segment('cor')\"\n    do: [{tag: x}]\n",
            "test.yaml:8:9: segment(): unknown segment 'cor'; did you mean 'core'?",
        ),
        (
            "rules:\n  - id: a\n    on: x\n    if: \"segment('core')\"\n    do: [{tag: x}]\n",
            "test.yaml:7:9: segment(): unknown segment 'core' (the playbook has no `segments:` "
            "section)",
        ),
        (
            "segments: {core: 'member.points > 1'}\nrules:\n  - id: a\n    on: x\n"
            '    if: "segment(member.id)"\n    do: [{tag: x}]\n',
            "test.yaml:8:9: segment(): the segment name must be quoted, e.g. segment('core')",
        ),
        (
            "segments: {a: \"segment('b')\", b: \"segment('a')\"}\n",
            "test.yaml:4:15: segment 'a' refers to itself through 'a' -> 'b' -> 'a'",
        ),
        (
            "segments: {a: \"segment('a')\"}\n",
            "test.yaml:4:15: segment 'a' refers to itself through 'a' -> 'a'",
        ),
        ('segments: {a: "member.points >"}\n', "test.yaml:4:15: syntax error"),
        (
            "segments: {'bad name': \"true\"}\n",
            "test.yaml:4:11: 'segments': segment name 'bad name' must start with a letter or digit",
        ),
    ],
)
def test_segment_errors(body: str, message: str) -> None:
    with pytest.raises(PlaybookError) as info:
        playbook(body)
    texts = [str(p) for p in info.value.problems]
    assert any(t.startswith(message) for t in texts), texts


def test_segment_in_templates_of_actions_is_checked_too() -> None:
    with pytest.raises(PlaybookError, match="unknown segment 'vip'"):
        playbook(
            "segments: {core: 'true'}\nrules:\n  - id: a\n    on: x\n"
            "    do: [{send: {text: \"{{ segment('vip') }}\"}}]\n"
        )


def test_segment_outside_a_playbook_is_rejected() -> None:
    with pytest.raises(ExprCompileError, match="no `segments:` section"):
        compile_expression("segment('core')", vars={}, env=ENV)


def test_audience_segments_are_evaluated_per_member_at_fire_time() -> None:
    engine = Engine(
        playbook(
            SEGMENTS
            + """
  - id: weekly-core
    on: {cron: "0 20 * * FRI", audience: core}
    do: [{send: {text: "core weekly"}}]
  - id: weekly-at-risk
    on: {cron: "0 20 * * FRI", audience: at-risk}
    do: [{send: {text: "we miss you"}}]
"""
        )
    )
    run(
        engine,
        event("message.posted", "u1", 0),
        event("message.posted", "u1", 60),
        event("member.joined", "u2", 0),
        event("message.posted", "u3", 3600),
    )
    acts = [a for d in engine.advance_to(T0 + timedelta(days=5)) for a in d.actions]
    assert [(a.rule, a.member) for a in acts] == [("weekly-core", "u1")]
    acts = [a for d in engine.advance_to(T0 + timedelta(days=12)) for a in d.actions]
    assert [(a.rule, a.member) for a in acts] == [
        ("weekly-at-risk", "u1"),
        ("weekly-at-risk", "u2"),
        ("weekly-at-risk", "u3"),
    ]
