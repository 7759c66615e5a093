"""Flows (docs/reference.md §5.7) from YAML to actions and state, through the engine API."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engage_rules import Engine, load
from engage_rules.errors import PlaybookError
from engage_rules.model.decision import ActionRecord
from engage_rules.model.state import MemberState, Timer
from engage_rules.testing import T0, event
from engage_rules.testing import strategies as est
from helpers import playbook, run

DAY = 86400

ONBOARDING = """
templates:
  day0: "欢迎 {{ member.id }}，新手任务：发一条自我介绍"
  nudge: "还没发言哦"
flows:
  onboarding:
    exit_on: [member.left]
    steps:
      - send: {template: day0}
      - wait: 1d
      - if: "count('message.posted') == 0"
        then: [{send: {template: nudge}}]
      - wait_for: {event: message.posted, timeout: 3d}
        on_timeout: [{tag: onboarding-stalled}, {exit: {}}]
      - award: {points: 20, reason: onboarding complete}
rules:
  - id: welcome
    on: member.joined
    do: [{start_flow: onboarding}]
  - id: completed
    on: flow.completed
    do: [{send: {text: "done {{ event.data.flow }} {{ event.data.reason }}"}}]
  - id: exited
    on: flow.exited
    do: [{tag: "left-{{ event.data.flow }}-{{ event.data.reason }}"}]
"""


def advance(engine: Engine, at: datetime) -> list[ActionRecord]:
    return [a for d in engine.advance_to(at) for a in d.actions]


def member(engine: Engine, mid: str = "u1") -> MemberState:
    return engine.state.community("default").members[mid]


def summary(actions: list[ActionRecord]) -> list[tuple[str, str, str]]:
    return [
        (
            a.type,
            a.rule,
            str(
                a.params.get("template")
                or a.params.get("name")
                or a.params.get("reason")
                or a.params.get("text")
                or ""
            ),
        )
        for a in actions
    ]


def test_onboarding_runs_step_by_step_and_completes() -> None:
    engine = Engine(playbook(ONBOARDING))
    acts = run(engine, event("member.joined", "u1", 0, id="j1"))
    assert [(a.type, a.rule) for a in acts] == [
        ("start_flow", "welcome"),
        ("send", "flows.onboarding"),
    ]
    assert acts[0].params == {"flow": "onboarding", "run": 1}
    fs = member(engine).flows["onboarding"]
    assert fs["status"] == "active" and fs["step"] == [1] and fs["run"] == 1
    assert fs["waiting"] == {"until": (T0 + timedelta(days=1)).isoformat()}
    # Nothing before the wait ends.
    assert advance(engine, T0 + timedelta(hours=23)) == []
    acts = advance(engine, T0 + timedelta(days=1, hours=1))
    assert summary(acts) == [("send", "flows.onboarding", "nudge")]
    assert acts[0].cause == "flow:default:u1:onboarding:1:1"
    assert acts[0].at == T0 + timedelta(days=1)
    assert member(engine).flows["onboarding"]["waiting"]["event"] == "message.posted"
    # The member posts: the flow resumes on that event and runs to its end.
    acts = run(engine, event("message.posted", "u1", 2 * DAY, id="p1", text="hi"))
    assert summary(acts) == [
        ("award", "flows.onboarding", "onboarding complete"),
        ("complete_flow", "flows.onboarding", "end"),
        ("send", "completed", "done onboarding end"),
    ]
    assert {a.cause for a in acts[:2]} == {"p1"}
    fs = member(engine).flows["onboarding"]
    assert fs["status"] == "completed" and fs["reason"] == "end" and "waiting" not in fs
    assert member(engine).balances == {"points": 20}
    # The stale timeout fires later as a no-op.
    later = engine.advance_to(T0 + timedelta(days=10))
    assert [d.cause for d in later] == ["flow:default:u1:onboarding:1:3"]
    assert later[0].actions == []


def test_wait_for_timeout_runs_on_timeout_then_exits() -> None:
    engine = Engine(playbook(ONBOARDING))
    run(engine, event("member.joined", "u1", 0))
    acts = advance(engine, T0 + timedelta(days=5))
    assert summary(acts) == [
        ("send", "flows.onboarding", "nudge"),
        ("tag", "flows.onboarding", "onboarding-stalled"),
        ("exit_flow", "flows.onboarding", "exit"),
        ("tag", "exited", "left-onboarding-exit"),
    ]
    assert acts[1].at == T0 + timedelta(days=4)
    fs = member(engine).flows["onboarding"]
    assert fs["status"] == "exited" and fs["step"] == [3, "on_timeout", 1]
    assert member(engine).balances == {}
    # A post after the flow ended resumes nothing.
    assert run(engine, event("message.posted", "u1", 6 * DAY, text="late")) == []


def test_on_timeout_without_exit_goes_on_with_the_next_step() -> None:
    engine = Engine(
        playbook("""
