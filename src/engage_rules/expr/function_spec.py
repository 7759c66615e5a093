"""How a function of the expression language is described (see :mod:`.functions`).

:class:`FunctionSpec` names a function, its parameters and its load-time checker;
:class:`CallSite` and :class:`ArgInfo` are what a checker sees of a call being compiled,
:class:`CallEnv` what it sees of the playbook's expression environment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .._util.suggest import did_you_mean
from ..i18n import _, ngettext
from .uses import Uses

__all__ = ["ArgInfo", "CallEnv", "CallSite", "Checker", "FunctionSpec"]


class CallEnv(Protocol):
    """What a checker may consult of the playbook's expression environment
    (:class:`engage_rules.expr.env.ExprEnv` provides it)."""

    @property
    def classifiers(self) -> Mapping[str, Callable[[str, str], float]]:
        """Content classifiers ``score()`` may name."""
        ...

    @property
    def segment_names(self) -> frozenset[str]:
        """The names ``segment()`` may be called with."""
        ...

    @property
    def experiment_names(self) -> frozenset[str]:
        """The names ``variant()`` may be called with."""
        ...


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
    #: The playbook's expression environment (classifiers, segment names...).
    env: CallEnv | None = None

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
                ngettext(
                    "{name}() takes at most {n} argument ({given} given)",
                    "{name}() takes at most {n} arguments ({given} given)",
                    len(params),
                ).format(name=self.name, n=len(params), given=len(site.args))
            )
        for key in site.kwargs:
            if key not in params:
                extra = did_you_mean(key, params, code=True)
                raise ValueError(
                    _("{name}() has no parameter `{key}`{extra}").format(
                        name=self.name, key=key, extra=extra
                    )
                )
            if params.index(key) < len(site.args):
                raise ValueError(_("{name}() got `{key}` twice").format(name=self.name, key=key))
        for i, name in enumerate(params[: self.required]):
            if i >= len(site.args) and name not in site.kwargs:
                raise ValueError(
                    _("{name}() needs the argument `{param}`").format(name=self.name, param=name)
                )
