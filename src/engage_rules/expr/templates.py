"""Sandboxed message templates and templated action parameters (docs/language.md,
"Expressions").

Templates are full Jinja2 templates, compiled once at load time in an
:class:`~jinja2.sandbox.ImmutableSandboxedEnvironment` that is narrowed further:

* attribute and item access go through the same whitelist as expressions (dictionary
  keys, the event/member views, date/time fields, whitelisted methods);
* only the expression language's filters, tests and functions exist (no ``cycler``,
  ``joiner``, ``lipsum``, ``namespace``, ``include``, ``import`` or ``extends``);
* ``+ * ** %`` and ``~`` are bounded like in expressions;
* one render shares a budget of steps — loop iterations, calls and output pieces — and
  a wall-clock deadline checked with every step, and the text it produces is limited
  while it is being generated;
* nothing is evaluated while compiling (Jinja2's constant folding is off); filter,
  method and operator arguments known at load time are checked against the same bounds
  as at run time instead;
* values print as data (:func:`~engage_rules.expr.runtime.to_str`): lists, mappings and
  the event as JSON, date-times in ISO 8601, never a Python ``repr``.

Member-written text is data: a value such as ``"{{ 7*7 }}"`` in an event is printed as
is, never compiled.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Generator, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar, NamedTuple

from jinja2 import Template, Undefined, meta, nodes, pass_context
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError, TemplateSyntaxError
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ..errors import (
    ExprCompileError,
    ExpressionError,
    ResourceLimitError,
    TemplateCompileError,
)
from ..i18n import _
from ..model import rule_problems as rp
from . import runtime as rt
from .codegen import check_bounded_op, suggest
from .context import (
    COMMUNITY_FIELDS,
    EVENT_FIELDS,
    EVENT_MEMBER_FIELDS,
    MEMBER_FIELDS,
    ROOT_NAMES,
    EvalContext,
)
from .env import ExprEnv
from .expressions import StrictParser, compile_expression
from .function_spec import ArgInfo, CallSite, FunctionSpec
from .group import COMMUNITY_METHODS
from .posts import POST_FIELDS
from .runtime import RelPath
from .syntax_words import jinja_words
from .uses import Uses

__all__ = [
    "MAX_OUTPUT",
    "CompiledValue",
    "TemplateCompileError",
    "TemplateSet",
    "ValueFn",
    "compile_template",
    "compile_value",
]

#: Longest text one render may return (characters).
MAX_OUTPUT = 16 * 1024
#: Most text one render may produce in total, intermediate pieces included.
MAX_PRODUCED = 256 * 1024
#: Steps (loop iterations, calls, output pieces) one render may take.
MAX_STEPS = 100_000
#: CPU time one render may take (seconds of the rendering thread's CPU time).  The step
#: and size budgets above are what bound a render, the same on every machine; this is
#: only a safety net, far above what any render within them needs.  It counts CPU time,
#: not wall-clock time, so a busy or paused machine never trips it: a replay decides
#: the same on a loaded machine as on an idle one.
DEADLINE = 1.0
#: Longest template source accepted (characters).
MAX_TEMPLATE_LENGTH = 64 * 1024
#: Deepest nesting of a template: tags, expressions, filters and operators together.
MAX_TEMPLATE_DEPTH = 64
#: Most ``{% for %}`` loops nested in one another.
MAX_LOOP_NESTING = 10

_LOOP_ATTRS = frozenset(
    (
        "index",
        "index0",
        "revindex",
        "revindex0",
        "first",
        "last",
        "length",
        "depth",
        "depth0",
        "previtem",
        "nextitem",
        "cycle",
        "changed",
    )
)


# -- the render budget ---------------------------------------------------------------------


@dataclass
class _Budget:
    steps: int
    produced: int
    deadline: float

    def tick(self) -> None:
        self.steps -= 1
        if self.steps < 0:
            raise ResourceLimitError(f"the template took more than {MAX_STEPS} steps")
        if time.thread_time() > self.deadline:
            raise ResourceLimitError(
                f"the template took longer than {DEADLINE * 1000:.0f} ms of CPU time"
            )


_BUDGET: ContextVar[_Budget] = ContextVar("engage_rules_template_budget")


def _tick() -> None:
    _BUDGET.get().tick()


# -- the environment -------------------------------------------------------------------------


class _NoFolding(CodeGenerator):
    """Computes nothing at compile time: Jinja2 would otherwise evaluate filters and
    tests with constant arguments while compiling (``{{ 5|round(-30000000) }}``), so
    that loading a playbook ran whatever the template asked for.  The load-time checks
    of :class:`_Checker` look at constant arguments instead."""

    def _output_child_to_const(self, node: nodes.Expr, frame: Frame, finalize: Any) -> str:
        if isinstance(node, nodes.TemplateData | nodes.Const):
            return super()._output_child_to_const(node, frame, finalize)
        raise nodes.Impossible()


class _TrackingCodeGenerator(_NoFolding, meta.TrackingCodeGenerator):
    """Finds the names a template uses (as :func:`jinja2.meta.find_undeclared_variables`),
    without folding constants either."""

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.optimizer = None  # (it folds constants too)


def _undeclared_names(ast: nodes.Template) -> set[str]:
    codegen = _TrackingCodeGenerator(_ENV)
    codegen.visit(ast)
    return codegen.undeclared_identifiers


class _CodeGenerator(_NoFolding):
    """Routes every piece of output, and ``~``, through the environment's bounded helpers."""

    def _output_child_pre(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        self.write("environment.er_out(")

    def _output_child_post(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        self.write(")")

    def _output_const_repr(self, group: Any) -> str:
        return f"environment.er_out({super()._output_const_repr(group)})"

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.er_concat(")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write(")")


def template_getattr(obj: Any, name: str) -> Any:
    """``obj.name`` in a template: like expressions, plus bound whitelisted methods."""
    if isinstance(obj, dict):
        bound = rt.method(obj, name)
        if bound is not None:
            return bound
        return obj[name] if name in obj else rt.missing(obj, name)
    if isinstance(obj, Undefined):
        rt.undefined_fail(obj)
    if name.startswith("_"):
        raise SecurityError(f"access to attribute {name!r} is not allowed")
    bound = rt.method(obj, name)
    if bound is not None:
        return bound
    if isinstance(obj, LoopContext):
        return getattr(obj, name) if name in _LOOP_ATTRS else rt.missing(obj, name)
    return rt.get_attr(obj, name)


@pass_context
def _counted_iter(context: Context, items: Any) -> Iterator[Any]:
    return rt.counted(items, _tick)


class _Environment(ImmutableSandboxedEnvironment):
    code_generator_class = _CodeGenerator
    intercepted_binops = frozenset(("+", "*", "**", "%"))

    _binops: ClassVar[dict[str, Callable[[Any, Any], Any]]] = {
        "+": rt.op_add,
        "*": rt.op_mul,
        "**": rt.op_pow,
        "%": rt.op_mod,
    }

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        return self._binops[operator](left, right)

    def getattr(self, obj: Any, attribute: str) -> Any:
        return template_getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, LoopContext) and isinstance(argument, str):
            return template_getattr(obj, argument)
        return rt.get_item(obj, argument)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _tick()
        if isinstance(__obj, LoopContext) and args:  # a recursive loop's `loop(items)`
            args = (rt.counted(args[0], _tick), *args[1:])
        if not __self.is_safe_callable(__obj):
            raise SecurityError(f"{__obj!r} is not safely callable")
        return __context.call(__obj, *args, **kwargs)

    def er_out(self, value: Any) -> str:
        text = rt.to_str(value)
        budget = _BUDGET.get()
        budget.produced += len(text)
        if budget.produced > MAX_PRODUCED:
            raise ResourceLimitError(f"the template produced more than {MAX_PRODUCED} characters")
        budget.tick()
        return text

    def er_concat(self, *parts: Any) -> str:
        _tick()
        return rt.op_concat(*parts)


_ENV = _Environment(autoescape=False, undefined=Undefined, optimized=False)
_ENV.globals.clear()
_ENV.filters = {**rt.FILTERS, "_er_iter": _counted_iter}
_ENV.tests = dict(rt.TESTS)


# -- load-time checks ------------------------------------------------------------------------


def _static(node: nodes.Node, vars: Mapping[str, Any], roots: set[str]) -> ArgInfo:
    if isinstance(node, nodes.Const):
        return ArgInfo(True, node.value, literal=True)
    if isinstance(node, nodes.List | nodes.Tuple):
        items = [_static(n, vars, roots) for n in node.items]
        if all(i.static for i in items):
            values = [i.value for i in items]
            return ArgInfo(
                True,
                values if isinstance(node, nodes.List) else tuple(values),
                literal=all(i.literal for i in items),
            )
    if (
        isinstance(node, nodes.Getattr)
        and isinstance(node.node, nodes.Name)
        and node.node.name == "vars"
        and "vars" in roots
        and node.attr in vars
    ):
        return ArgInfo(True, vars[node.attr])
    if isinstance(node, nodes.Neg | nodes.Pos):
        inner = _static(node.node, vars, roots)
        if inner.static and isinstance(inner.value, int | float):
            return ArgInfo(
                True,
                -inner.value if isinstance(node, nodes.Neg) else +inner.value,
                literal=inner.literal,
            )
    if isinstance(node, nodes.Dict):
        pairs = [(_static(p.key, vars, roots), _static(p.value, vars, roots)) for p in node.items]
        if all(k.static and v.static for k, v in pairs):
            return ArgInfo(
                True,
                {k.value: v.value for k, v in pairs},
                literal=all(k.literal and v.literal for k, v in pairs),
            )
    if isinstance(node, nodes.Concat):
        parts = [_static(n, vars, roots) for n in node.nodes]
        if all(p.static for p in parts):
            try:
                return ArgInfo(True, rt.op_concat(*(p.value for p in parts)))
            except ExpressionError:
                return ArgInfo(False)
    if isinstance(node, nodes.Add | nodes.Mul | nodes.Pow | nodes.Mod):
        # Folded with the bounded operators, for the checks of what uses the result; a
        # refusal is reported where the operator itself is checked.
        left, right = _static(node.left, vars, roots), _static(node.right, vars, roots)
        try:
            known, value = check_bounded_op(
                type(node).__name__,
                left.static,
                left.value,
                right.static,
                right.value,
                ExpressionError,
            )
        except ExpressionError:
            return ArgInfo(False)
        if known:
            return ArgInfo(True, value)
    return ArgInfo(False)


_ROOT_FIELDS = {
    "event": EVENT_FIELDS,
    "member": MEMBER_FIELDS,
    "community": COMMUNITY_FIELDS,
    "post": POST_FIELDS,
}


class _Checker:
    def __init__(
        self,
        ast: nodes.Template,
        vars: Mapping[str, Any],
        allow_match: bool,
        env: ExprEnv,
        uses: Uses,
    ) -> None:
        self.ast = ast
        self.vars = vars
        self.env = env
        self.functions: Mapping[str, FunctionSpec] = env.functions
        self.uses = uses
        self.problems: list[ExprCompileError] = []
        self.roots: set[str] = set()
        allowed = {*ROOT_NAMES, *env.functions}
        if not allow_match:
            allowed.discard("match")
        self.allowed = allowed

    def add(self, message: str, node: Any) -> None:
        self.problems.append(ExprCompileError(message, line=getattr(node, "lineno", None)))

    def run(self) -> list[ExprCompileError]:
        """Check the whole template; the problems come in a fixed order, by kind."""
        ast = self.ast
        self.check_filter_and_test_names()
        if self.problems:
            return self.problems
        try:
            self.roots = _undeclared_names(ast)
        except TemplateSyntaxError as err:
            self.add(jinja_words(err.message or "") or _("invalid template"), err)
            return self.problems
        names = list(ast.find_all(nodes.Name))
        self.check_root_names(names)
        self.check_unsupported_statements()
        for attr in ast.find_all(nodes.Getattr):
            self.check_attr(attr)
        for item in ast.find_all(nodes.Getitem):
            self.check_item(item)
        callees = set()
        for call in ast.find_all(nodes.Call):
            callees.add(id(call.node))
            self.check_call(call)
        self.check_uncalled_functions(names, callees)
        for flt in ast.find_all(nodes.Filter):
            self.check_filter(flt)
        for op in ast.find_all((nodes.Add, nodes.Mul, nodes.Pow, nodes.Mod)):
            self.check_bounded_op(op)
        for concat in ast.find_all(nodes.Concat):
            self.check_concat(concat)
        return self.problems

    def check_filter_and_test_names(self) -> None:
        """Unknown filters and tests (reported before anything else is looked at)."""
        for flt in self.ast.find_all(nodes.Filter):
            if flt.name not in rt.FILTERS:
                self.add(
                    _("unknown filter `{name}`{hint}").format(
                        name=flt.name, hint=suggest(flt.name, rt.FILTERS)
                    ),
                    flt,
                )
        for test in self.ast.find_all(nodes.Test):
            if test.name not in rt.TESTS:
                self.add(
                    _("unknown test `{name}`{hint}").format(
                        name=test.name, hint=suggest(test.name, rt.TESTS)
                    ),
                    test,
                )

    def check_root_names(self, names: list[nodes.Name]) -> None:
        """Undeclared names must be known roots or functions; `self` is never allowed."""
        for name in sorted(self.roots):
            if name not in self.allowed:
                first = next((n for n in names if n.name == name), None)
                options = sorted(self.allowed)
                self.add(
                    _("unknown name `{name}`{hint}").format(name=name, hint=suggest(name, options)),
                    first,
                )
        if "match" in self.roots:
            self.uses.uses_match = True
        if "post" in self.roots:
            self.uses.posts = True
        for node in names:
            if node.name == "self":
                self.add(_("unknown name `self`"), node)

    def check_unsupported_statements(self) -> None:
        """Template inheritance, includes, imports and autoescape blocks are refused."""
        ast = self.ast
        for stmt in ast.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)):
            self.add(
                _("`{lower}` is not supported: a message template is self-contained").format(
                    lower=type(stmt).__name__.lower()
                ),
                stmt,
            )
        for stmt in ast.find_all((nodes.EvalContextModifier, nodes.ScopedEvalContextModifier)):
            self.add(_("`autoescape` blocks are not supported: messages are plain text"), stmt)

    def check_item(self, node: nodes.Getitem) -> None:
        """A literal dunder key (`x['__class__']`) is refused."""
        key = node.arg
        if (
            isinstance(key, nodes.Const)
            and isinstance(key.value, str)
            and (key.value.startswith("__"))
        ):
            self.add(_("`[{value!r}]` is not allowed").format(value=key.value), node)

    def check_uncalled_functions(self, names: list[nodes.Name], callees: set[int]) -> None:
        """A function name used as a value rather than called."""
        for node in names:
            if (
                node.ctx == "load"
                and node.name in self.functions
                and node.name in self.roots
                and id(node) not in callees
            ):
                self.add(
                    _("`{name}` is a function: call it, e.g. {name}(...)").format(name=node.name),
                    node,
                )

    def check_bounded_op(self, node: nodes.BinExpr) -> None:
        """`+ * ** %` with operands known at load time are checked against the bounds."""
        left = _static(node.left, self.vars, self.roots)
        right = _static(node.right, self.vars, self.roots)
        try:
            check_bounded_op(
                type(node).__name__,
                left.static,
                left.value,
                right.static,
                right.value,
                ExpressionError,
            )
        except ExpressionError as err:
            self.add(str(err), node)

    def check_concat(self, node: nodes.Concat) -> None:
        """`~` whose parts are all known at load time is checked against the bounds."""
        parts = [_static(n, self.vars, self.roots) for n in node.nodes]
        if all(p.static for p in parts):
            try:
                rt.op_concat(*(p.value for p in parts))
            except ExpressionError as err:
                self.add(_("`{symbol}`: {error}").format(symbol="~", error=err), node)

    def check_filter(self, node: nodes.Filter) -> None:
        if node.dyn_args is not None or node.dyn_kwargs is not None:
            self.add(
                _("the `{name}` filter: `*args` and `**kwargs` are not supported").format(
                    name=node.name
                ),
                node,
            )
            return
        args = [_static(a, self.vars, self.roots) for a in node.args]
        kwargs = {str(k.key): _static(k.value, self.vars, self.roots) for k in node.kwargs}
        try:
            rt.check_filter_call(
                node.name,
                [(a.static, a.value) for a in args],
                {k: (v.static, v.value) for k, v in kwargs.items()},
            )
        except ExpressionError as err:
            self.add(str(err), node)

    def check_attr(self, node: nodes.Getattr) -> None:
        attr = node.attr
        if attr.startswith("_"):
            self.add(
                _("attributes starting with `_` are not allowed (`{attr}`)").format(attr=attr), node
            )
            return
        base = node.node
        if isinstance(base, nodes.Name) and base.name in self.roots:
            if base.name in self.functions:
                self.add(
                    _("`{name}` is a function: call it, e.g. {name}(...)").format(name=base.name),
                    node,
                )
            elif base.name == "vars":
                if attr not in self.vars:
                    self.add(
                        _("`vars.{attr}` is not defined in the playbook's vars{hint}").format(
                            attr=attr, hint=suggest(attr, self.vars)
                        ),
                        node,
                    )
            elif base.name in _ROOT_FIELDS and attr not in _ROOT_FIELDS[base.name]:
                fields = _ROOT_FIELDS[base.name]
                self.add(
                    _("`{name}` has no attribute `{attr}`{hint}").format(
                        name=base.name, attr=attr, hint=suggest(attr, fields)
                    ),
                    node,
                )
        elif (
            isinstance(base, nodes.Getattr)
            and base.attr == "member"
            and isinstance(base.node, nodes.Name)
            and base.node.name == "event"
            and "event" in self.roots
            and attr not in EVENT_MEMBER_FIELDS
        ):
            self.add(
                _("`event.member` has no attribute `{attr}`{hint}").format(
                    attr=attr, hint=suggest(attr, EVENT_MEMBER_FIELDS)
                ),
                node,
            )

    def check_call(self, node: nodes.Call) -> None:
        target = node.node
        if (
            isinstance(target, nodes.Getattr)
            and isinstance(target.node, nodes.Name)
            and target.node.name == "community"
            and target.attr in COMMUNITY_METHODS
        ):
            self.add(
                _(
                    "`community.{attr}()` is for conditions (`if:`) and parameters written "
                    "as one `{{{{ ... }}}}` expression, not message templates"
                ).format(attr=target.attr),
                node,
            )
            return
        if isinstance(target, nodes.Getattr):
            if target.attr not in rt.METHOD_NAMES and target.attr not in ("cycle", "changed"):
                self.add(
                    _("`.{attr}()` is not an allowed method{hint}").format(
                        attr=target.attr, hint=suggest(target.attr, rt.METHOD_NAMES)
                    ),
                    node,
                )
                return
            args = [_static(a, self.vars, self.roots) for a in node.args]
            try:
                rt.check_method_call(target.attr, [(a.static, a.value) for a in args])
            except ExpressionError as err:
                self.add(str(err), node)
            return
        if not (isinstance(target, nodes.Name) and target.name in self.roots):
            return
        spec = self.functions.get(target.name)
        if spec is None:
            return
        if node.dyn_args is not None or node.dyn_kwargs is not None:
            self.add(
                _("{name}(): `*args` and `**kwargs` are not supported").format(name=spec.name), node
            )
            return
        site = CallSite(
            spec.name,
            [_static(a, self.vars, self.roots) for a in node.args],
            {k.key: _static(k.value, self.vars, self.roots) for k in node.kwargs},
            self.uses,
            self.vars,
            self.env,
        )
        try:
            spec.bind(site)
            if spec.check is not None:
                spec.check(site)
            if (
                spec.pure
                and all(a.static for a in site.args)
                and all(k.static for k in site.kwargs.values())
            ):
                # Checked as expressions check it (pure functions are bounded).
                spec.fn(
                    None,
                    *(a.value for a in site.args),
                    **{k: v.value for k, v in site.kwargs.items()},
                )
        except ValueError as err:
            self.add(str(err), node)
        except ExpressionError as err:
            self.add(_("{name}(): {error}").format(name=spec.name, error=err), node)
        except Exception as err:  # a plugin's pure function failing: reported, not raised
            self.add(f"{spec.name}(): {type(err).__name__}: {err}", node)
        if spec.sets_match:
            self.uses.sets_match = True


