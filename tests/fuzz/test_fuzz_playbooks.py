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

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engage_rules.cli import main
from engage_rules.errors import PlaybookError, Problem
from engage_rules.lang.yaml_source import safe_load
from engage_rules.testing import compile_playbook, load_playbook_text
from engage_rules.testing import strategies as est

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = [
    ROOT / "rules" / name / "community.yaml"
    for name in ("starter", "moderation", "points-community")
]
SEEDS = sorted((Path(__file__).parent / "seeds" / "playbooks").glob("*.yaml"))
PROBLEM = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<message>\S.*)$")

FUZZ = settings(
    max_examples=75,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


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


#: Fragments operators (and attackers) put into expressions and templates.
_SNIPPETS = [
    "}}",
    "{{",
    "{%",
    "%}",
    "'",
    '"',
    "(",
    ")",
    "[",
    "*",
    "**",
    "~",
    "%",
    "|",
    "\\",
    "|round(-30000000)",
    "|round(event.data.n)",
    "|trim('ab' * 500)",
    "|int(base=99)",
    "|join(attribute='a' ~ '.a' * 99)",
    "|sort(attribute={})",
    "|truncate(-1)",
    "|replace('a', 'b', [1])",
    "|first(1)",
    "|length(1)",
    "|d(x=1)",
    "|sum(start=[])",
    ".strftime('%-d')",
    ".strftime('%Y' * 150)",
    ".strip('x' * 300)",
    " * 10 ** 9",
    " % (1,)",
    "'%999999999d' % 1",
    " ~ event",
    "{{ event }}",
    "{{ count }}",
    "{% for x in range(10) %}{{ loop }}{% endfor %}",
    "{% macro m() %}{% endmacro %}{{ m }}",
    " is divisibleby 0",
    "matches(event.data.text, '(?:\\\\w+\\\\s?){1,1000}x')",
    "domains(event.data.text, allow=[[1]])",
    "links(event.data.text, deny=[{}])",
    "(*[1])",
    "(**{})",
    "99999999999d",
    "localtime",
    "\u202e",
    "\x00",
    "𝔘",
    "{% for i in [1] %}" * 21 + "{% endfor %}" * 21,
    "{{ 1" + "|abs" * 200 + " }}",
    "{% if 1 %}" * 120 + "{% endif %}" * 120,
    "(" * 300,
    "[" * 300 + "]" * 300,
    "range(1, 5, 0)",
    "range(10 ** 9)",
    "days(1e400)",
    "hours(-1e18)",
    "score(event.data.text, {})",
    "contains_any(event.data.text, [[1]])",
    "matches(event.data.text, [])",
    "segment({})",
    "count('x', within='99999999999d')",
    "normalize(event)",
    "now.timestamp()",
]


@pytest.mark.slow
@FUZZ
@given(est.mutated_documents(_BASES, _SNIPPETS))
def test_mutated_example_playbooks_load_or_report_located_problems(
    case: tuple[str, str],
) -> None:
    filename, text = case
    check_outcome(text, filename)


# -- generated YAML ---------------------------------------------------------------------------


@pytest.mark.slow
@FUZZ
@given(est.yaml_documents())
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
