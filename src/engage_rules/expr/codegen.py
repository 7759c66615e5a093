"""Translate a Jinja2 expression AST into Python source (used by :mod:`.expressions`).

The translator walks the tree that Jinja2's own parser builds and emits a Python
expression over one variable, ``c`` (the :class:`~engage_rules.expr.context.EvalContext`).
Only the constructs docs/language.md describes under "Expressions" are translated;
everything else is a compile error.  Operator-supplied text reaches the generated source
only as ``repr()`` literals or as values in the function's namespace, never as code, and
the only attribute accesses written into the source are on ``c`` and on the state
objects it holds, chosen here from the whitelisted field names.  Every other access goes through
:mod:`.expr_runtime`.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import CodeType
from typing import Any

from jinja2 import Undefined, nodes

from .._util.suggest import did_you_mean
from ..errors import ExprCompileError, ExpressionError
from ..i18n import N_, _
from . import runtime as rt
from .context import (
    COMMUNITY_FIELDS,
    EVENT_FIELDS,
    EVENT_MEMBER_FIELDS,
    ROOT_NAMES,
    EventView,
    MemberView,
)
from .env import ExprEnv
from .function_spec import ArgInfo, CallSite, FunctionSpec
from .group import COMMUNITY_METHODS
from .member_fields import FIELD_GLOBALS, MEMBER_FIELDS
from .posts import POST_FIELDS, post_field, post_view
from .uses import Uses

#: Deepest nesting of an expression.
MAX_DEPTH = 64

_COMPARE = {
    "eq": "==",
    "ne": "!=",
    "gt": ">",
    "gteq": ">=",
    "lt": "<",
    "lteq": "<=",
    "in": "in",
    "notin": "not in",
}
_BINARY = {"Sub": "-", "Div": "/", "FloorDiv": "//"}
_DICT_METHODS = ("get", "keys", "values", "items")
_BOUNDED = {"Add": "_add", "Mul": "_mul", "Pow": "_pow", "Mod": "_mod"}

#: Generated code reads the context through these locals, bound once per function (or
#: once per event in generated dispatch code, where conditions are inlined):
#: ``_ev`` the event, ``_d`` its data, ``_m`` the member state (or None), ``_now`` the
#: evaluation time and ``_cur`` the default currency.  See :data:`PROLOGUE`.  Member
#: fields are inlined from the one table of member_fields.py.
#: In dispatch code, `member.points` is read from this local, which the dispatch function
#: binds once and binds again after every rule whose actions ran (only actions change a
#: member's balances).
HOISTED_POINTS = "_mpts"
BIND_POINTS = f"{HOISTED_POINTS} = _m and {MEMBER_FIELDS['points']}"
#: The same for a playbook whose currencies are all whole and held by each member (no
#: decimals, none person-wide): what :data:`BIND_POINTS` computes there, without its tests.
BIND_PLAIN_POINTS = f"{HOISTED_POINTS} = _m and _m.balances.get(_cur, 0)"

#: Binds the locals generated code reads.
PROLOGUE = "_ev = c.event; _d = _ev.data; _m = c.m; _now = c.now; _cur = c.default_currency"


def compile_source(source: str, filename: str) -> CodeType:
    """Compile generated Python source.  Python's compile-time warnings about it (``'x'
    is None`` compared with a literal, ``1[0]`` not subscriptable) are not shown: they
    concern code the operator did not write, and would break `validate`'s one problem per
    line (the expression's behaviour is the same, and errors surface at run time)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        return compile(source, filename, "exec")


def _event_member(event: Any) -> Any:
    mem = event.member
    if mem is None:
        return None
    return {"id": mem.id, "name": mem.name, "roles": list(mem.roles), "created_at": mem.created_at}


def _event_member_field(event: Any, name: str) -> Any:
    mem = event.member
    if mem is None:
        return Undefined(hint=f"`event.member.{name}` is undefined: the event has no member")
    if name == "roles":
        return list(mem.roles)
    return getattr(mem, name)


#: Names every generated function can use (``__builtins__`` is empty).
BASE_NAMESPACE: dict[str, Any] = {
    **FIELD_GLOBALS,
    "len": len,
    "list": list,
    "isinstance": isinstance,
    "Exception": Exception,
    "_EE": ExpressionError,
    "_fail": rt.fail,
    "_U": Undefined,
    "_add": rt.op_add,
    "_mul": rt.op_mul,
    "_pow": rt.op_pow,
    "_mod": rt.op_mod,
    "_cat": rt.op_concat,
    "_ga": rt.get_attr,
    "_gi": rt.get_item,
    "_sl": rt.get_slice,
    "_cm": rt.call_method,
    "_MV": MemberView,
    "_EV": EventView,
    "_evm": _event_member,
    "_evmf": _event_member_field,
    "_post": post_view,
    "_postf": post_field,
    **{f"_f_{name}": fn for name, fn in rt.FILTERS.items()},
    **{f"_t_{name}": fn for name, fn in rt.TESTS.items()},
}


class Namespace:
    """The globals of generated functions: helpers plus constants baked at load time."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = dict(BASE_NAMESPACE)
        self._by_id: dict[int, str] = {}
        self._undefined: dict[str, str] = {}
        #: Locals holding ``event.data`` values in inlined code: key -> (local, undefined).
        self.data_vars: dict[str, tuple[str, str]] = {}

    def undefined_for(self, key: str) -> str:
        """The (shared) undefined value standing for a missing ``event.data.<key>``."""
        name = self._undefined.get(key)
        if name is None:
            name = self._undefined[key] = self.const(
                Undefined(hint=f"`event.data.{key}` is undefined"), "_u"
            )
        return name

    def data_var(self, key: str) -> str:
        """The local that holds ``event.data.<key>`` in generated dispatch code."""
        entry = self.data_vars.get(key)
        if entry is None:
            entry = self.data_vars[key] = (f"_dk{len(self.data_vars)}", self.undefined_for(key))
        return entry[0]

    def const(self, value: Any, prefix: str = "_k") -> str:
        name = self._by_id.get(id(value))
        if name is None:
            name = f"{prefix}{len(self.values)}"
            self.values[name] = value
            self._by_id[id(value)] = name
        return name


@dataclass(frozen=True)
class Code:
    """The translation of one node."""

    src: str
    #: Static knowledge of what the value is: "event", "member", "community", "vars",
    #: "post", "event.member", "data" (the event's data dict), or None.
    kind: str | None = None
    #: The value is known at load time (literals, ``vars`` entries).
    static: bool = False
    value: Any = None
    #: The value is written literally in the expression.
    literal: bool = False


def suggest(name: str, options: Iterable[Any]) -> str:
    """The "did you mean" of a name written in an expression (:func:`did_you_mean`)."""
    return did_you_mean(name, options, code=True)


class Translator:
    """Translates the expression tree of one expression."""

    def __init__(
        self,
        source: str,
        *,
        vars: Mapping[str, Any],
        allow_match: bool,
        env: ExprEnv,
        namespace: Namespace,
        uses: Uses,
        hoist_data: bool = False,
    ) -> None:
        #: Read ``event.data.<key>`` from locals bound once per event (see Namespace.data_var)
        #: instead of looking it up at each use: for code inlined into dispatch functions.
        self.hoist_data = hoist_data
        self.source = source
        self.vars = vars
        self.allow_match = allow_match
        self.env = env
        self.functions: Mapping[str, FunctionSpec] = env.functions
        self.ns = namespace
        self.uses = uses
        self.depth = 0

    # -- errors ----------------------------------------------------------------------------
    def error(
        self, message: str, *, near: str | None = None, attr: bool = False
    ) -> ExprCompileError:
        col = None
        if near is not None:
            pattern = (r"[.\[]\s*['\"]?" if attr else r"(?<![\w.])") + re.escape(near) + r"\b"
            m = re.search(pattern, self.source)
            if m is not None:
                col = m.start() + 1 + (1 if attr else 0)
        return ExprCompileError(message, col=col)

    # -- dispatch --------------------------------------------------------------------------
    def visit(self, node: nodes.Node) -> Code:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise self.error(_("the expression is nested too deeply"))
            method: Callable[[Any], Code] | None = getattr(self, f"v_{type(node).__name__}", None)
            if method is None:
                raise self.error(
                    _("{describe} is not supported in expressions").format(describe=_describe(node))
                )
            return method(node)
        finally:
            self.depth -= 1

    def const(self, value: Any) -> Code:
        if value is None or isinstance(value, bool | str):
            return Code(repr(value), static=True, value=value)
        if isinstance(value, int):
            if value.bit_length() > rt.MAX_INT_BITS:
                raise self.error(_("the number {value} is too large").format(value=value))
            return Code(repr(value), static=True, value=value)
        if isinstance(value, float) and math.isfinite(value):
            return Code(repr(value), static=True, value=value)
        return Code(self.ns.const(value), static=True, value=value)

    # -- literals --------------------------------------------------------------------------
    def v_Const(self, node: nodes.Const) -> Code:
        code = self.const(node.value)
        return Code(code.src, static=True, value=code.value, literal=True)

    def v_List(self, node: nodes.List) -> Code:
        items = [self.visit(n) for n in node.items]
        static = all(i.static for i in items)
        return Code(
            "[" + ", ".join(i.src for i in items) + "]",
            static=static,
            value=[i.value for i in items] if static else None,
            literal=all(i.literal for i in items),
        )

    def v_Tuple(self, node: nodes.Tuple) -> Code:
        items = [self.visit(n) for n in node.items]
        static = all(i.static for i in items)
        return Code(
            "(" + "".join(i.src + ", " for i in items) + ")",
            static=static,
            value=tuple(i.value for i in items) if static else None,
            literal=all(i.literal for i in items),
        )

    def v_Dict(self, node: nodes.Dict) -> Code:
        pairs = [(self.visit(p.key), self.visit(p.value)) for p in node.items]
        src = "{" + ", ".join(f"{k.src}: {v.src}" for k, v in pairs) + "}"
        if all(k.static and isinstance(k.value, str) and v.static for k, v in pairs):
            return Code(src, static=True, value={k.value: v.value for k, v in pairs})
        return Code(src)

    # -- names and attributes --------------------------------------------------------------
    def v_Name(self, node: nodes.Name) -> Code:
        name = node.name
        if name == "event":
            return Code("_EV(_ev)", kind="event")
        if name == "member":
            return Code("_MV(c)", kind="member")
        if name == "community":
            return Code("c.community", kind="community")
        if name == "vars":
            return Code("c.vars", kind="vars")
        if name == "post":
            self.uses.posts = True
            return Code("_post(c)", kind="post")
        if name == "now":
            return Code("_now")
        if name == "match":
            if not self.allow_match:
                raise self.error(
                    _(
                        "`match` is only available in a rule's actions (it holds what the "
                        "detector functions in the rule's `if` found)"
                    ),
                    near=name,
                )
            self.uses.uses_match = True
            return Code("c.match")
        if name == "refusal":
            if not self.allow_match:
                raise self.error(
                    _(
                        "`refusal` is only available in a rule's actions (it holds why an action "
                        "was refused, in the rule's `refused:` branch)"
                    ),
                    near=name,
                )
            return Code("c.refusal")
        if name in self.functions:
            raise self.error(
                _("`{name}` is a function: call it, e.g. {name}(...)").format(name=name), near=name
            )
        names = [
            n
            for n in (*ROOT_NAMES, *self.functions)
            if n not in ("match", "refusal") or self.allow_match
        ]
        raise self.error(
            _("unknown name `{name}`{hint}").format(name=name, hint=suggest(name, names)), near=name
        )

    def field(self, base: Code, name: str) -> Code:
        """``base.name`` where ``base`` may be statically known."""
        kind = base.kind
        if kind == "data":
            if self.hoist_data:
                return Code(self.ns.data_var(name))
            return Code(f"_d.get({name!r}, {self.ns.undefined_for(name)})")
        if kind == "event":
            self.check_field(name, EVENT_FIELDS, "event")
            if name == "data":
                return Code("_d", kind="data")
            if name == "member":
                return Code("_evm(_ev)", kind="event.member")
            return Code(f"_ev.{name}")
        if kind == "event.member":
            self.check_field(name, EVENT_MEMBER_FIELDS, "event.member")
            return Code(f"_evmf(_ev, {name!r})")
        if kind == "member":
            self.check_field(name, tuple(MEMBER_FIELDS), "member")
            if name == "points" and self.hoist_data:
                return Code(HOISTED_POINTS)
            return Code(f"(_m and {MEMBER_FIELDS[name]})")
        if kind == "community":
            self.check_field(name, COMMUNITY_FIELDS, "community")
            return Code(f"c.community.get({name!r})")
        if kind == "post":
            self.check_field(name, POST_FIELDS, "post")
            return Code(f"_postf(c, {name!r})")
        if kind == "vars":
            if name not in self.vars:
                raise self.error(
                    _("`vars.{name}` is not defined in the playbook's vars{hint}").format(
                        name=name, hint=suggest(name, self.vars)
                    ),
                    near=name,
                    attr=True,
                )
            return self.static_value(self.vars[name])
        if base.static and isinstance(base.value, dict):
            if name not in base.value:
                raise self.error(
                    _("the mapping has no key `{name}`{hint}").format(
                        name=name, hint=suggest(name, base.value)
                    ),
                    near=name,
                    attr=True,
                )
            return self.static_value(base.value[name])
        return Code(f"_ga({base.src}, {name!r})")

    def static_value(self, value: Any) -> Code:
        if value is None or isinstance(value, bool | int | float | str):
            return self.const(value)
        return Code(self.ns.const(value), static=True, value=value)

    def check_field(self, name: str, fields: tuple[str, ...], what: str) -> None:
        if name not in fields:
            raise self.error(
                _("`{what}` has no attribute `{name}`{hint}").format(
                    what=what, name=name, hint=suggest(name, fields)
                ),
                near=name,
                attr=True,
            )

    def v_Getattr(self, node: nodes.Getattr) -> Code:
        if node.attr.startswith("_"):
            raise self.error(
                _("attributes starting with `_` are not allowed (`{attr}`)").format(attr=node.attr),
                near=node.attr,
                attr=True,
            )
        return self.field(self.visit(node.node), node.attr)

    def v_Getitem(self, node: nodes.Getitem) -> Code:
        base = self.visit(node.node)
        if isinstance(node.arg, nodes.Slice):
            parts = [
                self.visit(p).src if p is not None else "None"
                for p in (node.arg.start, node.arg.stop, node.arg.step)
            ]
            return Code(f"_sl({base.src}, {', '.join(parts)})")
        key = self.visit(node.arg)
        if key.static and isinstance(key.value, str) and key.value.startswith("__"):
            raise self.error(
                _("`[{value!r}]` is not allowed").format(value=key.value), near=key.value
            )
        if (
            key.static
            and isinstance(key.value, str)
            and (base.kind is not None or (base.static and isinstance(base.value, dict)))
        ):
            return self.field(base, key.value)
        return Code(f"_gi({base.src}, {key.src})")

    # -- operators -------------------------------------------------------------------------
    def binary(self, node: nodes.BinExpr) -> Code:
        left, right = self.visit(node.left), self.visit(node.right)
        kind = type(node).__name__
        if kind in _BOUNDED:
            src = f"{_BOUNDED[kind]}({left.src}, {right.src})"
            known, value = check_bounded_op(
                kind, left.static, left.value, right.static, right.value, self.error
            )
            return Code(src, static=True, value=value) if known else Code(src)
        if kind in _BINARY:
            return Code(f"({left.src} {_BINARY[kind]} {right.src})")
        return Code(f"({left.src} {kind.lower()} {right.src})")  # And, Or

    v_Add = v_Sub = v_Mul = v_Div = v_FloorDiv = v_Mod = v_Pow = v_And = v_Or = binary

    def v_Not(self, node: nodes.Not) -> Code:
        return Code(f"(not {self.visit(node.node).src})")

    def v_Neg(self, node: nodes.Neg) -> Code:
        inner = self.visit(node.node)
        if inner.static and isinstance(inner.value, int | float):  # e.g. round(-2)
            return Code(f"(-{inner.src})", static=True, value=-inner.value, literal=inner.literal)
        return Code(f"(-{inner.src})")

    def v_Pos(self, node: nodes.Pos) -> Code:
        inner = self.visit(node.node)
        if inner.static and isinstance(inner.value, int | float):
            return Code(f"(+{inner.src})", static=True, value=+inner.value, literal=inner.literal)
        return Code(f"(+{inner.src})")

    def v_Concat(self, node: nodes.Concat) -> Code:
        parts = [self.visit(n) for n in node.nodes]
        src = "_cat(" + ", ".join(p.src for p in parts) + ")"
        if all(p.static for p in parts):  # known at load time: checked (and bounded) now
            try:
                return Code(src, static=True, value=rt.op_concat(*(p.value for p in parts)))
            except ExpressionError as err:
                raise self.error(_("`{symbol}`: {error}").format(symbol="~", error=err)) from None
        return Code(src)

    def v_Compare(self, node: nodes.Compare) -> Code:
        left = self.visit(node.expr)
        if len(node.ops) == 1 and node.ops[0].op in ("in", "notin"):
            right = self.visit(node.ops[0].expr)
            if right.src == f"(_m and {MEMBER_FIELDS['tags']})":
                # `'vip' in member.tags`: a set lookup, not a list built per evaluation;
                # with a literal name, MemberState.has_tag written out (no call).
                if left.static and isinstance(left.value, str):
                    name = repr(left.value)
                    test = (
                        f"(_m is not None and {name} in _m.tags and "
                        f"(_m.tags[{name}] is None or _m.tags[{name}] > _now))"
                    )
                else:
                    test = f"(_m is not None and _m.has_tag({left.src}, _now))"
                return Code(test if node.ops[0].op == "in" else f"(not {test})")
        parts = [left.src]
        for op in node.ops:
            parts.append(_COMPARE[op.op])
            parts.append(self.visit(op.expr).src)
        return Code("(" + " ".join(parts) + ")")

    def v_CondExpr(self, node: nodes.CondExpr) -> Code:
        test, yes = self.visit(node.test), self.visit(node.expr1)
        if node.expr2 is None:
            hint = "the condition of an `if` without `else` was false"
            no = self.ns.const(Undefined(hint=hint), "_u")
        else:
            no = self.visit(node.expr2).src
        return Code(f"({yes.src} if {test.src} else {no})")

    # -- filters and tests -----------------------------------------------------------------
    def arguments(
        self, node: nodes.Call | nodes.Filter | nodes.Test, what: str
    ) -> tuple[list[Code], dict[str, Code]]:
        if node.dyn_args is not None or node.dyn_kwargs is not None:
            raise self.error(
                _("`*args` and `**kwargs` are not supported in {what}").format(what=_(what))
            )
        kwargs = {str(k.key): self.visit(k.value) for k in node.kwargs}
        return [self.visit(a) for a in node.args], kwargs

    @staticmethod
    def call_src(fn: str, first: list[str], args: list[Code], kwargs: dict[str, Code]) -> str:
        parts = first + [a.src for a in args] + [f"{k}={v.src}" for k, v in kwargs.items()]
        return f"{fn}({', '.join(parts)})"

    def v_Filter(self, node: nodes.Filter) -> Code:
        name = node.name
        if name not in rt.FILTERS:
            raise self.error(
                _("unknown filter `{name}`{hint}").format(
                    name=name, hint=suggest(name, rt.FILTERS)
                ),
                near=name,
            )
        if node.node is None:
            raise self.error(_("filter blocks are not supported in expressions"))
        value = self.visit(node.node)
        args, kwargs = self.arguments(node, N_("filters"))
        try:
            rt.check_filter_call(
                name,
                [(a.static, a.value) for a in args],
                {k: (v.static, v.value) for k, v in kwargs.items()},
            )
        except ExpressionError as err:
            raise self.error(str(err), near=name) from None
        if name in ("length", "count") and not args and not kwargs:
            return Code(f"len({value.src})")
        return Code(self.call_src(f"_f_{name}", [value.src], args, kwargs))

    def v_Test(self, node: nodes.Test) -> Code:
        name = node.name
        if name not in rt.TESTS:
            raise self.error(
                _("unknown test `{name}`{hint}").format(name=name, hint=suggest(name, rt.TESTS)),
                near=name,
            )
        value = self.visit(node.node)
        args, kwargs = self.arguments(node, N_("tests"))
        if not args and not kwargs:
            if name == "defined":
                return Code(f"(not isinstance({value.src}, _U))")
            if name == "undefined":
                return Code(f"isinstance({value.src}, _U)")
            if name == "none":
                return Code(f"({value.src} is None)")
        return Code(self.call_src(f"_t_{name}", [value.src], args, kwargs))

    # -- calls -----------------------------------------------------------------------------
    def v_Call(self, node: nodes.Call) -> Code:
        target = node.node
        if isinstance(target, nodes.Name):
            spec = self.functions.get(target.name)
            if spec is None:
                if target.name in ROOT_NAMES:
                    raise self.error(
                        _("`{name}` is not a function").format(name=target.name), near=target.name
                    )
                raise self.error(
                    _("unknown function `{name}`{hint}").format(
                        name=target.name, hint=suggest(target.name, self.functions)
                    ),
                    near=target.name,
                )
            return self.function(spec, node)
        if isinstance(target, nodes.Getattr):
            return self.method(target, node)
        raise self.error(_("only functions and methods can be called"))

    def function(self, spec: FunctionSpec, node: nodes.Call) -> Code:
        args, kwargs = self.arguments(node, N_("function calls"))
        site = CallSite(
            spec.name,
            [ArgInfo(a.static, a.value, a.literal) for a in args],
            {k: ArgInfo(v.static, v.value, v.literal) for k, v in kwargs.items()},
            self.uses,
            self.vars,
            self.env,
        )
        try:
            spec.bind(site)
            replaced = dict(spec.check(site) or {}) if spec.check is not None else {}
        except ValueError as err:
            raise self.error(str(err), near=spec.name) from None
        if spec.sets_match:
            self.uses.sets_match = True
        if spec.pure and all(a.static for a in args) and all(v.static for v in kwargs.values()):
            try:
                value = spec.fn(
                    None, *(a.value for a in args), **{k: v.value for k, v in kwargs.items()}
                )
            except ExpressionError as err:
                raise self.error(
                    _("{name}(): {error}").format(name=spec.name, error=err), near=spec.name
                ) from None
            except Exception as err:  # a plugin's pure function failing: reported, not raised
                raise self.error(
                    f"{spec.name}(): {type(err).__name__}: {err}", near=spec.name
                ) from None
            return Code(self.ns.const(value), static=True, value=value)
        for key, value in replaced.items():
            code = Code(self.ns.const(value))
            if isinstance(key, int):
                args[key] = code
            else:
                kwargs[key] = code
        fn = self.ns.const(spec.fn, f"_fn_{spec.name.replace('.', '_')}_")
        return Code(self.call_src(fn, ["c"], args, kwargs))

    def method(self, target: nodes.Getattr, node: nodes.Call) -> Code:
        name = target.attr
        base_node = target.node
        if (
            isinstance(base_node, nodes.Name)
            and base_node.name == "community"
            and name in COMMUNITY_METHODS
        ):
            return self.function(COMMUNITY_METHODS[name], node)
        if name.startswith("_") or name not in rt.METHOD_NAMES:
            raise self.error(
                _("`.{name}()` is not an allowed method{hint}").format(
                    name=name, hint=suggest(name, rt.METHOD_NAMES)
                ),
                near=name,
                attr=True,
            )
        base = self.visit(target.node)
        if base.kind in ("event", "member", "event.member", "post"):
            raise self.error(
                _("`{kind}` has no method `{name}()`").format(kind=base.kind, name=name),
                near=name,
                attr=True,
            )
        args, kwargs = self.arguments(node, N_("method calls"))
        try:
            rt.check_method_call(name, [(a.static, a.value) for a in args])
        except ExpressionError as err:
            raise self.error(str(err), near=name, attr=True) from None
        if base.kind in ("data", "community", "vars") and name in _DICT_METHODS:
            return Code(self.call_src(f"{base.src}.{name}", [], args, kwargs))
        return Code(self.call_src("_cm", [base.src, repr(name)], args, kwargs))


_OPERATORS = {
    "Add": (rt.op_add, "+"),
    "Mul": (rt.op_mul, "*"),
    "Pow": (rt.op_pow, "**"),
    "Mod": (rt.op_mod, "%"),
}


def check_bounded_op(
    kind: str,
    left_static: bool,
    left: Any,
    right_static: bool,
    right: Any,
    error: Callable[[str], Exception],
) -> tuple[bool, Any]:
    """Load-time check of ``left <op> right`` (op one of ``+ * ** %``).

    With both sides known, the bounded operator is applied (it refuses, before
    allocating, results over the limits) and ``(True, result)`` returned, so that
    ``('x' * 10) * 10 ** 9`` is refused at load too; with only a ``%`` format known, the
    format is checked.  A refusal is raised as ``error(message)``; other failures (a
    type error...) are left to run time, and give ``(False, None)``.
    """
    fn, symbol = _OPERATORS[kind]
    try:
        if left_static and right_static:
            return True, fn(left, right)
        if kind == "Mod" and left_static and isinstance(left, str):
            rt.check_format(left)
    except ExpressionError as err:
        raise error(_("`{symbol}`: {error}").format(symbol=symbol, error=err)) from None
    except Exception:  # a type error and the like: reported at run time
        pass
    return False, None


def _describe(node: nodes.Node) -> str:
    names = {
        "NSRef": N_("namespace assignment"),
        "Slice": N_("a slice outside of `[...]`"),
        "Keyword": N_("a keyword argument here"),
        "TemplateData": N_("template text"),
    }
    name = names.get(type(node).__name__)
    return f"`{type(node).__name__}`" if name is None else _(name)
