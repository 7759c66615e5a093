"""Operator expressions and templates cannot reach Python internals, files or the network,
and cannot exhaust memory or CPU (docs/reference.md §11.8).

Every attack must be rejected at load time or fail at run time with ExpressionError
(ResourceLimitError included) — never succeed, never hang.
"""

from __future__ import annotations

from typing import Any

import pytest

from engage_rules.errors import ExpressionError
from engage_rules.expr.expressions import ExprCompileError, compile_condition, compile_expression
from engage_rules.expr.templates import TemplateCompileError, compile_template, compile_value
from engage_rules.testing import expr_env
from test_expressions import VARS, make_context

ENV = expr_env()

ATTACKS = [
    "''.__class__.__mro__",
    "''.__class__.__mro__[1].__subclasses__()",
    "().__class__.__bases__[0].__subclasses__()",
    "cycler.__init__.__globals__",
    "joiner.__init__.__globals__",
    "lipsum.__globals__",
    "lipsum()",
    "self.__init__.__globals__",
    "self",
    "config.__class__",
    "config",
    "request",
    "request.environ",
    "namespace",
    "namespace()",
    "dict(a=1)",
    "__import__('os')",
    "c.m",
    "''|attr('__class__')",
    "''|attr('format')",
    "event|attr('data')",
    "[1]|map(attribute='__class__')|list",
    "'{0.__class__}'.format(1)",
    "'{0:>999999999}'.format(1)",
    "'{x}'.format_map({})",
    "event.__class__",
    "event._e",
    "event['_e']",
    "member.__dict__",
    "member._c",
    "member['_c']",
    "event.data.__class__",
    "event.data['__class__']",
    "event.data.get.__self__",
    "event.data.text.__len__()",
    "now.__class__",
    "now.replace(year=1)",
    "now.astimezone()",
    "member.joined_at.__reduce__()",
    "count.__globals__",
    "count.func",
    "vars.banned_words.append('x')",
    "vars.banned_words.pop()",
    "member.attrs.update({'a': 1})",
    "event.data.pop('text')",
    "event.data.setdefault('a', 1)",
    "{}.update({'a': 1})",
    "[].append(1)",
    "range(10**9)",
    "range(10**9) | list",
    "range(0, 10**18, 1)",
    "'a' * 10**9",
    "'a' * 10**9 | length",
    "[1] * 10**9",
    "(1,) * 10**9",
    "10**9 * 'a'",
    "9**9**9",
    "9**(9**9)",
    "2**100000",
    "(10**4000) * (10**4000)",
    "'%999999999s' % 'x'",
    "'%*s' % (1000000000, 'x')",
    "'%.999999999f' % 1.0",
    "'%s' * 10**9",
    "'%r' % ((1,),)",
    "('%s' % ('a' * 60000)) ~ ('a' * 60000)",
    "('a' * 60000) | replace('a', 'aaaa')",
    "(['a' * 60000] * 10000) | join",
    "(['a' * 60000] * 10000) | string",
    "(['a' * 60000] * 10000) ~ ''",
    "'x' ~ (['a' * 60000] * 10000)",
    "(['a' * 60000] * 10000) | sum(start='')",
    "now.strftime('%Y' * 100000)",
    "('9' * 4000) | int",
    "event.data.text.split('') ",
    "('ß' * 40000) | upper",
    "('ß' * 40000).upper()",
    "contains_any(event.data.text, ('w ' * 5000).split())",
    "(" * 300 + "1" + ")" * 300,
    "[" * 300 + "]" * 300,
]


def test_expression_depth_is_bounded() -> None:
    with pytest.raises(ExprCompileError, match="too deeply"):
        compile_expression("not " * 300 + "1", vars={}, env=ENV)
    with pytest.raises(ExprCompileError, match="too deeply"):
        compile_expression("-" * 300 + "1", vars={}, env=ENV)


def _blocked_expression(text: str, c: Any) -> None:
    try:
        fn = compile_expression(text, vars=VARS, allow_match=True, env=ENV).fn
    except ExprCompileError:
        return
    with pytest.raises(ExpressionError):
        result = fn(c)
        pytest.fail(f"{text!r} evaluated to {result!r:.200}")


@pytest.mark.parametrize("text", ATTACKS)
def test_expression_attacks_are_blocked(text: str) -> None:
    _blocked_expression(text, make_context())


