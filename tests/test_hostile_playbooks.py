"""Hostile playbooks (issue 12, "No input can stop it"): what an operator writes can
neither stall `validate` nor the engine, nor make results depend on the machine.

One section per finding of the adversarial campaign: CPU bombs in filters and operators
(refused at load when their arguments are constants, bounded at run time otherwise),
regular expressions with a work budget, `validate` on FIFOs and devices, crashes on
durations and domain lists, host-dependent time zones, and values printed as reprs.
Bombs are shown defused by what is refused (and why) or by counting the work done,
never by timing.
"""

from __future__ import annotations

import json
import os
import re
import socket
import string
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engage_rules import Engine
from engage_rules._util.durations import MAX_DURATION, parse_duration
from engage_rules._util.zones import zone, zone_names
from engage_rules.cli import main
from engage_rules.errors import ExpressionError, PlaybookError, ResourceLimitError
from engage_rules.expr import detectors as det
from engage_rules.expr import runtime as rt
from engage_rules.expr.expressions import ExprCompileError, compile_expression
from engage_rules.expr.templates import TemplateCompileError, compile_template, compile_value
from engage_rules.features.messaging import member_timezone
from engage_rules.lang.yaml_source import MAX_FILE_BYTES, read_yaml_file, safe_load
from engage_rules.model.state import MemberState
from engage_rules.testing import expr_env, load, message
from helpers import playbook
from test_expressions import VARS, make_context

ENV = expr_env()

ROOT = Path(__file__).resolve().parent.parent
HEADER = "engage_rules: 1\nname: hostile\ncommunity: {name: h, timezone: UTC}\n"
LOCATED = re.compile(r"^[^:]+:\d+:\d+: \S")


def problems_of(body: str, header: str = HEADER) -> list[str]:
    """The problems (``file:line:col: message``) of a playbook that must not load."""
    with pytest.raises(PlaybookError) as info:
        playbook(body, header)
    lines = [str(p) for p in info.value.problems]
    assert all(LOCATED.match(line) for line in lines), lines
    return lines


def send_rule(template: str) -> str:
    quoted = template.replace('"', '\\"')
    return (
        f'templates:\n  t: "{quoted}"\nrules:\n  - id: r\n    on: message.posted\n'
        "    do: [{send: {template: t}}]\n"
    )


def render(text: str, **data: Any) -> str:
    return compile_template(text, vars=VARS, env=ENV).render(make_context(data=data or None))


# -- round: constant folding at load, and the precision -------------------------------------


def test_a_constant_round_precision_is_a_load_time_problem() -> None:
    (line,) = problems_of(send_rule("{{ 5|round(-30000000) }}"))
    assert line.startswith("test.yaml:5:6: ")
    assert "the precision of `round` is -30000000, beyond the limit of ±100 digits" in line


def test_compiling_a_template_evaluates_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []
    original = rt.do_round

    def counting(*args: Any) -> Any:
        calls.append(args)
        return original(*args)

    monkeypatch.setattr(rt, "do_round", counting)
    template = compile_template(
        "{{ 5|round(2) }} {{ 'ab'|upper }} {{ [1, 2]|join('-') }}", vars={}, env=ENV
    )
    assert calls == []  # Jinja2 would have folded all three while compiling
    assert template.render(make_context()) == "5 AB 1-2"
    assert len(calls) == 1


def test_a_round_precision_from_event_data_is_bounded_at_run_time() -> None:
    template = compile_template("{{ event.data.n|round(event.data.p) }}", vars={}, env=ENV)
    assert template.render(make_context(data={"n": 5, "p": -100})) == "0"
    for p in (-30_000_000, 101, 2**62):
        with pytest.raises(ResourceLimitError, match="precision of `round`"):
            template.render(make_context(data={"n": 5, "p": p}))
    with pytest.raises(ExpressionError, match="whole number"):
        template.render(make_context(data={"n": 5, "p": "2"}))


def test_the_round_rule_fails_for_that_event_only() -> None:
    engine = Engine(
        playbook(
            send_rule("{{ event.data.n|round(event.data.p) }}").replace(
                "rules:\n",
                "rules:\n  - id: other\n    on: message.posted\n    do: [{award: {amount: 1}}]\n",
            ),
            HEADER,
        )
    )
    [decision] = engine.process(message("u1", "hi", n=5, p=-30_000_000))
    assert [a.type for a in decision.actions] == ["award"]
    [error] = decision.errors
    assert error.rule == "r" and "precision of `round`" in error.message


