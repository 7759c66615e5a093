"""Playbook tests (DESIGN.md §8): load ``*.test.yaml`` files, run each case, compare.

A test file names a playbook (relative to the test file) and a list of cases.  Each case
runs from an empty state on a memory store — the same path as ``engage-rules replay`` —
then the observed actions and member snapshots are compared with ``expect``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .decision import ActionRecord, RuleError
from .errors import PlaybookError, Problem
from .events import EventError, event_from_obj
from .loader_messages import validation_problems
from .yaml_loader import read_yaml_file

TEST_SUFFIX = ".test.yaml"
OBSERVED_SUFFIX = ".observed.test.yaml"
#: When the first event of a case has no ``at``: a Monday, 10:00 in the playbook's timezone
#: (outside any usual quiet hours).  Each later event without ``at`` is one second later.
DEFAULT_START = (2026, 3, 2, 10, 0, 0)
DEFAULT_CURRENCY = "points"
#: Snapshot fields compared as sets (order in the snapshot is not meaningful to a test).
SET_FIELDS = ("badges", "titles", "tags")
#: Snapshot fields where the expectation lists a subset of the keys.
MAPPING_FIELDS = ("balances", "attrs", "flows")

_STRICT = ConfigDict(extra="forbid", strict=False)


def _aware(value: Any) -> Any:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO 8601 time") from None
    if isinstance(value, datetime) and value.tzinfo is None:
        raise ValueError("the time needs a UTC offset (Z or ±HH:MM)")
    return value


class ActionExpect(BaseModel):
    """An expected action: every key given must equal the action's JSON field."""

    model_config = _STRICT
    type: str | None = None
    member: str | None = None
    rule: str | None = None
    cause: str | None = None
    at: datetime | None = None
    community: str | None = None
    key: str | None = None
    params: dict[str, Any] | None = None

    _aware_at = field_validator("at", mode="before")(_aware)


class MemberExpect(BaseModel):
    """Expected fields of a member's snapshot (``points`` is ``balances.points``)."""

    model_config = _STRICT
    points: int | float | None = None
    balances: dict[str, int | float] | None = None
    level: int | None = None
    level_name: str | None = None
    badges: list[str] | None = None
    titles: list[str] | None = None
    tags: list[str] | None = None
    strikes: int | None = None
    status: str | None = None
    opted_out: bool | None = None
    attrs: dict[str, Any] | None = None
    flows: dict[str, Any] | None = None


class Expect(BaseModel):
    model_config = _STRICT
    actions: list[ActionExpect] = Field(default_factory=list)
    not_actions: list[ActionExpect] = Field(default_factory=list)
    members: dict[str, MemberExpect] = Field(default_factory=dict)


class CaseSpec(BaseModel):
    model_config = _STRICT
    name: str
    events: list[dict[str, Any]] = Field(default_factory=list)
    until: datetime | None = None
    expect: Expect = Field(default_factory=Expect)

    _aware_until = field_validator("until", mode="before")(_aware)


class TestFileSpec(BaseModel):
    model_config = _STRICT
    playbook: str
    cases: list[CaseSpec]


@dataclass
class TestFile:
    path: Path
    spec: TestFileSpec
    raw_cases: list[dict[str, Any]]
    #: Where ``playbook:`` is written, to locate a playbook that cannot be read.
    playbook_at: tuple[int, int] = (1, 1)


@dataclass
class CaseResult:
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
        raise PlaybookError([Problem(name, 1, 1, "a test file must be a mapping with "
                                                 "`playbook:` and `cases:`")])
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
                problems.append(Problem(name, line, col, f"event {j + 1} of case "
                                        f"{case.name!r}: {err}"))
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

def run_case(playbook: Any, case: CaseSpec) -> CaseResult:
    """Run one case from an empty state and compare what happened with ``expect``."""
    from .runner import Runner
    from .store import open_store

    actions: list[ActionRecord] = []
    errors: list[RuleError] = []
    runner = Runner(playbook, open_store("memory:"), on_commit=actions.extend,
                    on_error=errors.append)
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
    # A rule that fails at run time is a playbook bug: it fails the case.
    result.failures += [f"rule {e.rule!r} failed on {e.cause}: {e.message}" for e in errors]
    result.failures += _check_actions(case.expect.actions, actions)
    result.failures += _check_not_actions(case.expect.not_actions, actions)
    result.failures += _check_members(case.expect.members, members)
    return result


def _given(expect: ActionExpect) -> dict[str, Any]:
    return expect.model_dump(exclude_unset=True)


def _subset(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and _subset(v, actual[k]) for k, v in expected.items())
    same_kind = isinstance(expected, bool) == isinstance(actual, bool)
    return same_kind and bool(expected == actual)


def _differences(expected: dict[str, Any], action: ActionRecord) -> list[str]:
    """The fields of ``action`` that differ from ``expected`` (empty when it matches)."""
    out = []
    actual = action.to_json()
    for k, v in expected.items():
        got = action.at if k == "at" else actual.get(k)
        if k == "params":
            params: dict[str, Any] = action.params
            for pk, pv in v.items():
                if pk not in params:
                    out.append(f"params.{pk} (missing)")
                elif not _subset(pv, params[pk]):
                    out.append(f"params.{pk}")
        elif not _subset(v, got):
            out.append(k)
    return out


def _show_expected(expected: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {v.isoformat() if isinstance(v, datetime) else v!r}"
                     for k, v in expected.items())


def _show_action(action: ActionRecord, differing: Sequence[str] = ()) -> str:
    d = action.to_json()
    marks = {k.split(".")[0] for k in differing}
    parts = []
    for k in ("type", "member", "rule", "at", "params"):
        text = f"{k}: {d[k]!r}"
        parts.append(f"*{text}*" if k in marks else text)
    return ", ".join(parts)