flows:
  f:
    steps:
      - wait_for: {event: checkin, timeout: 2d}
        on_timeout: [{tag: no-checkin}]
      - send: {text: after}
rules:
  - {id: go, on: member.joined, do: [{start_flow: f}]}
""")
    )
    run(engine, event("member.joined", "u1", 0))
    acts = advance(engine, T0 + timedelta(days=3))
    assert summary(acts) == [
        ("tag", "flows.f", "no-checkin"),
        ("send", "flows.f", "after"),
        ("complete_flow", "flows.f", "end"),
    ]


def test_exit_on_ends_the_flow_and_later_timers_are_no_ops() -> None:
    engine = Engine(playbook(ONBOARDING))
    run(engine, event("member.joined", "u1", 0))
    acts = run(engine, event("member.left", "u1", 3600))
    assert summary(acts) == [
        ("exit_flow", "flows.onboarding", "exit_on"),
        ("tag", "exited", "left-onboarding-exit_on"),
    ]
    later = engine.advance_to(T0 + timedelta(days=10))
    assert [d.cause for d in later] == ["flow:default:u1:onboarding:1:1"]
    assert later[0].actions == [] and later[0].touched == set()


def test_goal_completes_the_flow_with_an_optional_condition() -> None:
    engine = Engine(
        playbook("""
flows:
  activate:
    goal: {event: message.posted, if: "count('message.posted') >= 2"}
    steps:
      - wait: 30d
      - send: {text: never}
rules:
  - {id: go, on: member.joined, do: [{start_flow: activate}]}
  - {id: hooray, on: flow.completed, do: [{award: {points: 5, reason: "{{ event.data.reason }}"}}]}
""")
    )
    run(engine, event("member.joined", "u1", 0))
    assert run(engine, event("message.posted", "u1", 10, text="one")) == []
    acts = run(engine, event("message.posted", "u1", 20, text="two"))
    assert summary(acts) == [
        ("complete_flow", "flows.activate", "goal"),
        ("award", "hooray", "goal"),
    ]
    assert advance(engine, T0 + timedelta(days=31)) == []


def test_start_flow_on_an_active_run_does_nothing_unless_restart() -> None:
    engine = Engine(
        playbook("""
flows:
  f:
    steps:
      - send: {text: "hello"}
      - wait: 1d
      - send: {text: "day one"}
rules:
  - {id: go, on: member.joined, do: [{start_flow: f}]}
  - {id: again, on: checkin, do: [{start_flow: f}]}
  - {id: reset, on: poll.voted, do: [{start_flow: {flow: f, restart: true}}]}
  - {id: stop, on: report.filed, do: [{exit_flow: f}]}