# -- compiling and rendering ------------------------------------------------------------------


def _with_line(err: ExprCompileError, text: str) -> str:
    if err.line is not None and "\n" in text.strip():
        return _("{message} (line {line} of the template)").format(
            message=err.message, line=err.line
        )
    return err.message


@dataclass
class CompiledTemplate:
    source: str
    template: Template
    uses: Uses
    env: ExprEnv
    #: How run-time errors name it ("template 'welcome'").
    label: str = "template"

    def render(self, c: EvalContext) -> str:
        scope = c.template_vars()
        for name, spec in self.env.functions.items():
            scope[name] = partial(spec.fn, c)
        token = _BUDGET.set(_Budget(MAX_STEPS, 0, time.thread_time() + DEADLINE))
        gen = self.template.generate(scope)
        assert isinstance(gen, Generator)
        try:
            parts: list[str] = []
            size = 0
            for chunk in gen:
                size += len(chunk)
                if size > MAX_OUTPUT:
                    raise ResourceLimitError(
                        f"the message is longer than the limit of {MAX_OUTPUT} characters"
                    )
                parts.append(chunk)
            return "".join(parts)
        except ExpressionError:
            raise
        except Exception as err:
            raise rt.fail(err, self.label) from err
        finally:
            gen.close()
            _BUDGET.reset(token)


