"""How a function of the expression language is described (see :mod:`.functions`).

:class:`FunctionSpec` names a function, its parameters and its load-time checker;
:class:`CallSite` and :class:`ArgInfo` are what a checker sees of a call being compiled.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from difflib import get_close_matches
from typing import Any

from jinja2 import Undefined

from .expr_runtime import Uses, to_str

__all__ = ["ArgInfo", "CallSite", "Checker", "FunctionSpec", "text_arg"]


@dataclass(frozen=True)
class ArgInfo:
    """One argument of a call, as the compiler knows it at load time."""

    #: True when the value is known at load time (a literal, or a ``vars`` entry).
    static: bool
    #: The value, when ``static``.
    value: Any = None
    #: True when written as a literal in the expression (not taken from ``vars``).
    literal: bool = False


@dataclass
class CallSite:
    """A call being compiled, handed to a function's checker."""

    name: str
    args: list[ArgInfo]
    kwargs: dict[str, ArgInfo]
    uses: Uses
    vars: Mapping[str, Any] = field(default_factory=dict)

    def arg(self, index: int, name: str) -> tuple[int | str, ArgInfo] | None:
        """The argument for parameter ``name`` (position ``index``) and its key, if given."""
        if index < len(self.args):
            return index, self.args[index]
        if name in self.kwargs:
            return name, self.kwargs[name]
        return None


Checker = Callable[[CallSite], Mapping[int | str, Any] | None]


@dataclass(frozen=True)
class FunctionSpec:
    """A function of the expression language."""

    name: str
    #: ``fn(c, *args, **kwargs)``; ``c`` is the EvalContext (None when ``pure``).
    fn: Callable[..., Any]
    #: Parameter names in order, checked at load time; None accepts anything.
    params: tuple[str, ...] | None = None
    #: How many of ``params`` are required.
    required: int = 0
    #: Load-time checker (see the module docs).
    check: Checker | None = None
    #: The function sets ``c.match`` when it finds something (a detector).
    sets_match: bool = False
    #: The result depends only on the arguments: calls with literal arguments are
    #: evaluated once, at load time.
    pure: bool = False
    doc: str = ""

    def bind(self, site: CallSite) -> None:
        """Check the number and names of the arguments; raise ValueError if wrong."""
        params = self.params
        if params is None:
            return
        if len(site.args) > len(params):
            raise ValueError(
                f"{self.name}() takes at most {len(params)} argument"
                f"{'' if len(params) == 1 else 's'} ({len(site.args)} given)"
            )
        for key in site.kwargs:
            if key not in params:
                hint = get_close_matches(key, params, n=1)
                extra = f"; did you mean `{hint[0]}`?" if hint else ""
                raise ValueError(f"{self.name}() has no parameter `{key}`{extra}")
            if params.index(key) < len(site.args):
                raise ValueError(f"{self.name}() got `{key}` twice")
        for i, name in enumerate(params[: self.required]):
            if i >= len(site.args) and name not in site.kwargs:
                raise ValueError(f"{self.name}() needs the argument `{name}`")


def text_arg(value: Any) -> str:
    """A text argument as a string (undefined and None as "")."""
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, Undefined):
        return ""
    return to_str(value)
