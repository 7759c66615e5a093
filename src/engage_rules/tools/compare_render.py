"""The text of ``replay --compare``: a playbook comparison an operator can read.

The reader runs a backtest before changing a rule and is not necessarily a programmer, so
actions are told as sentences ("would no longer award 5 points to u1"), numbers as
"A → B (+n)", and rules that behave the same are listed on one line instead of tables of
zeros.  The same content, for machines, is ``compare.comparison_json``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .compare import ActionChange, Comparison, RuleDiff

#: Longest quoted message text or parameter value shown in an example.
MAX_TEXT = 60

#: Message actions addressed to one member (a broadcast goes to a channel).
_MESSAGES = ("send", "reply", "warn")


def render(c: Comparison) -> str:
    """The comparison as text, ending with a newline."""
    lines = [
        "Comparing two playbooks over the same events",
        f"  A: {c.a.label} ({c.a.name})",
        f"  B: {c.b.label} ({c.b.name})",
        "",
        f"{_count(c.actions_a, 'action')} in A, {c.actions_b:,} in B, "
        f"{c.actions_differing:,} differ",
    ]
    if c.a.name != c.b.name:
        lines += [
            f"Note: the playbooks have different names ({c.a.name}, {c.b.name}). "
            "Deferred messages are spread and lottery prizes drawn by a hash that "
            "includes the name, so some of them differ for that reason alone; give "
            "both the same `name:` to compare only the rules."
        ]
    if c.identical:
        lines.append(
            f"No differences: both playbooks decide the same actions and all "
            f"{_count(c.members_compared, 'member')} end in the same state."
        )
        return "\n".join(lines) + "\n"
    changed = [r for r in c.rules if r.differs]
    lines += ["", f"Rules that behave differently in B ({len(changed)}):"]
    for r in changed:
        lines += ["", *_rule_block(r)]
    same = [r.rule for r in c.rules if not r.differs and (r.counts_a or r.ledger_a)]
    quiet = [r.rule for r in c.rules if not r.differs and not (r.counts_a or r.ledger_a)]
    if same:
        lines += ["", f"Rules with the same actions in A and B: {', '.join(same)}"]
    if quiet:
        lines += [f"Rules with no actions in either: {', '.join(quiet)}"]
    lines += ["", *_state_block(c)]
    return "\n".join(lines) + "\n"


def _rule_block(r: RuleDiff) -> list[str]:
    title = r.rule
    if r.in_a and not r.in_b:
        title += " (only in A: removed in B)"
    elif r.in_b and not r.in_a:
        title += " (only in B: new)"
    lines = [title]
    kinds = sorted(set(r.counts_a) | set(r.counts_b))
    if kinds:
        width = max(len(_kind(t, s)) for t, s in kinds)
        lines.append(f"  {'action':<{width}}  {'A':>7}  {'B':>7}  {'change':>7}")
        for t, s in kinds:
            na, nb = r.counts_a[(t, s)], r.counts_b[(t, s)]
            lines.append(f"  {_kind(t, s):<{width}}  {na:>7,}  {nb:>7,}  {_delta(nb - na):>7}")
    parts = []
    if r.added:
        parts.append(f"{r.added:,} only in B")
    if r.removed:
        parts.append(f"{r.removed:,} only in A")
    if r.changed:
        parts.append(f"{r.changed:,} with other details")
    if parts:
        lines.append(f"  actions that differ: {', '.join(parts)}")
    for currency in sorted(set(r.ledger_a) | set(r.ledger_b)):
        va, vb = r.ledger_a.get(currency, 0), r.ledger_b.get(currency, 0)
        if va != vb:
            lines.append(
                f"  {currency} from this rule (net): {va:,} in A, {vb:,} in B ({_delta(vb - va)})"
            )
        else:
            lines.append(f"  {currency} from this rule (net): {va:,} in both")
    if r.examples:
        lines.append("  for example, with B:")
        lines += [f"    {example_sentence(e)}" for e in r.examples]
    return lines


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def _kind(type_: str, shadow: bool) -> str:
    return f"{type_} (shadow)" if shadow else type_


def _delta(n: int) -> str:
    return f"+{n:,}" if n > 0 else f"{n:,}" if n < 0 else "0"


def example_sentence(e: ActionChange) -> str:
    """One differing action as a sentence about B, with when and why it happens."""
    if e.change == "added":
        assert e.b is not None
        return f"would newly {describe(e.b)} — {_when(e.b)}"
    if e.change == "removed":
        assert e.a is not None
        return f"would no longer {describe(e.a)} — {_when(e.a)}"
    assert e.a is not None and e.b is not None
    return f"would {describe(e.b)} — {_when(e.b)} (in A: {'; '.join(_in_a(e.a, e.b))})"


def describe(action: dict[str, Any]) -> str:
    """What an action does, in words: "award 5 points to u1", "tag u3 newcomer"."""
    kind, member, params = action["type"], action.get("member"), action.get("params") or {}
    who = member if member is not None else "everyone"
    if kind in ("award", "spend", "expire") and "amount" in params:
        preposition = "to" if kind == "award" else "of"
        text = f"{kind} {params['amount']} {params.get('currency', '')} {preposition} {who}"
    elif kind == "revoke" and isinstance(params.get("reversed"), list):
        taken: dict[str, int] = {}
        for entry in params["reversed"]:
            currency = str(entry.get("currency", ""))
            taken[currency] = taken.get(currency, 0) + int(entry.get("amount", 0))
        amounts = " and ".join(f"{n} {c}" for c, n in taken.items()) or "nothing"
        text = f"take back {amounts} from {who}"
    elif kind in _MESSAGES:
        text = f"{kind} {who} {_quote(params.get('text', params.get('template', '')))}"
    elif kind == "broadcast":
        text = (
            f"broadcast to #{params.get('channel', '?')} "
            f"{_quote(params.get('text', params.get('template', '')))}"
        )
    elif kind in ("tag", "untag") and "name" in params:
        text = f"{kind} {who} {params['name']}"
    elif kind == "mute" and "for" in params:
        text = f"mute {who} for {params['for']}"
    elif kind == "strike":
        text = f"give {who} a strike"
    else:
        text = f"{kind} {who}"
    reason = params.get("reason")
    if kind not in _MESSAGES and kind != "broadcast" and isinstance(reason, str) and reason:
        text += f" ({_short(reason)})"
    if action.get("shadow"):
        text += " [shadow: recorded, not delivered]"
    return text


def _in_a(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """What A did instead, for two actions paired as the same decision."""
    out = []
    was = describe(a)
    if was != describe(b):
        out.append(was)
    elif (a.get("params") or {}) != (b.get("params") or {}):
        pa, pb = a.get("params") or {}, b.get("params") or {}
        out += [
            f"{name} {_value(pa.get(name))}"
            for name in sorted(set(pa) | set(pb))
            if pa.get(name) != pb.get(name)
        ]
    if a["at"] != b["at"]:
        out.append(f"at {_time(a['at'])}")
    return out


def _when(action: dict[str, Any]) -> str:
    return f"{_time(action['at'])}, {action['cause']}"


def _time(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso


def _short(text: str) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _quote(text: Any) -> str:
    return f"“{_short(str(text))}”"


def _value(value: Any) -> str:
    """A state or parameter value as an operator reads it."""
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_value(v) for v in value) if value else "(none)"
    if isinstance(value, str):
        return _quote(value) if " " in value or len(value) > MAX_TEXT else value
    if isinstance(value, int | float):
        return f"{value:,}"
    return _short(str(value))


def _state_block(c: Comparison) -> list[str]:
    if not c.fields:
        return [f"Final state: all {_count(c.members_compared, 'member')} end the same in A and B."]
    lines = [
        f"Final state: {c.members_differing:,} of {_count(c.members_compared, 'member')} end "
        "differently",
        f"  {'field':<16}  {'members':>7}  examples (A → B)",
    ]
    several = c.communities > 1
    for f in c.fields:
        examples = "; ".join(
            f"{f'{com}/' if several else ''}{mid}: {_value(va)} → {_value(vb)}"
            for com, mid, va, vb in f.examples
        )
        lines.append(f"  {f.name:<16}  {f.members:>7,}  {examples}")
    return lines