def _nesting_problem(ast: nodes.Template) -> str | None:
    """Why the template nests too deeply to be checked and compiled (Python limits the
    nesting of the code a template compiles to), or None.  Walked without recursion."""
    stack: list[tuple[nodes.Node, int, int]] = [(ast, 1, 0)]
    while stack:
        node, depth, loops = stack.pop()
        if depth > MAX_TEMPLATE_DEPTH:
            return _("the template is nested more than {limit} levels deep").format(
                limit=MAX_TEMPLATE_DEPTH
            )
        if isinstance(node, nodes.For):
            loops += 1
            if loops > MAX_LOOP_NESTING:
                return _("the template nests more than {limit} loops in one another").format(
                    limit=MAX_LOOP_NESTING
                )
        stack.extend((child, depth + 1, loops) for child in node.iter_child_nodes())
    return None


def _parse(text: str) -> nodes.Template:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # see parse_expression()
            return StrictParser(_ENV, text).parse()
    except TemplateSyntaxError as err:
        raise TemplateCompileError(
            _("syntax error: {message}").format(message=jinja_words(err.message or "")),
            line=err.lineno,
        ) from None
    except RecursionError:
        raise TemplateCompileError(_("the template is nested too deeply")) from None


def compile_template(
    text: str,
    *,
    vars: Mapping[str, Any],
    env: ExprEnv,
    allow_match: bool = True,
    ast: nodes.Template | None = None,
) -> CompiledTemplate:
    """Compile one template (raise TemplateCompileError with every problem found)."""
    if not isinstance(text, str):
        raise TemplateCompileError(
            _("a template must be text, got {type}").format(type=type(text).__name__)
        )
    if len(text) > MAX_TEMPLATE_LENGTH:
        raise TemplateCompileError(
            _("the template is {n} characters long; the limit is {limit}").format(
                n=len(text), limit=MAX_TEMPLATE_LENGTH
            )
        )
    if ast is None:
        try:
            ast = _parse(text)
        except TemplateCompileError as err:
            raise TemplateCompileError(_with_line(err, text), line=err.line) from None
    nesting = _nesting_problem(ast)
    if nesting is not None:
        raise TemplateCompileError(nesting)
    uses = Uses()
    problems = _Checker(ast, vars, allow_match, env, uses).run()
    if problems:
        messages = [_with_line(p, text) for p in problems]
        raise TemplateCompileError(
            "; ".join(messages), line=problems[0].line, errors=[(None, m) for m in messages]
        )
    for loop in list(ast.find_all(nodes.For)):
        loop.iter = nodes.Filter(loop.iter, "_er_iter", [], [], None, None, lineno=loop.lineno)
    try:
        with warnings.catch_warnings():  # (see expr_codegen.compile_source)
            warnings.simplefilter("ignore", SyntaxWarning)
            code = _ENV.compile(ast)
        template = _ENV.template_class.from_code(_ENV, code, _ENV.make_globals(None))
    except TemplateSyntaxError as err:
        raise TemplateCompileError(
            jinja_words(err.message or "") or _("invalid template"), line=err.lineno
        ) from None
    except (SyntaxError, RecursionError):  # beyond what Python compiles (not expected)
        raise TemplateCompileError(_("the template is too deeply nested to compile")) from None
    return CompiledTemplate(text, template, uses, env)


