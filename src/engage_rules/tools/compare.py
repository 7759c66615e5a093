"""Compare two replays of the same events: the backtest before a playbook change.

``replay A EVENTS --compare B`` runs the same events through two playbooks; this module
takes what each run produced (its actions, its final state snapshot and its ledger) and
says, per rule, what B would do differently from A, and how the members' final state
differs.  It does no I/O: the command line feeds it (``cli_compare``) and prints the
result with ``compare_render``.

Actions are matched by what they do, never by ``key``: a key hashes the playbook's name,
so the same decision has different keys in two differently named playbooks.  Two actions
are the same when their community, cause, rule, type, member, ``at``, params and shadow
flag are equal.  What is left over is paired, where possible, by community, cause, rule,
type and member — the same decision with other parameters (a different amount, a later
time, now in shadow mode) is reported as *changed*, not as one removal and one addition.

Actions of two communities never match, so a stream split by community compares in
parts: :func:`compare_part` compares the runs of some communities, keeping only what
the output can show (counts, and the first examples by their place in the stream), and
:func:`merge_parts` adds the parts up into the :class:`Comparison` one run over every
community gives (``replay --compare`` is one part; ``backtest`` runs many).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..compile.playbook import CompiledPlaybook
    from ..model.decision import ActionRecord
    from ..model.state import LedgerEntry, State

#: How many example actions per rule, and example members per state field, are kept.
MAX_EXAMPLES = 3

#: The member fields of a state snapshot (docs/reference.md §6) that are compared; balances are
#: compared per currency, as ``balances.<currency>``.
STATE_FIELDS = ("level", "badges", "titles", "tags", "strikes", "status", "opted_out")

#: What a member missing from one run's snapshot counts as, field by field.
_ABSENT: dict[str, Any] = {
    "level": None,
    "badges": [],
    "titles": [],
    "tags": [],
    "strikes": 0,
    "status": None,
    "opted_out": False,
}


#: Where an action stands in the stream, so that examples are listed in stream order
#: however the stream was split (tools/partition.py makes them); compared only with
#: the stamps of the same run.
Stamp = tuple[Any, ...]


@dataclass(frozen=True)
class RunResult:
    """What one replay produced, as the comparison needs it."""

    label: str  # how the operator named the playbook: its path
    name: str  # the playbook's `name:`
    rule_ids: tuple[str, ...]  # the playbook's rules, in file order
    actions: tuple[dict[str, Any], ...]  # each action's JSON (docs/reference.md §6), no `key`
    #: Per community: member id -> the member as a state snapshot shows it.
    members: dict[str, dict[str, dict[str, Any]]]
    #: (rule, currency) -> the net amount the rule's ledger entries added up to.
    ledger: dict[tuple[str, str], int]
    #: Each action's place in the stream; empty: the order of ``actions`` is that place.
    stamps: tuple[Stamp, ...] = ()


def run_result(
    label: str,
    playbook: CompiledPlaybook,
    actions: Iterable[ActionRecord],
    state: State,
    ledger: Iterable[tuple[str, str, LedgerEntry]],
    stamps: Iterable[Stamp] = (),
) -> RunResult:
    """Collect a finished run's actions, snapshot and ledger totals (``ledger``: its
    entries as ``Store.ledgers()`` gives them; ``stamps``: see :class:`RunResult`)."""
    snapshot = state.snapshot()
    if not state.communities:
        communities = {}
    elif "communities" in snapshot:
        communities = snapshot["communities"]
    else:
        communities = {next(iter(state.communities)): snapshot}
    totals: Counter[tuple[str, str]] = Counter()
    for _, _, entry in ledger:
        totals[(entry.rule, entry.currency)] += entry.amount
    return RunResult(
        label=label,
        name=playbook.name,
        rule_ids=tuple(r.id for r in playbook.rules),
        actions=tuple(_without_key(a.to_json()) for a in actions),
        members={c: dict(s["members"]) for c, s in communities.items()},
        ledger=dict(totals),
        stamps=tuple(stamps),
    )


def _without_key(action: dict[str, Any]) -> dict[str, Any]:
    action.pop("key", None)
    return action


@dataclass(frozen=True)
class RunSide:
    """One side of a comparison, as its output names it."""

    label: str  # how the operator named the playbook: its path
    name: str  # the playbook's `name:`
    rule_ids: tuple[str, ...]  # the playbook's rules, in file order

    @classmethod
    def of(cls, run: RunResult) -> RunSide:
        return cls(run.label, run.name, run.rule_ids)


@dataclass(frozen=True)
class ActionChange:
    """One action B decides differently from A: ``added`` (only B), ``removed`` (only A)
    or ``changed`` (both, with other parameters, time or shadow flag)."""

    change: str
    a: dict[str, Any] | None
    b: dict[str, Any] | None
    #: Where the change stands in the list of all changes (B's order, then A's).
    order: Stamp = field(default=(), compare=False)


@dataclass
class RuleDiff:
    """How one rule (or playbook section, e.g. ``flows.onboarding``) differs."""

    rule: str
    in_a: bool
    in_b: bool
    #: (action type, shadow) -> how many such actions the rule emitted in each run.
    counts_a: Counter[tuple[str, bool]] = field(default_factory=Counter)
    counts_b: Counter[tuple[str, bool]] = field(default_factory=Counter)
    added: int = 0
    removed: int = 0
    changed: int = 0
    #: The first :data:`MAX_EXAMPLES` changes of each kind, in order.
    examples: list[ActionChange] = field(default_factory=list)
    #: currency -> the net ledger amount of the rule's entries in each run.
    ledger_a: dict[str, int] = field(default_factory=dict)
    ledger_b: dict[str, int] = field(default_factory=dict)

    @property
    def differs(self) -> bool:
        return bool(
            self.added
            or self.removed
            or self.changed
            or self.in_a != self.in_b
            or self.ledger_a != self.ledger_b
        )

    def add(self, other: RuleDiff) -> None:
        """Add what ``other`` (the same rule, other communities) counted."""
        self.counts_a.update(other.counts_a)
        self.counts_b.update(other.counts_b)
        self.added += other.added
        self.removed += other.removed
        self.changed += other.changed
        self.examples = _first_examples([*self.examples, *other.examples])
        _add_amounts(self.ledger_a, other.ledger_a)
        _add_amounts(self.ledger_b, other.ledger_b)


def _first_examples(changes: Iterable[ActionChange]) -> list[ActionChange]:
    """The first :data:`MAX_EXAMPLES` changes of each kind, in order."""
    kept: list[ActionChange] = []
    seen: Counter[str] = Counter()
    for change in sorted(changes, key=lambda c: c.order):
        if seen[change.change] < MAX_EXAMPLES:
            seen[change.change] += 1
            kept.append(change)
    return kept


def _add_amounts(into: dict[str, int], other: dict[str, int]) -> None:
    for currency, amount in other.items():
        into[currency] = into.get(currency, 0) + amount


@dataclass
class FieldDiff:
    """How many members end with a different value of one state field, with examples."""

    name: str  # a STATE_FIELDS name, or balances.<currency>
    members: int = 0
    #: (community, member id, A's value, B's value), the first by community and member.
    examples: list[tuple[str, str, Any, Any]] = field(default_factory=list)

    def add(self, other: FieldDiff) -> None:
        """Add what ``other`` (the same field, other communities) counted."""
        self.members += other.members
        both = sorted([*self.examples, *other.examples], key=lambda e: (e[0], e[1]))
        self.examples = both[:MAX_EXAMPLES]


@dataclass
class Comparison:
    """The whole difference between run A and run B."""

    a: RunSide
    b: RunSide
    rules: list[RuleDiff]
    fields: list[FieldDiff]
    members_compared: int
    members_differing: int
    communities: int  # in either run
    actions_a: int
    actions_b: int

    @property
    def actions_differing(self) -> int:
        return sum(r.added + r.removed + r.changed for r in self.rules)

    @property
    def identical(self) -> bool:
        return not any(r.differs for r in self.rules) and not self.fields


@dataclass
class PartComparison:
    """What the communities of one part of a stream contribute to a comparison: counts,
    and no more examples than the whole comparison may show (:func:`merge_parts` adds
    up the parts of a stream split by community)."""

    rules: dict[str, RuleDiff]
    fields: dict[str, FieldDiff]
    members_compared: int = 0
    members_differing: int = 0
    communities: int = 0
    actions_a: int = 0
    actions_b: int = 0


def compare_runs(a: RunResult, b: RunResult) -> Comparison:
    """What B does differently from A, per rule, and how their final states differ."""
    return merge_parts(RunSide.of(a), RunSide.of(b), [compare_part(a, b)])


def _rule_diffs(a: Sequence[str], b: Sequence[str]) -> dict[str, RuleDiff]:
    """A diff for each rule either playbook declares."""
    in_a, in_b = set(a), set(b)
    return {rid: RuleDiff(rid, rid in in_a, rid in in_b) for rid in (*a, *b)}


def _rule(rules: dict[str, RuleDiff], rid: str) -> RuleDiff:
    """The diff of ``rid``: a section (``flows.x``, ``levels``...) not declared as a
    rule counts as in both playbooks."""
    diff = rules.get(rid)
    if diff is None:
        diff = rules[rid] = RuleDiff(rid, True, True)
    return diff


def compare_part(a: RunResult, b: RunResult) -> PartComparison:
    """What B does differently from A over the same events (see :class:`PartComparison`:
    the runs may have seen some communities of a stream only)."""
    rules = _rule_diffs(a.rule_ids, b.rule_ids)
    for action in a.actions:
        _rule(rules, action["rule"]).counts_a[(action["type"], bool(action.get("shadow")))] += 1
    for action in b.actions:
        _rule(rules, action["rule"]).counts_b[(action["type"], bool(action.get("shadow")))] += 1
    examples: dict[str, list[ActionChange]] = defaultdict(list)
    for change in match_actions(a.actions, b.actions, a.stamps, b.stamps):
        changed = change.b if change.b is not None else change.a
        assert changed is not None
        diff = _rule(rules, changed["rule"])
        if change.change == "added":
            diff.added += 1
        elif change.change == "removed":
            diff.removed += 1
        else:
            diff.changed += 1
        examples[diff.rule].append(change)
    for rid, changes in examples.items():
        rules[rid].examples = _first_examples(changes)
    for (rid, currency), amount in a.ledger.items():
        _rule(rules, rid).ledger_a[currency] = amount
    for (rid, currency), amount in b.ledger.items():
        _rule(rules, rid).ledger_b[currency] = amount
    fields, compared, differing = compare_members(a.members, b.members)
    return PartComparison(
        rules,
        {f.name: f for f in fields},
        compared,
        differing,
        len(set(a.members) | set(b.members)),
        len(a.actions),
        len(b.actions),
    )


def rule_order(rule_ids: Iterable[str], rules: Iterable[str]) -> list[str]:
    """``rules`` in the playbooks' order (``rule_ids``), then sections by name."""
    order = {rid: i for i, rid in enumerate(dict.fromkeys(rule_ids))}
    return sorted(rules, key=lambda r: (order.get(r, len(order)), r))


