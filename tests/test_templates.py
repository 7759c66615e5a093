"""Sandboxed message templates and templated action parameters."""

from __future__ import annotations

from typing import Any

import pytest

from engage_rules.errors import ExpressionError, ResourceLimitError
from engage_rules.expr import templates as tpl
from engage_rules.expr.templates import (
    TemplateCompileError,
    TemplateSet,
    compile_template,
    compile_value,
)
from engage_rules.model.state import MemberState
from engage_rules.testing import expr_env
from test_expressions import VARS, make_context

ENV = expr_env()


def render(text: str, c: Any = None, **kw: Any) -> str:
    return compile_template(text, vars=VARS, **kw, env=ENV).render(
        c if c is not None else make_context()
    )


def compile_errors(text: str, **kw: Any) -> str:
    with pytest.raises(TemplateCompileError) as info:
        compile_template(text, vars=VARS, **kw, env=ENV)
    return str(info.value)


# -- rendering ----------------------------------------------------------------------------------


def test_renders_names_filters_loops() -> None:
    c = make_context()
    c.match = "代刷"
    assert render("欢迎 {{ member.name }} 加入{{ community.name }}！", c) == (
        "欢迎 阿明 加入摄影爱好者社群！"
    )
    assert render("{{ member.points }} / {{ member.level_name }} / {{ member }}", c) == (
        "120 / 活跃成员 / 阿明"
    )
    assert render("{{ event.type }} {{ event.data.text | length }}", c) == "message.posted 12"
    assert (
        render("{% for w in vars.banned_words %}{{ loop.index }}:{{ w }} {% endfor %}", c)
        == "1:代刷 2:加微信 "
    )
    assert render("{% if 'vip' in member.tags %}VIP{% else %}-{% endif %}", c) == "VIP"
    assert render("违规词: {{ match }}", c) == "违规词: 代刷"
    assert render("{{ vars.limits.daily * 2 }} {{ 'a' ~ 1 }} {{ 7 % 4 }}", c) == "100 a1 3"
    assert render("{% set n = [3, 1, 2] %}{{ n | sort | join(',') }}", c) == "1,2,3"
    assert render("{{ '%s=%d' % ('x', 3) }}", c) == "x=3"
    assert render("{{ now.year }}-{{ '%02d' % now.month }}", c) == "2026-03"
    assert render("{{ event.data.missing }}|{{ event.data.missing | default('-') }}", c) == "|-"
    assert render("{% macro b(x) %}[{{ x }}]{% endmacro %}{{ b(1) }}{{ b(2) }}", c) == "[1][2]"
    assert render("{{ event.data.items() | list | length }}", c) == "1"
    assert render("{{ 'Hi'.upper() }} {{ member.attrs.get('city') }}", c) == "HI 上海"
    assert render("{% for x in range(3) %}{{ loop.cycle('a', 'b') }}{% endfor %}", c) == "aba"


def test_functions_are_bound_to_the_context() -> None:
    m = MemberState(id="u42", community="default")
    c = make_context(member=m, data={"text": "加 微 信 https://x.com @bob"})
    m.record("message.posted", c.now_ts - 10, 86400)
    assert render("{{ count('message.posted', within='1d') }}", c) == "1"
    assert render("{{ contains_any(event.data.text, vars.banned_words) }}/{{ match }}", c) == (
        "加微信/"
    )  # match in the scope was read before the call
    assert c.match == "加微信"
    assert render("{{ links(event.data.text) | join }} {{ mentions(event.data.text) }}", c) == (
        'https://x.com ["@bob"]'
    )  # a list prints as JSON
    assert render("{{ days(2).days }}", c) == "2"


def test_member_text_is_data_never_a_template() -> None:
    c = make_context(data={"text": "{{ 7*7 }} {% for i in range(9) %}x{% endfor %}"})
    out = render("你说：{{ event.data.text }}", c)
    assert out == "你说：{{ 7*7 }} {% for i in range(9) %}x{% endfor %}"
    fn, _ = compile_value("{{ event.data.text }}", vars={}, env=ENV)
    assert fn(c) == "{{ 7*7 }} {% for i in range(9) %}x{% endfor %}"
    ts = TemplateSet({"echo": "{{ event.data.text }}!"}, vars={}, env=ENV)
    assert ts.render("echo", c).startswith("{{ 7*7 }}")


