"""Comparing a playbook test case's expectations with what happened (docs/reference.md §8).

Expected actions match as subsets of the §6 action fields (``params`` as a subset too),
in order; member expectations compare fields of the §6 member snapshot.  Every check
returns readable failure texts (empty when the expectation holds).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from ..i18n import _
from ..model.decision import ActionRecord, RuleFailure
from ..model.rule_problems import in_words

DEFAULT_CURRENCY = "points"
#: Snapshot fields compared as sets (order in the snapshot is not meaningful to a test).
SET_FIELDS = ("badges", "titles", "tags")
#: Snapshot fields where the expectation lists a subset of the keys.
MAPPING_FIELDS = ("balances", "attrs", "flows")
_STRICT = ConfigDict(extra="forbid", strict=False)


def aware(value: Any) -> Any:
    """A time given in a test file: ISO 8601 with an explicit UTC offset."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(_("{text!r} is not an ISO 8601 time").format(text=value)) from None
    if isinstance(value, datetime) and value.tzinfo is None:
        raise ValueError(_("the time needs a UTC offset (Z or ±HH:MM)"))
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
    #: True: only a shadow action (a rule in shadow mode) matches; false: only a real one.
    shadow: bool | None = None

    _aware_at = field_validator("at", mode="before")(aware)


class RefusalExpect(BaseModel):
    """An expected refusal: an action of ``rule`` could not take effect (a `spend` the
    member cannot afford), for ``member`` / on event ``cause`` when given."""

    model_config = _STRICT
    rule: str
    member: str | None = None
    cause: str | None = None


class ErrorExpect(BaseModel):
    """An expected rule error: ``rule`` failed (on ``cause``), with ``message``
    contained in its message when given."""

    model_config = _STRICT
    rule: str
    cause: str | None = None
    message: str | None = None


def refusals(traces: Iterable[dict[str, Any]]) -> list[tuple[str, str | None, str]]:
    """The refusals rule traces record, as (rule, member, cause)."""
    out: list[tuple[str, str | None, str]] = []
    for t in traces:
        for r in t.get("rules", ()):
            if str(r.get("outcome", "")).startswith("refused"):
                cause = str(t.get("cause", t.get("event", "")))
                out.append((str(r["rule"]), t.get("member"), cause))
    return out


def check_refusals(
    expected: Sequence[RefusalExpect], actual: Sequence[tuple[str, str | None, str]]
) -> list[str]:
    """A failure for each expected refusal that did not happen."""
    out = []
    for want in expected:
        if not any(
            rule == want.rule
            and (want.member is None or member == want.member)
            and (want.cause is None or cause == want.cause)
            for rule, member, cause in actual
        ):
            seen = ", ".join(f"{r} ({m}, {c})" for r, m, c in actual) or _("none")
            out.append(
                _("expected a refusal of rule {rule!r}{member}{cause}; refusals: {seen}").format(
                    rule=want.rule,
                    member=_for_member(want.member),
                    cause=_on_event(want.cause),
                    seen=seen,
                )
            )
    return out


def check_errors(expected: Sequence[ErrorExpect], actual: Sequence[RuleFailure]) -> list[str]:
    """A failure for each expected rule error that did not happen, and for each rule
    error no expectation names (a rule error is a playbook bug unless expected)."""
    out = []

    def matches(want: ErrorExpect, e: RuleFailure) -> bool:
        return (
            e.rule == want.rule
            and (want.cause is None or e.cause == want.cause)
            and (want.message is None or want.message in e.message)
        )

    for want in expected:
        if not any(matches(want, e) for e in actual):
            with_message = (
                _(" with {message!r}").format(message=want.message) if want.message else ""
            )
            out.append(
                _("expected rule {rule!r} to fail{cause}{message}; it did not").format(
                    rule=want.rule, cause=_on_event(want.cause), message=with_message
                )
            )
    out += [
        _("rule {rule!r} failed on {cause}: {message}").format(
            rule=e.rule, cause=e.cause, message=in_words(e.message)
        )
        for e in actual
        if not any(matches(want, e) for want in expected)
    ]
    return out


def _for_member(member: str | None) -> str:
    return _(" for {member}").format(member=member) if member else ""


def _on_event(cause: str | None) -> str:
    return _(" on {cause}").format(cause=cause) if cause else ""


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


def _given(expect: ActionExpect) -> dict[str, Any]:
    return expect.model_dump(exclude_unset=True)