def _field_order(name: str) -> tuple[int, str | int]:
    if name.startswith("balances."):
        return (0, name)
    return (1, STATE_FIELDS.index(name))


def merge_parts(a: RunSide, b: RunSide, parts: Iterable[PartComparison]) -> Comparison:
    """The comparison of A and B over a stream whose communities ``parts`` compared."""
    rules = _rule_diffs(a.rule_ids, b.rule_ids)
    fields: dict[str, FieldDiff] = {}
    total = PartComparison({}, {})
    for part in parts:
        for rid, diff in part.rules.items():
            into = rules.get(rid)
            if into is None:
                into = rules[rid] = RuleDiff(rid, diff.in_a, diff.in_b)
            into.add(diff)
        for name, f in part.fields.items():
            fields.setdefault(name, FieldDiff(name)).add(f)
        total.members_compared += part.members_compared
        total.members_differing += part.members_differing
        total.communities += part.communities
        total.actions_a += part.actions_a
        total.actions_b += part.actions_b
    ordered = rule_order((*a.rule_ids, *b.rule_ids), rules)
    return Comparison(
        a,
        b,
        [rules[r] for r in ordered],
        [fields[n] for n in sorted(fields, key=_field_order)],
        total.members_compared,
        total.members_differing,
        total.communities,
        total.actions_a,
        total.actions_b,
    )