# -- every filter, method and operator with a size or precision argument --------------------

LOAD_TIME = [
    ("{{ 5|round(-30000000) }}", "precision of `round`"),
    ("{{ 5|round(2, 'up') }}", "common, ceil or floor"),
    ("{{ 'x'|trim('ab' * 200) }}", "at most 256 characters"),
    ("{{ 'x'.strip('ab' * 200) }}", "at most 256 characters"),
    ("{{ 'x'.lstrip('a' * 300) }}", "at most 256 characters"),
    ("{{ '12'|int(base=99) }}", "base of `int`"),
    ("{{ 'x'|truncate(-1) }}", "whole number >= 0"),
    ("{{ 'x'|truncate(5, leeway=-1) }}", "whole number >= 0"),
    ("{{ 'x'|replace('a', 'b', 'many') }}", "count of `replace`"),
    ("{{ [1]|join(attribute='a' ~ '.a' * 40) }}", "limited to 32 keys"),
    ("{{ [1]|sort(attribute='a' ~ '.a' * 40) }}", "limited to 32 keys"),
    ("{{ [1]|sum(attribute={}) }}", "attribute= takes a key"),
    ("{{ 'x'|upper(1) }}", "takes at most 0 arguments"),
    ("{{ 'x'|round(precision=1, digits=2) }}", "has no parameter `digits`"),
    ("{{ 'x' * 10 ** 9 }}", "longer than the limit of 65536"),
    ("{{ ('x' * 1000) * 1000 }}", "longer than the limit of 65536"),
    ("{{ [0] * 20000 }}", "longer than the limit of 10000"),
    ("{{ ('x' * 40000) ~ ('y' * 40000) }}", "longer than the limit of 65536"),
    ("{{ 2 ** 5000 }}", "4096 bits"),
    ("{{ '%999999999d' % 1 }}", "limited to 100"),
    ("{{ '%.999s' % 'x' }}", "limited to 100"),
    ("{{ '%*d' % (5, 1) }}", "limited to 100"),
    ("{{ '%r' % 1 }}", "unsupported format conversion"),
    ("{{ now.strftime('%Y' * 150) }}", "limited to 200 characters"),
    ("{{ now.strftime('%999999999Y') }}", "unsupported directive '%9'"),
    ("{{ now.strftime('%-d') }}", "unsupported directive '%-'"),
    ("{{ now.strftime('%Ec') }}", "unsupported directive '%E'"),
    ("{{ now.date().strftime('%s') }}", "unsupported directive '%s'"),
    ("{{ count }}", "`count` is a function: call it"),
]


@pytest.mark.parametrize(("text", "message"), LOAD_TIME)
def test_constant_arguments_over_a_bound_are_refused_at_load(text: str, message: str) -> None:
    with pytest.raises(TemplateCompileError, match=re.escape(message)):
        compile_template(text, vars=VARS, env=ENV)
    expression = text.removeprefix("{{ ").removesuffix(" }}")
    if expression != "count":  # (the same, as an expression)
        with pytest.raises(ExprCompileError, match=re.escape(message)):
            compile_expression(expression, vars=VARS, env=ENV)


RUN_TIME = [
    ("{{ event.data.n|round(event.data.big) }}", "precision of `round`"),
    ("{{ event.data.s|trim(event.data.long) }}", "at most 256 characters"),
    ("{{ event.data.s.strip(event.data.long) }}", "at most 256 characters"),
    ("{{ event.data.s|int(base=event.data.big) }}", "base of `int`"),
    ("{{ event.data.digits|int }}", "4096 bits"),
    ("{{ event.data.s|truncate(event.data.neg) }}", "whole number >= 0"),
    ("{{ [1]|join(attribute=event.data.path) }}", "limited to 32 keys"),
    ("{{ event.data.s * event.data.big }}", "longer than the limit"),
    ("{{ 2 ** event.data.big }}", "4096 bits"),
    ("{{ ('%' ~ event.data.big ~ 'd') % 1 }}", "limited to 100"),
    ("{{ now.strftime(event.data.long) }}", "limited to 200 characters"),
    ("{{ now.strftime(event.data.flag) }}", "unsupported directive"),
    ("{% set f = now.strftime %}{{ f('%Y' * 150) }}", "limited to 200 characters"),
    ("{% set f = now.date().strftime %}{{ f('%9999Y') }}", "unsupported directive"),
    ("{% set f = event.data.s.strip %}{{ f('x' * 300) }}", "at most 256 characters"),
]
HOSTILE_DATA = {
    "n": 5,
    "s": "some text",
    "big": 10**9,
    "neg": -1,
    "long": "%Y" * 300,
    "flag": "%-d",
    "digits": "7" * 5000,
    "path": "a" + ".a" * 4000,
}


