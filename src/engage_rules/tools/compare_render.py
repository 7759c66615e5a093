"""The text of ``replay --compare``: a playbook comparison an operator can read.

The reader runs a backtest before changing a rule and is not necessarily a programmer, so
actions are told as sentences ("would no longer award 5 points to u1"), numbers as
"A → B (+n)", and rules that behave the same are listed on one line instead of tables of
zeros.  The same content, for machines, is ``compare.comparison_json``.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Any

from ..i18n import _, ngettext
from .compare import ActionChange, Comparison, RuleDiff

#: Longest quoted message text or parameter value shown in an example.
MAX_TEXT = 60

#: Message actions addressed to one member (a broadcast goes to a channel).
_MESSAGES = ("send", "reply", "warn")


def render(c: Comparison) -> str:
    """The comparison as text, ending with a newline."""
    lines = [
        _("Comparing two playbooks over the same events"),
        f"  A: {c.a.label} ({c.a.name})",
        f"  B: {c.b.label} ({c.b.name})",
        "",
        ngettext(
            "{a} action in A, {b} in B, {differing} differ",
            "{a} actions in A, {b} in B, {differing} differ",
            c.actions_a,
        ).format(a=f"{c.actions_a:,}", b=f"{c.actions_b:,}", differing=f"{c.actions_differing:,}"),
    ]
    if c.a.name != c.b.name:
        lines += [
            _(
                "Note: the playbooks have different names ({a}, {b}). "
                "Deferred messages are spread and lottery prizes drawn by a hash that "
                "includes the name, so some of them differ for that reason alone; give "
                "both the same `name:` to compare only the rules."
            ).format(a=c.a.name, b=c.b.name)
        ]
    if c.identical:
        lines.append(
            ngettext(
                "No differences: both playbooks decide the same actions and all "
                "{n} member end in the same state.",
                "No differences: both playbooks decide the same actions and all "
                "{n} members end in the same state.",
                c.members_compared,
            ).format(n=f"{c.members_compared:,}")
        )
        return "\n".join(lines) + "\n"
    changed = [r for r in c.rules if r.differs]
    lines += ["", _("Rules that behave differently in B ({n}):").format(n=len(changed))]
    for r in changed:
        lines += ["", *_rule_block(r)]
    same = [r.rule for r in c.rules if not r.differs and (r.counts_a or r.ledger_a)]
    quiet = [r.rule for r in c.rules if not r.differs and not (r.counts_a or r.ledger_a)]
    if same:
        text = _("Rules with the same actions in A and B: {rules}")
        lines += ["", text.format(rules=", ".join(same))]
    if quiet:
        lines += [_("Rules with no actions in either: {rules}").format(rules=", ".join(quiet))]
    lines += ["", *_state_block(c)]
    return "\n".join(lines) + "\n"


def _rule_block(r: RuleDiff) -> list[str]:
    title = r.rule
    if r.in_a and not r.in_b:
        title += _(" (only in A: removed in B)")
    elif r.in_b and not r.in_a:
        title += _(" (only in B: new)")
    lines = [title]
    kinds = sorted(set(r.counts_a) | set(r.counts_b))
    if kinds:
        action, change = _("action"), _("change")
        width = max(max(columns(_kind(t, s)) for t, s in kinds), columns(action))
        lines.append(f"  {pad(action, width)}  {'A':>7}  {'B':>7}  {pad(change, 7, right=True)}")
        for t, s in kinds:
            na, nb = r.counts_a[(t, s)], r.counts_b[(t, s)]
            kind = pad(_kind(t, s), width)
            lines.append(f"  {kind}  {na:>7,}  {nb:>7,}  {_delta(nb - na):>7}")
    parts = []
    if r.added:
        parts.append(_("{n} only in B").format(n=f"{r.added:,}"))
    if r.removed:
        parts.append(_("{n} only in A").format(n=f"{r.removed:,}"))
    if r.changed:
        parts.append(_("{n} with other details").format(n=f"{r.changed:,}"))
    if parts:
        lines.append("  " + _("actions that differ: {parts}").format(parts=", ".join(parts)))
    for currency in sorted(set(r.ledger_a) | set(r.ledger_b)):
        va, vb = r.ledger_a.get(currency, 0), r.ledger_b.get(currency, 0)
        if va != vb:
            text = _("{currency} from this rule (net): {a} in A, {b} in B ({change})").format(
                currency=currency, a=f"{va:,}", b=f"{vb:,}", change=_delta(vb - va)
            )
        else:
            text = _("{currency} from this rule (net): {a} in both").format(
                currency=currency, a=f"{va:,}"
            )
        lines.append("  " + text)
    if r.examples:
        lines.append("  " + _("for example, with B:"))
        lines += [f"    {example_sentence(e)}" for e in r.examples]
    return lines


def columns(text: str) -> int:
    """How many terminal columns ``text`` takes (a Chinese character takes two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def pad(text: str, width: int, *, right: bool = False) -> str:
    """``text`` padded with spaces to ``width`` columns (on the left with ``right``)."""
    fill = " " * max(0, width - columns(text))
    return fill + text if right else text + fill


def _members(n: int) -> str:
    return ngettext("{n} member", "{n} members", n).format(n=f"{n:,}")


def _kind(type_: str, shadow: bool) -> str:
    return _("{type} (shadow)").format(type=type_) if shadow else type_


def _delta(n: int) -> str:
    return f"+{n:,}" if n > 0 else f"{n:,}" if n < 0 else "0"


def example_sentence(e: ActionChange) -> str:
    """One differing action as a sentence about B, with when and why it happens."""
    if e.change == "added":
        assert e.b is not None
        return _("would newly {action} — {when}").format(action=describe(e.b), when=_when(e.b))
    if e.change == "removed":
        assert e.a is not None
        return _("would no longer {action} — {when}").format(action=describe(e.a), when=_when(e.a))
    assert e.a is not None and e.b is not None
    return _("would {action} — {when} (in A: {before})").format(
        action=describe(e.b), when=_when(e.b), before="; ".join(_in_a(e.a, e.b))
    )


def describe(action: dict[str, Any]) -> str:
    """What an action does, in words: "award 5 points to u1", "tag u3 newcomer"."""
    kind, member, params = action["type"], action.get("member"), action.get("params") or {}
    who = member if member is not None else _("everyone")
    if kind in ("award", "spend", "expire") and "amount" in params:
        sentence = {
            "award": _("award {amount} {currency} to {member}"),
            "spend": _("spend {amount} {currency} of {member}"),
            "expire": _("expire {amount} {currency} of {member}"),
        }[kind]
        text = sentence.format(
            amount=params["amount"], currency=params.get("currency", ""), member=who
        )
    elif kind == "revoke" and isinstance(params.get("reversed"), list):
        taken: dict[str, int] = {}
        for entry in params["reversed"]:
            currency = str(entry.get("currency", ""))
            taken[currency] = taken.get(currency, 0) + int(entry.get("amount", 0))
        amounts = _(" and ").join(f"{n} {c}" for c, n in taken.items()) or _("nothing")
        text = _("take back {amounts} from {member}").format(amounts=amounts, member=who)
    elif kind in _MESSAGES:
        quoted = _quote(params.get("text", params.get("template", "")))
        text = _("{action} {member} {text}").format(action=kind, member=who, text=quoted)
    elif kind == "broadcast":
        quoted = _quote(params.get("text", params.get("template", "")))
        text = _("broadcast to #{channel} {text}").format(
            channel=params.get("channel", "?"), text=quoted
        )
    elif kind in ("tag", "untag") and "name" in params:
        sentence = _("tag {member} {tag}") if kind == "tag" else _("untag {member} {tag}")
        text = sentence.format(member=who, tag=params["name"])
    elif kind == "mute" and "for" in params:
        text = _("mute {member} for {duration}").format(member=who, duration=params["for"])
    elif kind == "strike":
        text = _("give {member} a strike").format(member=who)
    else:
        text = _("{action} {member}").format(action=kind, member=who)
    reason = params.get("reason")
    if kind not in _MESSAGES and kind != "broadcast" and isinstance(reason, str) and reason:
        text += f" ({_short(reason)})"
    if action.get("shadow"):
        text += " " + _("[shadow: recorded, not delivered]")
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
        out.append(_("at {time}").format(time=_time(a["at"])))
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
        return _("(none)")
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list):
        return ", ".join(_value(v) for v in value) if value else _("(none)")
    if isinstance(value, str):
        return _quote(value) if " " in value or len(value) > MAX_TEXT else value
    if isinstance(value, int | float):
        return f"{value:,}"
    return _short(str(value))


def _state_block(c: Comparison) -> list[str]:
    if not c.fields:
        return [
            _("Final state: all {members} end the same in A and B.").format(
                members=_members(c.members_compared)
            )
        ]
    field, members = _("field"), _("members")
    lines = [
        _("Final state: {n} of {members} end differently").format(
            n=f"{c.members_differing:,}", members=_members(c.members_compared)
        ),
        f"  {pad(field, 16)}  {pad(members, 7, right=True)}  " + _("examples (A → B)"),
    ]
    several = c.communities > 1
    for f in c.fields:
        examples = "; ".join(
            f"{f'{com}/' if several else ''}{mid}: {_value(va)} → {_value(vb)}"
            for com, mid, va, vb in f.examples
        )
        lines.append(f"  {pad(f.name, 16)}  {f.members:>7,}  {examples}")
    return lines
