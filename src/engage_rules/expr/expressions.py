"""Compile operator expressions (Jinja2 syntax) into Python functions, once, at load time.

Conditions run for every rule on every event, so they are not interpreted: Jinja2's own
parser reads the expression, :mod:`.expr_codegen` translates the tree into Python
source restricted to safe operations (resolving ``event.*``, ``member.*`` and ``vars.*``
statically), and that source is compiled once into ``fn(c: EvalContext) -> Any``.

Error contract:

* load time — :class:`ExprCompileError` (one expression) or :class:`ConditionErrors`
  (every problem of a composite condition, each with its path relative to the
  condition, e.g. ``(1,)`` or ``("any", 0)``);
* run time — the compiled ``fn`` raises only
  :class:`~engage_rules.errors.ExpressionError` (or its subclass
  :class:`~engage_rules.errors.ResourceLimitError`): any other exception raised while
  evaluating is wrapped inside the generated function, with the expression's text.

Two deliberate departures from plain Jinja2, both rejected at load time with a message
rather than silently evaluated one way: ``a ** b ** c`` (Jinja2 groups it as
``(a ** b) ** c``, Python as ``a ** (b ** c)``) and ``-a ** b`` (Jinja2: ``(-a) ** b``,
Python: ``-(a ** b)``) must be written with parentheses.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, nodes
from jinja2.exceptions import TemplateSyntaxError
from jinja2.lexer import describe_token
from jinja2.parser import Parser

from .._util.suggest import did_you_mean
from ..errors import ConditionErrors, ExprCompileError
from ..i18n import _
from .codegen import PROLOGUE, Code, Namespace, Translator, compile_source
from .context import EvalContext
from .env import ExprEnv
from .function_spec import FunctionSpec
from .runtime import RelPath
from .syntax_words import jinja_words
from .uses import Uses

__all__ = [
    "CompiledExpr",
    "ConditionErrors",
    "ExprCompileError",
    "FunctionSpec",
    "Uses",
    "compile_condition",
    "compile_expression",
    "parse_expression",
]

#: Longest expression accepted (characters).
MAX_EXPRESSION_LENGTH = 10_000


@dataclass
class CompiledExpr:
    """An expression or condition compiled to a Python function."""

    #: The expression as written (for composite conditions, a readable rendering).
    source: str
    #: The generated Python source (for debugging and `explain`).
    python: str
    #: ``fn(c)``; raises only ExpressionError.  For a condition, truthiness decides.
    fn: Callable[[EvalContext], Any]
    uses: Uses
    #: For a composite condition: each expression in it, with its relative path.
    parts: tuple[tuple[RelPath, CompiledExpr], ...] = ()
    #: For a single expression: the bare Python expression, valid where the locals of
    #: ``expr_codegen.PROLOGUE`` and ``c`` are bound, in ``namespace`` (used to inline
    #: conditions into generated dispatch code).
    inline: str | None = None
    namespace: Namespace | None = None


class StrictParser(Parser):
    """Jinja2's parser, refusing the ``**`` forms whose meaning differs from Python's."""

    def parse_pow(self) -> nodes.Expr:
        lineno = self.stream.current.lineno
        unary = self.stream.current.type in ("sub", "add")
        left = self.parse_unary()
        if self.stream.current.type == "pow":
            if unary:
                self.fail(_("`-a ** b` is ambiguous: write `(-a) ** b` or `-(a ** b)`"), lineno)
            next(self.stream)
            right = self.parse_unary()
            if self.stream.current.type == "pow":
                self.fail(
                    _("`a ** b ** c` is ambiguous: write `(a ** b) ** c` or `a ** (b ** c)`"),
                    lineno,
                )
            left = nodes.Pow(left, right, lineno=lineno)
        return left


_PARSE_ENV = Environment()


def parse_expression(text: Any) -> nodes.Expr:
    """Parse one expression with Jinja2's parser; raise ExprCompileError if invalid."""
    if not isinstance(text, str):
        raise ExprCompileError(
            _("an expression must be a string, got {type}").format(type=type(text).__name__)
        )
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ExprCompileError(
            _("the expression is {n} characters long; the limit is {limit}").format(
                n=len(text), limit=MAX_EXPRESSION_LENGTH
            )
        )
    if not text.strip():
        raise ExprCompileError(_("the expression is empty"))
    try:
        with warnings.catch_warnings():
            # Jinja2 decodes string escapes with "unicode-escape", which warns about
            # the backslashes of regular expressions (`\d`); they are kept as written.
            warnings.simplefilter("ignore", DeprecationWarning)
            parser = StrictParser(_PARSE_ENV, text, state="variable")
            node = parser.parse_expression()
        token = parser.stream.current
        if token.type != "eof":
            raise ExprCompileError(
                _("syntax error: unexpected {describe_token} after the expression").format(
                    describe_token=describe_token(token)
                ),
                line=token.lineno,
            )
    except TemplateSyntaxError as err:
        raise ExprCompileError(
            _("syntax error: {message}").format(message=jinja_words(err.message or "")),
            line=err.lineno,
        ) from None
    except RecursionError:
        raise ExprCompileError(_("the expression is nested too deeply")) from None
    return node


