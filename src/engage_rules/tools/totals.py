"""What one playbook's replay did, per rule: the summary of a backtest without
``--compare`` (its actions by type, and the net of each rule's ledger entries per
currency), in pieces that add up when a stream is replayed in parts by community."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..i18n import _, ngettext
from .compare import RunResult, RunSide, rule_order


@dataclass
class RunTotals:
    """Per rule (or playbook section), the run's actions and ledger net."""

    #: rule -> (action type, shadow) -> how many.
    counts: dict[str, Counter[tuple[str, bool]]] = field(default_factory=dict)
    #: rule -> currency -> the net of the rule's ledger entries.
    ledger: dict[str, dict[str, int]] = field(default_factory=dict)
    actions: int = 0
    members: int = 0
    communities: int = 0

    def add(self, other: RunTotals) -> None:
        """Add the totals of other communities."""
        for rule, counts in other.counts.items():
            self.counts.setdefault(rule, Counter()).update(counts)
        for rule, amounts in other.ledger.items():
            into = self.ledger.setdefault(rule, {})
            for currency, amount in amounts.items():
                into[currency] = into.get(currency, 0) + amount
        self.actions += other.actions
        self.members += other.members
        self.communities += other.communities


def run_totals(run: RunResult, tally: Counter[tuple[str, str, bool]]) -> RunTotals:
    """Sum up one run: its actions as ``tally`` counted them by (rule, type, shadow),
    its ledger and final state as ``run`` holds them (its actions need not be kept)."""
    out = RunTotals(
        actions=sum(tally.values()),
        members=sum(len(m) for m in run.members.values()),
        communities=len(run.members),
    )
    for (rule, type_, shadow), n in tally.items():
        out.counts.setdefault(rule, Counter())[(type_, shadow)] += n
    for (rule, currency), amount in run.ledger.items():
        out.ledger.setdefault(rule, {})[currency] = amount
    return out


def totals_json(side: RunSide, t: RunTotals) -> dict[str, Any]:
    """The totals as one JSON document (``backtest --json`` without ``--compare``)."""
    rules = []
    for rule in rule_order(side.rule_ids, {*side.rule_ids, *t.counts, *t.ledger}):
        counts = t.counts.get(rule, Counter())
        rules.append(
            {
                "rule": rule,
                "actions": {k: n for (k, s), n in sorted(counts.items()) if not s},
                "shadow": {k: n for (k, s), n in sorted(counts.items()) if s},
                "ledger": dict(sorted(t.ledger.get(rule, {}).items())),
            }
        )
    return {
        "playbook": side.label,
        "name": side.name,
        "actions": t.actions,
        "members": t.members,
        "communities": t.communities,
        "rules": rules,
    }


def render_totals(side: RunSide, t: RunTotals) -> str:
    """The totals as text, ending with a newline."""
    doc = totals_json(side, t)
    lines = [
        _("Backtest of {label} ({name})").format(label=side.label, name=side.name),
        "",
        ngettext(
            "{actions} actions; {members} members in {n} community",
            "{actions} actions; {members} members in {n} communities",
            t.communities,
        ).format(actions=f"{t.actions:,}", members=f"{t.members:,}", n=f"{t.communities:,}"),
    ]
    quiet = []
    for r in doc["rules"]:
        kinds = [(k, n) for k, n in r["actions"].items()]
        kinds += [(_("{type} (shadow)").format(type=k), n) for k, n in r["shadow"].items()]
        if not kinds and not r["ledger"]:
            quiet.append(r["rule"])
            continue
        lines += ["", r["rule"]]
        lines += [f"  {kind:<24} {n:>9,}" for kind, n in kinds]
        lines += [
            "  "
            + _("{currency} from this rule (net): {amount}").format(
                currency=currency, amount=f"{amount:,}"
            )
            for currency, amount in r["ledger"].items()
        ]
    if quiet:
        lines += ["", _("Rules with no actions: {rules}").format(rules=", ".join(quiet))]
    return "\n".join(lines) + "\n"
