"""`engage-rules explain`: why a rule did or did not fire, in plain language (docs/reference.md §7).

It reads rule traces (tracing.py) — from a store the engine wrote with tracing on, or
from a replay it runs itself, in memory, with tracing on — and tells, for one event,
what every rule made of it; or, for one member, what happened at each of their events,
optionally for one rule only, ending with a count of why the rule did not fire.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from .._util.suggest import did_you_mean

#: What each outcome means, as the end of "<rule> ...".
_OUTCOMES = {
    "fired": "fired",
    "else": "did not fire: its condition was false, so its `else:` actions ran",
    "refused_else": "fired, but an action was refused (e.g. not enough points to "
    "spend), so its `else:` actions ran",
    "refused": "fired, but an action was refused (e.g. not enough points to spend); "
    "the actions after it did not run",
    "condition_false": "did not fire: its condition was false",
    "exempt": "does not apply to this member: they are exempt (`exempt:`)",
    "once": "did not fire: it has `once: true` and already fired for this member",
    "cooldown": "did not fire: it is cooling down",
    "threshold": "did not fire: its threshold is not reached yet",
    "error": "failed: its condition raised an error",
    "not_reached": "was not evaluated: an earlier rule stopped the event",
}
#: The outcomes of a rule that fired (an action of it may have been refused).
_FIRED = ("fired", "refused_else", "refused")
#: Short labels for the one-line-per-event member view and the final tally.
_SHORT = {
    "condition_false": "condition false",
    "else": "condition false, else ran",
    "refused_else": "refused, else ran",
    "refused": "refused",
    "not_reached": "stopped earlier",
}


def seconds(value: float) -> str:
    """A duration in words: 45s, 12m, 3h 20m, 2d 4h."""
    s = max(0, round(value))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m" + (f" {s % 60}s" if s % 60 and s < 600 else "")
    if s < 86400:
        return f"{s // 3600}h" + (f" {s % 3600 // 60}m" if s % 3600 // 60 else "")
    return f"{s // 86400}d" + (f" {s % 86400 // 3600}h" if s % 86400 // 3600 else "")


def value_text(value: Any, *, truth: bool = False) -> str:
    """A value as JSON; with ``truth``, also whether a condition counts it as true."""
    if value is True or value is False:
        return "true" if value else "false"
    if value is None:
        return "none (counts as false)" if truth else "none"
    text = json.dumps(value, ensure_ascii=False)
    if truth:
        text += " (counts as true)" if value else " (counts as false)"
    return text


def _condition_lines(cond: dict[str, Any], indent: str, top: bool = True) -> list[str]:
    text = cond.get("text", "")
    if "error" in cond:
        head = f"{indent}{text}  →  error: {cond['error']}"
    elif "value" in cond:
        truth = top or cond.get("kind") is not None
        head = f"{indent}{text}  →  {value_text(cond['value'], truth=truth)}"
    else:
        head = f"{indent}{text}"
    lines = [head]
    # The parts of all/any/not are conditions themselves; an expression's parts are values.
    nested = cond.get("kind") is not None
    for part in cond.get("parts", ()):
        lines.extend(_condition_lines(part, indent + "    ", top=nested))
    return lines


def _at(trace: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(trace["at"])


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S%z")


def rule_lines(trace: dict[str, Any], r: dict[str, Any], indent: str = "  ") -> list[str]:
    """What one rule made of one event, in plain language."""
    outcome = r.get("outcome", "")
    mark = "✔" if outcome in _FIRED else "–" if outcome == "not_reached" else "✘"
    where = f"{r.get('file', '')}:{r.get('line', 0)}" if r.get("file") else f"line {r.get('line')}"
    shadow = " [shadow mode]" if r.get("shadow") else ""
    lines = [f"{indent}{mark} {r['rule']} ({where}){shadow} {_OUTCOMES.get(outcome, outcome)}"]
    deeper = indent + "    "
    if outcome == "cooldown":
        last = _at(trace) - timedelta(seconds=trace["ts"] - r["last_fired_ts"])
        lines.append(
            f"{deeper}it last fired for this member at {_when(last)}; it waits "
            f"{seconds(r['cooldown'])} between firings ({seconds(r['remaining'])} "
            "to go)"
        )
    elif outcome == "threshold":
        lines.append(
            f"{deeper}{r['count']} of {r['needed']} matching events within "
            f"{seconds(r['within'])} so far"
        )
    elif outcome == "exempt":
        roles = ", ".join(r.get("roles") or []) or "none"
        lines.append(f"{deeper}the member's roles: {roles}")
    elif outcome == "not_reached":
        lines.append(f"{deeper}rule {r.get('stopped_by')} fired first and has `stop: true`")
    elif outcome == "error":
        lines.append(f"{deeper}error: {r.get('error')}")
    if "condition" in r:
        lines.append(f"{deeper}if:")
        lines.extend(_condition_lines(r["condition"], deeper + "  "))
    if "threshold_reached" in r:
        lines.append(
            f"{deeper}threshold reached: {r['threshold_reached']} matching events "
            f"within {seconds(r['within'])}"
        )
    if r.get("match"):
        lines.append(f"{deeper}matched: {json.dumps(r['match'], ensure_ascii=False)}")
    for a in r.get("actions", ()):
        who = f" to {a['member']}" if a.get("member") else ""
        params = json.dumps(a.get("params", {}), ensure_ascii=False)
        note = " (shadow: recorded, not delivered)" if a.get("shadow") else ""
        lines.append(f"{deeper}→ {a['type']}{who} {params}{note}")
    for message in r.get("action_errors", ()):
        lines.append(f"{deeper}action error: {message}")
    return lines


def event_header(trace: dict[str, Any]) -> str:
    """The header line of one traced event."""
    who = f" · member {trace['member']}" if trace.get("member") else ""
    internal = " (raised by the engine or a rule)" if trace.get("depth") else ""
    return (
        f"{trace['event']} · {trace['type']}{internal}{who} · "
        f"{_when(_at(trace))} · community {trace['community']}"
    )


def explain_event(traces: list[dict[str, Any]], event_id: str) -> str:
    """What every rule made of one event, from its traces."""
    if not traces:
        return no_trace(f"event {event_id!r}")
    out: list[str] = []
    for trace in traces:
        if out:
            out.append("")
        out.append(event_header(trace))
        data = trace.get("data")
        if data:
            out.append(f"  data: {json.dumps(data, ensure_ascii=False)}")
        if not trace["rules"]:
            out.append("  no rule listens to this event type")
        for r in trace["rules"]:
            out.extend(rule_lines(trace, r))
    return "\n".join(out)


def _summary(r: dict[str, Any]) -> str:
    outcome = r.get("outcome", "")
    label = _SHORT.get(outcome, outcome)
    if outcome == "threshold":
        label += f" {r['count']}/{r['needed']}"
    return f"{r['rule']} ({label})"


def explain_member(
    traces: list[dict[str, Any]], member: str, rule: str | None, known_rules: Iterable[str] = ()
) -> str:
    """What the rules made of a member's events (of one rule, when given)."""
    if not traces:
        return no_trace(f"member {member!r}")
    if rule is None:
        out = [f"member {member}: {len(traces)} traced events"]
        for t in traces:
            fired = [r["rule"] for r in t["rules"] if r.get("outcome") in _FIRED]
            other = [_summary(r) for r in t["rules"] if r.get("outcome") not in _FIRED]
            line = f"  {_when(_at(t))}  {t['event']}  {t['type']}: "
            line += ("fired " + ", ".join(fired)) if fired else "no rule fired"
            if other:
                line += "; not: " + ", ".join(other)
            out.append(line)
        return "\n".join(out)
    seen = [(t, r) for t in traces for r in t["rules"] if r["rule"] == rule]
    if not seen:
        types = Counter(t["type"] for t in traces)
        listed = ", ".join(f"{k} ×{n}" for k, n in sorted(types.items()))
        hint = ""
        if rule not in set(known_rules) | {r["rule"] for t in traces for r in t["rules"]}:
            hint = f" (no rule is named {rule!r}{did_you_mean(rule, known_rules)})"
        return (
            f"rule {rule} never saw an event of member {member}{hint}: it listens to "
            f"other event types than the {len(traces)} traced events of {member} "
            f"({listed})."
        )
    out = [f"rule {rule} for member {member}: {len(seen)} events"]
    for t, r in seen:
        out.append("")
        out.append(event_header(t))
        if t.get("data") and "condition" in r:
            out.append(f"  data: {json.dumps(t['data'], ensure_ascii=False)}")
        out.extend(rule_lines(t, r))
    tally = Counter(r.get("outcome", "") for _, r in seen)
    times = sum(tally.pop(outcome, 0) for outcome in _FIRED)
    reasons = ", ".join(f"{_SHORT.get(k, k)} ×{n}" for k, n in tally.most_common())
    out.append("")
    out.append(
        f"in short: {rule} fired {times} of {len(seen)} times for {member}"
        + (f"; it did not fire because: {reasons}" if reasons else "")
    )
    return "\n".join(out)


def no_trace(what: str) -> str:
    """The message when there is no trace of ``what``."""
    return (
        f"no trace of {what}: was the store written with tracing on (`replay --trace`, "
        "or `traces: {enabled: true}` in the run config), and is it within the "
        "traces' retention? Give the playbook and events instead to replay them here."
    )
