"""The exception hierarchy.  Errors are data: each problem knows where it comes from.

Every error engage_rules raises on purpose is an :class:`EngageRulesError`, so
``except EngageRulesError`` catches them all, and nothing else (a bug stays a bug).  A
playbook problem reads ``file:line:col: message`` (:class:`Problem`).  The public errors
are defined here (this module imports nothing from the package) and re-exported by the
module that raises them, so ``engage_rules.adapters.PayloadError`` and
``engage_rules.errors.PayloadError`` are the same class.  Three also keep a built-in base,
because callers catch them as such: :class:`EventError` is a ValueError (a malformed event
line), :class:`NotRegularFile` and :class:`FileTooLarge` are OSErrors (reading a file).
Private control-flow exceptions (``_Abort``, ``_Reject``) never leave their module.

The whole hierarchy (what each error means; who raises it)::

    EngageRulesError
    ├── PlaybookError         a playbook failed to load: all its problems (lang.loader, compile)
    ├── ExprCompileError      an invalid expression or template, at load time (expr)
    │   └── TemplateCompileError  one or more invalid templates (expr.templates)
    ├── CompileErrors         several compile errors, each at a relative path (expr)
    │   └── ConditionErrors   every problem of one condition (expr.expressions)
    ├── ExpressionError       an expression or template failed at run time (expr)
    │   └── ResourceLimitError  it exceeded a run-time bound: size, range, time (expr)
    ├── ActionError           an action that cannot be carried out (features, engine.scope)
    ├── ActionRefused         not a failure: the action cannot apply, `else:` runs (points, shadow)
    ├── InternalLoopError     internal events caused each other too deep (engine.core, flows)
    ├── EventError            a malformed event; also a ValueError (model.events)
    ├── StoreError            a store cannot be opened, read or written (store, cli)
    │   └── FencedError       a worker's partition was fenced by another worker (store.postgres)
    ├── PluginError           a plugin cannot load, or registers something invalid (plugins)
    ├── ReviewError           a review command cannot be carried out (features.moderation)
    ├── AdapterError          base of the errors of platform adapters (adapters, plugins)
    │   ├── PayloadError      an inbound payload that cannot become events (Adapter.parse)
    │   └── DeliveryError     an action that could not be delivered (Adapter.deliver)
    ├── ConfigError           a runtime config that cannot be used (runtime.config)
    ├── SetupError            the runtime cannot start (runtime.service)
    ├── ServiceStopping       the runtime is shutting down: no more events (runtime.intake)
    ├── IntakeFull            the queue is full and the source would not wait (runtime.intake)
    ├── NotProduced           the Kafka brokers did not acknowledge an event (runtime.kafka_ingest)
    ├── ReportDataError       the store lacks what a report asks for (tools.report.data)
    ├── PeriodError           a report period that cannot be used (tools.report.build)
    ├── UsageError            a command-line option value that cannot be used (cli.report)
    ├── NotRegularFile        a FIFO, device, socket or folder; also an OSError (lang.yaml_source)
    └── FileTooLarge          a file over the size limit; also an OSError (lang.yaml_source)

Records are not exceptions: a rule that failed for one event is stored as a
:class:`~engage_rules.model.decision.RuleFailure`, and the stream goes on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: A path into the merged playbook data, e.g. ``("rules", 3, "if")``.
Path = tuple[str | int, ...]


class EngageRulesError(Exception):
    """Base class of every error engage_rules raises on purpose (the tree above)."""


@dataclass(frozen=True, order=True)
class Problem:
    """One problem in a playbook, reported as ``file:line:col: message``.

    ``line`` and ``col`` are 1-based; 0 means "unknown".
    """

    file: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.message}"


class PlaybookError(EngageRulesError):
    """A playbook failed to load.  ``problems`` holds every problem found, in file order."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class ExpressionError(EngageRulesError):
    """An expression or template failed while being evaluated (a run-time error)."""


class ResourceLimitError(ExpressionError):
    """An expression or template exceeded a run-time bound (size, range, time)."""


class ActionError(EngageRulesError):
    """An action could not be carried out (bad parameters resolved at run time)."""


class InternalLoopError(EngageRulesError):
    """Internal events kept causing each other beyond the depth limit."""


class StoreError(EngageRulesError):
    """A store could not be opened or written."""


class SourceMap:
    """Where each node of a loaded playbook came from.

    Keys are paths into the merged playbook data, e.g. ``("rules", 3, "if")`` or
    ``("rules", 3, "do", 0, "award", "points")``; values are ``(file, line, col)``,
    1-based.  A path that was not recorded resolves to its nearest recorded ancestor.
    """

    def __init__(self) -> None:
        self.positions: dict[Path, tuple[str, int, int]] = {}
        self.default_file = "<playbook>"

    def set(self, path: Path, file: str, line: int, col: int) -> None:
        self.positions[path] = (file, line, col)

    def pos(self, path: Path) -> tuple[str, int, int]:
        p = tuple(path)
        while True:
            hit = self.positions.get(p)
            if hit is not None:
                return hit
            if not p:
                return (self.default_file, 0, 0)
            p = p[:-1]


class Problems:
    """Collects problems while loading and compiling, so all are reported at once."""

    def __init__(self, source: SourceMap | None = None) -> None:
        self.source = source or SourceMap()
        self.items: list[Problem] = []

    def add(
        self, path: Path, message: str, *, line_offset: int = 0, col: int | None = None
    ) -> None:
        file, line, c = self.source.pos(path)
        self.items.append(Problem(file, line + line_offset, c if col is None else col, message))

    def add_at(self, file: str, line: int, col: int, message: str) -> None:
        self.items.append(Problem(file, line, col, message))

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise PlaybookError(self.items)


