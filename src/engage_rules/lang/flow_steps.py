"""The steps of a flow as the loader reads them (docs/reference.md §5.7).

A flow's ``steps:`` is a list; each item is one of

- an action, exactly as in a rule's ``do:`` (``send: {template: x}``, ``award: {...}``);
- ``wait: 1d`` — pause the flow for that long;
- ``wait_for: {event: message.posted, timeout: 3d}`` with optional ``on_timeout: [...]``
  — pause until the member's next event of that type, or run ``on_timeout`` (then go on
  with the next step unless it exits) when the timeout passes first;
- ``if: <condition>`` with ``then: [...]`` and/or ``else: [...]`` — nested steps;
- ``exit: {}`` (or ``exit: {reason: ...}``) — end the flow as exited.

Nested lists (``then``, ``else``, ``on_timeout``) hold steps of the same forms, waits
included.  :func:`parse_steps` checks every item and reports problems through the
loader's callbacks, with the item's path, so they read ``file:line:col: message``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import Field, ValidationError

from .._util.durations import Duration, parse_duration
from ..errors import Path
from ..i18n import N_, _
from .spec import EVENT_TYPE, Condition, Strict

#: Keys that make a mapping a step rather than an action.
STEP_KEYS = ("wait", "wait_for", "if", "exit")


class WaitForSpec(Strict):
    """A `wait_for` step: wait for an event, at most `timeout`."""

    event: str = Field(
        pattern=EVENT_TYPE, title=N_("Event type"), description=N_("The event type to wait for")
    )
    timeout: Duration = Field(
        title=N_("Timeout"), description=N_("How long to wait before `on_timeout` runs")
    )


class ExitSpec(Strict):
    """An `exit` step: end the flow."""

    reason: str | None = Field(
        default=None,
        title=N_("Reason"),
        description=N_("Why the flow ends, recorded in flow.exited"),
    )


@dataclass
class WaitStep:
    """A loaded `wait` step."""

    seconds: float
    path: Path


@dataclass
class WaitForStep:
    """A loaded `wait_for` step."""

    event: str
    seconds: float
    on_timeout: list[Any]
    path: Path


@dataclass
class IfStep:
    """A loaded `if` step."""

    condition: Condition
    then: list[Any]
    else_: list[Any]
    path: Path


@dataclass
class ExitStep:
    """A loaded `exit` step."""

    reason: str
    path: Path


@dataclass
class StepProblems:
    """Where parsing steps sends what it finds (the loader's callbacks, not an exception):
    report a problem at a path, report a validation error, validate one action."""

    add: Callable[..., None]
    action: Callable[[Any, Path], Any]
    validation: Callable[[ValidationError, Any, type[Strict], Path], None]


def parse_steps(items: Any, path: Path, cb: StepProblems) -> list[Any]:
    """The steps of ``items`` (a list at ``path``); problems go to ``cb``."""
    if not isinstance(items, list):
        cb.add(path, _("expected a list of steps, got {type}").format(type=type(items).__name__))
        return []
    out = []
    for i, item in enumerate(items):
        step = _step(item, (*path, i), cb)
        if step is not None:
            out.append(step)
    return out


def _step(item: Any, path: Path, cb: StepProblems) -> Any:
    if not isinstance(item, dict) or not any(k in item for k in STEP_KEYS):
        return cb.action(item, path)
    if "wait" in item:
        if not _only(item, path, cb, ("wait",)):
            return None
        return _wait(item["wait"], path, cb)
    if "wait_for" in item:
        if not _only(item, path, cb, ("wait_for", "on_timeout")):
            return None
        raw = item["wait_for"]
        try:
            spec = WaitForSpec.model_validate(
                raw if isinstance(raw, dict) else {"event": raw},
                strict=True,
                by_alias=True,
                by_name=False,
            )
        except ValidationError as exc:
            cb.validation(exc, raw, WaitForSpec, (*path, "wait_for"))
            return None
        timeout_steps = parse_steps(item.get("on_timeout", []), (*path, "on_timeout"), cb)
        return WaitForStep(spec.event, spec.timeout.total_seconds(), timeout_steps, path)
    if "if" in item:
        if not _only(item, path, cb, ("if", "then", "else")):
            return None
        if "then" not in item and "else" not in item:
            cb.add(
                (*path, "if"), _("an `if:` step needs `then:` and/or `else:` steps"), at_key=True
            )
            return None
        cond = item["if"]
        if not isinstance(cond, str | list | dict):
            cb.add(
                (*path, "if"),
                _(
                    "expected a condition (an expression, a list of them, "
                    "or all/any/not), got {type}"
                ).format(type=type(cond).__name__),
            )
            return None
        then = parse_steps(item.get("then", []), (*path, "then"), cb)
        else_ = parse_steps(item.get("else", []), (*path, "else"), cb)
        return IfStep(cond, then, else_, path)
    if not _only(item, path, cb, ("exit",)):
        return None
    raw = item["exit"]
    try:
        spec_exit = ExitSpec.model_validate(
            {} if raw is None else raw, strict=True, by_alias=True, by_name=False
        )
    except ValidationError as exc:
        cb.validation(exc, raw, ExitSpec, (*path, "exit"))
        return None
    return ExitStep(spec_exit.reason or "exit", path)


def _only(item: dict[str, Any], path: Path, cb: StepProblems, allowed: tuple[str, ...]) -> bool:
    extra = [k for k in item if k not in allowed]
    if extra:
        cb.add(
            (*path, extra[0]),
            _("unexpected key {key!r} in a `{step}:` step (it takes {keys})").format(
                key=extra[0], step=allowed[0], keys=", ".join(f"`{a}`" for a in allowed)
            ),
            at_key=True,
        )
        return False
    return True


def _wait(raw: Any, path: Path, cb: StepProblems) -> WaitStep | None:
    try:
        seconds = parse_duration(raw).total_seconds()
    except ValueError as err:
        cb.add((*path, "wait"), str(err))
        return None
    if seconds <= 0:
        cb.add((*path, "wait"), _("`wait:` needs a duration longer than zero"))
        return None
    return WaitStep(seconds, path)