def _exact(action: dict[str, Any]) -> tuple[Any, ...]:
    return (
        *_loose(action),
        action["at"],
        bool(action.get("shadow")),
        json.dumps(action["params"], sort_keys=True, ensure_ascii=False, default=str),
    )


def _loose(action: dict[str, Any]) -> tuple[Any, ...]:
    return (
        action.get("community"),
        action["cause"],
        action["rule"],
        action["type"],
        action["member"],
    )


def match_actions(
    a: Sequence[dict[str, Any]],
    b: Sequence[dict[str, Any]],
    stamps_a: Sequence[Stamp] = (),
    stamps_b: Sequence[Stamp] = (),
) -> list[ActionChange]:
    """The actions that differ between A and B, in B's order then A's (see module doc);
    each change's ``order`` places it in that list by the actions' stamps (default:
    their positions)."""

    def stamp_a(i: int) -> Stamp:
        return stamps_a[i] if stamps_a else (i,)

    def stamp_b(j: int) -> Stamp:
        return stamps_b[j] if stamps_b else (j,)

    unmatched_a: dict[tuple[Any, ...], deque[int]] = defaultdict(deque)
    for i, action in enumerate(a):
        unmatched_a[_exact(action)].append(i)
    only_b: list[int] = []
    for j, action in enumerate(b):
        same = unmatched_a.get(_exact(action))
        if same:
            same.popleft()
        else:
            only_b.append(j)
    leftover_a: dict[tuple[Any, ...], deque[int]] = defaultdict(deque)
    first: dict[tuple[Any, ...], Stamp] = {}  # each group's first leftover: the group's place
    for i, action in enumerate(a):  # A's order, skipping the matched ones (matched from the front)
        pending = unmatched_a[_exact(action)]
        if pending and pending[0] == i:
            pending.popleft()
            loose = _loose(action)
            leftover_a[loose].append(i)
            first.setdefault(loose, stamp_a(i))
    changes: list[ActionChange] = []
    for j in only_b:
        similar = leftover_a.get(_loose(b[j]))
        if similar:
            changes.append(ActionChange("changed", a[similar.popleft()], b[j], (0, stamp_b(j))))
        else:
            changes.append(ActionChange("added", None, b[j], (0, stamp_b(j))))
    for loose, pending in leftover_a.items():
        changes.extend(
            ActionChange("removed", a[i], None, (1, first[loose], stamp_a(i))) for i in pending
        )
    return changes