def _check_actions(expected: list[ActionExpect], actions: list[ActionRecord]) -> list[str]:
    failures = []
    start = 0
    for n, exp in enumerate(expected, 1):
        given = _given(exp)
        hit = next((i for i in range(start, len(actions))
                    if not _differences(given, actions[i])), None)
        if hit is not None:
            start = hit + 1
            continue
        lines = [f"expected action #{n} not found: {{{_show_expected(given)}}}"]
        earlier = next((i for i in range(start) if not _differences(given, actions[i])), None)
        if earlier is not None:
            lines.append(f"  it happened as actual action #{earlier + 1}, before the action "
                         f"that matched expected action #{n - 1} (expected in order)")
        near = [a for a in actions
                if a.type == given.get("type", a.type)
                and a.member == given.get("member", a.member)]
        if not near and "member" in given:
            near = [a for a in actions if a.member == given["member"]]
        if near:
            lines.append("  nearest actual actions (differing fields between *stars*):")
            lines += [f"    - {_show_action(a, _differences(given, a))}" for a in near[:8]]
        else:
            types = ", ".join(f"{a.type}({a.member})" for a in actions) or "none"
            lines.append(f"  actual actions: {types}")
        failures.append("\n".join(lines))
    return failures


def _check_not_actions(unwanted: list[ActionExpect], actions: list[ActionRecord]) -> list[str]:
    failures = []
    for exp in unwanted:
        given = _given(exp)
        for i, a in enumerate(actions):
            if not _differences(given, a):
                failures.append(f"unexpected action matching {{{_show_expected(given)}}}:\n"
                                f"    actual action #{i + 1}: {_show_action(a)}")
    return failures


def _check_members(expected: dict[str, MemberExpect],
                   members: dict[str, dict[str, Any]]) -> list[str]:
    failures = []
    for mid, exp in expected.items():
        snap = members.get(mid)
        if snap is None:
            failures.append(f"member {mid!r}: no state (no event was about this member)")
            continue
        diffs = []
        for k, want in exp.model_dump(exclude_unset=True).items():
            if k == "points":
                got: Any = snap["balances"].get(DEFAULT_CURRENCY, 0)
                ok = got == want
            elif k in SET_FIELDS:
                got = snap[k]
                ok = set(want) == set(got)
            elif k in MAPPING_FIELDS:
                got = snap[k]
                default = 0 if k == "balances" else None
                ok = all(got.get(kk, default) == vv for kk, vv in want.items())
            else:
                got = snap[k]
                ok = want == got
            if not ok:
                diffs.append(f"    {k}: expected {want!r}, actual {got!r}")
        if diffs:
            failures.append(f"member {mid!r}:\n" + "\n".join(diffs))
    return failures


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
    for k in ("level", "level_name", "badges", "titles", "tags", "strikes", "status",
              "opted_out"):
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
        actions = [{"type": a.type, "member": a.member, "rule": a.rule, "params": a.params}
                   for a in result.actions]
        expect: dict[str, Any] = {"actions": actions}
        kept = [n for n in raw.get("expect", {}).get("not_actions", [])
                if not _check_not_actions([ActionExpect.model_validate(n)], result.actions)]
        if kept:
            expect["not_actions"] = kept
        expect["members"] = {mid: _observed_member(s) for mid, s in result.members.items()}
        case["expect"] = expect
        cases.append(case)
    data = {"playbook": test.spec.playbook, "cases": cases}
    out = observed_path(test.path)
    header = (f"# Observed results of {test.path.name} (engage-rules test --update).\n"
              f"# Review, then adopt by renaming this file to {test.path.name}.\n")
    out.write_text(header + yaml.safe_dump(_plain(data), allow_unicode=True,
                                           sort_keys=False, width=100), encoding="utf-8")
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _load(path: Path, err: IO[str]) -> tuple[TestFile, Any] | None:
    """The test file and its compiled playbook, or None after printing the problems."""
    from .compiler import load

    try:
        test = load_test_file(path)
    except PlaybookError as exc:
        for problem in exc.problems:
            print(problem, file=err)
        return None
    except OSError as exc:
        print(f"{path}:0:0: cannot read: {exc.strerror or exc}", file=err)
        return None
    target = path.parent / test.spec.playbook
    line, col = test.playbook_at
    if not target.exists():
        print(f"{path}:{line}:{col}: playbook {test.spec.playbook!r} not found "
              f"(looked for {target}; the path is relative to the test file)", file=err)
        return None
    try:
        return test, load(target)
    except PlaybookError as exc:
        for problem in exc.problems:
            print(problem, file=err)
    except OSError as exc:
        print(f"{path}:{line}:{col}: cannot read playbook {test.spec.playbook!r}: "
              f"{exc.strerror or exc}", file=err)
    return None


# -- the command --------------------------------------------------------------------------

def run_tests(paths: Sequence[str], *, update: bool = False,
              out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    """``engage-rules test``: 0 when every case passed, 1 on a failure or when no case was
    found (or a test file or its playbook is invalid)."""
    import sys

    out = out or sys.stdout
    err = err or sys.stderr
    passed = failed = 0
    broken = False
    for path in find_test_files(paths):
        loaded = _load(path, err)
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
            print(f"FAIL {path}: {result.name}", file=out)
            for failure in result.failures:
                print("  " + failure.replace("\n", "\n  "), file=out)
        if update:
            print(f"observed results written to {write_observed(test, results)}", file=err)
    print(f"{passed} passed, {failed} failed", file=out)
    if passed + failed == 0 and not broken:
        print("no test case found (test files are named *.test.yaml)", file=err)
    return 1 if failed or broken or passed + failed == 0 else 0
