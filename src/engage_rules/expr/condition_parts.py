"""A rule's condition taken apart, so a trace can show the value of each part.

`explain` answers "why didn't this rule fire?" with the condition's value and the values
of what it compares: ``event.data.text | length >= 20`` was false because
``event.data.text | length`` was 12.  The parts are compiled once per rule, on the first
traced event that needs them (tracing is off by default, so a playbook that is never
traced never pays for them); the rule's own compiled condition still decides.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import singledispatch
from typing import Any

from jinja2 import nodes

from ..model.events import MAX_INT, MIN_INT
from .context import EvalContext
from .env import ExprEnv
from .expressions import compile_expression, compile_subexpression, parse_expression

#: Longest string and list shown as a value in a trace, and the deepest nesting.
MAX_SHOWN_TEXT = 200
MAX_SHOWN_ITEMS = 10
MAX_SHOWN_DEPTH = 8

_OPERATORS = {
    "eq": "==",
    "ne": "!=",
    "gt": ">",
    "gteq": ">=",
    "lt": "<",
    "lteq": "<=",
    "in": "in",
    "notin": "not in",
}
_BINARY = {
    "Add": "+",
    "Sub": "-",
    "Mul": "*",
    "Div": "/",
    "FloorDiv": "//",
    "Mod": "%",
    "Pow": "**",
}


@dataclass(slots=True)
class Part:
    """One part of a condition: an expression with its own parts, or a combinator."""

    text: str
    kind: str  # "expr", "all", "any" or "not"
    fn: Callable[[EvalContext], Any] | None = None
    parts: list[Part] = field(default_factory=list)

    def evaluate(self, c: EvalContext) -> dict[str, Any]:
        """This part's value for the event in scope, with its parts' values."""
        out: dict[str, Any] = {"text": self.text}
        if self.kind != "expr":
            out["kind"] = self.kind
        try:
            if self.fn is not None:
                value = self.fn(c)
                out["value"] = shown(value)
            parts = [p.evaluate(c) for p in self.parts]
            if self.kind in ("all", "any", "not"):
                truths = [bool(p.get("value")) for p in parts if "error" not in p]
                if len(truths) != len(parts):
                    out["error"] = "a part failed"
                elif self.kind == "all":
                    out["value"] = all(truths)
                elif self.kind == "any":
                    out["value"] = any(truths)
                else:
                    out["value"] = not truths[0]
        except Exception as err:
            out["error"] = str(err) or type(err).__name__
            return out
        if parts:
            out["parts"] = parts
        return out


def shown(value: Any, depth: int = 0) -> Any:
    """A value as a trace shows it: JSON data a store can keep, shortened (at most
    MAX_SHOWN_DEPTH levels); anything else, and numbers JSON cannot hold (integers beyond
    64 bits, NaN, infinities), as text."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if MIN_INT <= value <= MAX_INT:
            return int(value)
        bits = value.bit_length()
        return shown(str(value) if bits <= 10_000 else f"(an integer of {bits} bits)")
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return value if len(value) <= MAX_SHOWN_TEXT else value[: MAX_SHOWN_TEXT - 3] + "..."
    if isinstance(value, list | tuple | set | frozenset | dict) and depth >= MAX_SHOWN_DEPTH:
        return "..."
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else list(value)
        out = [shown(v, depth + 1) for v in items[:MAX_SHOWN_ITEMS]]
        if len(items) > MAX_SHOWN_ITEMS:
            out.append(f"... {len(items) - MAX_SHOWN_ITEMS} more")
        return out
    if isinstance(value, dict):
        keys = list(value)[:MAX_SHOWN_ITEMS]
        return {shown(str(k)): shown(value[k], depth + 1) for k in keys}
    return shown(str(value))


def condition_parts(cond: Any, vars: Mapping[str, Any], env: ExprEnv) -> Part:
    """Take a rule's `if:` (as written) apart."""
    if isinstance(cond, bool):

        def constant(c: EvalContext, value: bool = cond) -> bool:
            return value

        return Part("true" if cond else "false", "expr", constant)
    if isinstance(cond, str):
        return _expression(cond, vars, env)
    if isinstance(cond, list):
        return Part("all of", "all", parts=[condition_parts(x, vars, env) for x in cond])
    key, value = next(iter(cond.items()))
    if key == "not":
        return Part("not", "not", parts=[condition_parts(value, vars, env)])
    return Part(f"{key} of", key, parts=[condition_parts(x, vars, env) for x in value])


def _expression(text: str, vars: Mapping[str, Any], env: ExprEnv) -> Part:
    top = parse_expression(text)
    part = Part(text, "expr", compile_expression(text, vars=vars, env=env).fn)
    part.parts = [_node_part(n, text, vars, env, 1) for n in _operands(top)]
    return part


#: How deep into an expression a trace shows values.
MAX_PART_DEPTH = 3


def _node_part(
    node: nodes.Expr, text: str, vars: Mapping[str, Any], env: ExprEnv, depth: int
) -> Part:
    part = Part(render(node), "expr", compile_subexpression(node, text, vars=vars, env=env))
    if depth < MAX_PART_DEPTH:
        part.parts = [_node_part(n, text, vars, env, depth + 1) for n in _operands(node)]
    return part