def _translate(
    text: Any,
    *,
    vars: Mapping[str, Any],
    allow_match: bool,
    env: ExprEnv,
    namespace: Namespace,
    uses: Uses,
    hoist_data: bool = False,
) -> Code:
    node = parse_expression(text)
    translator = Translator(
        text,
        vars=vars,
        allow_match=allow_match,
        env=env,
        namespace=namespace,
        uses=uses,
        hoist_data=hoist_data,
    )
    return translator.visit(node)


def _guarded(test: str, source_name: str, indent: str) -> list[str]:
    """Statements running ``test`` with run-time errors turned into ExpressionError."""
    return [
        f"{indent}try:",
        f"{indent}    {test}",
        f"{indent}except _EE:",
        f"{indent}    raise",
        f"{indent}except Exception as _x:",
        f"{indent}    raise _fail(_x, {source_name}) from _x",
    ]


def _define(name: str, expr_src: str, source_name: str) -> str:
    return "\n".join(
        [
            f"def {name}(c):",
            f"    {PROLOGUE}",
            *_guarded(f"return {expr_src}", source_name, "    "),
        ]
    )


def _build(python: str, namespace: Namespace, name: str) -> Callable[[EvalContext], Any]:
    exec(compile_source(python, "<engage_rules expression>"), namespace.values)
    fn: Callable[[EvalContext], Any] = namespace.values[name]
    return fn


def compile_expression(
    text: str,
    *,
    vars: Mapping[str, Any],
    env: ExprEnv,
    allow_match: bool = False,
    namespace: Namespace | None = None,
    hoist_data: bool = False,
) -> CompiledExpr:
    """Compile one expression; the functions it may call are ``env.functions``.

    ``allow_match`` permits the name ``match`` (true in action parameters, false in
    conditions).  Passing a shared ``namespace`` lets several expressions be inlined
    into one generated function.  Raises :class:`ExprCompileError`.
    """
    namespace = namespace if namespace is not None else Namespace()
    uses = Uses()
    code = _translate(
        text,
        vars=vars,
        allow_match=allow_match,
        env=env,
        namespace=namespace,
        uses=uses,
    )
    entry = f"_expr{len(namespace.values)}"
    python = _define(entry, code.src, namespace.const(text, "_s"))
    inline = code.src
    if hoist_data:
        inline = _translate(
            text,
            vars=vars,
            allow_match=allow_match,
            env=env,
            namespace=namespace,
            uses=Uses(),
            hoist_data=True,
        ).src
    return CompiledExpr(
        text, python, _build(python, namespace, entry), uses, inline=inline, namespace=namespace
    )


def compile_subexpression(
    node: nodes.Expr, text: str, *, vars: Mapping[str, Any], env: ExprEnv
) -> Callable[[EvalContext], Any]:
    """Compile one node of an already-valid expression ``text`` on its own (for
    `explain`, which shows the values of an expression's parts)."""
    namespace = Namespace()
    translator = Translator(
        text,
        vars=vars,
        allow_match=False,
        env=env,
        namespace=namespace,
        uses=Uses(),
    )
    code = translator.visit(node)
    entry = "_part"
    return _build(_define(entry, code.src, namespace.const(text, "_s")), namespace, entry)


# -- conditions ----------------------------------------------------------------------------

_COMBINATORS = ("all", "any", "not")


def render_condition(cond: Any) -> str:
    if isinstance(cond, str):
        return cond
    if isinstance(cond, list):
        return " and ".join(f"({render_condition(c)})" for c in cond) or "true"
    if isinstance(cond, dict) and len(cond) == 1:
        key, value = next(iter(cond.items()))
        if key == "not":
            return f"not ({render_condition(value)})"
        if key in ("all", "any") and isinstance(value, list):
            joiner = " and " if key == "all" else " or "
            return joiner.join(f"({render_condition(c)})" for c in value) or (
                "true" if key == "all" else "false"
            )
    return repr(cond)