@pytest.mark.parametrize(("text", "message"), RUN_TIME)
def test_arguments_from_event_data_are_bounded_at_run_time(text: str, message: str) -> None:
    template = compile_template(text, vars=VARS, env=ENV)  # unknown at load time: it loads
    with pytest.raises(ExpressionError, match=re.escape(message)):
        template.render(make_context(data=HOSTILE_DATA))


def test_a_zero_range_step_is_a_problem_not_a_traceback() -> None:
    # Found while fuzzing: ValueError escaped the compiler (a traceback in validate).
    (line,) = problems_of(
        "rules:\n  - id: r\n    on: message.posted\n"
        '    if: "3 in range(1, 5, 0)"\n    do: [{award: {amount: 1}}]\n'
    )
    assert line == "test.yaml:7:9: range(): range() arg 3 must not be zero"
    with pytest.raises(TemplateCompileError, match="must not be zero"):
        compile_template("{{ range(1, 5, 0) }}", vars={}, env=ENV)
    template = compile_template("{{ range(1, 5, event.data.n) }}", vars={}, env=ENV)
    with pytest.raises(ExpressionError, match="must not be zero"):
        template.render(make_context(data={"n": 0}))


def test_compiling_shows_no_python_warnings_about_generated_code() -> None:
    # Found while fuzzing: `'x' is none` and `1[0]` made Python print SyntaxWarnings
    # about the generated code on stderr, among `validate`'s `file:line:col` lines.
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compile_expression("'x' is none", vars={}, env=ENV)
        compile_template("{{ 1[0] }} {{ 'x' is none }}", vars={}, env=ENV)
        pb = playbook(
            send_rule("{{ 1[0] }}").replace(
                "    do:", "    if: \"'x' is none or 2.5[1]\"\n    do:"
            ),
            HEADER,
        )
        Engine(pb)  # (builds the dispatch code, where conditions are inlined)
    assert [w for w in caught if issubclass(w.category, SyntaxWarning)] == []


def test_filters_that_are_not_bounded_are_not_available() -> None:
    for name in (
        "center",
        "indent",
        "wordwrap",
        "format",
        "batch",
        "slice",
        "random",
        "filesizeformat",
        "pprint",
        "xmlattr",
        "urlize",
        "tojson",
        "map",
        "select",
        "groupby",
        "dictsort",
        "attr",
    ):
        assert name not in rt.FILTERS
        with pytest.raises(TemplateCompileError, match="unknown filter"):
            compile_template(f"{{{{ 'x'|{name} }}}}", vars={}, env=ENV)
    for name in ("range", "lipsum", "cycler", "joiner", "namespace", "dict"):
        if name == "range":
            with pytest.raises(TemplateCompileError, match="10000"):
                compile_template("{{ range(10 ** 9) }}", vars={}, env=ENV)
            continue
        with pytest.raises(TemplateCompileError, match="unknown name"):
            compile_template(f"{{{{ {name}() }}}}", vars={}, env=ENV)


def test_every_filter_has_its_parameters_declared() -> None:
    assert set(rt.FILTER_PARAMS) == set(rt.FILTERS)
    assert set(rt.FILTER_ARG_CHECKS) <= set(rt.FILTERS)


def test_int_of_a_long_text_is_refused_before_converting() -> None:
    assert rt.f_int("1" * rt.MAX_INT_BITS, base=2).bit_length() == rt.MAX_INT_BITS
    assert rt.f_int("9" * 1000) == int("9" * 1000)
    with pytest.raises(ResourceLimitError):
        rt.f_int("9" * (rt.MAX_INT_TEXT + 1))  # refused without converting it
    assert rt.f_int("   42   ") == 42


# -- templates nested beyond what Python compiles: problems, not tracebacks -------------------