# -- load-time errors -----------------------------------------------------------------------------


def test_compile_errors() -> None:
    assert "syntax error" in compile_errors("{{ member.name ")
    assert "line 3 of the template" in compile_errors("a\nb\n{% if %}\n")
    assert "did you mean `member`" in compile_errors("{{ membr.name }}")
    assert "did you mean `points`" in compile_errors("{{ member.pionts }}")
    assert "did you mean `type`" in compile_errors("{{ event.tpye }}")
    assert "did you mean `name`" in compile_errors("{{ event.member.nmae }}")
    assert "did you mean `banned_words`" in compile_errors("{{ vars.banned_word }}")
    assert "unknown filter `lenght`" in compile_errors("{{ 'x' | lenght }}")
    assert "unknown test `odd_`" in compile_errors("{{ 1 is odd_ }}")
    assert "quoted duration" in compile_errors("{{ count('a', within=event.data.w) }}")
    assert "not supported" in compile_errors("{% include 'x' %}")
    assert "not supported" in compile_errors("{% import 'x' as y %}")
    assert "not supported" in compile_errors("{% extends 'x' %}")
    assert "autoescape" in compile_errors("{% autoescape true %}x{% endautoescape %}")
    assert "only available" not in compile_errors("{{ matchh }}")
    assert "unknown name `match`" in compile_errors("{{ match }}", allow_match=False)


def test_loop_and_set_names_are_not_unknown() -> None:
    assert render("{% set x = 2 %}{% for i in [1] %}{{ x + i + loop.index }}{% endfor %}") == "4"
    assert (
        render("{% macro m(a) %}{{ a }}{{ caller() }}{% endmacro %}{% call m(1) %}c{% endcall %}")
        == "1c"
    )


def test_template_set_collects_every_error_per_name() -> None:
    with pytest.raises(TemplateCompileError) as info:
        TemplateSet(
            {"ok": "hi {{ member.name }}", "bad1": "{{ membr }}", "bad2": "{{ x }}{{ vars.nope }}"},
            vars=VARS,
            env=ENV,
        )
    names = [name for name, _ in info.value.errors]
    assert names == ["bad1", "bad2", "bad2"]
    assert "did you mean `member`" in info.value.errors[0][1]


def test_template_set_uses_and_render() -> None:
    ts = TemplateSet(
        {
            "a": "{{ count('checkin', within='2d') }}",
            "b": "{{ duplicates('5m') }}",
            "c": "{{ count('checkin') }}",
        },
        vars={},
        env=ENV,
    )
    assert ts.uses.counts == {"checkin": 2 * 86400.0}
    assert ts.uses.duplicates_window == 300.0
    assert "a" in ts and "zz" not in ts and ts.names == ["a", "b", "c"]
    with pytest.raises(ExpressionError, match="unknown template"):
        ts.render("zz", make_context())


# -- run-time errors and bounds --------------------------------------------------------------------


def test_run_time_errors_are_expression_errors() -> None:
    for text in (
        "{{ event.data.missing.x }}",
        "{{ 'a' + 1 }}",
        "{{ 1 / 0 }}",
        "{{ event.data.missing > 1 }}",
    ):
        with pytest.raises(ExpressionError):
            render(text)


def test_nested_loops_stop_on_the_step_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    # The step budget, not the wall-clock deadline, must stop these: lift the deadline so
    # a slow or busy machine cannot trip it first.
    import engage_rules.expr.templates as templates_module

    monkeypatch.setattr(templates_module, "DEADLINE", 60.0)
    with pytest.raises(ResourceLimitError, match="steps"):
        render("{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}")
    with pytest.raises(ResourceLimitError):
        render("{% for i in range(10000) %}{% for j in range(10000) %}x{% endfor %}{% endfor %}")


def test_loops_over_data_are_counted() -> None:
    c = make_context(data={"items": list(range(5000))})
    with pytest.raises(ResourceLimitError):
        render(
            "{% for a in event.data['items'] %}{% for b in event.data['items'] %}"
            "{% endfor %}{% endfor %}",
            c,
        )


def test_output_limit_is_checked_while_generating() -> None:
    with pytest.raises(ResourceLimitError, match="longer than the limit"):
        render("{% for i in range(5000) %}{{ 'abcdefgh' }}{% endfor %}")
    assert len(render("{% for i in range(1000) %}abcdefgh{% endfor %}")) == 8000


