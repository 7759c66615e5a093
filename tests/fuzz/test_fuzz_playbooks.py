"""Fuzzing the playbook loader: whatever the YAML, `load`/`validate` either load the
playbook or report problems as ``file:line:col: message`` (a PlaybookError) — never any
other exception, never a traceback, never a hang.

The work is bounded by the inputs (small generated documents, a bounded number of
examples) and by the loader's own limits, not by timing assertions.  The seeds of past
findings live in ``seeds/playbooks/``: each file says which finding it reproduces and
what `validate` must do with it (``# expect: error`` with an ``# expect-message:``, or
``# expect: ok`` where the construct is now fine and bounded).
"""

from __future__ import annotations

import copy
import re
import string
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from engage_rules.cli import main
from engage_rules.compiler import compile_playbook
from engage_rules.errors import PlaybookError, Problem
from engage_rules.loader import load_playbook_text
from engage_rules.yaml_loader import safe_load

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = [ROOT / "rules" / name / "community.yaml"
            for name in ("starter", "moderation", "points-community")]
SEEDS = sorted((Path(__file__).parent / "seeds" / "playbooks").glob("*.yaml"))
PROBLEM = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<message>\S.*)$")

FUZZ = settings(max_examples=75, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def load_text(text: str, filename: str) -> None:
    """What `validate` does with one file: load, then compile."""
    compile_playbook(load_playbook_text(text, filename))


def check_outcome(text: str, filename: str) -> None:
    """The invariant: it loads, or fails with located problems only."""
    try:
        load_text(text, filename)
    except PlaybookError as err:
        assert err.problems, "a PlaybookError without problems"
        for problem in err.problems:
            assert isinstance(problem, Problem)
            assert problem.line >= 0 and problem.col >= 0
            assert PROBLEM.match(str(problem).splitlines()[0]), str(problem)
            assert "Traceback" not in problem.message


# -- the seeds of past findings -------------------------------------------------------------


def _expectations(path: Path) -> tuple[str, list[str]]:
    expect, messages = "", []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# expect:"):
            expect = line.split(":", 1)[1].strip()
        elif line.startswith("# expect-message:"):
            messages.append(line.split(":", 1)[1].strip())
    return expect, messages


def test_every_seed_says_what_it_reproduces_and_expects() -> None:
    assert len(SEEDS) >= 15
    for path in SEEDS:
        text = path.read_text(encoding="utf-8")
        assert text.startswith("# Finding"), path.name
        expect, messages = _expectations(path)
        assert expect in ("ok", "error"), path.name
        assert (expect == "error") == bool(messages), path.name


@pytest.mark.parametrize("path", SEEDS, ids=[p.stem for p in SEEDS])
def test_seed_playbook_validates_as_expected(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expect, messages = _expectations(path)
    code = main(["validate", "-q", str(path)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if expect == "ok":
        assert code == 0, err
        return
    assert code == 1, err
    lines = [line for line in err.splitlines() if line]
    assert lines
    for line in lines:
        m = PROBLEM.match(line)
        assert m is not None, line
        assert m["file"] == str(path)
        assert int(m["line"]) > 0, line  # a problem inside the file is placed in it
    for message in messages:
        assert any(message in line for line in lines), (message, lines)


# -- mutated example playbooks --------------------------------------------------------------

_BASES = [(str(p), safe_load(p.read_text(encoding="utf-8"), str(p))) for p in EXAMPLES]


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


_TEXT = st.text(
    alphabet=st.characters(exclude_categories=["Cs"]), max_size=30
)
#: Fragments operators (and attackers) put into expressions and templates.
_SNIPPETS = [
    "}}", "{{", "{%", "%}", "'", '"', "(", ")", "[", "*", "**", "~", "%", "|", "\\",
    "|round(-30000000)", "|round(event.data.n)", "|trim('ab' * 500)", "|int(base=99)",
    "|join(attribute='a' ~ '.a' * 99)", "|sort(attribute={})", "|truncate(-1)",
    "|replace('a', 'b', [1])", "|first(1)", "|length(1)", "|d(x=1)", "|sum(start=[])",
    ".strftime('%-d')", ".strftime('%Y' * 150)", ".strip('x' * 300)", " * 10 ** 9",
    " % (1,)", "'%999999999d' % 1", " ~ event", "{{ event }}", "{{ count }}",
    "{% for x in range(10) %}{{ loop }}{% endfor %}", "{% macro m() %}{% endmacro %}{{ m }}",
    " is divisibleby 0", "matches(event.data.text, '(?:\\\\w+\\\\s?){1,1000}x')",
    "domains(event.data.text, allow=[[1]])", "links(event.data.text, deny=[{}])",
    "(*[1])", "(**{})", "99999999999d", "localtime", "\u202e", "\x00", "𝔘",
    "{% for i in [1] %}" * 21 + "{% endfor %}" * 21, "{{ 1" + "|abs" * 200 + " }}",
    "{% if 1 %}" * 120 + "{% endif %}" * 120, "(" * 300, "[" * 300 + "]" * 300,
    "range(1, 5, 0)", "range(10 ** 9)", "days(1e400)", "hours(-1e18)", "score(event.data.text, {})",
    "contains_any(event.data.text, [[1]])", "matches(event.data.text, [])", "segment({})",
    "count('x', within='99999999999d')", "normalize(event)", "now.timestamp()",
]
_ODD_SCALARS = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.sampled_from([2**63, -(2**63) - 1, 10**4000]),
    st.floats(allow_nan=True, allow_infinity=True),
    _TEXT,
    st.sampled_from(["", "0s", "-1d", "1d", "3661d", "99999999999d", "9" * 60 + "s",
                     "localtime", "posixrules", "right/UTC", "Asia/Shanghai", "UTC",
                     "*/0 * * * *", "0 0 31 2 *", "@reboot", "member.joined", "a.b",
                     "{{ event }}", "{{ 1 / 0 }}", "{{ x", "{% for %}", "{file: x.txt}"]),
)
_ODD_VALUES = st.recursive(
    _ODD_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(_TEXT, st.integers(-5, 5), st.booleans()), inner,
                        max_size=4),
    ),
    max_leaves=12,
)


@st.composite
def mutated_playbook(draw: st.DrawFn) -> tuple[str, str]:
    filename, base = draw(st.sampled_from(_BASES))
    data = copy.deepcopy(base)
    paths = _paths(data)[1:]
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(paths))
        parent: Any = data
        try:
            for key in path[:-1]:
                parent = parent[key]
            old = parent[path[-1]]
        except (KeyError, IndexError, TypeError):
            continue
        how = draw(st.integers(0, 3))
        if how == 0 and isinstance(old, str):
            at = draw(st.integers(0, len(old)))
            new: Any = old[:at] + draw(st.sampled_from(_SNIPPETS)) + old[at:]
        elif how == 1 and isinstance(parent, dict):
            key = draw(st.one_of(st.sampled_from(["id", "if", "on", "do", "cooldown",
                                                  "expires", "within", "zz"]), _TEXT))
            parent[key] = draw(_ODD_VALUES)
            continue
        elif how == 2:
            new = [old] if draw(st.booleans()) else {"x": old}
        else:
            new = draw(_ODD_VALUES)
        try:
            parent[path[-1]] = new
        except TypeError:
            continue
    try:
        text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=200)
    except yaml.YAMLError:
        text = ""
    assume(text)
    return filename, text