class TemplateSet:
    """The playbook's named message templates, compiled once."""

    def __init__(
        self,
        templates: Mapping[str, str],
        *,
        vars: Mapping[str, Any],
        env: ExprEnv,
    ) -> None:
        self.uses = Uses()
        self._templates: dict[str, CompiledTemplate] = {}
        errors: list[tuple[str | None, str]] = []
        for name, text in templates.items():
            try:
                compiled = compile_template(text, vars=vars, env=env)
            except TemplateCompileError as err:
                errors.extend((name, message) for _, message in err.errors)
                continue
            compiled.label = f"template {name!r}"
            self._templates[name] = compiled
            self.uses.merge(compiled.uses)
        if errors:
            raise TemplateCompileError(
                _("; ").join(
                    _("template {name!r}: {error}").format(name=n, error=m) for n, m in errors
                ),
                errors=errors,
            )

    def __contains__(self, name: object) -> bool:
        return name in self._templates

    @property
    def names(self) -> list[str]:
        return list(self._templates)

    def render(self, name: str, c: EvalContext) -> str:
        """Render template ``name``; raises ExpressionError (or ResourceLimitError)."""
        compiled = self._templates.get(name)
        if compiled is None:
            raise ExpressionError(rp.english(rp.UNKNOWN_TEMPLATE, name=repr(name)))
        return compiled.render(c)