def _member_fields(member: dict[str, Any] | None, currencies: Iterable[str]) -> dict[str, Any]:
    member = member or {}
    balances = member.get("balances") or {}
    values = {f"balances.{c}": balances.get(c, 0) for c in currencies}
    for name in STATE_FIELDS:
        values[name] = member.get(name, _ABSENT[name])
    return values


def compare_members(
    a: dict[str, dict[str, dict[str, Any]]], b: dict[str, dict[str, dict[str, Any]]]
) -> tuple[list[FieldDiff], int, int]:
    """Per state field, the members whose final value differs; and how many members were
    compared and how many differ in any field."""
    currencies = sorted(
        {
            c
            for side in (a, b)
            for members in side.values()
            for m in members.values()
            for c in m.get("balances") or {}
        }
    )
    names = [*(f"balances.{c}" for c in currencies), *STATE_FIELDS]
    diffs = {name: FieldDiff(name) for name in names}
    compared = differing = 0
    for community in sorted(set(a) | set(b)):
        members_a, members_b = a.get(community, {}), b.get(community, {})
        for mid in sorted(set(members_a) | set(members_b)):
            compared += 1
            va = _member_fields(members_a.get(mid), currencies)
            vb = _member_fields(members_b.get(mid), currencies)
            differs = False
            for name in names:
                if va[name] != vb[name]:
                    differs = True
                    diff = diffs[name]
                    diff.members += 1
                    if len(diff.examples) < MAX_EXAMPLES:
                        diff.examples.append((community, mid, va[name], vb[name]))
            differing += differs
    return [d for d in diffs.values() if d.members], compared, differing


def comparison_json(c: Comparison) -> dict[str, Any]:
    """The comparison as one JSON document (``replay --compare --json``)."""

    def side(run: RunSide, actions: int) -> dict[str, Any]:
        return {"playbook": run.label, "name": run.name, "actions": actions}

    def counts(counter: Counter[tuple[str, bool]], shadow: bool) -> dict[str, int]:
        return {t: n for (t, s), n in sorted(counter.items()) if s is shadow}

    rules = []
    for r in c.rules:
        kinds = sorted(set(r.counts_a) | set(r.counts_b))
        rules.append(
            {
                "rule": r.rule,
                "in_a": r.in_a,
                "in_b": r.in_b,
                "differs": r.differs,
                "actions_a": counts(r.counts_a, False),
                "actions_b": counts(r.counts_b, False),
                "shadow_a": counts(r.counts_a, True),
                "shadow_b": counts(r.counts_b, True),
                "delta": {
                    f"{t} (shadow)" if s else t: r.counts_b[(t, s)] - r.counts_a[(t, s)]
                    for t, s in kinds
                    if r.counts_b[(t, s)] != r.counts_a[(t, s)]
                },
                "added": r.added,
                "removed": r.removed,
                "changed": r.changed,
                "ledger_a": dict(sorted(r.ledger_a.items())),
                "ledger_b": dict(sorted(r.ledger_b.items())),
                "examples": [{"change": e.change, "a": e.a, "b": e.b} for e in r.examples],
            }
        )
    return {
        "a": side(c.a, c.actions_a),
        "b": side(c.b, c.actions_b),
        "identical": c.identical,
        "same_name": c.a.name == c.b.name,
        "actions_differing": c.actions_differing,
        "rules": rules,
        "state": {
            "members_compared": c.members_compared,
            "members_differing": c.members_differing,
            "fields": [
                {
                    "field": f.name,
                    "members": f.members,
                    "examples": [
                        {"community": com, "member": mid, "a": va, "b": vb}
                        for com, mid, va, vb in f.examples
                    ],
                }
                for f in c.fields
            ],
        },
    }
