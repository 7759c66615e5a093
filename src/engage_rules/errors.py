"""The exception hierarchy.  Errors are data: each problem knows where it comes from."""

from __future__ import annotations

from dataclasses import dataclass


class EngageRulesError(Exception):
    """Base class of every error engage_rules raises on purpose."""


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


Path = tuple[str | int, ...]


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
