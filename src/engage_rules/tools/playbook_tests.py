"""Playbook tests (docs/reference.md §8): load ``*.test.yaml`` files, run each case, compare.

A test file names a playbook (relative to the test file) and a list of cases.  Each case
runs from an empty state on a memory store — the same path as ``engage-rules replay`` —
then the observed actions and member snapshots are compared with ``expect``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..compile.compiler import load
from ..errors import PlaybookError, Problem
from ..i18n import _
from ..lang.messages import validation_problems
from ..lang.yaml_source import read_yaml_file
from ..model.decision import ActionRecord, RuleFailure
from ..model.events import EventError, event_from_obj
from ..shell.runner import Runner
from ..store import MemoryStore
from .playbook_test_compare import (
    DEFAULT_CURRENCY,
    ActionExpect,
    ErrorExpect,
    MemberExpect,
    RefusalExpect,
    aware,
    check_actions,
    check_errors,
    check_members,
    check_not_actions,
    check_refusals,
    refusals,
)

if TYPE_CHECKING:
    from ..compile.compiler import CompileRegistry
    from ..compile.playbook import CompiledPlaybook

TEST_SUFFIX = ".test.yaml"
OBSERVED_SUFFIX = ".observed.test.yaml"
#: When the first event of a case has no ``at``: a Monday, 10:00 in the playbook's timezone
#: (outside any usual quiet hours).  Each later event without ``at`` is one second later.
DEFAULT_START = (2026, 3, 2, 10, 0, 0)
_STRICT = ConfigDict(extra="forbid", strict=False)


class Expect(BaseModel):
    """The ``expect`` of a case: actions, unwanted actions, member snapshots, refused
    actions and rule errors."""

    model_config = _STRICT
    actions: list[ActionExpect] = Field(default_factory=list)
    not_actions: list[ActionExpect] = Field(default_factory=list)
    members: dict[str, MemberExpect] = Field(default_factory=dict)
    refused: list[RefusalExpect] = Field(default_factory=list)
    errors: list[ErrorExpect] = Field(default_factory=list)


class CaseSpec(BaseModel):
    """One case of a playbook test file."""

    model_config = _STRICT
    name: str
    events: list[dict[str, Any]] = Field(default_factory=list)
    until: datetime | None = None
    expect: Expect = Field(default_factory=Expect)

    _aware_until = field_validator("until", mode="before")(aware)


class TestFileSpec(BaseModel):
    """A playbook test file: the playbook and its cases."""

    model_config = _STRICT
    playbook: str
    cases: list[CaseSpec]


@dataclass
class TestFile:
    """A loaded test file."""

    path: Path
    spec: TestFileSpec
    raw_cases: list[dict[str, Any]]
    #: Where ``playbook:`` is written, to locate a playbook that cannot be read.
    playbook_at: tuple[int, int] = (1, 1)


@dataclass
class CaseResult:
    """The result of one case."""

    name: str
    failures: list[str] = field(default_factory=list)
    actions: list[ActionRecord] = field(default_factory=list)
    members: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.failures


# -- finding and loading ------------------------------------------------------------------


def find_test_files(paths: Iterable[str | Path]) -> list[Path]:
    """Test files named directly, plus ``*.test.yaml`` found recursively in folders
    (leaving out hidden entries and ``*.observed.test.yaml`` written by ``--update``)."""
    found: list[Path] = []
    for item in paths:
        p = Path(item)
        if p.is_dir():
            for f in sorted(p.rglob(f"*{TEST_SUFFIX}")):
                rel = f.relative_to(p)
                if any(part.startswith(".") for part in rel.parts):
                    continue
                if f.is_file() and not f.name.endswith(OBSERVED_SUFFIX):
                    found.append(f)
        else:
            found.append(p)
    return found


def _label(path: tuple[Any, ...]) -> str:
    text = ""
    for seg in path:
        text += f"[{seg}]" if isinstance(seg, int) else (f".{seg}" if text else str(seg))
    return text


def _where(path: tuple[Any, ...]) -> str:
    return "the test file" if not path else repr(_label(path))


def load_test_file(path: str | Path) -> TestFile:
    """Read and validate a test file; raise :class:`PlaybookError` with located problems."""
    doc = read_yaml_file(path)
    doc.raise_if_problems()
    name = doc.file

    def pos(loc: tuple[Any, ...], at_key: bool = False) -> tuple[int, int]:
        if at_key and loc in doc.key_positions:
            return doc.key_positions[loc]
        while loc and loc not in doc.positions:
            loc = loc[:-1]
        return doc.positions.get(loc, (1, 1))

    if not isinstance(doc.data, dict):
        raise PlaybookError(
            [Problem(name, 1, 1, _("a test file must be a mapping with `playbook:` and `cases:`"))]
        )
    try:
        spec = TestFileSpec.model_validate(doc.data)
    except ValidationError as exc:
        problems = []
        for p in validation_problems(exc, doc.data, TestFileSpec, (), _label, _where):
            line, col = pos(p.path, p.at_key)
            problems.append(Problem(name, line, col, p.message))
        raise PlaybookError(problems) from None
    problems = []
    for i, case in enumerate(spec.cases):
        for j, raw in enumerate(case.events):
            try:
                event_from_obj(_expand(raw, j, datetime(*DEFAULT_START, tzinfo=UTC)))
            except EventError as err:
                line, col = pos(("cases", i, "events", j))
                message = _("event {n} of case {case!r}: {reason}").format(
                    n=j + 1, case=case.name, reason=err
                )
                problems.append(Problem(name, line, col, message))
    if problems:
        raise PlaybookError(problems)
    return TestFile(Path(path), spec, doc.data["cases"], pos(("playbook",)))


def _expand(raw: dict[str, Any], index: int, at: datetime) -> dict[str, Any]:
    """The event with the shorthand filled in: ``member: u1`` → ``{id: u1}``, an ``id``
    (``e1``, ``e2``... in order) and an ``at`` when omitted."""
    event = dict(raw)
    if isinstance(event.get("member"), str | int) and not isinstance(event["member"], bool):
        event["member"] = {"id": str(event["member"])}
    event.setdefault("id", f"e{index + 1}")
    if "at" not in event:
        event["at"] = at.isoformat()
    elif isinstance(event["at"], datetime):
        event["at"] = event["at"].isoformat()
    return event


# -- running ------------------------------------------------------------------------------


def run_case(playbook: CompiledPlaybook, case: CaseSpec) -> CaseResult:
    """Run one case from an empty state and compare what happened with ``expect``."""
    actions: list[ActionRecord] = []
    errors: list[RuleFailure] = []
    traces: list[dict[str, Any]] = []
    store = MemoryStore(keep_history=True)  # like a durable store (docs/reference.md §10)
    # Refusals are seen in the rule traces: a case that expects one runs traced (the
    # traced run decides exactly what the untraced one does; engine/tracing.py).
    traced = bool(case.expect.refused)
    runner = Runner(
        playbook,
        store,
        on_commit=actions.extend,
        on_error=errors.append,
        on_decisions=(lambda ds: traces.extend(t for d in ds for t in d.traces))
        if traced
        else None,
        trace=traced,
    )
    at = datetime(*DEFAULT_START, tzinfo=playbook.timezone)
    for j, raw in enumerate(case.events):
        event = event_from_obj(_expand(raw, j, at))
        at = event.at + timedelta(seconds=1)
        runner.feed(event)
    if case.until is not None:
        runner.advance_to(case.until)
    runner.flush()
    snapshot = runner.state.snapshot()
    runner.close()
    members: dict[str, dict[str, Any]] = snapshot.get("members", {})
    if "communities" in snapshot:
        members = {}
        for community in snapshot["communities"].values():
            members.update(community["members"])
    result = CaseResult(case.name, actions=actions, members=members)
    # A rule that fails at run time is a playbook bug: it fails the case, unless the
    # case expects that error.
    result.failures += check_errors(case.expect.errors, errors)
    result.failures += check_refusals(case.expect.refused, refusals(traces))
    result.failures += check_actions(case.expect.actions, actions)
    result.failures += check_not_actions(case.expect.not_actions, actions)
    result.failures += check_members(case.expect.members, members)
    return result


# -- --update -----------------------------------------------------------------------------


def observed_path(path: Path) -> Path:
    """Where ``--update`` writes a test file's observed results."""
    base = path.name.removesuffix(TEST_SUFFIX).removesuffix(".yaml").removesuffix(".yml")
    return path.with_name(base + OBSERVED_SUFFIX)


