"""Compile a loaded playbook into fast, ready-to-run rules (load → validate → COMPILE).

Everything that can be decided at load time is decided here, once: conditions become
Python functions, templates are compiled, durations become seconds, rules are indexed by
event type and sorted by priority, every action's templated parameters become value
functions, and the dispatch code is generated.  Nothing is re-parsed per event.

The compiler is a loop.  It compiles what every playbook has — vars, templates, rules
and their actions (each through its registered :class:`~.feature.ActionDef`) — then
hands a :class:`~.feature.CompileContext` (itself) to every registered
:class:`~.feature.Feature` in registry order, and assembles what they return into one
immutable :class:`~.playbook.CompiledPlaybook`.  Every problem found anywhere is
collected and reported at once, as ``file:line:col: message``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from .._util.durations import WrittenDurations
from ..errors import Path, Problem, Problems
from ..expr.codegen import Namespace
from ..expr.detectors import MAX_PATTERNS, MAX_PROGRAM_SIZE
from ..expr.env import ExprEnv, Scorer
from ..expr.experiments import shares
from ..expr.expressions import (
    CompiledExpr,
    ConditionErrors,
    ExprCompileError,
    Uses,
    compile_condition,
    compile_expression,
)
from ..expr.function_spec import FunctionSpec
from ..expr.templates import TemplateCompileError, TemplateSet, ValueFn, compile_value
from ..i18n import _
from ..lang.loader import ActionCall, LoadedPlaybook, LoadRegistry, load_playbook, validate_actions
from ..lang.spec import PlaybookSpec
from ..lang.wordlists import is_file_ref, read_word_list
from .dispatch import build_dispatch
from .feature import ActionDef, Feature, FeaturePlan
from .playbook import CompiledAction, CompiledPlaybook, CompiledRule, Condition, Exempt

#: Event types that count as activity (docs/reference.md §5.6) when `activity_events`
#: is not set.
#: A member's post, and the same message edited (docs/reference.md §3.2).
POSTED, EDITED = "message.posted", "message.edited"
DEFAULT_ACTIVITY_EVENTS = ("message.posted", "reaction.added", "content.shared", "checkin")


class CompileRegistry(LoadRegistry, Protocol):
    """What compiling needs of the plugin registry: the actions with their executors,
    the features, and what expressions may call (``engage_rules.plugins.Registry``)."""

    @property
    def actions(self) -> Mapping[str, ActionDef]: ...

    @property
    def features(self) -> Sequence[Feature]: ...

    @property
    def functions(self) -> Mapping[str, FunctionSpec]: ...

    @property
    def classifiers(self) -> Mapping[str, Scorer]: ...


def route(rule_id: str) -> str:
    """The dispatch key of a trigger rule (never an event type: those cannot hold ``@``)."""
    return f"@{rule_id}"


class _Compiler:
    """One compilation; the :class:`~.feature.CompileContext` features see."""

    def __init__(self, loaded: LoadedPlaybook, registry: CompileRegistry) -> None:
        self.loaded = loaded
        self.registry = registry
        self._spec = loaded.spec
        self.problems = Problems(loaded.source)
        self._vars = self.resolve_vars()
        self.counts: dict[str, float | None] = {}
        self.dup: float | None = None
        self.streaks: set[str] = set()
        self._used = Uses()
        self.namespace = Namespace()
        self.patterns = 0
        self.program_size = 0
        self.notes: list[Problem] = []
        self.gaps_used = False
        self._timezone = ZoneInfo(self._spec.community.timezone)
        self._env = ExprEnv(
            functions=dict(registry.functions),
            classifiers=dict(registry.classifiers),
            segment_names=frozenset(self._spec.segments),
            scales=self._spec.currency_scales(),
            person_currencies=self._spec.person_currencies(),
            person_badges=self._spec.person_badges(),
            person_levels=self._spec.levels is not None and self._spec.levels.scope == "person",
            experiments={name: shares(e.variants) for name, e in self._spec.experiments.items()},
        )
        self._rules: list[CompiledRule] = []
        self._all_actions: list[CompiledAction] = []

    # -- the CompileContext ---------------------------------------------------------------
    @property
    def spec(self) -> PlaybookSpec:
        return self._spec

    @property
    def name(self) -> str:
        return self.loaded.name

    @property
    def vars(self) -> Mapping[str, Any]:
        return self._vars

    @property
    def env(self) -> ExprEnv:
        return self._env

    @property
    def timezone(self) -> ZoneInfo:
        return self._timezone

    @property
    def currencies(self) -> tuple[str, ...]:
        return tuple(self._spec.currency_names)

    @property
    def used(self) -> Uses:
        return self._used

    @property
    def rules(self) -> list[CompiledRule]:
        return self._rules

    def section(self, name: str) -> BaseModel | None:
        value = self._spec.sections.get(name)
        return value if isinstance(value, BaseModel) else None

    def problem(self, path: Path, message: str) -> None:
        self.problems.add(path, message)

    def note(self, path: Path, message: str) -> None:
        """Something `validate` tells the operator about a valid playbook."""
        file, line, col = self.loaded.source.pos(path)
        self.notes.append(Problem(file, line, col, f"note: {message}"))

    def warn(self, path: Path, message: str) -> None:
        """A warning: the playbook loads, and `validate` prints it (exit code 0)."""
        file, line, col = self.loaded.source.pos(path)
        self.loaded.warnings.append(
            Problem(file, line, col, _("warning: {message}").format(message=message))
        )

    def where(self, path: Path) -> tuple[str, int, int]:
        return self.loaded.source.pos(path)

    def add_rule(self, rule: CompiledRule) -> None:
        self._rules.append(rule)

    def condition(self, raw: Any, path: Path) -> Condition | None:
        """Compile a condition written at ``path`` (problems are collected)."""
        self.note_gaps(raw)
        try:
            compiled = compile_condition(raw, vars=self._vars, env=self._env)
        except ConditionErrors as errs:
            for rel, message in errs.errors:
                self.problems.add((*path, *rel), message)
            return None
        self.merge_uses(compiled.uses, path)
        return compiled.fn

    def value(self, raw: Any, path: Path, *, allow_match: bool = True) -> ValueFn | None:
        self.note_gaps(raw)
        try:
            fn, uses = compile_value(raw, vars=self._vars, env=self._env, allow_match=allow_match)
        except (ExprCompileError, TemplateCompileError) as err:
            self.problems.add(path, str(err))
            return None
        self.merge_uses(uses, path)
        return fn

    def expression(self, text: str, path: Path) -> CompiledExpr | None:
        self.note_gaps(text)
        try:
            compiled = compile_expression(text, vars=self._vars, env=self._env)
        except ExprCompileError as err:
            self.problems.add(path, str(err))
            return None
        self.merge_uses(compiled.uses, path)
        return compiled

    def actions(self, calls: Iterable[ActionCall], label: str) -> list[CompiledAction]:
        out = []
        for i, call in enumerate(calls):
            compiled = self.action(call, f"{label}.{i}")
            if compiled is not None:
                out.append(compiled)
        return out

    def raw_actions(self, items: Any, path: Path, label: str) -> list[CompiledAction]:
        calls, problems = validate_actions(
            items, path, registry=self.registry, source=self.loaded.source
        )
        self.problems.items.extend(problems)
        return self.actions(calls, label)

    # -- the rest of a compilation -------------------------------------------------------
    def resolve_vars(self) -> dict[str, Any]:
        """The playbook's vars, with word-list file references replaced by their words."""
        out = dict(self._spec.vars)
        for name, value in out.items():
            if not is_file_ref(value):
                continue
            file = self.loaded.source.pos(("vars", name))[0]
            declared_in = self.loaded.base_dir if file.startswith("<") else file
            try:
                out[name] = read_word_list(declared_in, value["file"])
            except ValueError as err:
                self.problems.add(("vars", name, "file"), str(err))
                out[name] = []
        return out

    def note_gaps(self, raw: Any) -> None:
        """Remember whether expressions read ``member.typical_gap`` (kept only then)."""
        if not self.gaps_used and "typical_gap" in repr(raw):
            self.gaps_used = True

    def merge_uses(self, uses: Uses, path: Path = ()) -> None:
        """Record what a compiled expression or template written at ``path`` needs the
        engine to keep (windowed counts, duplicate texts, streak days), and count its
        regular expressions against the playbook's limits.  Every compiled expression's
        ``uses`` must pass through here."""
        for type_, window in uses.counts.items():
            have = self.counts.get(type_)
            if window is None:
                self.counts.setdefault(type_, None)
            elif have is None or window > have:
                self.counts[type_] = window
        if uses.duplicates_window is not None:
            self.dup = (
                uses.duplicates_window
                if self.dup is None
                else max(self.dup, uses.duplicates_window)
            )
        self.streaks |= uses.streaks
        for type_, window in uses.group.items():
            self._used.group_count(type_, window)
        self._used.posts = self._used.posts or uses.posts
        self.count_patterns(uses, path)

    def count_patterns(self, uses: Uses, path: Path) -> None:
        """Count regular expressions, and the size of their RE2 programs, against the
        playbook-wide limits (the second bounds the pattern matching work per event:
        docs/language.md, "Detectors")."""
        before = self.patterns
        self.patterns += uses.patterns
        if before <= MAX_PATTERNS < self.patterns:
            self.problems.add(
                path,
                _(
                    "the playbook uses more than {n} regular expressions in "
                    "matches(); merge word lists into contains_any() instead"
                ).format(n=MAX_PATTERNS),
            )
        before = self.program_size
        self.program_size += uses.program_size
        if before <= MAX_PROGRAM_SIZE < self.program_size:
            self.problems.add(
                path,
                _(
                    "together the playbook's matches() patterns compile to RE2 programs of "
                    "{size} instructions (so far); the limit is "
                    "{limit}, which bounds the pattern matching work per event "
                    "(simplify the patterns, or move literal words to contains_any())"
                ).format(size=f"{self.program_size:,}", limit=f"{MAX_PROGRAM_SIZE:,}"),
            )

    def action(self, call: ActionCall, label: str) -> CompiledAction | None:
        """Compile one validated action call through its registered ActionDef."""
        adef = self.registry.actions[call.name]
        problems_before = len(self.problems.items)
        values: dict[str, ValueFn] = {}
        durations: dict[str, Any] = {}
        for fname, raw in call.params:
            if raw is None or isinstance(raw, BaseModel) or fname in adef.literal:
                continue
            if isinstance(raw, timedelta):  # a duration, parsed once by the params model
                durations[f"{fname}_delta"] = raw
                if isinstance(call.params, WrittenDurations):  # and as written, for output
                    durations[f"{fname}_text"] = call.params.written(fname)
                continue
            alias = "for" if fname == "for_" else fname
            fn = self.value(raw, (*call.path, call.name, alias))
            if fn is not None:
                values[fname] = fn
        for fname, raw in (call.params.model_extra or {}).items():  # e.g. `set:`
            fn = self.value(raw, (*call.path, call.name, fname))
            if fn is not None:
                values[fname] = fn
        currency = getattr(call.params, "currency", None)
        names = self.currencies
        if currency is not None and currency not in names:
            self.problems.add(
                (*call.path, call.name, "currency"),
                _("unknown currency {name!r}; the playbook's currencies are {names}").format(
                    name=currency, names=", ".join(names)
                ),
            )
        consts = {k: fn(None) for k, fn in values.items() if fn.constant}  # type: ignore[arg-type]
        dynamic = {k: fn for k, fn in values.items() if not fn.constant}
        consts.update(durations)
        if adef.check is not None:
            adef.check(self, call, label, consts)
        if len(self.problems.items) > problems_before:
            return None
        compiled = CompiledAction(
            call.name,
            label,
            adef.spec,
            call.params,
            dynamic,
            call.path,
            adef.execute,
            consts,
            (self.loaded.name, label),
            adef.moderation,
        )
        if adef.specialise is not None:
            fast = adef.specialise(compiled, self._timezone)
            if fast is not None:
                compiled = replace(compiled, execute=fast)
        self._all_actions.append(compiled)
        return compiled

    def rule(self, index: int) -> CompiledRule:
        r = self._spec.rules[index]
        path: Path = ("rules", index)
        self.note_gaps(r.if_)
        cond = None
        inline: str | None = None
        sets_match = False
        if r.if_ is not None:
            try:
                compiled = compile_condition(r.if_, vars=self._vars, env=self._env)
            except ConditionErrors as errs:
                for rel, message in errs.errors:
                    self.problems.add((*path, "if", *rel), message)
            else:
                cond = compiled.fn
                sets_match = compiled.uses.sets_match
                self.merge_uses(compiled.uses, (*path, "if"))
                inline = self.inline_condition(r.if_)
        trigger = None
        if isinstance(r.on, str):
            types: tuple[str, ...] = (r.on,)
        elif isinstance(r.on, list):
            types = tuple(r.on)
        else:
            types, trigger = (), r.on
        threshold = None
        if r.threshold is not None:
            threshold = (r.threshold.count, r.threshold.within.total_seconds())
        _file, line, _col = self.loaded.source.pos(path)
        do = tuple(self.actions(r.do, "do"))
        else_ = tuple(self.actions(r.else_ or [], "else"))
        types = self._with_edits(r, path, types, any(a.moderation for a in (*do, *else_)))
        return CompiledRule(
            id=r.id,
            index=index,
            priority=r.priority,
            types=types,
            cond=cond,
            cond_source=r.if_,
            cooldown=r.cooldown.total_seconds() if r.cooldown is not None else None,
            once=r.once,
            threshold=threshold,
            stop=r.stop,
            exempt=Exempt.of(r.exempt),
            do=do,
            else_=else_,
            refused=tuple(self.actions(r.refused or [], "refused")),
            source=path,
            line=line,
            cond_inline=inline,
            sets_match=sets_match,
            trigger=trigger,
            shadow=r.shadow,
            cooldown_per=r.cooldown_per,
        )

    def _with_edits(
        self, r: Any, path: Path, types: tuple[str, ...], moderates: bool
    ) -> tuple[str, ...]:
        """A rule on ``message.posted`` also runs on ``message.edited`` when it takes
        moderation actions (an edit can add what the post was deleted for), unless it says
        ``edits: false``; other rules only with ``edits: true`` (an edit is no new post,
        so rewards are not granted again).  docs/language.md, "Rules"."""
        if r.edits is not None and POSTED not in types:
            self.problems.add(
                (*path, "edits"),
                _("`edits:` is for rules on message.posted (it adds message.edited to them)"),
            )
            return types
        wanted = r.edits if r.edits is not None else moderates
        if wanted and POSTED in types and EDITED not in types:
            return (*types, EDITED)
        return types

    def inline_condition(self, cond: Any) -> str | None:
        """One Python expression for a condition that is an expression or a list of
        them (all must hold), compiled into the shared namespace; else None."""
        leaves = [cond] if isinstance(cond, str) else cond
        if not isinstance(leaves, list) or not all(isinstance(x, str) for x in leaves):
            return None
        parts = []
        for text in leaves:
            compiled = compile_expression(
                text, vars=self._vars, env=self._env, namespace=self.namespace, hoist_data=True
            )
            parts.append(f"({compiled.inline})")
        return " and ".join(parts) if parts else None

    def templates(self) -> TemplateSet:
        spec = self._spec
        self.note_gaps(spec.templates)
        try:
            templates = TemplateSet(spec.templates, vars=self._vars, env=self._env)
        except TemplateCompileError as err:
            for name, message in getattr(err, "errors", [(None, str(err))]):
                self.problems.add(("templates", name) if name else ("templates",), message)
            return TemplateSet({}, vars=self._vars, env=self._env)
        self.merge_uses(templates.uses, ("templates",))
        return templates

    def run(self) -> CompiledPlaybook:
        spec = self._spec
        self.note_gaps(spec.segments)  # segment conditions may read member.typical_gap
        templates = self.templates()
        self._rules.extend(self.rule(i) for i in range(len(spec.rules)))
        plans: list[tuple[Feature, FeaturePlan]] = []
        for feature in self.registry.features:
            plan = feature.compile(self)
            if plan is not None:
                plans.append((feature, plan))
        self.problems.raise_if_any()
        rules = tuple(self._rules)
        by_type: dict[str, list[CompiledRule]] = {}
        routes: dict[str, tuple[CompiledRule, ...]] = {}
        for rule in rules:
            for t in rule.types:
                by_type.setdefault(t, []).append(rule)
            if rule.trigger is not None:
                routes[route(rule.id)] = (rule,)
        ordered = {
            t: tuple(sorted(rs, key=lambda r: (-r.priority, r.index))) for t, rs in by_type.items()
        }
        data_vars = dict(self.namespace.data_vars)
        env = self._env
        dispatch, source = build_dispatch(
            {**ordered, **routes},
            self.namespace.values,
            data_vars,
            plain_points=not env.scales and not env.person_currencies,
        )
        observers: dict[str, list[Callable[..., None]]] = {}
        before: dict[str, list[Callable[..., None]]] = {}
        for _name, plan in plans:
            for type_, hooks in plan.observers.items():
                observers.setdefault(type_, []).extend(hooks)
            for type_, hooks in plan.before.items():
                before.setdefault(type_, []).extend(hooks)
        timer_kinds = {
            kind: handler
            for feature in self.registry.features
            for kind, handler in feature.timer_kinds().items()
        }
        return CompiledPlaybook(
            name=self.loaded.name,
            community_name=spec.community.name,
            language=spec.community.language,
            timezone=self._timezone,
            vars=self._vars,
            currencies=self.currencies,
            templates=templates,
            env=self._env,
            rules=rules,
            rule_by_id={r.id: r for r in rules},
            by_type=ordered,
            routes=routes,
            dispatch=dispatch,
            dispatch_source=source,
            namespace=self.namespace.values,
            data_vars=data_vars,
            activity_events=frozenset(spec.activity_events or DEFAULT_ACTIVITY_EVENTS),
            count_windows=dict(self.counts),
            duplicates_window=self.dup,
            streak_types=frozenset(self.streaks),
            track_gaps=self.gaps_used or any(p.track_gaps for _name, p in plans),
            actions=tuple(self._all_actions),
            member_checks=tuple(c for _name, plan in plans for c in plan.member_checks),
            observers={t: tuple(hooks) for t, hooks in observers.items()},
            timer_kinds=timer_kinds,
            start_hooks=tuple(p.on_start for _name, p in plans if p.on_start is not None),
            resume_hooks=tuple(p.on_resume for _name, p in plans if p.on_resume is not None),
            community_hooks=tuple(
                p.on_new_community for _name, p in plans if p.on_new_community is not None
            ),
            features={f.name: p.data for f, p in plans if p.data is not None},
            notes=tuple(sorted(self.notes)),
            shadow=spec.shadow,
            loaded=self.loaded,
            before={t: tuple(hooks) for t, hooks in before.items()},
        )


def compile_playbook(loaded: LoadedPlaybook, *, registry: CompileRegistry) -> CompiledPlaybook:
    """Compile a loaded playbook with the actions and features ``registry`` holds,
    raising :class:`~engage_rules.errors.PlaybookError` with every problem found."""
    return _Compiler(loaded, registry).run()


def load(path: Any, *, registry: CompileRegistry) -> CompiledPlaybook:
    """Load and compile a playbook file or folder."""
    return compile_playbook(load_playbook(path, registry=registry), registry=registry)
