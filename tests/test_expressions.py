"""The expression compiler: semantics, static resolution, errors, conditions."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engage_rules.errors import ExpressionError, ResourceLimitError
from engage_rules.events import event_from_obj
from engage_rules.expr.context import EvalContext
from engage_rules.expr.expressions import (
    ConditionErrors,
    ExprCompileError,
    compile_condition,
    compile_expression,
)
from engage_rules.model.state import MemberState, ts
from engage_rules.testing import expr_env

ENV = expr_env()

AT = "2026-03-02T20:15:00+08:00"
VARS: dict[str, Any] = {
    "banned_words": ["代刷", "加微信"],
    "min_len": 20,
    "limits": {"daily": 50},
    "label": "vip",
}


def make_context(
    *,
    data: dict[str, Any] | None = None,
    type_: str = "message.posted",
    at: str = AT,
    member: MemberState | bool | None = True,
    event_member: dict[str, Any] | None = None,
    channel: str | None = "general",
    vars: dict[str, Any] | None = None,
) -> EvalContext:
    """A real EvalContext over a real Event and MemberState."""
    obj: dict[str, Any] = {
        "id": "evt-1",
        "type": type_,
        "at": at,
        "data": {"text": "大家好，今天分享一个教程"} if data is None else data,
    }
    if channel is not None:
        obj["channel"] = channel
    if event_member is not None:
        obj["member"] = event_member
    elif member is not None and member is not False:
        obj["member"] = {"id": "u42", "name": "阿明", "roles": ["member"]}
    event = event_from_obj(obj)
    if member is True:
        m: MemberState | None = MemberState(
            id="u42",
            community="default",
            name="阿明",
            roles=("member",),
            level=2,
            level_name="活跃成员",
            balances={"points": 120, "coins": 3},
            tags={"vip": None, "expired": datetime(2020, 1, 1, tzinfo=ZoneInfo("UTC"))},
            attrs={"city": "上海", "score": 7},
            badges={"first-post": {}},
            joined_at=event.at - timedelta(days=30),
            last_active_at=event.at - timedelta(days=3),
        )
    elif member is False:
        m = None
    else:
        m = member
    return EvalContext(
        event,
        m,
        event.at,
        ts(event.at),
        {"id": "default", "name": "摄影爱好者社群", "timezone": "Asia/Shanghai"},
        dict(VARS if vars is None else vars),
        "points",
        ZoneInfo("Asia/Shanghai"),
        ENV,
    )


def ev(text: str, c: EvalContext | None = None, **kw: Any) -> Any:
    """Compile and evaluate ``text``."""
    fn = compile_expression(text, vars=VARS, **kw, env=ENV).fn
    return fn(c if c is not None else make_context())


def compile_error(text: str, **kw: Any) -> ExprCompileError:
    with pytest.raises(ExprCompileError) as info:
        compile_expression(text, vars=VARS, **kw, env=ENV)
    return info.value


# -- semantics of each construct ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("7 / 2", 3.5),
        ("7 // 2", 3),
        ("-7 % 3", 2),
        ("2 ** 10", 1024),
        ("(2 ** 3) ** 2", 64),
        ("-(2 ** 2)", -4),
        ("(-2) ** 2", 4),
        ("1.5 + 1", 2.5),
        ("'a' ~ 1 ~ none", "a1None"),
        ("'ab' + 'cd'", "abcd"),
        ("'ab' * 3", "ababab"),
        ("[1, 2] + [3]", [1, 2, 3]),
        ("(1, 2)", (1, 2)),
        ("{'a': 1}['a']", 1),
        ("{'a': 1}.a", 1),
        ("[1, 2, 3][1]", 2),
        ("[1, 2, 3][-1]", 3),
        ("[1, 2, 3][1:]", [2, 3]),
        ("'hello'[::-1]", "olleh"),
        ("'hello'[1:3]", "el"),
        ("1 < 2 < 3", True),
        ("1 < 3 < 2", False),
        ("1 == 1.0", True),
        ("'a' != 'b'", True),
        ("2 in [1, 2]", True),
        ("2 not in [1, 2]", False),
        ("'ell' in 'hello'", True),
        ("true and false", False),
        ("true or false", True),
        ("not true", False),
        ("0 or 'x'", "x"),
        ("1 and 'y'", "y"),
        ("'yes' if 1 > 0 else 'no'", "yes"),
        ("'yes' if 1 < 0 else 'no'", "no"),
        ("True and None is none", True),
        ("[3, 1, 2] | sort", [1, 2, 3]),
        ("[3, 1, 2] | sort(reverse=true)", [3, 2, 1]),
        ("['b', 'A', 'a'] | unique | list", ["b", "A"]),
        ("[3, 1, 2] | min", 1),
        ("[3, 1, 2] | max", 3),
        ("[3, 1, 2] | sum", 6),
        ("[3, 1, 2] | first", 3),
        ("[3, 1, 2] | last", 2),
        ("[3, 1, 2] | join('-')", "3-1-2"),
        ("[3, 1, 2] | length", 3),
        ("'abc' | count", 3),
        ("'AbC' | lower", "abc"),
        ("'abc' | upper", "ABC"),
        ("'  x ' | trim", "x"),
        ("'hello world' | capitalize", "Hello world"),
        ("'hello world' | title", "Hello World"),
        ("'hello world' | wordcount", 2),
        ("'hello world' | replace('o', '0')", "hell0 w0rld"),
        ("'hello world foo' | truncate(9, leeway=0)", "hello..."),
        ("'42' | int + 1", 43),
        ("'4.5' | float", 4.5),
        ("'x' | int", 0),
        ("'x' | int(7)", 7),
        ("-3 | abs", 3),
        ("2.567 | round(2)", 2.57),
        ("2.5 | round(method='floor')", 2.0),
        ("3 | string", "3"),
        ("'ab' | list", ["a", "b"]),
    ],
)
def test_constructs(text: str, expected: Any) -> None:
    assert ev(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[{'n': 2}, {'n': 1}] | sort(attribute='n') | first", {"n": 1}),
        ("[{'n': 2}, {'n': 1}] | sum(attribute='n')", 3),
        ("[{'n': 'b'}, {'n': 'a'}] | join(',', attribute='n')", "b,a"),
        ("[{'n': 2}, {'n': 5}] | max(attribute='n')", {"n": 5}),
        ("6 is divisibleby 3", True),
        ("6 is divisibleby(4)", False),
        ("3 is odd", True),
        ("3 is even", False),
        ("3 is number", True),
        ("'3' is string", True),
        ("none is none", True),
        ("2 is in [1, 2]", True),
        ("2 is eq 2", True),
        ("2 is ne 2", False),
        ("2 is lt 3", True),
        ("2 is gt 3", False),
        ("2 is le 2", True),
        ("2 is ge 3", False),
        ("2 is sameas 2", True),
        ("'abc'.upper()", "ABC"),
        ("'ABC'.lower()", "abc"),
        ("' a '.strip()", "a"),
        ("'abc'.startswith('ab')", True),
        ("'abc'.endswith('bc')", True),
        ("'a,b'.split(',')", ["a", "b"]),
        ("'banana'.count('a')", 3),
        ("'banana'.find('n')", 2),
        ("'banana'.replace('a', 'o')", "bonono"),
        ("{'a': 1}.get('a')", 1),
        ("{'a': 1}.get('b', 5)", 5),
        ("{'a': 1}.keys() | list", ["a"]),
        ("{'a': 1}.values() | list", [1]),
        ("{'a': 1}.items() | list", [("a", 1)]),
        ("range(3) | list", [0, 1, 2]),
        ("range(1, 10, 4) | list", [1, 5, 9]),
        ("days(2)", timedelta(days=2)),
        ("hours(1) + minutes(30)", timedelta(minutes=90)),
    ],
)
def test_more_constructs(text: str, expected: Any) -> None:
    assert ev(text) == expected


def test_dates_and_durations() -> None:
    c = make_context()
    assert ev("now.year", c) == 2026
    assert ev("now.hour", c) == 20
    assert ev("now.weekday()", c) == 0  # a Monday
    assert ev("event.at == now", c) is True
    assert ev("member.silent_for >= days(3)", c) is True
    assert ev("member.silent_for > days(3)", c) is False
    assert ev("member.silent_for.days", c) == 3
    assert ev("(now - member.joined_at).total_seconds()", c) == 30 * 86400


# -- static resolution of roots ---------------------------------------------------------------


def test_event_fields() -> None:
    c = make_context(data={"text": "hi", "n": 3, "nested": {"k": [1, 2]}})
    assert ev("event.type", c) == "message.posted"
    assert ev("event.channel", c) == "general"
    assert ev("event.id", c) == "evt-1"
    assert ev("event.community", c) == "default"
    assert ev("event.platform", c) is None
    assert ev("event.data.text", c) == "hi"
    assert ev("event.data['text']", c) == "hi"
    assert ev("event.data.nested.k[1]", c) == 2
    assert ev("event.data.nested['k'] | length", c) == 2
    assert ev("event.data.get('n')", c) == 3
    assert ev("event['type']", c) == "message.posted"
    assert ev("event.member.id", c) == "u42"
    assert ev("event.member.roles", c) == ["member"]
    assert ev("event.member", c)["name"] == "阿明"


def test_member_fields() -> None:
    c = make_context()
    assert ev("member.points", c) == 120
    assert ev("member.balances.coins", c) == 3
    assert ev("member.level", c) == 2
    assert ev("member.level_name", c) == "活跃成员"
    assert ev("member.name", c) == "阿明"
    assert ev("member.id", c) == "u42"
    assert ev("'vip' in member.tags", c) is True
    assert ev("'expired' in member.tags", c) is False
    assert ev("member.roles", c) == ["member"]
    assert ev("member.status", c) == "active"
    assert ev("member.attrs.city", c) == "上海"
    assert ev("member.attrs.score + 1", c) == 8
    assert ev("member.badges", c) == ["first-post"]
    assert ev("member.strikes", c) == 0
    assert ev("member.opted_out", c) is False
    assert ev("member['level']", c) == 2
    assert ev("member.account_age", c) is None


def test_default_currency_is_read_at_run_time() -> None:
    fn = compile_expression("member.points", vars={}, env=ENV).fn
    c = make_context()
    c.default_currency = "coins"
    assert fn(c) == 3


def test_member_without_state_gives_none() -> None:
    c = make_context(member=False)
    assert ev("member.level", c) is None
    assert ev("member.points is none", c) is True
    with pytest.raises(ExpressionError):
        ev("member.level >= 2", c)


def test_community_vars_now() -> None:
    c = make_context()
    assert ev("community.name", c) == "摄影爱好者社群"
    assert ev("community.timezone", c) == "Asia/Shanghai"
    assert ev("vars.min_len", c) == 20
    assert ev("vars['min_len']", c) == 20
    assert ev("vars.limits.daily", c) == 50
    assert ev("vars.label in member.tags", c) is True
    assert ev("'代刷' in vars.banned_words", c) is True
    assert ev("now", c) == c.now


def test_vars_scalars_are_baked_and_containers_are_not_copied_per_call() -> None:
    compiled = compile_expression("vars.min_len + 1", vars=VARS, env=ENV)
    assert "21" in compiled.python or "min_len" not in compiled.python
    assert compiled.fn(make_context(vars={})) == 21


# -- undefined ------------------------------------------------------------------------------------


def test_undefined_behaviour() -> None:
    c = make_context(data={})
    assert ev("event.data.text | length", c) == 0
    assert ev("event.data.text is defined", c) is False
    assert ev("event.data.text is undefined", c) is True
    assert ev("event.data.text | default('x')", c) == "x"
    assert ev("event.data.text | d('y')", c) == "y"
    assert ev("'' | default('z', true)", c) == "z"
    assert ev("not event.data.text", c) is True
    assert ev("event.data.text ~ '!'", c) == "!"
    assert ev("event.data.text | lower", c) == ""
    assert ev("event.data.text == 'a'", c) is False
    assert ev("'a' in event.data.text", c) is False
    assert ev("(1 if false) is defined", c) is False
    for bad in (
        "event.data.text >= 1",
        "1 < event.data.text",
        "event.data.text + 1",
        "event.data.user.name",
        "event.data.text.lower()",
        "event.data.x[0]",
    ):
        with pytest.raises(ExpressionError):
            ev(bad, c)


def test_undefined_message_names_the_path() -> None:
    with pytest.raises(ExpressionError, match=r"event\.data\.score"):
        ev("event.data.score > 3", make_context(data={}))


# -- compile errors ------------------------------------------------------------------------------


def test_unknown_name_suggests() -> None:
    err = compile_error("membr.level >= 2")
    assert "unknown name `membr`" in err.message
    assert "did you mean `member`" in err.message
    assert err.col == 1
    err = compile_error("event.type == 'x' and evnt.channel")
    assert "did you mean `event`" in err.message
    assert err.col == 23


def test_unknown_attributes_suggest() -> None:
    assert "did you mean `points`" in compile_error("member.pionts > 1").message
    assert "did you mean `type`" in compile_error("event.tpye").message
    assert "did you mean `name`" in compile_error("event.member.nmae").message
    assert "did you mean `name`" in compile_error("community.nam").message
    err = compile_error("1 + member['levle']")
    assert "did you mean `level`" in err.message


def test_unknown_vars_key_suggests() -> None:
    err = compile_error("contains_any(event.data.text, vars.banned_word)")
    assert "`vars.banned_word` is not defined" in err.message
    assert "did you mean `banned_words`" in err.message
    assert err.col is not None and err.col > 1
    assert "has no key `dayly`" in compile_error("vars.limits.dayly").message


def test_unknown_filter_test_function_method() -> None:
    assert "did you mean `length`" in compile_error("event.data.text | lenght").message
    assert "did you mean `defined`" in compile_error("event.data.text is defind").message
    assert "did you mean `count`" in compile_error("cuont('x')").message
    assert "not an allowed method" in compile_error("'a'.format(1)").message
    assert "is not a function" in compile_error("member()").message
    assert "only functions and methods" in compile_error("(1)()").message
    assert "`member` has no method" in compile_error("member.get('x')").message
    assert "not an allowed method" in compile_error("(1).foo()").message


def test_function_as_value_and_bad_arguments() -> None:
    assert "is a function" in compile_error("count").message
    assert "takes at most 2 arguments" in compile_error("count('a', '1d', 3)").message
    assert "did you mean `within`" in compile_error("count('a', withn='1d')").message
    assert "needs the argument `type`" in compile_error("count()").message
    assert "twice" in compile_error("count('a', '1d', within='1d')").message
    assert "not supported" in compile_error("count(*[1])").message


def test_match_only_where_allowed() -> None:
    assert "only available in a rule's actions" in compile_error("match == 'x'").message
    c = make_context()
    c.match = "代刷"
    assert ev("match ~ '!'", c, allow_match=True) == "代刷!"
    assert compile_expression("match", vars={}, allow_match=True, env=ENV).uses.uses_match


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "a b",
        "1 +",
        "(",
        "a }} b",
        "{{ a }}",
        "a %} b",
        "x[",
        "-2 ** 2",
        "2 ** 3 ** 2",
        "9**9**9",
    ],
)
def test_syntax_errors(text: str) -> None:
    with pytest.raises(ExprCompileError):
        compile_expression(text, vars={}, env=ENV)


def test_ambiguous_power_messages() -> None:
    assert "(-a) ** b" in compile_error("-2 ** 2").message
    assert "(a ** b) ** c" in compile_error("2 ** 3 ** 2").message


def test_limits_at_compile_time() -> None:
    assert "too deeply" in compile_error("(" * 200 + "1" + ")" * 200).message
    assert "limit" in compile_error("1 + " * 5000 + "1").message
    assert "too deeply" in compile_error("[" * 70 + "]" * 70).message


def test_non_string_expression() -> None:
    with pytest.raises(ExprCompileError, match="must be a string"):
        compile_expression(3, vars={}, env=ENV)  # type: ignore[arg-type]


# -- windows and uses ---------------------------------------------------------------------------


def test_count_and_duplicates_need_literal_windows() -> None:
    assert "quoted duration" in compile_error("count('message.posted', within=vars.label)").message
    assert "quoted duration" in compile_error("count('message.posted', within=event.type)").message
    assert "quoted duration" in compile_error("duplicates(within=3)").message
    assert "not a duration" in compile_error("count('a', within='7 days')").message
    assert "quoted name" in compile_error("count(event.type)").message
    assert "longer than the limit" in compile_error("duplicates('9999w')").message


def test_uses_are_collected() -> None:
    uses = compile_expression(
        "count('message.posted', within='7d') + count('message.posted', '30d')"
        " + count('checkin') + duplicates() + duplicates('1h')",
        vars={},
        env=ENV,
    ).uses
    assert uses.counts == {"message.posted": 30 * 86400.0, "checkin": None}
    assert uses.duplicates_window == 3600.0
    assert not uses.sets_match and not uses.uses_match
    uses = compile_expression("count('a') + count('a', within='1h')", vars={}, env=ENV).uses
    assert uses.counts == {"a": 3600.0}
    uses = compile_expression("links(event.data.text)", vars={}, env=ENV).uses
    assert uses.sets_match


# -- run-time errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "'a' + 1",
        "1 / 0",
        "1 // 0",
        "1 % 0",
        "'a' < 1",
        "[] | first + 1",
        "{[1]: 2}",
        "'abc'[::0]",
        "[1] | sum(start='x')",
        "'x'.split('')",
        "[1].index(5)",
        "days(event.type)",
        "range(event.type)",
        "5 | length",
        "'%d' % 'x'",
        "2.0 ** 5000",
        "(1).count(1)",
        "now.lower()",
    ],
)
def test_run_time_errors_are_expression_errors(text: str) -> None:
    with pytest.raises(ExpressionError):
        ev(text)


def test_run_time_error_message_names_the_expression() -> None:
    with pytest.raises(ExpressionError, match=r"'a' \+ 1"):
        ev("'a' + 1")


def test_bounds_raise_resource_limit() -> None:
    c = make_context(data={"n": 10**6, "s": "a" * 40000, "k": 100000, "w": 200})
    for text in (
        "'a' * event.data.k",
        "[0] * (event.data.k // 5)",
        "2 ** (event.data.w * 25)",
        "range(event.data.n)",
        "event.data.s ~ event.data.s",
        "event.data.s + event.data.s",
        "('%' ~ event.data.w ~ 'd') % 1",
        "event.data.s | replace('a', 'aa')",
        "([event.data.s] * 3) | join",
    ):
        with pytest.raises(ResourceLimitError):
            ev(text, c)
    # The same with constants is refused at load time.
    for text in ("'a' * 100000", "[0] * 20000", "2 ** 5000", "'%200d' % 1"):
        assert "limit" in compile_error(text).message or "bits" in compile_error(text).message


def test_constant_calls_are_folded_and_checked_at_load_time() -> None:
    assert "10000" in compile_error("range(100000)").message
    assert "needs a number" in compile_error("days('x')").message
    compiled = compile_expression("member.silent_for > days(7)", vars={}, env=ENV)
    assert "_fn_days" not in compiled.python


# -- conditions -----------------------------------------------------------------------------------


def test_condition_forms() -> None:
    c = make_context()
    assert compile_condition("member.level >= 2", vars=VARS, env=ENV).fn(c) is True
    assert compile_condition(["member.level >= 2", "'vip' in member.tags"], vars=VARS, env=ENV).fn(
        c
    )
    assert not compile_condition(["member.level >= 2", "member.level > 5"], vars=VARS, env=ENV).fn(
        c
    )
    assert (
        compile_condition(
            {"any": ["member.level > 5", "member.points > 100"]}, vars=VARS, env=ENV
        ).fn(c)
        is True
    )
    assert compile_condition({"not": "member.level > 5"}, vars=VARS, env=ENV).fn(c) is True
    assert compile_condition({"all": []}, vars=VARS, env=ENV).fn(c) is True
    assert compile_condition({"any": []}, vars=VARS, env=ENV).fn(c) is False
    assert compile_condition(True, vars=VARS, env=ENV).fn(c) is True
    nested = {
        "all": [
            "member.level >= 2",
            {"any": [{"not": "member.opted_out"}, "false"]},
            ["event.type == 'message.posted'"],
        ]
    }
    compiled = compile_condition(nested, vars=VARS, env=ENV)
    assert compiled.fn(c) is True
    assert [rel for rel, _ in compiled.parts] == [
        ("all", 0),
        ("all", 1, "any", 0, "not"),
        ("all", 1, "any", 1),
        ("all", 2, 0),
    ]
    assert all(part.fn(c) is not None for _, part in compiled.parts)
    assert "and" in compiled.source


def test_condition_short_circuits() -> None:
    c = make_context(data={})
    assert compile_condition(["false", "event.data.x > 1"], vars={}, env=ENV).fn(c) is False
    assert compile_condition({"any": ["true", "event.data.x > 1"]}, vars={}, env=ENV).fn(c) is True


def test_condition_errors_are_all_collected_with_paths() -> None:
    with pytest.raises(ConditionErrors) as info:
        compile_condition(
            [
                "member.level >= 2",
                "membr.level",
                {"any": ["evnt.type", "1 +"]},
                {"nott": "x"},
                {"all": "x"},
                3,
            ],
            vars=VARS,
            env=ENV,
        )
    paths = [rel for rel, _ in info.value.errors]
    assert paths == [(1,), (2, "any", 0), (2, "any", 1), (3,), (4, "all"), (5,)]
    messages = dict(info.value.errors)
    assert "did you mean `member`" in messages[(1,)]
    assert "did you mean `not`" in messages[(3,)]
    with pytest.raises(ConditionErrors) as info:
        compile_condition("membr.level", vars=VARS, env=ENV)
    assert info.value.errors[0][0] == ()


def test_condition_run_time_error_names_the_failing_part() -> None:
    compiled = compile_condition(["true", "event.data.x > 1"], vars={}, env=ENV)
    with pytest.raises(ExpressionError, match=r"event\.data\.x > 1"):
        compiled.fn(make_context(data={}))


def test_condition_uses_are_merged() -> None:
    compiled = compile_condition(
        {
            "any": [
                "count('a', within='1d') > 1",
                "count('a', within='2d') > 1",
                "duplicates('5m') > 2",
            ]
        },
        vars={},
        env=ENV,
    )
    assert compiled.uses.counts == {"a": 2 * 86400.0}
    assert compiled.uses.duplicates_window == 300.0


# -- the generated code ---------------------------------------------------------------------------


def test_generated_code_has_no_builtins_and_is_inline() -> None:
    compiled = compile_expression(
        "event.data.text | length >= 20 and member.level >= 2", vars={}, env=ENV
    )
    assert compiled.fn.__globals__["__builtins__"] == {}
    assert "_d.get('text'" in compiled.python
    assert "_m.level" in compiled.python
    assert compiled.inline is not None and compiled.inline in compiled.python
    assert compiled.fn(make_context()) is False
    long = make_context(data={"text": "x" * 25})
    assert compiled.fn(long) is True


def test_detectors_set_match() -> None:
    c = make_context(data={"text": "加 微-信 看 https://spam.example.com/x"})
    assert ev("contains_any(event.data.text, ['加微信'])", c) == "加微信"
    assert c.match == "加微信"
    assert ev("links(event.data.text) | length", c) == 1
    assert c.match == "https://spam.example.com/x"


# -- property: arithmetic and comparisons agree with Python ------------------------------------

_ATOMS = st.integers(min_value=-20, max_value=20).map(lambda n: f"({n})" if n < 0 else str(n))


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binary = st.tuples(
        children,
        st.sampled_from(
            ["+", "-", "*", "//", "%", "/", "<", "<=", "==", "!=", ">", ">=", "and", "or"]
        ),
        children,
    ).map(lambda t: f"({t[0]} {t[1]} {t[2]})")
    power = st.tuples(_ATOMS, st.integers(min_value=0, max_value=3)).map(
        lambda t: f"({t[0]} ** {t[1]})"
    )
    unary = children.map(lambda s: f"(not {s})") | children.map(lambda s: f"(-{s})")
    chained = st.tuples(children, children, children).map(lambda t: f"({t[0]} < {t[1]} <= {t[2]})")
    return binary | power | unary | chained


@settings(max_examples=100, deadline=None)
@given(st.recursive(_ATOMS, _combine, max_leaves=8))
def test_arithmetic_matches_python(text: str) -> None:
    try:
        expected: Any = eval(text, {"__builtins__": {}})
    except (ZeroDivisionError, OverflowError, TypeError, ValueError):
        expected = ExpressionError
    c = make_context()
    fn = compile_expression(text, vars={}, env=ENV).fn
    if expected is ExpressionError:
        with pytest.raises(ExpressionError):
            fn(c)
    else:
        got = fn(c)
        assert got == expected and type(got) is type(expected)


@settings(max_examples=60)
@given(
    tags=st.dictionaries(
        st.sampled_from(["vip", "regular", "new"]),
        st.none() | st.integers(-3, 3).map(lambda h: timedelta(hours=h)),
        max_size=3,
    ),
    name=st.sampled_from(["vip", "regular", "new"]),
)
def test_literal_tag_test_equals_has_tag(tags: dict[str, timedelta | None], name: str) -> None:
    """`'x' in member.tags` with a literal name is written out in the generated code;
    it means what MemberState.has_tag and the `member.tags` list say, expiry included
    (a tag ending exactly now is over)."""
    assert (
        "has_tag" not in compile_expression(f"'{name}' in member.tags", vars=VARS, env=ENV).python
    )
    c = make_context()
    assert isinstance(c.m, MemberState)
    c.m.tags = {k: None if v is None else c.now + v for k, v in tags.items()}
    held = c.m.has_tag(name, c.now)
    assert held is (name in c.m.tag_names(c.now))
    assert ev(f"'{name}' in member.tags", c) is held
    assert ev(f"'{name}' not in member.tags", c) is (not held)
    assert ev(f"'{name}' in member.tags and true", c) is held
    c.m = None
    assert ev(f"'{name}' in member.tags", c) is False