def _observed_member(snap: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"points": snap["balances"].get(DEFAULT_CURRENCY, 0)}
    others = {k: v for k, v in snap["balances"].items() if k != DEFAULT_CURRENCY}
    if others:
        out["balances"] = others
    for k in ("level", "level_name", "badges", "titles", "tags", "strikes", "status", "opted_out"):
        out[k] = snap[k]
    if snap["attrs"]:
        out["attrs"] = snap["attrs"]
    return out


def write_observed(test: TestFile, results: list[CaseResult]) -> Path:
    """Write a copy of the test file whose expectations are what each case produced."""
    cases = []
    for raw, result in zip(test.raw_cases, results, strict=True):
        case: dict[str, Any] = {"name": raw["name"], "events": raw.get("events", [])}
        if raw.get("until") is not None:
            case["until"] = raw["until"]
        actions = [
            {
                "type": a.type,
                "member": a.member,
                "rule": a.rule,
                "params": a.params,
                **({"shadow": True} if a.shadow else {}),
            }
            for a in result.actions
        ]
        expect: dict[str, Any] = {"actions": actions}
        kept = [
            n
            for n in raw.get("expect", {}).get("not_actions", [])
            if not check_not_actions([ActionExpect.model_validate(n)], result.actions)
        ]
        if kept:
            expect["not_actions"] = kept
        expect["members"] = {mid: _observed_member(s) for mid, s in result.members.items()}
        case["expect"] = expect
        cases.append(case)
    data = {"playbook": test.spec.playbook, "cases": cases}
    out = observed_path(test.path)
    header = "".join(
        f"# {line}\n"
        for line in _(
            "Observed results of {file} (engage-rules test --update).\n"
            "Review, then adopt by renaming this file to {file}."
        )
        .format(file=test.path.name)
        .splitlines()
    )
    out.write_text(
        header + yaml.safe_dump(_plain(data), allow_unicode=True, sort_keys=False, width=100),
        encoding="utf-8",
    )
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _load(
    path: Path, registry: CompileRegistry, err: IO[str]
) -> tuple[TestFile, CompiledPlaybook] | None:
    """The test file and its compiled playbook, or None after printing the problems."""
    try:
        test = load_test_file(path)
    except PlaybookError as exc:
        for problem in exc.problems:
            print(problem, file=err)
        return None
    except OSError as exc:
        reason = exc.strerror or exc
        print(f"{path}:0:0: " + _("cannot read: {reason}").format(reason=reason), file=err)
        return None
    target = path.parent / test.spec.playbook
    line, col = test.playbook_at
    if not target.exists():
        message = _(
            "playbook {playbook!r} not found (looked for {target}; the path is relative to "
            "the test file)"
        ).format(playbook=test.spec.playbook, target=target)
        print(f"{path}:{line}:{col}: {message}", file=err)
        return None
    try:
        return test, load(target, registry=registry)
    except PlaybookError as exc:
        for problem in exc.problems:
            print(problem, file=err)
    except OSError as exc:
        message = _("cannot read playbook {playbook!r}: {reason}").format(
            playbook=test.spec.playbook, reason=exc.strerror or exc
        )
        print(f"{path}:{line}:{col}: {message}", file=err)
    return None


