"""Generated Python for rule dispatch: one function per event type (COMPILE phase).

Interpreting rules in a loop costs attribute loads and branches per rule per event even
for features a rule does not use.  Instead, for each event type we generate straight-line
Python that evaluates that type's rules in priority order, with only the checks each rule
needs (exemptions, `once`, `cooldown`, `threshold`, `else`, `stop`) and the compiled
conditions bound as globals.  The generated source is kept on the playbook for debugging
(``CompiledPlaybook.dispatch_source``).

Semantics are exactly those of docs/reference.md §5.1: rules run one after another in priority
order (ties in file order), each seeing the state left by the ones before; a failing
condition fails that rule for that event only; `stop` ends the event's evaluation.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..expr.codegen import BIND_POINTS, HOISTED_POINTS, compile_source
from .rule_helpers import HELPERS

if TYPE_CHECKING:
    from .playbook import CompiledRule

Dispatch = Callable[..., None]

#: ``c`` is the event's scope (an ActionScope): conditions read it, actions run in it.
_SIGNATURE = "eng, _ev, _m, c, d, at_ts, mid, roles, channel"
#: The locals inlined conditions read (see expr_codegen.PROLOGUE), bound once per event.
_PROLOGUE = "    _d = _ev.data; _now = c.now; _cur = c.default_currency"


def _rule_block(i: int, rule: CompiledRule, ns: dict[str, Any]) -> list[str]:
    ns[f"R{i}"] = rule
    ns[f"ID{i}"] = rule.id
    ns[f"DO{i}"] = rule.do
    ns[f"ELSE{i}"] = rule.else_
    lines: list[str] = [f"# rule {rule.id!r}"]
    indent = ""

    def add(text: str) -> None:
        lines.append(indent + text)

    if rule.exempt is not None:
        ns[f"EX{i}"] = rule.exempt.applies
        add(f"if not EX{i}(mid, roles, channel):")
        indent += "    "
    guards = []
    if rule.once:
        guards.append(f"(_m is None or ID{i} not in _m.spent)")
    if rule.cooldown is not None:
        ns[f"CD{i}"] = rule.cooldown
        guards.append(f"(_m is None or at_ts - _m.cooldowns.get(ID{i}, -1e18) >= CD{i})")
    if guards:
        add(f"if {' and '.join(guards)}:")
        indent += "    "
    if rule.cond is not None:
        ns[f"C{i}"] = rule.cond
        if rule.sets_match:
            add('c.match = ""')
        add("try:")
        if rule.cond_inline is not None:
            add(f"    ok = {rule.cond_inline}")
            add("except Exception:")
            # Evaluate again through the compiled function for a described error.
            add(f"    ok = condition_error(d, R{i}, _ev, c)")
        else:
            add(f"    ok = C{i}(c)")
            add("except Exception as err:")
            add(f"    ok = rule_error(d, R{i}, _ev, err)")
        add("if ok:")
    else:
        add("if True:")
    indent += "    "
    if rule.threshold is not None:
        add(f"if _m is None or threshold(R{i}, _m, at_ts):")
        indent += "    "
    if rule.once:
        add(f"if _m is not None: _m.spent.add(ID{i})")
    if rule.cooldown is not None:
        add(f"if _m is not None: _m.cooldowns[ID{i}] = at_ts")
    if rule.else_:
        add(f"done = run_actions(R{i}, DO{i}, c)")
        add("if not done:")
        add(f"    run_actions(R{i}, ELSE{i}, c)")
    else:
        add(f"run_actions(R{i}, DO{i}, c)")
    if rule.stop:
        add("return")
    if rule.else_ and rule.cond is not None:
        # Back out to the level of `if ok:` for the else branch.
        depth = 1 + (1 if rule.threshold is not None else 0)
        indent = indent[: len(indent) - 4 * depth]
        add("elif ok is not None:")
        add(f"    run_actions(R{i}, ELSE{i}, c)")
    return lines


def _data_prologue(rules: tuple[CompiledRule, ...], data_vars: dict[str, tuple[str, str]]) -> str:
    """Bind the ``event.data`` values this type's inlined conditions read, once.

    Event data does not change while an event is evaluated, so reading each key once per
    event is equivalent to reading it at each use (member state, which actions change,
    is always read where it is used).
    """
    used = [
        (local, key, undefined)
        for key, (local, undefined) in data_vars.items()
        if any(
            r.cond_inline is not None and re.search(rf"\b{local}\b", r.cond_inline) for r in rules
        )
    ]
    return "".join(
        f"\n    {local} = _d.get({key!r}, {undefined})" for local, key, undefined in used
    )


def build_dispatch(
    rules_by_type: dict[str, tuple[CompiledRule, ...]],
    namespace: dict[str, Any],
    data_vars: dict[str, tuple[str, str]] | None = None,
) -> tuple[dict[str, Dispatch], str]:
    """Generate one dispatch function per event type.  Returns (functions, source).

    ``namespace`` is the one the playbook's conditions were compiled into (their
    constants and helpers); the dispatch functions are executed in it, with the rule
    helpers of :mod:`.rule_helpers`.
    """
    ns = namespace
    ns.update(HELPERS)
    ns["Exception"] = Exception
    sources: list[str] = []
    names: dict[str, str] = {}
    for n, (type_, rules) in enumerate(sorted(rules_by_type.items())):
        fname = f"dispatch_{n}"
        names[type_] = fname
        body: list[str] = []
        for rule in rules:
            key = rule.index
            body.extend("    " + line for line in _rule_block(key, rule, ns))
        prologue = _PROLOGUE + _data_prologue(rules, data_vars or {})
        if any(r.cond_inline and re.search(rf"\b{HOISTED_POINTS}\b", r.cond_inline) for r in rules):
            prologue += f"\n    {BIND_POINTS}"
            body = [
                line
                + (
                    f"\n{line[: len(line) - len(line.lstrip())]}{BIND_POINTS}"
                    if line.lstrip().startswith(("run_actions(", "done = run_actions("))
                    else ""
                )
                for line in body
            ]
        sources.append(
            f"def {fname}({_SIGNATURE}):  # {type_}\n{prologue}\n" + "\n".join(body) + "\n"
        )
    source = "\n\n".join(sources)
    exec(compile_source(source, "<engage_rules dispatch>"), ns)
    return {type_: ns[fname] for type_, fname in names.items()}, source