def _subset(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and _subset(v, actual[k]) for k, v in expected.items()
        )
    same_kind = isinstance(expected, bool) == isinstance(actual, bool)
    return same_kind and bool(expected == actual)


def _differences(expected: dict[str, Any], action: ActionRecord) -> list[str]:
    """The fields of ``action`` that differ from ``expected`` (empty when it matches)."""
    out = []
    actual = action.to_json()
    for k, v in expected.items():
        got = action.at if k == "at" else action.shadow if k == "shadow" else actual.get(k)
        if k == "params":
            params: dict[str, Any] = action.params
            for pk, pv in v.items():
                if pk not in params:
                    out.append(f"params.{pk} " + _("(missing)"))
                elif not _subset(pv, params[pk]):
                    out.append(f"params.{pk}")
        elif not _subset(v, got):
            out.append(k)
    return out


def _show_expected(expected: dict[str, Any]) -> str:
    return ", ".join(
        f"{k}: {v.isoformat() if isinstance(v, datetime) else v!r}" for k, v in expected.items()
    )


def _show_action(action: ActionRecord, differing: Sequence[str] = ()) -> str:
    d = action.to_json()
    marks = {k.split(".")[0] for k in differing}
    parts = []
    for k in ("type", "member", "rule", "at", "params"):
        text = f"{k}: {d[k]!r}"
        parts.append(f"*{text}*" if k in marks else text)
    if action.shadow or "shadow" in marks:
        text = f"shadow: {action.shadow!r}"
        parts.append(f"*{text}*" if "shadow" in marks else text)
    return ", ".join(parts)


def check_actions(expected: list[ActionExpect], actions: list[ActionRecord]) -> list[str]:
    """The failures of ``expect.actions``: each must happen, in the order written."""
    failures = []
    start = 0
    for n, exp in enumerate(expected, 1):
        given = _given(exp)
        hit = next(
            (i for i in range(start, len(actions)) if not _differences(given, actions[i])), None
        )
        if hit is not None:
            start = hit + 1
            continue
        lines = [
            _("expected action #{n} not found: {expected}").format(
                n=n, expected="{" + _show_expected(given) + "}"
            )
        ]
        earlier = next((i for i in range(start) if not _differences(given, actions[i])), None)
        if earlier is not None:
            text = _(
                "it happened as actual action #{actual}, before the action that matched "
                "expected action #{previous} (expected in order)"
            )
            lines.append("  " + text.format(actual=earlier + 1, previous=n - 1))
        near = [
            a
            for a in actions
            if a.type == given.get("type", a.type) and a.member == given.get("member", a.member)
        ]
        if not near and "member" in given:
            near = [a for a in actions if a.member == given["member"]]
        if near:
            lines.append("  " + _("nearest actual actions (differing fields between *stars*):"))
            lines += [f"    - {_show_action(a, _differences(given, a))}" for a in near[:8]]
        else:
            types = ", ".join(f"{a.type}({a.member})" for a in actions) or _("none")
            lines.append("  " + _("actual actions: {actions}").format(actions=types))
        failures.append("\n".join(lines))
    return failures


def check_not_actions(unwanted: list[ActionExpect], actions: list[ActionRecord]) -> list[str]:
    """The failures of ``expect.not_actions``: actions that happened but must not."""
    failures = []
    for exp in unwanted:
        given = _given(exp)
        for i, a in enumerate(actions):
            if not _differences(given, a):
                failures.append(
                    _("unexpected action matching {expected}:").format(
                        expected="{" + _show_expected(given) + "}"
                    )
                    + "\n    "
                    + _("actual action #{n}: {action}").format(n=i + 1, action=_show_action(a))
                )
    return failures


def check_members(
    expected: dict[str, MemberExpect], members: dict[str, dict[str, Any]]
) -> list[str]:
    """The failures of ``expect.members``: member snapshots that differ."""
    failures = []
    for mid, exp in expected.items():
        snap = members.get(mid)
        if snap is None:
            failures.append(
                _("member {member!r}: no state (no event was about this member)").format(member=mid)
            )
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
                text = _("{field}: expected {expected!r}, actual {actual!r}")
                diffs.append("    " + text.format(field=k, expected=want, actual=got))
        if diffs:
            failures.append(_("member {member!r}:").format(member=mid) + "\n" + "\n".join(diffs))
    return failures
