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
from ..i18n import N_, _
from ..model.rule_problems import in_words

#: What each outcome means, as the end of "<rule> ...".
_OUTCOMES = {
    "fired": N_("fired"),
    "else": N_("did not fire: its condition was false, so its `else:` actions ran"),
    "refused_else": N_(
        "fired, but an action was refused (e.g. not enough points to "
        "spend), so its `else:` actions ran"
    ),
    "refused": N_(
        "fired, but an action was refused (e.g. not enough points to spend); "
        "the actions after it did not run"
    ),
    "refused_branch": N_("fired, but an action was refused, so its `refused:` actions ran"),
    "condition_false": N_("did not fire: its condition was false"),
    "exempt": N_("does not apply to this member: they are exempt (`exempt:`)"),
    "once": N_("did not fire: it has `once: true` and already fired for this member"),
    "cooldown": N_("did not fire: it is cooling down"),
    "threshold": N_("did not fire: its threshold is not reached yet"),
    "error": N_("failed: its condition raised an error"),
    "not_reached": N_("was not evaluated: an earlier rule stopped the event"),
}
#: The outcomes of a rule that fired (an action of it may have been refused).
_FIRED = ("fired", "refused_else", "refused", "refused_branch")
#: Short labels for the one-line-per-event member view and the final tally.
_SHORT = {
    "condition_false": N_("condition false"),
    "else": N_("condition false, else ran"),
    "refused_else": N_("refused, else ran"),
    "refused": N_("refused"),
    "refused_branch": N_("refused, refused ran"),
    "not_reached": N_("stopped earlier"),
    "exempt": N_("exempt"),
    "once": N_("once"),
    "cooldown": N_("cooldown"),
    "threshold": N_("threshold"),
    "error": N_("error"),
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
        return "none" + _(" (counts as false)") if truth else "none"
    text = json.dumps(value, ensure_ascii=False)
    if truth:
        text += _(" (counts as true)") if value else _(" (counts as false)")
    return text


#: How a trace names the combinators of a condition (expr/condition_parts.py), by kind:
#: stored in English, shown in the operator's language.
_COMBINATORS = {"all": N_("all of"), "any": N_("any of"), "not": N_("not")}
#: The error a trace records for a combinator one of whose parts failed.
_PART_FAILED = N_("a part failed")


def _condition_text(cond: dict[str, Any]) -> str:
    """What a condition part says: an expression as written, a combinator in words."""
    text = str(cond.get("text", ""))
    kind = cond.get("kind")
    if kind in _COMBINATORS and text == _COMBINATORS[kind]:
        return _(text)
    return text


def _condition_lines(cond: dict[str, Any], indent: str, top: bool = True) -> list[str]:
    text = _condition_text(cond)
    if "error" in cond:
        error = _(_PART_FAILED) if cond["error"] == _PART_FAILED else cond["error"]
        head = f"{indent}{text}  →  " + _("error: {message}").format(message=error)
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
    where = (
        f"{r.get('file', '')}:{r.get('line', 0)}"
        if r.get("file")
        else _("line {line}").format(line=r.get("line"))
    )
    shadow = " " + _("[shadow mode]") if r.get("shadow") else ""
    meaning = _(_OUTCOMES[outcome]) if outcome in _OUTCOMES else outcome
    lines = [f"{indent}{mark} {r['rule']} ({where}){shadow} {meaning}"]
    deeper = indent + "    "
    if outcome == "cooldown":
        last = _at(trace) - timedelta(seconds=trace["ts"] - r["last_fired_ts"])
        text = _(
            "it last fired for this member at {when}; it waits {cooldown} between firings "
            "({remaining} to go)"
        ).format(
            when=_when(last),
            cooldown=seconds(r["cooldown"]),
            remaining=seconds(r["remaining"]),
        )
        lines.append(deeper + text)
    elif outcome == "threshold":
        text = _("{count} of {needed} matching events within {within} so far").format(
            count=r["count"], needed=r["needed"], within=seconds(r["within"])
        )
        lines.append(deeper + text)
    elif outcome == "exempt":
        roles = ", ".join(r.get("roles") or []) or _("none")
        lines.append(deeper + _("the member's roles: {roles}").format(roles=roles))
    elif outcome == "not_reached":
        text = _("rule {rule} fired first and has `stop: true`").format(rule=r.get("stopped_by"))
        lines.append(deeper + text)
    elif outcome == "error":
        lines.append(deeper + _("error: {message}").format(message=in_words(str(r.get("error")))))
    if "condition" in r:
        lines.append(f"{deeper}if:")
        lines.extend(_condition_lines(r["condition"], deeper + "  "))
    if "threshold_reached" in r:
        text = _("threshold reached: {count} matching events within {within}").format(
            count=r["threshold_reached"], within=seconds(r["within"])
        )
        lines.append(deeper + text)
    if r.get("match"):
        matched = json.dumps(r["match"], ensure_ascii=False)
        lines.append(deeper + _("matched: {match}").format(match=matched))
    for a in r.get("actions", ()):
        who = " " + _("to {member}").format(member=a["member"]) if a.get("member") else ""
        params = json.dumps(a.get("params", {}), ensure_ascii=False)
        note = " " + _("(shadow: recorded, not delivered)") if a.get("shadow") else ""
        lines.append(f"{deeper}→ {a['type']}{who} {params}{note}")
    for message in r.get("action_errors", ()):
        lines.append(deeper + _("action error: {message}").format(message=in_words(message)))
    return lines


def event_header(trace: dict[str, Any]) -> str:
    """The header line of one traced event."""
    who = " · " + _("member {member}").format(member=trace["member"]) if trace.get("member") else ""
    internal = " " + _("(raised by the engine or a rule)") if trace.get("depth") else ""
    community = _("community {community}").format(community=trace["community"])
    return f"{trace['event']} · {trace['type']}{internal}{who} · {_when(_at(trace))} · {community}"


def explain_event(traces: list[dict[str, Any]], event_id: str) -> str:
    """What every rule made of one event, from its traces."""
    if not traces:
        return no_trace(_("event {event!r}").format(event=event_id))
    out: list[str] = []
    for trace in traces:
        if out:
            out.append("")
        out.append(event_header(trace))
        data = trace.get("data")
        if data:
            out.append("  " + _("data: {data}").format(data=json.dumps(data, ensure_ascii=False)))
        if not trace["rules"]:
            out.append("  " + _("no rule listens to this event type"))
        for r in trace["rules"]:
            out.extend(rule_lines(trace, r))
    return "\n".join(out)


def _summary(r: dict[str, Any]) -> str:
    outcome = r.get("outcome", "")
    label = _short(outcome)
    if outcome == "threshold":
        label += f" {r['count']}/{r['needed']}"
    return f"{r['rule']} ({label})"


def explain_member(
    traces: list[dict[str, Any]], member: str, rule: str | None, known_rules: Iterable[str] = ()
) -> str:
    """What the rules made of a member's events (of one rule, when given)."""
    if not traces:
        return no_trace(_("member {member!r}").format(member=member))
    if rule is None:
        out = [_("member {member}: {n} traced events").format(member=member, n=len(traces))]
        for t in traces:
            fired = [r["rule"] for r in t["rules"] if r.get("outcome") in _FIRED]
            other = [_summary(r) for r in t["rules"] if r.get("outcome") not in _FIRED]
            line = f"  {_when(_at(t))}  {t['event']}  {t['type']}: "
            line += (
                _("fired {rules}").format(rules=", ".join(fired)) if fired else _("no rule fired")
            )
            if other:
                line += _("; not: {rules}").format(rules=", ".join(other))
            out.append(line)
        return "\n".join(out)
    seen = [(t, r) for t in traces for r in t["rules"] if r["rule"] == rule]
    if not seen:
        types = Counter(t["type"] for t in traces)
        listed = ", ".join(f"{k} ×{n}" for k, n in sorted(types.items()))
        hint = ""
        if rule not in set(known_rules) | {r["rule"] for t in traces for r in t["rules"]}:
            hint = " " + _("(no rule is named {rule!r}{hint})").format(
                rule=rule, hint=did_you_mean(rule, known_rules)
            )
        return _(
            "rule {rule} never saw an event of member {member}{hint}: it listens to other "
            "event types than the {n} traced events of {member} ({types})."
        ).format(rule=rule, member=member, hint=hint, n=len(traces), types=listed)
    out = [
        _("rule {rule} for member {member}: {n} events").format(
            rule=rule, member=member, n=len(seen)
        )
    ]
    for t, r in seen:
        out.append("")
        out.append(event_header(t))
        if t.get("data") and "condition" in r:
            data = json.dumps(t["data"], ensure_ascii=False)
            out.append("  " + _("data: {data}").format(data=data))
        out.extend(rule_lines(t, r))
    tally = Counter(r.get("outcome", "") for _trace, r in seen)
    times = sum(tally.pop(outcome, 0) for outcome in _FIRED)
    reasons = ", ".join(f"{_short(k)} ×{n}" for k, n in tally.most_common())
    out.append("")
    because = _("; it did not fire because: {reasons}").format(reasons=reasons) if reasons else ""
    out.append(
        _("in short: {rule} fired {times} of {n} times for {member}").format(
            rule=rule, times=times, n=len(seen), member=member
        )
        + because
    )
    return "\n".join(out)


def _short(outcome: str) -> str:
    """The short label of an outcome, in the current language."""
    return _(_SHORT[outcome]) if outcome in _SHORT else outcome


def no_trace(what: str) -> str:
    """The message when there is no trace of ``what``."""
    return _(
        "no trace of {what}: was the store written with tracing on (`replay --trace`, "
        "or `traces: {{enabled: true}}` in the run config), and is it within the "
        "traces' retention? Give the playbook and events instead to replay them here."
    ).format(what=what)