# -- templated values (action parameters) ----------------------------------------------------


class ValueFn:
    """A compiled action parameter: ``fn(c)`` gives its value for one evaluation."""

    __slots__ = ("_fn", "constant", "source")

    def __init__(self, fn: Callable[[EvalContext], Any], *, source: Any, constant: bool) -> None:
        self._fn = fn
        self.source = source
        #: True when the value does not depend on the context (nothing to evaluate).
        self.constant = constant

    def __call__(self, c: EvalContext) -> Any:
        return self._fn(c)


class CompiledValue(NamedTuple):
    """A compiled value and what it uses."""

    fn: ValueFn
    uses: Uses


def _constant(value: Any) -> ValueFn:
    if isinstance(value, dict | list):
        return ValueFn(lambda c: rt.plain(value), source=value, constant=True)
    return ValueFn(lambda c: value, source=value, constant=True)


def _single_expression(text: str, ast: nodes.Template) -> str | None:
    """The expression of a value that is exactly ``{{ expr }}`` (blanks around it
    allowed), else None."""
    inner = text.strip()
    if inner != text:
        ast = _parse(inner)
    body = ast.body
    if not (
        len(body) == 1
        and isinstance(body[0], nodes.Output)
        and len(body[0].nodes) == 1
        and not isinstance(body[0].nodes[0], nodes.TemplateData)
    ):
        return None
    if not (inner.startswith("{{") and inner.endswith("}}")):
        return None
    inner = inner[2:-2]
    if inner[:1] in ("-", "+"):
        inner = inner[1:]
    if inner.endswith("-"):
        inner = inner[:-1]
    return inner