class _ConditionCompiler:
    def __init__(self, vars: Mapping[str, Any], allow_match: bool, env: ExprEnv) -> None:
        self.vars = vars
        self.allow_match = allow_match
        self.env = env
        self.namespace = Namespace()
        self.uses = Uses()
        self.details: list[tuple[RelPath, ExprCompileError]] = []
        self.defs: list[str] = []
        #: (path, source, function name, python, uses) of each expression.
        self.leaves: list[tuple[RelPath, str, str, str, Uses]] = []

    def node(self, cond: Any, rel: RelPath) -> tuple[str, str | None] | None:
        """Compile one node: ("expr", python source, source-name) or ("fn", name)."""
        if isinstance(cond, bool):
            return ("True" if cond else "False"), None
        if isinstance(cond, str):
            uses = Uses()
            try:
                code = _translate(
                    cond,
                    vars=self.vars,
                    allow_match=self.allow_match,
                    env=self.env,
                    namespace=self.namespace,
                    uses=uses,
                )
            except ExprCompileError as err:
                self.details.append((rel, err))
                return None
            self.uses.merge(uses)
            source_name = self.namespace.const(cond, "_s")
            name = f"_e{len(self.leaves)}"
            python = _define(name, code.src, source_name)
            self.defs.append(python)
            self.leaves.append((rel, cond, name, python, uses))
            return code.src, source_name
        if isinstance(cond, list):
            return self.composite("all", cond, [(*rel, i) for i in range(len(cond))])
        if isinstance(cond, dict) and len(cond) == 1:
            key, value = next(iter(cond.items()))
            if key in ("all", "any"):
                if not isinstance(value, list):
                    self.problem(
                        (*rel, key), _("`{key}:` takes a list of conditions").format(key=key)
                    )
                    return None
                return self.composite(key, value, [(*rel, key, i) for i in range(len(value))])
            if key == "not":
                return self.composite("not", [value], [(*rel, "not")])
            extra = did_you_mean(key, _COMBINATORS, code=True)
            self.problem(
                rel, _("unknown condition combinator `{key}`{extra}").format(key=key, extra=extra)
            )
            return None
        self.problem(
            rel,
            _(
                "a condition is an expression (a string), a list of conditions that must "
                "all hold, or one of {all: [...]}, {any: [...]}, {not: ...}"
            ),
        )
        return None

    def problem(self, rel: RelPath, message: str) -> None:
        self.details.append((rel, ExprCompileError(message)))

    def composite(
        self, kind: str, children: list[Any], rels: list[RelPath]
    ) -> tuple[str, str | None] | None:
        compiled = [self.node(child, rel) for child, rel in zip(children, rels, strict=True)]
        if any(c is None for c in compiled):
            return None
        name = f"_c{len(self.defs)}"
        lines = [f"def {name}(c):", f"    {PROLOGUE}"]
        for item in compiled:
            assert item is not None
            src, source_name = item
            if kind == "all":
                stmt = f"if not ({src}): return False"
            elif kind == "any":
                stmt = f"if {src}: return True"
            else:
                stmt = f"return not ({src})"
            if source_name is None:
                lines.append(f"    {stmt}")
            else:
                lines.extend(_guarded(stmt, source_name, "    "))
        if kind != "not":
            lines.append(f"    return {kind == 'all'}")
        self.defs.append("\n".join(lines))
        return f"{name}(c)", None


def compile_condition(
    cond: str | list[Any] | dict[str, Any] | bool,
    *,
    vars: Mapping[str, Any],
    env: ExprEnv,
    allow_match: bool = False,
) -> CompiledExpr:
    """Compile a rule condition: an expression, a list (all must hold), or nested
    ``{all: [...]}``, ``{any: [...]}``, ``{not: ...}``.

    Raises :class:`ConditionErrors` with every problem found.  For a single expression
    ``fn`` returns the expression's value; for a composite it returns a bool.
    """
    if isinstance(cond, str):
        try:
            return compile_expression(cond, vars=vars, env=env, allow_match=allow_match)
        except ExprCompileError as err:
            raise ConditionErrors([((), err)]) from None
    compiler = _ConditionCompiler(vars, allow_match, env)
    top = compiler.node(cond, ())
    if compiler.details or top is None:
        raise ConditionErrors(compiler.details)
    src, source_name = top
    if source_name is None and src.endswith("(c)"):
        entry = src[:-3]
    else:  # a bare boolean
        entry = "_cond"
        compiler.defs.append(f"def _cond(c):\n    {PROLOGUE}\n    return {src}")
    python = "\n\n".join(compiler.defs)
    namespace = compiler.namespace
    exec(compile_source(python, "<engage_rules condition>"), namespace.values)
    parts = tuple(
        (rel, CompiledExpr(source, leaf_python, namespace.values[name], uses))
        for rel, source, name, leaf_python, uses in compiler.leaves
    )
    return CompiledExpr(
        render_condition(cond), python, namespace.values[entry], compiler.uses, parts
    )
