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


def run_result(
    label: str,
    playbook: CompiledPlaybook,
    actions: Iterable[ActionRecord],
    state: State,
    ledger: Iterable[tuple[str, str, LedgerEntry]],
) -> RunResult:
    """Collect a finished run's actions, snapshot and ledger totals (``ledger``: its
    entries as ``Store.ledgers()`` gives them)."""
    snapshot = state.snapshot()
    if "communities" in snapshot:
        communities = snapshot["communities"]
    else:
        only = next(iter(state.communities), "default")
        communities = {only: snapshot}
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
    )


def _without_key(action: dict[str, Any]) -> dict[str, Any]:
    action.pop("key", None)
    return action


@dataclass(frozen=True)
class ActionChange:
    """One action B decides differently from A: ``added`` (only B), ``removed`` (only A)
    or ``changed`` (both, with other parameters, time or shadow flag)."""

    change: str
    a: dict[str, Any] | None
    b: dict[str, Any] | None


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


@dataclass
class FieldDiff:
    """How many members end with a different value of one state field, with examples."""

    name: str  # a STATE_FIELDS name, or balances.<currency>
    members: int = 0
    #: (community, member id, A's value, B's value)
    examples: list[tuple[str, str, Any, Any]] = field(default_factory=list)


@dataclass
class Comparison:
    """The whole difference between run A and run B."""

    a: RunResult
    b: RunResult
    rules: list[RuleDiff]
    fields: list[FieldDiff]
    members_compared: int
    members_differing: int

    @property
    def actions_differing(self) -> int:
        return sum(r.added + r.removed + r.changed for r in self.rules)

    @property
    def identical(self) -> bool:
        return not any(r.differs for r in self.rules) and not self.fields

    @property
    def communities(self) -> int:
        return len(set(self.a.members) | set(self.b.members))


def compare_runs(a: RunResult, b: RunResult) -> Comparison:
    """What B does differently from A, per rule, and how their final states differ."""
    rules: dict[str, RuleDiff] = {}
    in_a, in_b = set(a.rule_ids), set(b.rule_ids)

    def rule(rid: str) -> RuleDiff:
        diff = rules.get(rid)
        if diff is None:
            declared = rid in in_a or rid in in_b  # else a section: flows.x, levels...
            diff = rules[rid] = RuleDiff(
                rid, rid in in_a or not declared, rid in in_b or not declared
            )
        return diff

    for rid in (*a.rule_ids, *b.rule_ids):
        rule(rid)
    for action in a.actions:
        rule(action["rule"]).counts_a[(action["type"], bool(action.get("shadow")))] += 1
    for action in b.actions:
        rule(action["rule"]).counts_b[(action["type"], bool(action.get("shadow")))] += 1
    for change in match_actions(a.actions, b.actions):
        changed = change.b if change.b is not None else change.a
        assert changed is not None
        diff = rule(changed["rule"])
        if change.change == "added":
            diff.added += 1
        elif change.change == "removed":
            diff.removed += 1
        else:
            diff.changed += 1
        if sum(1 for e in diff.examples if e.change == change.change) < MAX_EXAMPLES:
            diff.examples.append(change)
    for (rid, currency), amount in a.ledger.items():
        rule(rid).ledger_a[currency] = amount
    for (rid, currency), amount in b.ledger.items():
        rule(rid).ledger_b[currency] = amount
    order = {rid: i for i, rid in enumerate(dict.fromkeys((*a.rule_ids, *b.rule_ids)))}
    ordered = sorted(rules.values(), key=lambda r: (order.get(r.rule, len(order)), r.rule))
    fields, compared, differing = compare_members(a.members, b.members)
    return Comparison(a, b, ordered, fields, compared, differing)


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


def match_actions(a: Sequence[dict[str, Any]], b: Sequence[dict[str, Any]]) -> list[ActionChange]:
    """The actions that differ between A and B, in B's order then A's (see module doc)."""
    unmatched_a: dict[tuple[Any, ...], deque[dict[str, Any]]] = defaultdict(deque)
    for action in a:
        unmatched_a[_exact(action)].append(action)
    only_b: list[dict[str, Any]] = []
    for action in b:
        same = unmatched_a.get(_exact(action))
        if same:
            same.popleft()
        else:
            only_b.append(action)
    leftover_a: dict[tuple[Any, ...], deque[dict[str, Any]]] = defaultdict(deque)
    for action in a:  # A's order, skipping the matched ones (matched from the front)
        key = _exact(action)
        pending = unmatched_a[key]
        if pending and pending[0] is action:
            pending.popleft()
            leftover_a[_loose(action)].append(action)
    changes: list[ActionChange] = []
    for action in only_b:
        similar = leftover_a.get(_loose(action))
        if similar:
            changes.append(ActionChange("changed", similar.popleft(), action))
        else:
            changes.append(ActionChange("added", None, action))
    for pending in leftover_a.values():
        changes.extend(ActionChange("removed", action, None) for action in pending)
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

    def side(run: RunResult) -> dict[str, Any]:
        return {"playbook": run.label, "name": run.name, "actions": len(run.actions)}

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
        "a": side(c.a),
        "b": side(c.b),
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