""")
    )
    first = run(engine, event("member.joined", "u1", 0, id="j"))
    assert run(engine, event("checkin", "u1", 10)) == []
    acts = run(engine, event("poll.voted", "u1", 20, id="v"))
    assert summary(acts) == [
        ("exit_flow", "flows.f", "restart"),
        ("start_flow", "reset", ""),
        ("send", "flows.f", "hello"),
    ]
    assert acts[1].params == {"flow": "f", "run": 2}
    assert acts[2].key != first[1].key
    fs = member(engine).flows["f"]
    assert fs["run"] == 2 and fs["status"] == "active"
    # Run 1's wait is stale; run 2's fires.
    acts = advance(engine, T0 + timedelta(days=2))
    assert [(a.type, a.cause) for a in acts] == [
        ("send", "flow:default:u1:f:2:1"),
        ("complete_flow", "flow:default:u1:f:2:1"),
    ]
    # A completed flow can be started again, as run 3; exit_flow ends it.
    acts = run(engine, event("checkin", "u1", 3 * DAY))
    assert acts[0].params == {"flow": "f", "run": 3}
    acts = run(engine, event("report.filed", "u1", 3 * DAY + 10))
    assert [(a.type, a.rule, a.params) for a in acts] == [
        ("exit_flow", "stop", {"flow": "f", "run": 3})
    ]
    assert member(engine).flows["f"]["reason"] == "exit_flow"
    assert run(engine, event("report.filed", "u1", 3 * DAY + 20)) == []


def test_if_else_and_waits_inside_branches() -> None:
    engine = Engine(
        playbook("""
flows:
  f:
    steps:
      - if: "member.points >= 10"
        then:
          - send: {text: rich}
        else:
          - wait: 2h
          - send: {text: poor}
          - if: "'vip' in member.tags"
            then: [{exit: {reason: vip}}]
      - send: {text: end}
rules:
  - {id: go, on: checkin, do: [{start_flow: f}]}
  - {id: vip, on: poll.voted, do: [{tag: vip}]}
  - {id: earn, on: purchase, do: [{award: {points: 10, reason: buy}}]}
""")
    )
    acts = run(engine, event("purchase", "u1", 0), event("checkin", "u1", 1))
    assert summary(acts)[2:] == [
        ("send", "flows.f", "rich"),
        ("send", "flows.f", "end"),
        ("complete_flow", "flows.f", "end"),
    ]
    assert summary(run(engine, event("checkin", "u2", 2))) == [("start_flow", "go", "")]
    acts = advance(engine, T0 + timedelta(hours=3))
    assert summary(acts) == [
        ("send", "flows.f", "poor"),
        ("send", "flows.f", "end"),
        ("complete_flow", "flows.f", "end"),
    ]
    assert member(engine, "u2").flows["f"]["status"] == "completed"
    assert member(engine).flows["f"]["status"] == "completed"
    run(engine, event("poll.voted", "u3", 4 * 3600), event("checkin", "u3", 4 * 3600 + 1))
    acts = advance(engine, T0 + timedelta(hours=7))
    assert summary(acts) == [("send", "flows.f", "poor"), ("exit_flow", "flows.f", "vip")]


def test_a_failing_step_records_an_error_and_exits_the_flow() -> None:
    engine = Engine(
        playbook("""
flows:
  f:
    steps:
      - award: {points: "{{ member.attrs.missing + 1 }}", reason: x}
      - send: {text: never}
rules:
  - {id: go, on: checkin, do: [{start_flow: f}]}
""")
    )
    (d,) = engine.process(event("checkin", "u1", 0))
    assert [(a.type, a.params.get("reason")) for a in d.actions] == [
        ("start_flow", None),
        ("exit_flow", "error"),
    ]
    assert [e.rule for e in d.errors] == ["flows.f"]
    assert member(engine).flows["f"]["reason"] == "error"


def test_a_flow_restarting_itself_is_stopped_as_a_loop() -> None:
    engine = Engine(
        playbook("""
flows:
  f:
    steps:
      - start_flow: {flow: f, restart: true}
rules:
  - {id: go, on: checkin, do: [{start_flow: f}]}
""")
    )
    decisions = engine.process(event("checkin", "u1", 0))
    assert any("levels deep" in e.message for d in decisions for e in d.errors)


def test_start_flow_for_another_member() -> None:
    engine = Engine(
        playbook("""