@FUZZ
@given(mutated_playbook())
def test_mutated_example_playbooks_load_or_report_located_problems(
    case: tuple[str, str],
) -> None:
    filename, text = case
    check_outcome(text, filename)


# -- generated YAML ---------------------------------------------------------------------------

_KEYS = ["engage_rules", "name", "community", "vars", "templates", "rules", "flows",
         "moderation", "currencies", "levels", "badges", "leaderboards", "segments",
         "messaging", "id", "on", "if", "do", "else", "cooldown", "priority", "once",
         "timezone", "award", "send", "tag", "template", "amount", "cron", "<<", "?"]
_TAGS = ["!!str", "!!int", "!!float", "!!bool", "!!null", "!!binary", "!!set", "!!omap",
         "!!python/object:os.system", "!!python/name:os.system", "!custom", "!", "!!map",
         "!!seq", "!<tag:yaml.org,2002:str>"]
_PLAIN = st.one_of(
    st.sampled_from(["1", "-0", "0x1F", "0o17", "1e999", ".nan", "-.inf", "~", "null",
                     "yes", "on", "true", "1_000", "0b101", "12:30", "2026-03-01",
                     "9" * 5000, "0x" + "f" * 40, "a b", "@x", "`x`"]),
    st.text(alphabet=string.ascii_letters + string.digits + "._-/", min_size=1,
            max_size=12),
)
_QUOTED = _TEXT.map(lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"')


@st.composite
def yaml_node(draw: st.DrawFn, depth: int = 0) -> str:
    """A YAML flow node, possibly anchored, aliased or tagged."""
    kind = draw(st.integers(0, 9 if depth < 6 else 3))
    if kind <= 1:
        node = draw(_PLAIN)
    elif kind == 2:
        node = draw(_QUOTED)
    elif kind == 3:
        node = "*" + draw(st.sampled_from(["a", "b", "c"]))
    elif kind <= 6:
        items = draw(st.lists(yaml_node(depth + 1), max_size=4))
        node = "[" + ", ".join(items) + "]"
    else:
        pairs = draw(st.lists(st.tuples(st.one_of(st.sampled_from(_KEYS), _PLAIN),
                                        yaml_node(depth + 1)), max_size=4))
        node = "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"
    if kind != 3 and draw(st.integers(0, 5)) == 0:
        node = f"&{draw(st.sampled_from(['a', 'b', 'c']))} {node}"
    if kind != 3 and draw(st.integers(0, 6)) == 0:
        node = f"{draw(st.sampled_from(_TAGS))} {node}"
    return node


@st.composite
def yaml_document(draw: st.DrawFn) -> str:
    lines = []
    if draw(st.booleans()):
        lines.append("engage_rules: 1")
    for key in draw(st.lists(st.sampled_from(_KEYS), max_size=5)):
        lines.append(f"{key}: {draw(yaml_node())}")
    if draw(st.integers(0, 4)) == 0:  # deep nesting, beyond the loader's limit or not
        depth = draw(st.integers(1, 120))
        lines.append("vars: " + "[" * depth + "]" * depth)
    if draw(st.integers(0, 6)) == 0:
        lines.append("---\nengage_rules: 1")
    return "\n".join(lines) + "\n"


@FUZZ
@given(yaml_document())
def test_generated_yaml_loads_or_reports_located_problems(text: str) -> None:
    check_outcome(text, "generated.yaml")


@FUZZ
@given(st.binary(max_size=300))
def test_any_bytes_through_validate_give_located_problems(data: bytes) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "playbook.yaml"
        path.write_bytes(b"engage_rules: 1\n" + data)
        import contextlib
        import io

        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = main(["validate", "-q", str(path)])
    assert code in (0, 1)
    for line in err.getvalue().splitlines():
        assert PROBLEM.match(line) or line.startswith(("note:", "ok:")), line
        assert "Traceback" not in line