@pytest.mark.parametrize("text", ATTACKS)
def test_template_attacks_are_blocked(text: str) -> None:
    try:
        template = compile_template("{{ " + text + " }}", vars=VARS, env=ENV)
    except TemplateCompileError:
        return
    with pytest.raises(ExpressionError):
        result = template.render(make_context())
        pytest.fail(f"{text!r} rendered {result!r:.200}")


@pytest.mark.parametrize(
    "text",
    [
        "{% for i in range(10000) %}{% for j in range(10000) %}x{% endfor %}{% endfor %}",
        "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
        "{% for i in range(10000) %}{% for j in range(10000) %}{% for k in range(10000) %}"
        "{% endfor %}{% endfor %}{% endfor %}",
        "{% macro f(n) %}{{ f(n + 1) }}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
        "{% macro f(n) %}{% for i in range(10000) %}{{ f(n) }}{% endfor %}{% endmacro %}{{ f(0) }}",
        "{% for x in [1] recursive %}{{ loop(range(10000)) }}{% endfor %}",
        "{% set s = 'a' * 60000 %}" + "{% set s %}{{ s }}{{ s }}{% endset %}" * 40,
        "{% set s = 'a' * 60000 %}" + "{% set s = s ~ s %}" * 40,
        "{% set s = ['a' * 60000] %}" + "{% set s = s + s %}" * 40 + "{{ s | join }}",
        "{% for i in range(10000) %}{{ 'x' * 60000 }}{% endfor %}",
        "{{ 'x' * 60000 }}",
        "{% filter upper %}{% for i in range(10000) %}{{ 'x' * 1000 }}{% endfor %}{% endfilter %}",
        "{% set x = event.data %}{% set x.y = 1 %}",
        "{% set ns = namespace(a=1) %}",
        "{% include 'etc/passwd' %}",
        "{% extends 'base' %}",
        "{% from 'x' import y %}",
        "{{ ''['__class__'] }}",
        "{{ ''[event.data.k] }}",
        "{{ member[event.data.k] }}",
        "{{ event[event.data.k] }}",
        "{% for x in event.data.k %}{{ x }}{% endfor %}{{ ''.__class__ }}",
        "{% for i in range(3) %}{{ loop.__class__ }}{% endfor %}",
        "{% for i in range(3) %}{{ loop._iterator }}{% endfor %}",
        "{% for i in range(3) %}{{ loop['_iterator'] }}{% endfor %}",
        "{{ event.data.text.format_map({}) }}",
        "{% autoescape false %}{{ 1 }}{% endautoescape %}",
    ],
)
def test_template_statement_attacks_are_blocked(text: str) -> None:
    c = make_context(data={"text": "hi", "k": "__class__"})
    try:
        template = compile_template(text, vars=VARS, env=ENV)
    except TemplateCompileError:
        return
    with pytest.raises(ExpressionError):
        result = template.render(c)
        pytest.fail(f"rendered {result!r:.200}")


def test_member_text_is_never_compiled() -> None:
    payloads = [
        "{{ 7*7 }}",
        "{% for i in range(10**9) %}{% endfor %}",
        "{{ ''.__class__.__mro__ }}",
        "{{ cycler.__init__.__globals__ }}",
    ]
    for payload in payloads:
        c = make_context(data={"text": payload})
        assert compile_template("{{ event.data.text }}", vars={}, env=ENV).render(c) == payload
        fn, _ = compile_value("说: {{ event.data.text }}", vars={}, env=ENV)
        assert fn(c) == "说: " + payload
        fn, _ = compile_value("{{ event.data.text }}", vars={}, env=ENV)
        assert fn(c) == payload
        assert compile_expression("event.data.text", vars={}, env=ENV).fn(c) == payload


def test_injection_through_keys_and_vars_stays_data() -> None:
    key = "x'); import os; os.system('echo pwned'); ('"
    c = make_context(data={key: 1})
    assert compile_expression(f'event.data["{key}"]', vars={}, env=ENV).fn(c) == 1
    weird = {"v": "'); __import__('os') #", "n": float("inf")}
    fn = compile_expression("vars.v ~ vars.n", vars=weird, env=ENV).fn
    assert fn(make_context(vars=weird)) == "'); __import__('os') #inf"
    compiled = compile_condition(["1e999 > 1", "vars.n > 1"], vars=weird, env=ENV)
    assert compiled.fn(make_context(vars=weird)) is True


def test_generated_functions_have_no_builtins() -> None:
    compiled = compile_expression("event.type", vars={}, env=ENV)
    assert compiled.fn.__globals__["__builtins__"] == {}
    for name in ("open", "eval", "exec", "getattr", "__import__", "compile"):
        assert name not in compiled.fn.__globals__