flows:
  thanks:
    steps: [{wait: 1h}, {send: {text: "谢谢你的邀请"}}]
rules:
  - id: ref
    on: referral.completed
    do: [{start_flow: {flow: thanks, to: "{{ event.data.referrer }}"}}]
""")
    )
    acts = run(engine, event("referral.completed", "u1", 0, referrer="u9"))
    assert [(a.type, a.member) for a in acts] == [("start_flow", "u9")]
    acts = advance(engine, T0 + timedelta(hours=2))
    assert [(a.type, a.member) for a in acts] == [("send", "u9"), ("complete_flow", "u9")]


def test_same_log_same_keys_and_state() -> None:
    def once() -> tuple[list[str], dict[str, object]]:
        engine = Engine(playbook(ONBOARDING))
        keys = [
            a.key
            for a in run(
                engine,
                event("member.joined", "u1", 0, id="a"),
                event("member.joined", "u2", 5, id="b"),
                event("message.posted", "u2", 2 * DAY, id="c", text="x"),
            )
        ]
        keys += [a.key for a in advance(engine, T0 + timedelta(days=9))]
        return keys, member(engine).to_json()

    assert once() == once()


def test_stale_flow_timers_are_harmless() -> None:
    engine = Engine(playbook(ONBOARDING))
    run(engine, event("member.joined", "u1", 0))
    before = member(engine).to_json()
    for n, payload in enumerate(
        [
            {"flow": "onboarding", "run": 7, "step": "1"},
            {"flow": "onboarding", "run": 1, "step": "3"},
            {"flow": "nope", "run": 1, "step": "1"},
        ]
    ):
        engine.state.add_timer(
            Timer(
                T0.timestamp() + 60,
                0,
                f"stale{n}",
                "flow",
                "default",
                "u1",
                "flows.onboarding",
                payload,
            )
        )
    decisions = engine.advance_to(T0 + timedelta(minutes=2))
    assert [d.actions for d in decisions] == [[], [], []]
    assert member(engine).to_json() == before


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            """
flows:
  f: {steps: [{wait: 1x}]}
""",
            "test.yaml:6:22: '1x' is not a duration",
        ),
        (
            """
flows:
  f: {steps: [{wait_for: {event: checkin}}]}
""",
            "missing required key 'timeout'",
        ),
        (
            """
flows:
  f:
    steps:
      - if: "member.points > 1"
""",
            "test.yaml:8:9: an `if:` step needs `then:` and/or `else:` steps",
        ),
        (
            """
flows:
  f:
    steps:
      - wait: 1d
        then: []
""",
            "unexpected key 'then' in a `wait:` step",
        ),
        (
            """
flows:
  f:
    steps:
      - sendd: {text: x}
""",
            "unknown action 'sendd'; did you mean 'send'?",
        ),
        (
            """
flows:
  f:
    exit_on: [Member-Left]
    steps: [{send: {text: x}}]
""",
            "is not an event type",
        ),
        (
            """
flows:
  onboarding: {steps: [{send: {text: x}}]}
rules:
  - {id: r, on: checkin, do: [{start_flow: onbording}]}
""",
            "unknown flow 'onbording'; did you mean 'onboarding'?",
        ),
        (
            """
flows:
  f:
    steps:
      - if: "member.pints > 1"
        then: [{send: {text: x}}]
""",
            "test.yaml:8:13: `member` has no attribute `pints`",
        ),
        (
            """
flows:
  f: {steps: []}
""",
            "steps",
        ),
    ],
)
def test_flow_problems_are_reported_with_positions(body: str, message: str) -> None:
    with pytest.raises(PlaybookError) as exc:
        playbook(body)
    text = "\n".join(map(str, exc.value.problems))
    assert message in text, text


# -- properties -----------------------------------------------------------------------------
MIXED = (
    ONBOARDING
    + """
  - id: quiet
    on: {silent_for: 2d}
    do: [{send: {text: 想你了}}]
  - id: later
    on: {after: message.posted, delay: 1d}
    do: [{award: {points: 1, reason: later}}]
  - id: restart
    on: poll.voted
    do: [{start_flow: {flow: onboarding, restart: true}}]