NESTED = {
    "loops": lambda n: "{% for i in [1] %}" * n + "x" + "{% endfor %}" * n,
    "ifs": lambda n: "{% if true %}" * n + "x" + "{% endif %}" * n,
    "macros": lambda n: "{% macro m() %}" * n + "{% endmacro %}" * n,
    "calls": lambda n: (
        "{% macro m() %}{{ caller() }}{% endmacro %}" + "{% call m() %}" * n + "{% endcall %}" * n
    ),
    "filters": lambda n: "{{ 1" + "|abs" * n + " }}",
    "operators": lambda n: "{{ 1" + " + 1" * n + " }}",
    "attributes": lambda n: "{{ event.data" + ".a" * n + " }}",
    "negations": lambda n: "{{ " + "not " * n + "1 }}",
    "conditionals": lambda n: "{{ " + "1 if 1 else " * n + "1 }}",
    "brackets": lambda n: "{{ " + "[" * n + "]" * n + " }}",
}


@pytest.mark.parametrize("kind", NESTED)
@pytest.mark.parametrize("n", [100, 150, 200, 400, 1200])
def test_deeply_nested_templates_are_problems(kind: str, n: int) -> None:
    # A TemplateCompileError saying so, never a SyntaxError or RecursionError.
    with pytest.raises(TemplateCompileError, match="nest"):
        compile_template(NESTED[kind](n), vars={}, env=ENV)


def test_nesting_limits() -> None:
    compile_template(NESTED["loops"](10), vars={}, env=ENV)
    with pytest.raises(TemplateCompileError, match="more than 10 loops"):
        compile_template(NESTED["loops"](11), vars={}, env=ENV)
    compile_template(NESTED["filters"](60), vars={}, env=ENV)
    with pytest.raises(TemplateCompileError, match="more than 64 levels deep"):
        compile_template(NESTED["filters"](64), vars={}, env=ENV)
    (line,) = problems_of(send_rule(NESTED["loops"](25)))
    assert line == "test.yaml:5:6: the template nests more than 10 loops in one another"


# -- regular expressions: the work budget ----------------------------------------------------

#: 19 characters, legal in RE2, about 10,000 instructions: 2 s per 63 KiB message before.
HEAVY = r"(?:\w+\s?){1,1000}x"


def pattern_rule(pattern_expr: str, rules: int = 1) -> str:
    body = "rules:\n"
    for i in range(rules):
        body += (
            f"  - id: r{i}\n    on: message.posted\n"
            f'    if: "matches(event.data.text, {pattern_expr.replace("{i}", str(i))})"\n'
            "    do: [{delete_message: {}}]\n"
        )
    return body


def test_the_budget_is_program_size_times_bytes() -> None:
    assert det.MAX_PROGRAM_SIZE * det.SCAN_BYTES == det.PATTERN_BUDGET
    assert det.SCAN_BYTES == 64 * 1024


def test_a_pattern_over_the_budget_is_a_load_time_problem() -> None:
    (line,) = problems_of(pattern_rule(f"'{HEAVY}'".replace("\\", "\\\\")))
    assert line.startswith("test.yaml:7:9: matches(): the RE2 program of the pattern has ")
    assert "the limit is 1,024" in line


def test_a_pattern_list_is_one_program_and_is_checked_as_a_whole() -> None:
    small = [rf"(?:\w+\s?){{1,50}}{c}" for c in "xyz"]
    sizes = [det.compile_pattern(p).programsize for p in small]
    assert all(s <= det.MAX_PROGRAM_SIZE for s in sizes)
    with pytest.raises(ValueError, match="the RE2 program of the 3 patterns together has"):
        det.compile_patterns(small)
    combined = det.compile_patterns(small[:2])  # one program, matched in one pass
    assert combined.programsize <= sum(sizes[:2]) + 10
    compiled = compile_expression(
        "matches(event.data.text, vars.p)", vars={"p": small[:2]}, env=ENV
    )
    assert compiled.uses.program_size == combined.programsize
    assert compiled.uses.patterns == 2


def test_the_patterns_of_a_playbook_share_the_budget() -> None:
    pattern = r"'(?:\\\\w+\\\\s?){1,50}x{i}'"
    playbook(HEADER + pattern_rule(pattern, rules=2), "")  # about 2 x 500: fits
    lines = problems_of(pattern_rule(pattern, rules=3))
    assert len(lines) == 1 and "together the playbook's matches() patterns" in lines[0]
    assert lines[0].startswith("test.yaml:15:9: ")  # where the total passes the limit


