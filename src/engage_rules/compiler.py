"""Compile a loaded playbook into fast, ready-to-run rules (load → validate → COMPILE).

Everything that can be decided at load time is decided here, once: conditions become
Python functions, templates are compiled, durations become seconds, rules are indexed by
event type and sorted by priority, and every action's templated parameters become value
functions.  Nothing is re-parsed per event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from .action_specs import MODERATION_ACTIONS, ActionSpec
from .detectors import MAX_PROGRAM_SIZE
from .durations import parse_duration
from .errors import Path, Problem, Problems
from .expr_codegen import Namespace
from .expressions import (
    ConditionErrors,
    ExprCompileError,
    Uses,
    compile_condition,
    compile_expression,
)
from .flows import compile_flow, install
from .functions import MAX_PATTERNS, SEGMENT_SCOPE
from .loader import ActionCall, LoadedPlaybook
from .messaging import MessagingPolicy
from .segments import compile_segments, segment_scope
from .spec import DEFAULT_MODERATOR_ROLES, CronTrigger, ExemptSpec
from .templates import TemplateCompileError, TemplateSet, ValueFn, compile_value
from .wordlists import is_file_ref, read_word_list

if TYPE_CHECKING:
    from .badges import BadgeDef
    from .leaderboards import Board
    from .levels import CompiledLevels

Condition = Callable[[Any], Any]
#: A member check (see ``CompiledPlaybook.member_checks``).
MemberCheck = Callable[[Any, Any, Any, Any], None]

#: Event types that count as activity (DESIGN.md §5.6) when `activity_events` is not set.
DEFAULT_ACTIVITY_EVENTS = ("message.posted", "reaction.added", "content.shared", "checkin")


@dataclass(slots=True)
class Exempt:
    roles: frozenset[str] = frozenset()
    members: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()

    @classmethod
    def of(cls, *specs: ExemptSpec | None) -> Exempt | None:
        roles: set[str] = set()
        members: set[str] = set()
        channels: set[str] = set()
        for s in specs:
            if s is not None:
                roles.update(s.roles)
                members.update(s.members)
                channels.update(s.channels)
        if not (roles or members or channels):
            return None
        return cls(frozenset(roles), frozenset(members), frozenset(channels))

    def applies(self, member_id: str | None, roles: tuple[str, ...], channel: str | None) -> bool:
        if member_id is not None and member_id in self.members:
            return True
        if channel is not None and channel in self.channels:
            return True
        return any(r in self.roles for r in roles)


def describe_exempt(spec: ExemptSpec) -> str:
    """Who an exemption covers, in words (for `validate` notes)."""
    parts = []
    if spec.roles:
        parts.append(f"members with role {', '.join(spec.roles)}")
    if spec.members:
        parts.append(f"members {', '.join(spec.members)}")
    if spec.channels:
        parts.append(f"posts in channel {', '.join(spec.channels)}")
    return "; ".join(parts) or "nobody"


@dataclass(slots=True)
class CompiledAction:
    """One action with its parameters compiled to value functions."""

    name: str
    path: str  # e.g. "do.0", "else.1", "ladder.2.0": part of the action key
    spec: ActionSpec
    params: BaseModel
    values: dict[str, ValueFn]  # templated parameters, by field name
    source: Path
    #: The function that carries the action out (engine_actions.ACTION_EXECUTORS).
    execute: Callable[[Any, CompiledAction], None]
    #: Parameters whose value is known at load time (no template), by field name.
    consts: dict[str, Any] = field(default_factory=dict)
    #: (playbook name, path): with the rule and the cause, what the action key hashes.
    key_source: tuple[str, str] = ("", "")


@dataclass(slots=True)
class Prize:
    """One prize of a `lottery` action, with its actions compiled."""

    name: str | None
    weight: float
    stock: int | None
    do: list[CompiledAction]


@dataclass(slots=True)
class CompiledRule:
    id: str
    index: int  # file order
    priority: int
    types: tuple[str, ...]
    cond: Condition | None
    cond_source: Any
    cooldown: float | None
    once: bool
    threshold: tuple[int, float] | None
    stop: bool
    exempt: Exempt | None
    do: list[CompiledAction]
    else_: list[CompiledAction]
    source: Path
    line: int = 0
    #: The condition as one Python expression to inline in dispatch code, if it has one.
    cond_inline: str | None = None
    #: The condition calls a detector function that sets `match`.
    sets_match: bool = False
    #: The trigger map of a rule whose `on:` is one (spec.TRIGGER_MODELS); types is ().
    trigger: Any = None
    #: Shadow mode (shadow.py): its actions are recorded, not carried out.
    shadow: bool = False


@dataclass(slots=True)
class LadderStep:
    at: int
    do: list[CompiledAction]


@dataclass(slots=True)
class CompiledPlaybook:
    name: str
    community_name: str
    timezone: ZoneInfo
    vars: dict[str, Any]
    currencies: tuple[str, ...]
    templates: TemplateSet
    rules: list[CompiledRule]
    by_type: dict[str, tuple[CompiledRule, ...]]
    activity_events: frozenset[str]
    count_windows: dict[str, float | None]  # event type -> longest window kept (s)
    duplicates_window: float | None
    strike_expiry: float | None
    strike_ladder: list[LadderStep]
    moderation_exempt: Exempt | None
    loaded: LoadedPlaybook | None = None
    rule_by_id: dict[str, CompiledRule] = field(default_factory=dict)
    #: Generated per-event-type dispatch functions (built by the engine on first use).
    dispatch: dict[str, Callable[..., None]] | None = None
    dispatch_source: str = ""
    #: Globals shared by the inlined conditions and the dispatch code.
    namespace: dict[str, Any] = field(default_factory=dict)
    #: ``event.data`` keys that inlined conditions read: key -> (local name, undefined).
    data_vars: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: Checks run on every member a decision touched, after its rules (level ladder,
    #: tiered badges...): ``check(engine, decision, member, at)``.  Empty unless the
    #: playbook uses such a feature, so plain playbooks pay nothing per event.
    member_checks: list[MemberCheck] = field(default_factory=list)
    #: Seconds after which credits expire, for currencies with `expires_after`.
    currency_expiry: dict[str, float] = field(default_factory=dict)
    #: The level ladder (:class:`engage_rules.levels.CompiledLevels`), if any.
    levels: CompiledLevels | None = None
    #: Event types whose calendar days the engine keeps, for ``streak()``.
    streak_types: frozenset[str] = frozenset()
    #: Badge definitions by id (:class:`engage_rules.badges.BadgeDef`).
    badges: dict[str, BadgeDef] = field(default_factory=dict)
    #: Leaderboards by id (:class:`engage_rules.leaderboards.Board`).
    leaderboards: dict[str, Board] = field(default_factory=dict)
    #: Trigger rules by their private dispatch route (triggers.route), run by timers.
    routes: dict[str, tuple[CompiledRule, ...]] = field(default_factory=dict)
    #: Observers run after an event's rules, by event type:
    #: ``observer(engine, event, member_or_None, decision, queue)`` (silence deadlines,
    #: delayed triggers, flows).  Empty unless the playbook uses such a feature.
    observers: dict[str, list[Callable[..., None]]] = field(default_factory=dict)
    #: ``{silent_for: ...}`` rules by rule id (silence.SilenceRule).
    silence: dict[str, Any] = field(default_factory=dict)
    #: Keep each member's recent activity gaps (``member.typical_gap`` is used).
    track_gaps: bool = False
    #: Compiled flows by name (flows.CompiledFlow).
    flows: dict[str, Any] = field(default_factory=dict)
    #: Schedules (``on: {cron: ...}``), in rule order, and by rule id (schedules.py).
    schedules: list[Any] = field(default_factory=list)
    schedule_by_rule: dict[str, Any] = field(default_factory=dict)
    #: Compiled segment conditions by name (segments.py).
    segments: dict[str, Callable[[Any], Any]] = field(default_factory=dict)
    #: The messaging policy (messaging.MessagingPolicy), or None without `messaging:`.
    messaging: Any = None
    #: What `validate` tells about the valid playbook (who is exempt from which rule),
    #: each with the place it is about; the message starts with ``note:``.
    notes: list[Problem] = field(default_factory=list)
    #: Shadow mode for the whole playbook (shadow.py): every action it emits is marked
    #: ``shadow`` and never delivered.
    shadow: bool = False

    @property
    def default_currency(self) -> str:
        return self.currencies[0]


def _merge_uses(total: dict[str, float | None], dup: list[float | None], uses: Uses) -> None:
    for type_, window in uses.counts.items():
        have = total.get(type_)
        if window is None:
            total.setdefault(type_, None)
        elif have is None or window > have:
            total[type_] = window
    if uses.duplicates_window is not None:
        cur = dup[0]
        dup[0] = uses.duplicates_window if cur is None else max(cur, uses.duplicates_window)


class _Compiler:
    def __init__(self, loaded: LoadedPlaybook) -> None:
        self.loaded = loaded
        self.spec = loaded.spec
        self.problems = Problems(loaded.source)
        self.vars = self.resolve_vars()
        self.counts: dict[str, float | None] = {}
        self.dup: list[float | None] = [None]
        self.streaks: set[str] = set()
        self.namespace = Namespace()
        self.patterns = 0
        self.program_size = 0
        self.notes: list[Problem] = []
        self.gaps_used = False
        moderation = self.spec.moderation
        self.mod_exempt: ExemptSpec = (
            moderation.exempt if moderation is not None and moderation.exempt is not None
            else ExemptSpec(roles=list(DEFAULT_MODERATOR_ROLES))
        )

    def note(self, path: Path, message: str) -> None:
        """Something `validate` tells the operator about a valid playbook."""
        file, line, col = self.loaded.source.pos(path)
        self.notes.append(Problem(file, line, col, f"note: {message}"))

    def resolve_vars(self) -> dict[str, Any]:
        """The playbook's vars, with word-list file references replaced by their words."""
        out = dict(self.spec.vars)
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

    def condition(self, raw: Any, path: Path) -> Condition | None:
        """Compile a condition written at ``path`` (problems are collected)."""
        self.note_gaps(raw)
        try:
            compiled = compile_condition(raw, vars=self.vars)
        except ConditionErrors as errs:
            for rel, message in errs.errors:
                self.problems.add((*path, *rel), message)
            return None
        self.merge_uses(compiled.uses, path)
        return compiled.fn

    def merge_uses(self, uses: Uses, path: Path = ()) -> None:
        """Record what a compiled expression or template written at ``path`` needs the
        engine to keep (windowed counts, duplicate texts, streak days), and count its
        regular expressions against the playbook's limits.  Every compiled expression's
        ``uses`` must pass through here."""
        _merge_uses(self.counts, self.dup, uses)
        self.streaks |= uses.streaks
        self.count_patterns(uses, path)

    def value(self, raw: Any, path: Path, *, allow_match: bool = True) -> ValueFn | None:
        self.note_gaps(raw)
        try:
            fn, uses = compile_value(raw, vars=self.vars, allow_match=allow_match)
        except (ExprCompileError, TemplateCompileError) as err:
            self.problems.add(path, str(err))
            return None
        self.merge_uses(uses, path)
        return fn

    def count_patterns(self, uses: Uses, path: Path) -> None:
        """Count regular expressions, and the size of their RE2 programs, against the
        playbook-wide limits (the second bounds the pattern matching work per event:
        docs/language.md, "Detectors")."""
        before = self.patterns
        self.patterns += uses.patterns
        if before <= MAX_PATTERNS < self.patterns:
            self.problems.add(
                path,
                f"the playbook uses more than {MAX_PATTERNS} regular expressions in "
                "matches(); merge word lists into contains_any() instead",
            )
        before = self.program_size
        self.program_size += uses.program_size
        if before <= MAX_PROGRAM_SIZE < self.program_size:
            self.problems.add(
                path,
                f"together the playbook's matches() patterns compile to RE2 programs of "
                f"{self.program_size:,} instructions (so far); the limit is "
                f"{MAX_PROGRAM_SIZE:,}, which bounds the pattern matching work per event "
                "(simplify the patterns, or move literal words to contains_any())",
            )

    def action(self, call: ActionCall, label: str) -> CompiledAction | None:
        from .action_specs import ACTION_SPECS

        spec = ACTION_SPECS[call.name]
        values: dict[str, ValueFn] = {}
        ok = True
        for fname, raw in call.params:
            if raw is None or isinstance(raw, BaseModel) or fname in ("for_", "expires"):
                continue
            if (call.name, fname) in (("emit", "type"), ("lottery", "prizes")):
                continue
            if call.name in ("start_flow", "exit_flow") and fname in ("flow", "restart"):
                if fname == "flow" and raw not in self.spec.flows:
                    from difflib import get_close_matches

                    hint = get_close_matches(raw, list(self.spec.flows), n=1)
                    suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
                    self.problems.add((*call.path, call.name, "flow"),
                                      f"unknown flow {raw!r}{suggestion}")
                    ok = False
                continue
            if fname == "on_approve":
                continue
            if call.name in ("send", "reply", "broadcast", "warn") and fname == "template":
                if raw not in self.spec.templates:
                    from difflib import get_close_matches

                    hint = get_close_matches(raw, list(self.spec.templates), n=1)
                    suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
                    self.problems.add(
                        (*call.path, call.name, "template"),
                        f"unknown template {raw!r}{suggestion}",
                    )
                    ok = False
                continue
            alias = "for" if fname == "for_" else fname
            fn = self.value(raw, (*call.path, call.name, alias))
            if fn is None:
                ok = False
            else:
                values[fname] = fn
        if call.name == "set":
            extra = call.params.model_extra or {}
            for k, raw in extra.items():
                fn = self.value(raw, (*call.path, call.name, k))
                if fn is None:
                    ok = False
                else:
                    values[k] = fn
        currency = getattr(call.params, "currency", None)
        names = self.spec.currency_names
        if currency is not None and currency not in names:
            self.problems.add(
                (*call.path, call.name, "currency"),
                f"unknown currency {currency!r}; the playbook's currencies are "
                f"{', '.join(names)}",
            )
            ok = False
        if call.name == "set_level":
            from .levels import check_set_level

            problem = check_set_level(self.spec, call)
            if problem is not None:
                self.problems.add((*call.path, call.name), problem)
                ok = False
        elif call.name == "lock_level" and self.spec.levels is None:
            self.problems.add((*call.path, call.name),
                              "`lock_level` needs a `levels:` section (a level ladder)")
            ok = False
        if call.name in ("grant_badge", "revoke_badge"):
            from .badges import check_badge_action

            problem = check_badge_action(self, call)
            if problem is not None:
                self.problems.add((*call.path, call.name, "badge"), problem)
                ok = False
        if not ok:
            return None
        from .engine_actions import ACTION_EXECUTORS, specialised_executor

        consts = {k: fn(None) for k, fn in values.items() if fn.constant}  # type: ignore[arg-type]
        dynamic = {k: fn for k, fn in values.items() if not fn.constant}
        # Durations are parsed once, here, not per event.
        for field_name in ("for_", "expires"):
            raw_duration = getattr(call.params, field_name, None)
            if raw_duration:
                consts[f"{field_name}_delta"] = parse_duration(raw_duration)
        if call.name == "lottery":
            consts["prizes"] = [
                Prize(p.name, float(p.weight), p.stock,
                      self.actions(p.do, f"{label}.prizes.{i}"))
                for i, p in enumerate(call.params.prizes)  # type: ignore[attr-defined]
            ]
        on_approve = getattr(call.params, "on_approve", None)
        if on_approve is not None:
            consts["on_approve"] = self.actions(on_approve, f"{label}.on_approve")
        if call.name in ("award", "spend") and "points" in consts:
            consts["currency"] = names[0]
            consts["amount"] = consts.pop("points")
        if call.name == "award" and (currency or names[0]) in self.spec.currency_expiry():
            consts["lots"] = True  # credits become lots: no specialised executor
        compiled = CompiledAction(call.name, label, spec, call.params, dynamic, call.path,
                                  ACTION_EXECUTORS[call.name], consts, (self.loaded.name, label))
        fast = specialised_executor(compiled, ZoneInfo(self.spec.community.timezone))
        if fast is not None:
            compiled.execute = fast
        return compiled

    def actions(self, calls: list[Any], prefix: str) -> list[CompiledAction]:
        out = []
        for i, call in enumerate(calls):
            compiled = self.action(call, f"{prefix}.{i}")
            if compiled is not None:
                out.append(compiled)
        return out

    def rule(self, index: int) -> CompiledRule:
        r = self.spec.rules[index]
        path: Path = ("rules", index)
        self.note_gaps(r.if_)
        cond = None
        inline: str | None = None
        sets_match = False
        if r.if_ is not None:
            try:
                compiled = compile_condition(r.if_, vars=self.vars)
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
        do = self.actions(r.do, "do")
        else_ = self.actions(r.else_ or [], "else")
        if r.shadow:
            from .shadow import shadow_actions

            shadow_actions(do)
            shadow_actions(else_)
        moderation = any(a.name in MODERATION_ACTIONS for a in (*do, *else_))
        mod_exempt = self.mod_exempt if moderation else None
        if mod_exempt is not None:
            who = describe_exempt(mod_exempt)
            self.note(path, f"rule {r.id!r} takes moderation actions: " + (
                f"{who} are exempt from it (moderation.exempt)" if who != "nobody"
                else "nobody is exempt from it (moderation.exempt is empty)"))
        threshold = None
        if r.threshold is not None:
            threshold = (r.threshold.count, parse_duration(r.threshold.within).total_seconds())
        _, line, _ = self.loaded.source.pos(path)
        return CompiledRule(
            id=r.id,
            index=index,
            priority=r.priority,
            types=types,
            cond=cond,
            cond_source=r.if_,
            cooldown=parse_duration(r.cooldown).total_seconds() if r.cooldown else None,
            once=r.once,
            threshold=threshold,
            stop=r.stop,
            exempt=Exempt.of(r.exempt, mod_exempt),
            do=do,
            else_=else_,
            source=path,
            line=line,
            cond_inline=inline,
            sets_match=sets_match,
            trigger=trigger,
            shadow=r.shadow,
        )

    def rewards(self) -> tuple[dict[str, BadgeDef], dict[str, Board], list[MemberCheck]]:
        """Badges and leaderboards, and the member checks they need (tiered badges,
        leaderboard scores), only when the playbook uses them."""
        from .badges import compile_badges, tier_check
        from .leaderboards import compile_leaderboards, score_check

        badges = compile_badges(self)
        boards = compile_leaderboards(self, tuple(self.spec.currency_names))
        checks = [c for c in (tier_check(badges), score_check(boards)) if c is not None]
        return badges, boards, checks

    def inline_condition(self, cond: Any) -> str | None:
        """One Python expression for a condition that is an expression or a list of
        them (all must hold), compiled into the shared namespace; else None."""
        leaves = [cond] if isinstance(cond, str) else cond
        if not isinstance(leaves, list) or not all(isinstance(x, str) for x in leaves):
            return None
        parts = []
        for text in leaves:
            compiled = compile_expression(text, vars=self.vars, namespace=self.namespace,
                                          hoist_data=True)
            parts.append(f"({compiled.inline})")
        return " and ".join(parts) if parts else None

    def segments(self) -> dict[str, Callable[[Any], Any]]:
        """Compile `segments:` and check that schedule audiences name one of them."""
        scope = SEGMENT_SCOPE.get()
        assert scope is not None
        uses = Uses()
        compiled = compile_segments(self.spec.segments, self.vars, scope, self.problems, uses)
        self.merge_uses(uses, ("segments",))
        for i, r in enumerate(self.spec.rules):
            audience = r.on.audience if isinstance(r.on, CronTrigger) else None
            if audience is not None and audience not in self.spec.segments:
                from difflib import get_close_matches

                hint = get_close_matches(audience, list(self.spec.segments), n=1)
                self.problems.add(("rules", i, "on", "audience"),
                                  f"unknown segment {audience!r}"
                                  + (f"; did you mean {hint[0]!r}?" if hint else
                                     " (define it under `segments:`)"))
        return compiled

    def moderator_rules(self, first_index: int) -> list[CompiledRule]:
        """The built-in rules for moderators' events: `moderation.strike` gives the
        member `data.member` a strike (with the ladder), `moderation.strike_reset`
        clears their strikes; both only from moderators (`moderation.moderators`)."""
        from .action_specs import ReasonParams
        from .moderator_events import MANUAL_RULES, moderator_condition

        moderation = self.spec.moderation
        assert moderation is not None
        who = moderation.moderators
        if who is not None:
            moderators = Exempt(frozenset(who.roles), frozenset(who.members), frozenset())
        else:
            ex = self.mod_exempt
            moderators = Exempt(frozenset(ex.roles), frozenset(ex.members), frozenset())
        for i, r in enumerate(self.spec.rules):
            if r.id in MANUAL_RULES:
                self.problems.add(("rules", i, "id"),
                                  f"the rule id {r.id!r} is reserved for moderators' events")
        out = []
        path: Path = ("moderation",)
        _, line, _ = self.loaded.source.pos(path)
        for k, (type_, action_name, default_reason) in enumerate(MANUAL_RULES.values()):
            params = ReasonParams(to="{{ event.data.member }}",
                                  reason=f"{{{{ event.data.reason or '{default_reason}' }}}}")
            action = self.action(ActionCall(action_name, params, path), "manual.0")
            assert action is not None
            out.append(CompiledRule(
                id=type_, index=first_index + k, priority=0, types=(type_,),
                cond=moderator_condition(moderators), cond_source=f"<{type_} from a moderator>",
                cooldown=None, once=False, threshold=None, stop=False, exempt=None,
                do=[action], else_=[], source=path, line=line,
            ))
        return out

    def run(self) -> CompiledPlaybook:
        spec = self.spec
        try:
            templates = TemplateSet(spec.templates, vars=self.vars)
        except TemplateCompileError as err:
            for name, message in getattr(err, "errors", [(None, str(err))]):
                self.problems.add(("templates", name) if name else ("templates",), message)
            templates = TemplateSet({}, vars=self.vars)
        else:
            self.merge_uses(templates.uses, ("templates",))
        self.note_gaps(spec.templates)
        self.note_gaps(spec.segments)  # segment conditions may read member.typical_gap
        segments = self.segments()
        rules = [self.rule(i) for i in range(len(spec.rules))]
        flows = {name: compile_flow(self, name, f) for name, f in spec.flows.items()}
        ladder: list[LadderStep] = []
        expiry = None
        mod_exempt = Exempt.of(self.mod_exempt)
        if spec.moderation is not None:
            rules.extend(self.moderator_rules(len(rules)))
            strikes = spec.moderation.strikes
            if strikes is not None:
                if strikes.expire_after:
                    expiry = parse_duration(strikes.expire_after).total_seconds()
                seen: set[int] = set()
                for i, step in enumerate(strikes.ladder):
                    if step.at in seen:
                        self.problems.add(
                            ("moderation", "strikes", "ladder", i, "at"),
                            f"the strike ladder has two steps at {step.at}",
                        )
                    seen.add(step.at)
                    step_actions = self.actions(step.do, f"ladder.{i}")
                    for j, a in enumerate(step_actions):
                        if a.consts.get("on_approve"):
                            self.problems.add(
                                ("moderation", "strikes", "ladder", i, "do", j),
                                "`on_approve` is for flags in rules; a ladder step's "
                                "flag_for_review can only be approved or dismissed",
                            )
                    ladder.append(LadderStep(step.at, step_actions))
                ladder.sort(key=lambda s: s.at)
        badges, boards, reward_checks = self.rewards()
        from .levels import compile_levels

        levels = compile_levels(self)
        self.problems.raise_if_any()
        self.notes.sort()
        by_type: dict[str, list[CompiledRule]] = {}
        for rule in rules:
            for t in rule.types:
                by_type.setdefault(t, []).append(rule)
        ordered = {
            t: tuple(sorted(rs, key=lambda r: (-r.priority, r.index))) for t, rs in by_type.items()
        }
        playbook = CompiledPlaybook(
            name=self.loaded.name,
            community_name=spec.community.name,
            timezone=ZoneInfo(spec.community.timezone),
            vars=self.vars,
            currencies=tuple(spec.currency_names),
            currency_expiry=spec.currency_expiry(),
            levels=levels,
            templates=templates,
            rules=rules,
            by_type=ordered,
            activity_events=frozenset(spec.activity_events or DEFAULT_ACTIVITY_EVENTS),
            count_windows=self.counts,
            duplicates_window=self.dup[0],
            streak_types=frozenset(self.streaks),
            strike_expiry=expiry,
            strike_ladder=ladder,
            moderation_exempt=mod_exempt,
            loaded=self.loaded,
            rule_by_id={r.id: r for r in rules},
            namespace=self.namespace.values,
            data_vars=dict(self.namespace.data_vars),
            badges=badges,
            leaderboards=boards,
            member_checks=[*([levels.check] if levels is not None else []), *reward_checks],
            flows=flows,
            track_gaps=self.gaps_used,
            segments=segments,
            messaging=MessagingPolicy.of(spec.messaging),
            notes=self.notes,
            shadow=spec.shadow,
        )
        from .triggers import compile_triggers

        compile_triggers(playbook)
        install(playbook)
        return playbook


def compile_playbook(loaded: LoadedPlaybook) -> CompiledPlaybook:
    """Compile a loaded playbook, raising PlaybookError with every problem found."""
    # `segment('name')` calls anywhere in the playbook are checked against its segments.
    with segment_scope(set(loaded.spec.segments)):
        return _Compiler(loaded).run()


def load(path: Any) -> CompiledPlaybook:
    """Load and compile a playbook file or folder."""
    from .loader import load_playbook

    return compile_playbook(load_playbook(path))