def test_intermediate_text_is_bounded() -> None:
    doubling = "{% set s = 'a' * 60000 %}" + "{% set s %}{{ s }}{{ s }}{% endset %}" * 10 + "x"
    with pytest.raises(ResourceLimitError):
        render(doubling)
    with pytest.raises(ResourceLimitError):
        render("{% set s = 'a' * 60000 %}{% set s = s ~ s %}{{ s | length }}")


def test_recursion_is_stopped() -> None:
    with pytest.raises(ExpressionError):
        render("{% macro f(n) %}{{ f(n + 1) }}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}")
    with pytest.raises(ExpressionError):
        render("{% for x in [1] recursive %}{{ loop([1, 2]) }}{% endfor %}")


def test_errors_name_the_template() -> None:
    ts = TemplateSet({"greet": "{{ 1 / 0 }}"}, vars={}, env=ENV)
    with pytest.raises(ExpressionError, match="template 'greet'"):
        ts.render("greet", make_context())


def test_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tpl, "DEADLINE", -1.0)
    with pytest.raises(ResourceLimitError, match="longer than"):
        render("{% for i in range(3) %}{{ i }}{% endfor %}")


# -- compile_value ---------------------------------------------------------------------------


def test_compile_value_constants() -> None:
    for value in (5, 2.5, True, None, "plain text", "50% off", {"a": 1, "b": [1, "x"]}):
        fn, uses = compile_value(value, vars={}, env=ENV)
        assert fn.constant
        assert fn(make_context()) == value
        assert uses.counts == {}


def test_compile_value_raw_expression_keeps_types() -> None:
    c = make_context(data={"referrer": "u9", "amount": 5, "tags": ["a"], "n": None})
    cases = {
        "{{ event.data.referrer }}": "u9",
        "{{ event.data.amount }}": 5,
        "{{ event.data.amount * 2 }}": 10,
        " {{ event.data.tags }} ": ["a"],
        "{{ event.data.missing }}": None,
        "{{- member.level -}}": 2,
        "{{ '}}' }}": "}}",
        "{{ member }}": "阿明",
        "{{ range(2) }}": [0, 1],
    }
    for text, expected in cases.items():
        fn, _ = compile_value(text, vars={}, env=ENV)
        assert not fn.constant
        assert fn(c) == expected, text


def test_compile_value_template_and_structures() -> None:
    c = make_context(data={"amount": 5})
    c.match = "刷单"
    fn, _ = compile_value("违规词: {{ match }}", vars={}, env=ENV)
    assert fn(c) == "违规词: 刷单"
    fn, _ = compile_value("{{ event.data.amount }}{{ event.data.amount }}", vars={}, env=ENV)
    assert fn(c) == "55"
    fn, uses = compile_value(
        {
            "to": "{{ event.data.referrer }}",
            "points": "{{ event.data.amount }}",
            "reason": "邀请奖励 x{{ count('referral.completed') }}",
            "list": [1, "{{ 2 + 3 }}"],
        },
        vars={},
        env=ENV,
    )
    assert fn(c) == {"to": None, "points": 5, "reason": "邀请奖励 x0", "list": [1, 5]}
    assert uses.counts == {"referral.completed": None}


def test_compile_value_results_are_detached() -> None:
    c = make_context()
    fn, _ = compile_value("{{ member.attrs }}", vars={}, env=ENV)
    value = fn(c)
    value["city"] = "changed"
    assert c.m is not None and c.m.attrs["city"] == "上海"
    const, _ = compile_value({"a": [1]}, vars={}, env=ENV)
    const(c)["a"].append(2)
    assert const(c) == {"a": [1]}


def test_compile_value_errors_with_paths() -> None:
    with pytest.raises(TemplateCompileError) as info:
        compile_value(
            {"a": "{{ membr }}", "b": ["ok", "{{ 1 + }}"], "c": "x {{ vars.no }}"},
            vars=VARS,
            env=ENV,
        )
    assert [p for p, _ in info.value.errors] == ["a", "b.1", "c"]
    assert "did you mean `member`" in str(info.value)
    with pytest.raises(TemplateCompileError, match="only available"):
        compile_value("{{ match }}", vars={}, allow_match=False, env=ENV)