def _compile_one(
    value: Any,
    rel: RelPath,
    vars: Mapping[str, Any],
    allow_match: bool,
    env: ExprEnv,
    uses: Uses,
    errors: list[tuple[RelPath, str]],
) -> ValueFn | None:
    if isinstance(value, dict):
        items = {
            k: _compile_one(v, (*rel, k), vars, allow_match, env, uses, errors)
            for k, v in value.items()
        }
        if any(v is None for v in items.values()):
            return None
        fns = {k: v for k, v in items.items() if v is not None}
        if all(f.constant for f in fns.values()):
            return _constant(value)
        return ValueFn(lambda c: {k: f(c) for k, f in fns.items()}, source=value, constant=False)
    if isinstance(value, list):
        elems = [
            _compile_one(v, (*rel, i), vars, allow_match, env, uses, errors)
            for i, v in enumerate(value)
        ]
        if any(v is None for v in elems):
            return None
        fs = [f for f in elems if f is not None]
        if all(f.constant for f in fs):
            return _constant(value)
        return ValueFn(lambda c: [f(c) for f in fs], source=value, constant=False)
    if not isinstance(value, str) or not any(m in value for m in ("{{", "{%", "{#")):
        return _constant(value)
    try:
        ast = _parse(value)
        expr = _single_expression(value, ast)
        if expr is not None:
            compiled = compile_expression(expr, vars=vars, env=env, allow_match=allow_match)
            uses.merge(compiled.uses)
            fn = compiled.fn
            return ValueFn(lambda c: rt.plain(fn(c)), source=value, constant=False)
        template = compile_template(value, vars=vars, env=env, allow_match=allow_match, ast=ast)
    except ExprCompileError as err:
        errors.append((rel, err.message))
        return None
    uses.merge(template.uses)
    return ValueFn(template.render, source=value, constant=False)


def compile_value(
    value: Any,
    *,
    vars: Mapping[str, Any],
    env: ExprEnv,
    allow_match: bool = True,
) -> CompiledValue:
    """Compile an action parameter: a constant (no template syntax), a raw expression
    value (exactly ``{{ expr }}``: a str stays a str, a number a number; undefined is
    None), or a template rendered to text.  Dicts and lists are compiled item by item.

    Returns ``(fn, uses)``; raises TemplateCompileError with every problem found.
    """
    uses = Uses()
    errors: list[tuple[RelPath, str]] = []
    fn = _compile_one(value, (), vars, allow_match, env, uses, errors)
    if fn is None:
        listed = [(".".join(map(str, p)) or None, m) for p, m in errors]
        message = "; ".join((f"{p}: " if p else "") + m for p, m in listed)
        raise TemplateCompileError(message, errors=listed)
    return CompiledValue(fn, uses)