# -- the command --------------------------------------------------------------------------


def run_tests(
    paths: Sequence[str],
    *,
    registry: CompileRegistry,
    update: bool = False,
    out: IO[str] | None = None,
    err: IO[str] | None = None,
) -> int:
    """``engage-rules test``: 0 when every case passed, 1 on a failure or when no case was
    found (or a test file or its playbook is invalid)."""
    out = out or sys.stdout
    err = err or sys.stderr
    passed = failed = 0
    broken = False
    for path in find_test_files(paths):
        loaded = _load(path, registry, err)
        if loaded is None:
            broken = True
            continue
        test, playbook = loaded
        results = [run_case(playbook, case) for case in test.spec.cases]
        for result in results:
            if result.passed:
                passed += 1
                continue
            failed += 1
            print(_("FAIL {file}: {case}").format(file=path, case=result.name), file=out)
            for failure in result.failures:
                print("  " + failure.replace("\n", "\n  "), file=out)
        if update:
            written = write_observed(test, results)
            print(_("observed results written to {file}").format(file=written), file=err)
    print(_("{passed} passed, {failed} failed").format(passed=passed, failed=failed), file=out)
    if passed + failed == 0 and not broken:
        print(_("no test case found (test files are named *.test.yaml)"), file=err)
    return 1 if failed or broken or passed + failed == 0 else 0