class ActionRefused(EngageRulesError):
    """An action that could not take effect, so its rule's `else:` runs instead (a
    `spend` the member cannot afford).  Not a failure: nothing is recorded as an error.
    ``reason`` says why, for the operator; ``code`` is the reason as a rule's
    ``refused:`` branch reads it (``refusal.reason``: ``insufficient_balance``,
    ``out_of_stock``, ``limit_reached``...), with ``details`` (``refusal.<key>``)."""

    def __init__(
        self, reason: str = "", code: str = "refused", details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(reason or "the action was refused")
        self.reason = reason
        self.code = code
        self.details = dict(details or {})

    def refusal(self, action: str) -> dict[str, Any]:
        """What ``refusal`` holds in a rule's ``refused:`` branch."""
        return {
            **self.details,
            "reason": self.code,
            "message": self.reason or "the action was refused",
            "action": action,
        }


# -- compiling expressions and templates (engage_rules.expr) --------------------------------


class ExprCompileError(EngageRulesError):
    """An expression or template is invalid (found at load time).

    ``col`` is the 1-based column within the expression text and ``line`` the 1-based
    line within a template, when known.
    """

    def __init__(self, message: str, *, col: int | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.col = col
        self.line = line

    def __str__(self) -> str:
        return self.message


class TemplateCompileError(ExprCompileError):
    """One or more invalid templates.  ``errors`` lists ``(name, message)`` pairs (the
    name is the template's, or a parameter path, or None)."""

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        errors: list[tuple[str | None, str]] | None = None,
    ) -> None:
        super().__init__(message, line=line)
        self.errors: list[tuple[str | None, str]] = (
            errors if errors is not None else [(None, message)]
        )


class CompileErrors(EngageRulesError):
    """Several compile errors, each at a path relative to the compiled value."""

    def __init__(self, details: list[tuple[Path, ExprCompileError]]) -> None:
        self.details = details
        #: ``(relative path, message)`` pairs, in the order found.
        self.errors: list[tuple[Path, str]] = [(p, e.message) for p, e in details]
        super().__init__(
            "; ".join((f"{'.'.join(map(str, p))}: " if p else "") + e.message for p, e in details)
        )


class ConditionErrors(CompileErrors):
    """Every problem found in one condition; ``errors`` is a list of
    ``(relative path, message)`` and ``details`` of ``(relative path, ExprCompileError)``."""


# -- events and platform adapters (docs/reference.md §9) ------------------------------------


class EventError(EngageRulesError, ValueError):
    """A malformed event.  ``reason`` is one of
    :data:`engage_rules.model.events.REASONS`.  Also a ValueError: parsing an event is
    parsing a value."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class AdapterError(EngageRulesError):
    """Base class of adapter errors."""


class PayloadError(AdapterError):
    """An inbound platform payload that cannot be turned into events.

    ``path`` names the offending field (``"message.from.id"``) when one can be named.
    """

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


class DeliveryError(AdapterError):
    """An action that could not be delivered.

    ``permanent``: retrying cannot help (400, 403, 404: a deleted message, a member who
    blocked the bot); the dispatcher records the failure and moves on.  Otherwise the
    dispatcher retries with exponential backoff and jitter, waiting at least
    ``retry_after`` seconds when the platform said so (429 ``Retry-After``).
    ``status`` is the HTTP status, when there was one.
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        status: int | None = None,
        route: str | None = None,
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after
        self.status = status
        self.route = route


# -- plugins, moderation review -----------------------------------------------------------


class PluginError(EngageRulesError):
    """A plugin that cannot be loaded, or that registers something invalid."""


class ReviewError(EngageRulesError):
    """A review command cannot be carried out (unknown item, item already resolved...)."""


# -- the live runtime (docs/running.md) -------------------------------------------------------


class ConfigError(EngageRulesError):
    """A runtime config that cannot be used; ``problems`` are ``file:line:col`` lines."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class SetupError(EngageRulesError):
    """The runtime cannot start: each problem is one line of the message."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class ServiceStopping(EngageRulesError):
    """The runtime is shutting down and takes no more events."""


class IntakeFull(EngageRulesError):
    """The queue is full and the source asked not to wait (``Intake.submit``)."""


# -- reports and the command line -----------------------------------------------------------


class ReportDataError(EngageRulesError):
    """The store cannot give what the report asks for (e.g. an unknown community)."""


class PeriodError(EngageRulesError):
    """The requested period is not usable (e.g. it ends before it starts)."""


class UsageError(EngageRulesError):
    """A command-line option whose value cannot be used (``--from`` that is not a date)."""


# -- reading files ------------------------------------------------------------------------


class NotRegularFile(EngageRulesError, OSError):
    """The path names a FIFO, a device, a socket or a folder, not a file."""


class FileTooLarge(EngageRulesError, OSError):
    """The file is larger than the limit."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"file is too large ({size} bytes; the limit is {limit} bytes)")
        self.size, self.limit = size, limit


class FencedError(StoreError):
    """A Kafka worker's commit was refused: another worker fenced the partitions it
    names (bumped their epoch) since this one did, so it no longer owns them.  Nothing
    of the commit was written."""

    def __init__(self, topic: str, partitions: list[int]) -> None:
        self.topic = topic
        self.partitions = sorted(partitions)
        names = ", ".join(f"{topic}[{p}]" for p in self.partitions)
        super().__init__(f"fenced: another worker owns {names} now; nothing was committed")


class NotProduced(EngageRulesError):
    """``engage-rules ingest``: the Kafka brokers did not acknowledge an event of a
    request, which is answered 503 (the sender retries)."""
