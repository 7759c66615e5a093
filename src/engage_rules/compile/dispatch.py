"""Generated Python for rule dispatch: one function per event type (COMPILE phase).

Interpreting rules in a loop costs attribute loads and branches per rule per event even
for features a rule does not use.  Instead, for each event type we generate straight-line
Python that evaluates that type's rules in priority order, with only the checks each rule
needs (exemptions, `once`, `cooldown`, `threshold`, `else`, `refused`, `stop`) and the compiled
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

from ..expr.codegen import BIND_PLAIN_POINTS, BIND_POINTS, HOISTED_POINTS, compile_source
from .rule_helpers import HELPERS

if TYPE_CHECKING:
    from .playbook import CompiledRule

Dispatch = Callable[..., None]

#: ``c`` is the event's scope (an ActionScope): conditions read it, actions run in it.
_SIGNATURE = "eng, _ev, _m, c, d, at_ts, mid, roles, channel"
#: The locals inlined conditions read (see expr_codegen.PROLOGUE), bound once per event.
_PROLOGUE = "    _d = _ev.data; _now = c.now; _cur = c.default_currency"


def _run_lines(i: int, rule: CompiledRule, ns: dict[str, Any], done: str | None) -> list[str]:
    """Run the rule's `do` (``run_actions``), assigning whether it ran to ``done``.

    A rule of one action and no `else` (the common case) gets :func:`run_actions`
    written out: the same steps — the scope's rule, the executor, a refused action
    ending the rule's actions, a failure recorded by ``action_failed`` — without the
    call and the loop.
    """
    if done is None and len(rule.do) == 1:
        action = rule.do[0]
        ns[f"A{i}"] = action
        ns[f"X{i}"] = action.execute
        return [
            f"c.rule = ID{i}",
            "try:",
            f"    X{i}(c, A{i})",
            "except ActionRefused:",
            "    pass",
            "except Exception as err:",
            f"    action_failed(c, ID{i}, A{i}, err)",
        ]
    call = f"run_actions(R{i}, DO{i}, c)"
    return [f"{done} = {call}" if done else call]


def _rule_block(i: int, rule: CompiledRule, ns: dict[str, Any], rebind: str | None) -> list[str]:
    """The rule's steps; ``rebind``: the line that reads `member.points` again after its
    actions ran (a later rule of the type reads it), or None."""
    ns[f"R{i}"] = rule
    ns[f"ID{i}"] = rule.id
    ns[f"DO{i}"] = rule.do
    ns[f"ELSE{i}"] = rule.else_
    ns[f"REFUSED{i}"] = rule.refused or rule.else_
    lines, depth = _check_lines(i, rule, ns)
    pad = "    " * depth
    lines.extend(pad + line for line in _fired_lines(i, rule, ns, rebind))
    if rule.else_ and rule.cond is not None:
        # At the level of `if ok:`, the else branch.
        pad = "    " * (depth - 1)
        lines.append(f"{pad}elif ok is not None:")
        lines.extend(f"{pad}    {line}" for line in _else_lines(i, rebind))
    return lines


def _check_lines(i: int, rule: CompiledRule, ns: dict[str, Any]) -> tuple[list[str], int]:
    """The rule's exemption, `once`, `cooldown` and condition, down to ``if ok:``; and
    the indentation depth of what runs when they pass."""
    lines: list[str] = [f"# rule {rule.id!r}"]
    depth = 0
    if rule.exempt is not None:
        ns[f"EX{i}"] = rule.exempt.applies
        lines.append(f"if not EX{i}(mid, roles, channel):")
        depth += 1
    guards = []
    if rule.once:
        guards.append(f"(_m is None or ID{i} not in _m.spent)")
    if rule.cooldown is not None and rule.cooldown_per != "member":
        guards.append(f"shared_cooling(R{i}, c, at_ts) is None")
    elif rule.cooldown is not None:
        ns[f"CD{i}"] = rule.cooldown
        guards.append(f"(_m is None or at_ts - _m.cooldowns.get(ID{i}, -1e18) >= CD{i})")
    if guards:
        lines.append("    " * depth + f"if {' and '.join(guards)}:")
        depth += 1
    pad = "    " * depth
    if rule.cond is None:
        lines.append(f"{pad}if True:")
        return lines, depth + 1
    ns[f"C{i}"] = rule.cond
    if rule.sets_match:
        lines.append(f'{pad}c.match = ""')
    if rule.cond_inline is not None:
        # Without `else:`, only the condition's truth matters: as the test of a
        # conditional expression it compiles to jumps (comparisons specialise).  On an
        # exception, evaluate again through the compiled function for a described
        # error (or, if it was the value's truth that raised, the value).
        cond = rule.cond_inline if rule.else_ else f"True if {rule.cond_inline} else False"
        test = [f"ok = {cond}", "except Exception:"]
        test.append(f"    ok = condition_error(d, R{i}, _ev, c)")
    else:
        test = [f"ok = C{i}(c)", "except Exception as err:"]
        test.append(f"    ok = rule_error(d, R{i}, _ev, err)")
    lines.append(f"{pad}try:")
    lines.extend(f"{pad}    {line}" if n == 0 else pad + line for n, line in enumerate(test))
    lines.append(f"{pad}if ok:")
    return lines, depth + 1


def _fired_lines(i: int, rule: CompiledRule, ns: dict[str, Any], rebind: str | None) -> list[str]:
    """What runs when the rule's checks pass: `threshold`, `once`, `cooldown`, the
    actions (and `else:` if one was refused), `stop`."""
    lines: list[str] = []
    pad = ""
    if rule.threshold is not None:
        lines.append(f"if _m is None or threshold(R{i}, _m, at_ts):")
        pad = "    "
    if rule.once:
        lines.append(f"{pad}if _m is not None: _m.spent.add(ID{i})")
    if rule.cooldown is not None and rule.cooldown_per != "member":
        lines.append(f"{pad}shared_cooldown_start(R{i}, c, at_ts)")
    elif rule.cooldown is not None:
        lines.append(f"{pad}if _m is not None: _m.cooldowns[ID{i}] = at_ts")
    done = "done" if rule.else_ or rule.refused else None
    lines.extend(pad + line for line in _run_lines(i, rule, ns, done))
    if rebind:
        lines.append(pad + rebind)
    if done:
        # A refused action: the `refused:` branch, or `else:` when there is none.
        lines.append(f"{pad}if not done:")
        lines.extend(f"{pad}    {line}" for line in _else_lines(i, rebind, "REFUSED"))
    if rule.stop:
        lines.append(f"{pad}return")
    return lines


def _else_lines(i: int, rebind: str | None, branch: str = "ELSE") -> list[str]:
    return [f"run_actions(R{i}, {branch}{i}, c)", *([rebind] if rebind else [])]


def _reads_points(rule: CompiledRule) -> bool:
    """The rule's inlined condition reads `member.points` (the hoisted local)."""
    return rule.cond_inline is not None and bool(
        re.search(rf"\b{HOISTED_POINTS}\b", rule.cond_inline)
    )


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
    plain_points: bool = False,
) -> tuple[dict[str, Dispatch], str]:
    """Generate one dispatch function per event type.  Returns (functions, source).

    ``namespace`` is the one the playbook's conditions were compiled into (their
    constants and helpers); the dispatch functions are executed in it, with the rule
    helpers of :mod:`.rule_helpers`.  ``plain_points``: the playbook has no currency
    with decimals nor held by persons, so `member.points` is read straight from the
    member's balances (:data:`BIND_PLAIN_POINTS`), without testing for either per read.
    """
    ns = namespace
    ns.update(HELPERS)
    ns["Exception"] = Exception
    bind = BIND_PLAIN_POINTS if plain_points else BIND_POINTS
    sources: list[str] = []
    names: dict[str, str] = {}
    for n, (type_, rules) in enumerate(sorted(rules_by_type.items())):
        fname = f"dispatch_{n}"
        names[type_] = fname
        # `member.points` is bound before the first rule that reads it, and bound again
        # after the actions of every rule before the last one that reads it.
        readers = [k for k, rule in enumerate(rules) if _reads_points(rule)]
        last_reader = readers[-1] if readers else -1
        body: list[str] = []
        for k, rule in enumerate(rules):
            block = _rule_block(rule.index, rule, ns, rebind=bind if k < last_reader else None)
            body.extend("    " + line for line in block)
        prologue = _PROLOGUE + _data_prologue(rules, data_vars or {})
        if readers:
            prologue += f"\n    {bind}"
        sources.append(
            f"def {fname}({_SIGNATURE}):  # {type_}\n{prologue}\n" + "\n".join(body) + "\n"
        )
    source = "\n\n".join(sources)
    exec(compile_source(source, "<engage_rules dispatch>"), ns)
    return {type_: ns[fname] for type_, fname in names.items()}, source