"""
)
_KINDS = ["member.joined", "member.left", "message.posted", "checkin", "poll.voted"]


@given(
    st.lists(
        st.tuples(
            st.sampled_from(_KINDS),
            est.member_ids(),
            st.integers(min_value=0, max_value=12 * DAY),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_timers_fire_at_most_once_and_runs_are_deterministic(
    script: list[tuple[str, str, int]],
) -> None:
    def once() -> tuple[list[str], list[str], dict[str, object]]:
        engine = Engine(playbook(MIXED))
        decisions = []
        for n, (kind, mid, at) in enumerate(sorted(script, key=lambda x: x[2])):
            decisions += engine.process(event(kind, mid, at, id=f"x{n}", text="hello"))
        decisions += engine.advance_to(T0 + timedelta(days=40))
        keys = [a.key for d in decisions for a in d.actions]
        fired = [d.cause for d in decisions if d.is_timer]
        members = engine.state.community("default").members
        for m in members.values():
            for fs in m.flows.values():
                assert (fs["status"] == "active") == ("waiting" in fs)
        assert not engine.state.timers  # 40 days later, everything has fired
        return keys, fired, {mid: m.to_json() for mid, m in members.items()}

    keys, fired, state = once()
    assert len(fired) == len(set(fired))
    assert len(keys) == len(set(keys))
    assert once() == (keys, fired, state)


def test_a_stored_position_the_changed_playbook_no_longer_has_ends_the_run() -> None:
    old = Engine(
        playbook("""
flows:
  f:
    steps:
      - if: "true"
        then: [{send: {text: a}}, {wait: 1d}, {send: {text: b}}]
rules:
  - {id: go, on: checkin, do: [{start_flow: f}]}
""")
    )
    run(old, event("checkin", "u1", 0))
    assert member(old).flows["f"]["step"] == [0, "then", 1]
    new = Engine(
        playbook("""
flows:
  f:
    steps: [{send: {text: only}}]
rules:
  - {id: go, on: checkin, do: [{start_flow: f}]}
"""),
        old.state,
    )
    decisions = new.advance_to(T0 + timedelta(days=2))
    assert [(a.type, a.params.get("reason")) for d in decisions for a in d.actions] == [
        ("exit_flow", "error")
    ]
    assert "no longer exists" in decisions[0].errors[0].message


def test_flows_merge_across_the_files_of_a_folder(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "engage_rules: 1\nname: f\nflows:\n  one: {steps: [{send: {text: a}}]}\n"
        "rules:\n  - {id: go, on: checkin, do: [{start_flow: one}, {start_flow: two}]}\n"
    )
    (tmp_path / "b.yaml").write_text("flows:\n  two:\n    steps: [{wait: 1x}]\n")
    with pytest.raises(PlaybookError) as exc:
        load(tmp_path)
    assert [str(p) for p in exc.value.problems] == [
        f"{tmp_path / 'b.yaml'}:3:20: '1x' is not a duration; write it like 30s, 10m, 2h, 14d or 2w"
    ]
    (tmp_path / "b.yaml").write_text("flows:\n  two: {steps: [{send: {text: b}}]}\n")
    engine = Engine(load(tmp_path))
    assert [
        a.params.get("text") for a in run(engine, event("checkin", "u1", 0)) if a.type == "send"
    ] == ["a", "b"]
    (tmp_path / "c.yaml").write_text("flows:\n  one: {steps: [{send: {text: c}}]}\n")
    with pytest.raises(PlaybookError) as exc:
        load(tmp_path)
    assert "duplicate key 'one' in `flows:` (first defined at" in str(exc.value.problems[0])