def test_the_reported_case_is_refused_and_an_allowed_one_scans_a_63_kib_text() -> None:
    # The campaign's case: a list of 100 heavy patterns, 291 s per 63 KiB message.
    patterns = [HEAVY + f"{i:02d}" for i in range(100)]
    with pytest.raises(ExprCompileError, match="pattern #1: the RE2 program of the pattern"):
        compile_expression("matches(event.data.text, vars.p)", vars={"p": patterns}, env=ENV)
    # The largest program allowed does at most the budget's work on any event's text.
    fn = compile_expression(
        r"matches(event.data.text, '(?:\\w+\\s?){1,100}x')", vars={}, env=ENV
    ).fn
    text = ("a " * 40_000)[: 63 * 1024]
    assert fn(make_context(data={"text": text})) == ""
    assert det.compile_pattern(r"(?:\w+\s?){1,100}x").programsize * len(text.encode()) <= (
        det.PATTERN_BUDGET
    )


def test_a_text_longer_than_a_pattern_may_scan_is_a_rule_error() -> None:
    regex = det.compile_pattern(r"(?:\w+\s?){1,100}x")
    fits = det.PATTERN_BUDGET // regex.programsize
    det.check_scan(regex, "a" * fits)
    with pytest.raises(ResourceLimitError, match="longer than this pattern may scan"):
        det.check_scan(regex, "a" * (fits + 1))
    with pytest.raises(ResourceLimitError, match="longer than this pattern may scan"):
        det.check_scan(regex, "é" * (fits // 2 + 1))  # counted in bytes of UTF-8
    fn = compile_expression(
        r"matches(event.data.text ~ event.data.text, '(?:\\w+\\s?){1,100}x')", vars={}, env=ENV
    ).fn
    with pytest.raises(ResourceLimitError):
        fn(make_context(data={"text": "é" * 60_000}))


def test_templates_match_pattern_lists_as_one_program() -> None:
    template = compile_template(
        "{{ matches(event.data.text, ['foo\\\\d', 'ba+r']) }}", vars={}, env=ENV
    )
    assert template.render(make_context(data={"text": "a baaar"})) == "baaar"
    with pytest.raises(TemplateCompileError, match="the RE2 program of the pattern has"):
        compile_template(
            "{{ matches(event.data.text, '" + HEAVY.replace("\\", "\\\\") + "') }}",
            vars={},
            env=ENV,
        )


# -- validate never hangs: FIFOs, devices, sockets, large files -------------------------------


def validate(*paths: str | Path) -> tuple[int, list[str]]:
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["validate", "-q", *map(str, paths)])
    return code, err.getvalue().splitlines()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_validate_refuses_a_fifo_without_opening_it(tmp_path: Path) -> None:
    fifo = tmp_path / "playbook.yaml"
    os.mkfifo(fifo)  # opening it for reading would wait for a writer, for ever
    code, lines = validate(fifo)
    assert code == 1
    assert lines == [f"{fifo}:0:0: a named pipe (FIFO), not a regular file: refusing to read it"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_fifo_in_a_playbook_folder_is_reported_not_skipped(tmp_path: Path) -> None:
    (tmp_path / "main.yaml").write_text(HEADER + "rules: []\n", encoding="utf-8")
    os.mkfifo(tmp_path / "more.yaml")
    code, lines = validate(tmp_path)
    assert code == 1
    assert lines == [
        f"{tmp_path / 'more.yaml'}:0:0: a named pipe (FIFO), not a regular file: "
        "refusing to read it"
    ]


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_validate_refuses_devices(tmp_path: Path) -> None:
    code, lines = validate("/dev/zero")  # reading it never ends
    assert code == 1
    assert lines == ["/dev/zero:0:0: a character device, not a regular file: refusing to read it"]
    link = tmp_path / "link.yaml"
    link.symlink_to("/dev/zero")
    code, lines = validate(link)
    assert code == 1 and lines[0].startswith(f"{link}:0:0: a character device")


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no unix sockets here")
def test_validate_refuses_a_socket(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        code, lines = validate(path)
    assert code == 1 and lines[0].startswith(f"{path}:0:0: a socket, not a regular file")


def test_a_word_list_must_be_a_regular_file(tmp_path: Path) -> None:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes here")
    os.mkfifo(tmp_path / "words.txt")
    (tmp_path / "p.yaml").write_text(
        HEADER + "vars: {banned: {file: words.txt}}\nrules: []\n", encoding="utf-8"
    )
    with pytest.raises(PlaybookError, match=re.escape("path 'words.txt' is not a file")):
        load(tmp_path / "p.yaml")


def test_file_reads_are_bounded(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    (problem,) = read_yaml_file(path).problems
    assert problem.message.startswith("file is too large")


# -- durations and domain lists: problems, not tracebacks ---------------------------------------


@pytest.mark.parametrize("digits", [11, 12, 20, 60, 5000])
def test_durations_of_any_digit_count_are_problems(digits: int) -> None:
    (line,) = problems_of(
        "rules:\n  - id: r\n    on: message.posted\n"
        f"    cooldown: {'9' * digits}d\n    do: [{{award: {{amount: 1}}}}]\n"
    )
    assert line.startswith("test.yaml:7:15: 'cooldown': duration '")
    assert "is longer than the limit of 3660d" in line
    assert len(line) < 200  # a huge value is shortened in the message


def test_the_longest_duration() -> None:
    assert parse_duration("3660d") == MAX_DURATION
    assert parse_duration("87840h") == MAX_DURATION
    assert parse_duration("0000000000000000000000007m") == timedelta(minutes=7)
    for text in ("3661d", "523w", "316224001s"):
        with pytest.raises(ValueError, match="3660d"):
            parse_duration(text)
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("٣d")  # digits of other scripts are not durations


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            "domains(event.data.text, allow=[[1]])",
            "domains(): the allow list must hold domain names, got [1]",
        ),
        (
            "links(event.data.text, deny=[{'a': 1}])",
            "links(): the deny list must hold domain names, got {'a': 1}",
        ),
        (
            "domains(event.data.text, allow=vars.lists)",
            "domains(): the allow list must hold domain names, got ['x']",
        ),
        (
            "links(event.data.text, allow=vars.mapping)",
            "links(): `allow` takes a list of domain names, got {'a': ['b']}",
        ),
    ],
)
def test_non_text_domain_entries_are_problems(call: str, message: str) -> None:
    body = (
        "vars: {lists: [[x]], mapping: {a: [b]}}\nrules:\n  - id: r\n"
        f'    on: message.posted\n    if: "{call}"\n    do: [{{delete_message: {{}}}}]\n'
    )
    (line,) = problems_of(body)
    assert line == f"test.yaml:8:9: {message}"


def test_yaml_integers_of_any_length_are_problems() -> None:
    for text in ("9" * 4301, "0x" + "f" * 5000, "-" + "1" * 9000):
        with pytest.raises(PlaybookError, match="has too many digits"):
            safe_load(f"a: {text}\n")
    assert safe_load("a: " + "9" * 4300)["a"] == int("9" * 4300)


# -- time zones: only the bundled IANA names -----------------------------------------------------


@pytest.mark.parametrize(
    "name", ["localtime", "posixrules", "right/UTC", "posix/Asia/Shanghai", "/etc/localtime"]
)
def test_host_dependent_time_zones_are_refused(name: str) -> None:
    header = f"engage_rules: 1\ncommunity: {{name: h, timezone: {name}}}\n"
    (line,) = problems_of("rules: []\n", header)
    assert f"time zone '{name}' depends on the machine" in line
    assert line.startswith("test.yaml:2:")


def test_unknown_time_zones_are_refused_and_iana_ones_load() -> None:
    (line,) = problems_of(
        "rules: []\n", "engage_rules: 1\ncommunity: {name: h, timezone: Mars/Olympus}\n"
    )
    assert "unknown time zone 'Mars/Olympus'" in line
    for name in ("Asia/Shanghai", "UTC", "America/New_York", "Etc/GMT+5"):
        pb = playbook("rules: []\n", f"engage_rules: 1\ncommunity: {{name: h, timezone: {name}}}\n")
        assert pb.timezone.key == name
    assert "localtime" not in zone_names() and "Asia/Shanghai" in zone_names()


def test_a_members_host_dependent_time_zone_is_ignored() -> None:
    default = ZoneInfo("Asia/Shanghai")
    for name, expected in (
        ("localtime", default),
        ("posix/Europe/Paris", default),
        ("Europe/Paris", zone("Europe/Paris")),
    ):
        m = MemberState(id="u1", community="c", attrs={"timezone": name})
        assert member_timezone(m, default) is expected


# -- values print as data -------------------------------------------------------------------------


def test_objects_print_as_data() -> None:
    c = make_context(
        data={"text": "hi", "n": 3},
        event_member={
            "id": "u42",
            "name": "阿明",
            "roles": ["member"],
            "created_at": "2026-01-01T00:00:00+08:00",
        },
    )

    def out(text: str) -> str:
        return compile_template(text, vars=VARS, env=ENV).render(c)

    event = json.loads(out("{{ event }}"))
    assert event == {
        "id": "evt-1",
        "type": "message.posted",
        "at": "2026-03-02T20:15:00+08:00",
        "data": {"text": "hi", "n": 3},
        "member": {
            "id": "u42",
            "name": "阿明",
            "roles": ["member"],
            "created_at": "2026-01-01T00:00:00+08:00",
        },
        "channel": "general",
        "platform": None,
        "community": "default",
    }
    assert out("{{ member }}") == "阿明"
    assert json.loads(out("{{ event.member }}"))["created_at"] == "2026-01-01T00:00:00+08:00"
    assert json.loads(out("{{ community }}")) == {
        "id": "default",
        "name": "摄影爱好者社群",
        "timezone": "Asia/Shanghai",
    }
    assert out("{{ now }}") == "2026-03-02T20:15:00+08:00"
    assert out("{{ now.date() }}") == "2026-03-02"
    assert out("{{ member.joined_at - now }}") == "-30 days, 0:00:00"
    assert out("{{ [member, now, none, true, 1.5] }}") == (
        '["阿明", "2026-03-02T20:15:00+08:00", null, true, 1.5]'
    )
    assert out("{{ member.tags }} {{ member.balances }}") == '["vip"] {"points": 120, "coins": 3}'
    assert out("{{ event.data.keys() }} {{ event.data.items() }}") == (
        '["text", "n"] [["text", "hi"], ["n", 3]]'
    )
    assert out("{{ '%s' % event.member.roles }}") == '["member"]'
    assert out("{{ event.data|string }}") == '{"text": "hi", "n": 3}'


@pytest.mark.parametrize(
    "text",
    [
        "{{ 'x'.upper }}",
        "{{ event.data.get }}",
        "{{ now.strftime }}",
        "{% for i in [1] %}{{ loop }}{% endfor %}",
        "{% for i in [1] %}{{ loop.cycle }}{% endfor %}",
        "{% macro m() %}{% endmacro %}{{ m }}",
        "{{ [event.data.get] }}",
        "{{ '%s' % now.isoformat }}",
    ],
)
def test_what_is_not_data_cannot_be_printed(text: str) -> None:
    with pytest.raises(ExpressionError, match="cannot be printed"):
        render(text)


@pytest.mark.parametrize(
    "text",
    [
        "{{ score(event.data.text, event) }}",
        "{{ links(event.data.text, allow=[member]) }}",
        "{{ contains_any(event.data.text, [event]) }}",
        "{{ 5|round(2, event) }}",
        "{{ 'x'|replace('a', 'b', member) }}",
        "{{ '1'|int(base=event) }}",
        "{{ 'x'|truncate(event) }}",
        "{{ event + 1 }}",
        "{{ 'x'.upper + 1 }}",
    ],
)
def test_error_messages_hold_no_memory_address(text: str) -> None:
    with pytest.raises(ExpressionError) as info:
        render(text)
    assert " at 0x" not in str(info.value)


def test_action_parameters_are_data_too() -> None:
    with pytest.raises(ExpressionError, match="cannot be printed or used as a value"):
        rt.plain({"a": [str.upper]})
    fn, _ = compile_value("reason: {{ 'x'.upper }}", vars={}, env=ENV)
    with pytest.raises(ExpressionError, match="cannot be printed"):
        fn(make_context())
    fn, _ = compile_value("{{ event.data.keys() }}", vars={}, env=ENV)
    assert fn(make_context(data={"a": 1})) == ["a"]
    assert rt.plain({"b", "a"}) == ["a", "b"]  # sets in a stable order


def _replayed_actions(tmp_path: Path, name: str, events: str) -> str:
    out = tmp_path / f"{name}.jsonl"
    code = main(
        [
            "replay",
            str(ROOT / "rules" / name / "community.yaml"),
            str(ROOT / "examples" / events),
            "--actions-out",
            str(out),
        ]
    )
    assert code == 0
    return out.read_text(encoding="utf-8")


def test_no_output_over_the_example_playbooks_holds_a_memory_address(tmp_path: Path) -> None:
    text = _replayed_actions(tmp_path, "moderation", "moderation-events.jsonl")
    text += _replayed_actions(tmp_path, "points-community", "rewards-events.jsonl")
    assert text.count("\n") > 100
    assert "object at 0x" not in text and " at 0x" not in text
    # And every template of the examples, rendered directly.
    for name in ("starter", "moderation", "points-community"):
        pb = load(ROOT / "rules" / name / "community.yaml")
        for template in pb.templates.names:
            c = make_context(data={"text": "hi", "item": "sticker-pack"})
            c.env = pb.env
            try:
                rendered = pb.templates.render(template, c)
            except ExpressionError:
                continue
            assert " at 0x" not in rendered, (name, template)


_VALUES = [
    "event",
    "member",
    "community",
    "now",
    "vars",
    "match",
    "event.member",
    "event.data",
    "event.at",
    "member.tags",
    "member.balances",
    "member.account_age",
    "member.joined_at",
    "now.date()",
    "event.data.keys()",
    "event.data.items()",
    "event.data.get",
    "'x'.upper",
    "now.strftime",
    "count",
    "range(3)",
    "[event]",
    "{'a': member}",
    "(event, member)",
    "loop",
    "loop.cycle",
    "caller",
]
_WRAPS = [
    "{v}",
    "[{v}]",
    "{{'k': {v}}}",
    "'%s' % ({v},)",
    "{v}|string",
    "[{v}]|join",
    "{v} ~ ''",
    "{v}|default('')",
    "{v}|list",
    "{v}|first",
    "[{v}, {v}]|unique",
]


@settings(max_examples=120, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(_VALUES), st.sampled_from(_WRAPS)), min_size=1, max_size=4),
    st.booleans(),
    st.text(alphabet=string.ascii_letters + " {}%", max_size=10),
)
def test_no_generated_template_prints_a_memory_address(
    parts: list[tuple[str, str]],
    in_loop: bool,
    filler: str,
) -> None:
    body = filler.replace("{", "").replace("}", "").replace("%", "") + "".join(
        "{{ " + wrap.format(v=value) + " }}" for value, wrap in parts
    )
    if in_loop:
        body = "{% for i in [1, 2] %}" + body + "{% endfor %}"
    try:
        template = compile_template(body, vars=VARS, env=ENV)
        output = template.render(make_context(data={"text": "hi"}))
    except (TemplateCompileError, ExpressionError) as err:
        assert " at 0x" not in str(err)  # error messages are the same from run to run too
        return
    assert "object at 0x" not in output and " at 0x" not in output
    assert "functools.partial" not in output and "<bound method" not in output


# -- strftime is the same on every machine -------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(1000, 1, 1),
        max_value=datetime(9999, 12, 28),
        timezones=st.sampled_from(
            [
                UTC,
                ZoneInfo("Asia/Shanghai"),
                ZoneInfo("America/New_York"),
                timezone(timedelta(hours=-5, minutes=-30, seconds=-15)),
                timezone(timedelta(hours=3, microseconds=7)),
            ]
        ),
    ),
    st.booleans(),
)
def test_strftime_agrees_with_the_c_locale(when: datetime, as_date: bool) -> None:
    value: date = when.date() if as_date else when
    fmt = " ".join(f"%{c}" for c in rt.STRFTIME_DIRECTIVES)
    assert rt.strftime(value, fmt) == value.strftime(fmt)


def test_strftime_uses_no_c_library_widths() -> None:
    with pytest.raises(ExpressionError, match="unsupported directive"):
        rt.strftime(datetime(2026, 1, 1, tzinfo=UTC), "%10000000Y")
    assert rt.strftime(datetime(2026, 1, 1, tzinfo=UTC), "100%% %Y") == "100% 2026"
    with pytest.raises(ExpressionError, match="time zone"):
        rt.call_method(datetime(2026, 1, 1), "timestamp")  # would read the machine's zone