def _operands(node: nodes.Expr) -> list[nodes.Expr]:
    """The parts of an expression worth showing the values of (never constants)."""
    if isinstance(node, nodes.And | nodes.Or):
        out: list[nodes.Expr] = []
        for side in (node.left, node.right):
            # a and b and c: one flat list of three parts
            out.extend(_operands(side) if type(side) is type(node) else [side])
        return out
    found: list[nodes.Expr]
    if isinstance(node, nodes.Not):
        found = [node.node]
    elif isinstance(node, nodes.Compare):
        found = [node.expr, *(op.expr for op in node.ops)]
    elif isinstance(node, nodes.Test):
        found = [node.node]
    elif isinstance(node, nodes.Filter):
        found = [*([node.node] if node.node is not None else []), *node.args]
    elif isinstance(node, nodes.Call):
        found = list(node.args)
    else:
        found = []
    return [n for n in found if n is not None and not _obvious(n)]


def _obvious(node: nodes.Expr) -> bool:
    """Parts whose value a trace need not repeat: constants, `vars.*` (written in the
    playbook) and `event.data.*` (the trace holds the event's data once)."""
    if isinstance(node, nodes.Const):
        return True
    if isinstance(node, nodes.List | nodes.Tuple):
        return all(_obvious(n) for n in node.items)
    root = node
    depth = 0
    while isinstance(root, nodes.Getattr | nodes.Getitem):
        if isinstance(root, nodes.Getitem) and not isinstance(root.arg, nodes.Const):
            return False
        root = root.node
        depth += 1
    if not isinstance(root, nodes.Name):
        return False
    if root.name == "vars":
        return True
    return root.name == "event" and depth >= 2 and _path(node)[:1] == ["data"]


def _path(node: nodes.Expr) -> list[str]:
    out: list[str] = []
    while isinstance(node, nodes.Getattr | nodes.Getitem):
        out.append(node.attr if isinstance(node, nodes.Getattr) else str(node.arg))
        node = node.node
    return out[::-1]


@singledispatch
def render(node: nodes.Node) -> str:
    """An expression tree written back as (normalised) expression text."""
    return type(node).__name__


# One renderer per node type, chosen like `isinstance` would: `and` / `or` before the
# other binary operators.


@render.register(nodes.Const)
def _render_const(node: nodes.Const) -> str:
    v = node.value
    return "true" if v is True else "false" if v is False else "none" if v is None else repr(v)


@render.register(nodes.Name)
def _render_name(node: nodes.Name) -> str:
    return node.name


@render.register(nodes.Getattr)
def _render_getattr(node: nodes.Getattr) -> str:
    return f"{render(node.node)}.{node.attr}"


@render.register(nodes.Getitem)
def _render_getitem(node: nodes.Getitem) -> str:
    return f"{render(node.node)}[{render(node.arg)}]"


@render.register(nodes.Filter)
def _render_filter(node: nodes.Filter) -> str:
    args = _args(node)
    base = render(node.node) if node.node is not None else ""
    return f"{base} | {node.name}" + (f"({args})" if args else "")


@render.register(nodes.Test)
def _render_test(node: nodes.Test) -> str:
    args = _args(node)
    return f"{render(node.node)} is {node.name}" + (f"({args})" if args else "")


@render.register(nodes.Call)
def _render_call(node: nodes.Call) -> str:
    return f"{render(node.node)}({_args(node)})"


@render.register(nodes.Compare)
def _render_compare(node: nodes.Compare) -> str:
    ops = " ".join(f"{_OPERATORS.get(op.op, op.op)} {render(op.expr)}" for op in node.ops)
    return f"{render(node.expr)} {ops}"


@render.register(nodes.And)
@render.register(nodes.Or)
def _render_and_or(node: nodes.And | nodes.Or) -> str:
    word = "and" if isinstance(node, nodes.And) else "or"
    return f"({render(node.left)} {word} {render(node.right)})"


@render.register(nodes.Not)
def _render_not(node: nodes.Not) -> str:
    inner = node.node
    if isinstance(inner, nodes.Test):  # `x is not none` parses as not (x is none)
        args = _args(inner)
        return f"{render(inner.node)} is not {inner.name}" + (f"({args})" if args else "")
    return f"not {render(node.node)}"


@render.register(nodes.Neg)
def _render_neg(node: nodes.Neg) -> str:
    return f"-{render(node.node)}"


@render.register(nodes.Pos)
def _render_pos(node: nodes.Pos) -> str:
    return f"+{render(node.node)}"


@render.register(nodes.BinExpr)
def _render_binary(node: nodes.BinExpr) -> str:
    return f"({render(node.left)} {_BINARY.get(type(node).__name__, '?')} {render(node.right)})"


@render.register(nodes.Concat)
def _render_concat(node: nodes.Concat) -> str:
    return " ~ ".join(render(n) for n in node.nodes)


@render.register(nodes.CondExpr)
def _render_cond_expr(node: nodes.CondExpr) -> str:
    other = f" else {render(node.expr2)}" if node.expr2 is not None else ""
    return f"{render(node.expr1)} if {render(node.test)}{other}"


@render.register(nodes.List)
@render.register(nodes.Tuple)
def _render_sequence(node: nodes.List | nodes.Tuple) -> str:
    items = ", ".join(render(n) for n in node.items)
    return f"[{items}]" if isinstance(node, nodes.List) else f"({items})"


@render.register(nodes.Dict)
def _render_dict(node: nodes.Dict) -> str:
    return "{" + ", ".join(f"{render(p.key)}: {render(p.value)}" for p in node.items) + "}"


def _args(node: nodes.Filter | nodes.Test | nodes.Call) -> str:
    parts = [render(a) for a in node.args]
    parts += [f"{k.key}={render(k.value)}" for k in node.kwargs]
    return ", ".join(parts)
