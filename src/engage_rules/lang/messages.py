"""Turn pydantic validation errors into ``file:line:col: message`` problems for humans.

Used by :mod:`engage_rules.lang.loader` for the playbook sections and for action parameters.
Pydantic reports where an error is as a *loc* that may contain union-branch labels
(``("rules", 0, "on", "list[str]", 1)``); :func:`validation_problems` walks the loc
against the validated data to recover the real path, keeps only the errors of the union
branch the data was meant for, and words each error with the field's name, a
"did you mean" suggestion for unknown keys, and what was expected instead.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from .._util.suggest import did_you_mean
from ..errors import Path
from ..i18n import N_, _, ngettext
from .names import NAME, check_name

#: What a field holds, for "expected ..." messages, by field name.
FIELD_EXPECTS: dict[str, str] = {
    "on": N_("an event type or a list of event types"),
    "if": N_(
        "a condition: an expression in quotes, a list of them, or "
        "{all: [...]}, {any: [...]} or {not: ...}"
    ),
    "do": N_("a list of actions"),
    "else": N_("a list of actions"),
    "rules": N_("a list of rules"),
    "currencies": N_("a list of currencies (names, or {name: ..., expires_after: ...})"),
    "roles": N_("a list of role names"),
    "members": N_("a list of member ids"),
    "channels": N_("a list of channel names"),
    "vars": N_("a mapping of names to values"),
    "templates": N_("a mapping of template names to template text"),
    "flows": N_("a mapping of flow names to flows"),
    "ladder": N_("a list of ladder steps ({at: N, do: [...]})"),
}
#: What each item of a list field holds, by the list's field name.
ITEM_EXPECTS: dict[str, str] = {
    "rules": N_("a rule (a mapping with `id:`, `on:` and `do:`)"),
    "ladder": N_("a ladder step ({at: N, do: [...]})"),
    "currencies": N_("a currency name or {name: ..., expires_after: ...}"),
    "on": N_("an event type"),
}
_TYPE_WORDS: dict[str, str] = {
    "string_type": N_("a string"),
    "int_type": N_("a whole number"),
    "float_type": N_("a number"),
    "bool_type": N_("true or false"),
    "list_type": N_("a list"),
    "dict_type": N_("a mapping"),
    "model_type": N_("a mapping"),
    "model_attributes_type": N_("a mapping"),
    "none_required": N_("null"),
}
_YAML11_BOOLS = frozenset({"yes", "no", "on", "off", "y", "n"})


def model_keys(model: type[BaseModel]) -> list[str]:
    """The keys a model accepts in a playbook (aliases where a field has one)."""
    return [f.alias or name for name, f in model.model_fields.items()]


def _flat(tp: Any) -> list[Any]:
    if get_origin(tp) in (Union, types.UnionType):
        return [t for arg in get_args(tp) for t in _flat(arg)]
    return [tp]


def model_at(model: type[BaseModel], rel: Path) -> type[BaseModel] | None:
    """The pydantic model that validates the mapping at ``rel`` inside ``model``'s data."""
    current: list[Any] = [model]
    for seg in rel:
        nxt: list[Any] = []
        for tp in (t for c in current for t in _flat(c)):
            if isinstance(seg, int) and get_origin(tp) is list:
                nxt.extend(get_args(tp)[:1])
            elif isinstance(seg, str) and get_origin(tp) is dict:  # e.g. badges: {id: ...}
                nxt.extend(get_args(tp)[1:2])
            elif isinstance(seg, str) and isinstance(tp, type) and issubclass(tp, BaseModel):
                for name, f in tp.model_fields.items():
                    if seg in (name, f.alias):
                        nxt.append(f.annotation)
        current = nxt
    for tp in (t for c in current for t in _flat(c)):
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            return tp
    return None


def key_text(key: Any) -> str:
    """A mapping key as written in YAML: ``'name'``, ``true``, ``null``, ``5``."""
    if isinstance(key, str):
        return repr(key)
    if key is None:
        return "null"
    return str(key).lower() if isinstance(key, bool) else str(key)


def show(value: Any) -> str:
    """A short description of a value as written, for "got ..." messages."""
    if value is None:
        return _("an empty value")
    if isinstance(value, bool):
        return _("the boolean {value}").format(value=str(value).lower())
    if isinstance(value, int | float):
        return _("the number {value}").format(value=value)
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return _("the string {text!r}").format(text=text)
    if isinstance(value, list):
        return _("a list")
    if isinstance(value, dict):
        return _("a mapping")
    return type(value).__name__


@dataclass
class _Err:
    path: Path
    union: tuple[Path, str] | None
    type: str
    msg: str
    input: Any
    ctx: dict[str, Any]


def _clean(loc: tuple[Any, ...], data: Any, etype: str) -> tuple[Path, tuple[Path, str] | None]:
    path: list[str | int] = []
    cur, union = data, None
    for i, seg in enumerate(loc):
        in_list = isinstance(cur, list) and isinstance(seg, int) and 0 <= seg < len(cur)
        if in_list or (isinstance(cur, dict) and seg in cur):
            path.append(seg)
            cur = cur[seg]
        elif i == len(loc) - 1 and etype == "missing":
            path.append(seg)
        elif union is None and isinstance(seg, str):
            union = (tuple(path), seg)  # a union branch label, not a key
    return tuple(path), union


def _select(errors: list[_Err]) -> list[_Err]:
    """Keep, for each union, the errors of the branch(es) the data was meant for."""
    out = [e for e in errors if e.union is None]
    groups: dict[Path, list[_Err]] = {}
    for e in errors:
        if e.union is not None:
            groups.setdefault(e.union[0], []).append(e)
    for point, group in groups.items():
        deep = {e.union[1] for e in group if e.union and len(e.path) > len(point)}
        # A branch that took the value's type but whose check failed (a duration
        # that is a string, but not a duration) is the branch the data was meant for.
        checked = [e for e in group if e.type in ("value_error", "assertion_error")]
        if deep:
            out.extend(e for e in group if e.union and e.union[1] in deep)
        elif checked:
            out.extend(replace(e, union=None) for e in checked)
        else:
            words = [_(_TYPE_WORDS[e.type]) for e in group if e.type in _TYPE_WORDS]
            expected = _(" or ").join(dict.fromkeys(words)) or _("another value")
            out.append(_Err(point, None, "union", "", group[0].input, {"expected": expected}))
    return out


Describe = Callable[[Path], str]


@dataclass(frozen=True)
class Located:
    """A problem at a path; ``at_key`` means "point at the key, not its value"."""

    path: Path
    message: str
    at_key: bool = False
    #: The key a "missing required key" problem is about.
    missing: str | None = None


def validation_problems(
    exc: ValidationError,
    data: Any,
    model: type[BaseModel],
    base: Path,
    label: Describe,
    where: Describe,
) -> list[Located]:
    """Word every error of ``exc`` (raised validating ``data`` with ``model``).

    ``base`` is the path of ``data`` in the playbook; ``label(path)`` names a value for
    messages (``'threshold.within'``) and ``where(path)`` names a container
    (``rule 'welcome'``).
    """
    errors = []
    for raw in exc.errors():
        loc, etype, value = raw["loc"], raw["type"], raw.get("input")
        if etype == "invalid_key":  # pydantic mangles a non-string key in the loc
            loc = (*loc[:-1], value)
        elif loc and loc[-1] == "[key]":  # a key of a dict field failed validation
            loc, etype = loc[:-1], "invalid_key"
        path, union = _clean(loc, data, etype)
        errors.append(_Err(path, union, etype, raw["msg"], value, dict(raw.get("ctx") or {})))
    out: list[Located] = []
    for e in _select(errors):
        out.append(_word(e, data, model, base, label, where))
    return out


def _expects(model: type[BaseModel], rel: Path) -> str | None:
    """What the field (or list item) at ``rel`` holds, if it is one of ``model``'s fields."""
    if rel and isinstance(rel[-1], str) and model_at(model, rel[:-1]) is not None:
        text = FIELD_EXPECTS.get(rel[-1])
        return None if text is None else _(text)
    if len(rel) >= 2 and isinstance(rel[-2], str) and model_at(model, rel[:-2]) is not None:
        item = ITEM_EXPECTS.get(rel[-2])
        return None if item is None else _(item)
    return None


def _at(data: Any, path: Path) -> Any:
    for seg in path:
        data = data[seg]
    return data


#: The bound errors: the words for the bound, and the ctx key holding it.
_BOUNDS = {
    "greater_than_equal": (N_("{name!r} must be at least {bound}, got {value!r}"), "ge"),
    "less_than_equal": (N_("{name!r} must be at most {bound}, got {value!r}"), "le"),
    "greater_than": (N_("{name!r} must be more than {bound}, got {value!r}"), "gt"),
    "less_than": (N_("{name!r} must be less than {bound}, got {value!r}"), "lt"),
}


def _word(
    e: _Err, data: Any, model: type[BaseModel], base: Path, label: Describe, where: Describe
) -> Located:
    """One validation error worded for the playbook's author, by the kind of error."""
    full = (*base, *e.path)
    name = label(full)
    got = show(e.input)
    parent = model_at(model, e.path[:-1]) if e.path else None
    if e.type in ("extra_forbidden", "invalid_key"):
        return _word_bad_key(e, full, parent, label, where)
    if e.type == "missing":
        text = _("missing required key {key!r} in {where}").format(
            key=e.path[-1], where=where(full[:-1])
        )
        return Located(full[:-1], text, missing=str(e.path[-1]))
    if e.type in ("value_error", "assertion_error"):
        return _word_failed_check(e, data, full, name, where)
    if e.type in _TYPE_WORDS or e.type == "union":
        return _word_wrong_type(e, model, full, name, got)
    if e.type == "literal_error":
        if full == ("engage_rules",):
            return Located(
                full,
                _(
                    "unsupported language version {value!r}; this version of "
                    "engage_rules reads `engage_rules: 1`"
                ).format(value=e.input),
            )
        return Located(
            full,
            _("{name!r}: expected {expected}, got {got}").format(
                name=name, expected=_literal_choices(e.ctx.get("expected")), got=got
            ),
        )
    if e.type in _BOUNDS:
        text, key = _BOUNDS[e.type]
        return Located(full, _(text).format(name=name, bound=e.ctx.get(key), value=e.input))
    if e.type in ("string_too_short", "string_too_long", "string_pattern_mismatch"):
        return _word_bad_string(e, full, name)
    if e.type in ("too_short", "too_long") and e.ctx.get("field_type") in _COLLECTIONS:
        return Located(full, _word_bad_length(e, name))
    return Located(
        full,
        _("{name!r}: {error}").format(
            name=name, error=e.msg[0].lower() + e.msg[1:] if e.msg else e.type
        ),
    )


def _literal_choices(expected: Any) -> str:
    """Pydantic's "'a', 'b' or 'c'" with "or" in the current language."""
    text = str(expected)
    head, sep, last = text.rpartition(" or ")
    if not sep:
        return text
    return _(", ").join(head.split(", ")) + _(" or ") + last


def _word_bad_key(
    e: _Err, full: Path, parent: type[BaseModel] | None, label: Describe, where: Describe
) -> Located:
    """An unknown key, or a key that is not a string."""
    if e.type == "invalid_key" and parent is None:
        return Located(
            full,
            _("{name!r}: key {key} must be a string (put it in quotes)").format(
                name=label(full[:-1]), key=key_text(e.path[-1])
            ),
            at_key=True,
        )
    key = e.path[-1]
    allowed = model_keys(parent) if parent else []
    hint = did_you_mean(key, allowed) if isinstance(key, str) else ""
    if not hint and allowed:
        hint = _(" (expected one of: {names})").format(names=", ".join(allowed))
    return Located(
        full,
        _("unknown key {key} in {where}{hint}").format(
            key=key_text(key), where=where(full[:-1]), hint=hint
        ),
        at_key=True,
    )


def _word_failed_check(e: _Err, data: Any, full: Path, name: str, where: Describe) -> Located:
    """A validator's own message, prefixed with the value (or mapping) it is about."""
    text = str(e.ctx.get("error", e.msg))
    if isinstance(_at(data, e.path), dict):  # a check on a whole mapping
        context = where(full)
        if context in text:
            return Located(full, text)
        return Located(full, _("{where}: {error}").format(where=context, error=text))
    if f"`{name}`" in text:
        return Located(full, text)
    return Located(full, _("{name!r}: {error}").format(name=name, error=text))


def _word_wrong_type(e: _Err, model: type[BaseModel], full: Path, name: str, got: str) -> Located:
    """A value of the wrong type: what was expected, with a hint for YAML's surprises."""
    expected = _expects(model, e.path) or e.ctx.get("expected") or _(_TYPE_WORDS[e.type])
    hint = ""
    if e.type == "bool_type" and isinstance(e.input, str) and e.input.lower() in _YAML11_BOOLS:
        hint = _(" (only true and false are booleans)")
    elif e.type == "string_type" and isinstance(e.input, int | float | bool):
        hint = _(" (put it in quotes to make it text)")
    return Located(
        full,
        _("{name!r}: expected {expected}, got {got}{hint}").format(
            name=name, expected=expected, got=got, hint=hint
        ),
    )


#: The collections whose length pydantic checks, in its words (``List should have...``).
_COLLECTIONS = {"List": N_("list"), "Dictionary": N_("dictionary")}


def _word_bad_length(e: _Err, name: str) -> str:
    """A list or mapping with too few or too many items, in pydantic's English words."""
    kind = _(_COLLECTIONS[str(e.ctx["field_type"])])
    actual = e.ctx.get("actual_length")
    if e.type == "too_short":
        n = int(e.ctx.get("min_length", 0))
        text = ngettext(
            "{name!r}: {kind} should have at least {n} item after validation, not {actual}",
            "{name!r}: {kind} should have at least {n} items after validation, not {actual}",
            n,
        )
    else:
        n = int(e.ctx.get("max_length", 0))
        text = ngettext(
            "{name!r}: {kind} should have at most {n} item after validation, not {actual}",
            "{name!r}: {kind} should have at most {n} items after validation, not {actual}",
            n,
        )
    return text.format(name=name, kind=kind, n=n, actual=actual)


def _word_bad_string(e: _Err, full: Path, name: str) -> Located:
    """A string that is empty, too long, or does not match its pattern."""
    if e.type == "string_too_short":
        return Located(full, _("{name!r} must not be empty").format(name=name))
    if e.type == "string_too_long":
        return Located(
            full,
            _("{name!r} is longer than {n} characters").format(
                name=name, n=e.ctx.get("max_length")
            ),
        )
    if name in ("id", "name") and e.ctx.get("pattern") == NAME:
        try:
            check_name(N_("rule id") if name == "id" else N_("currency name"), e.input)
        except ValueError as err:
            return Located(full, str(err))
    if name == "type":
        return Located(
            full,
            _(
                "'type': {value!r} is not an event type name (lowercase "
                "words joined by dots, such as custom.badge_earned)"
            ).format(value=e.input),
        )
    return Located(
        full,
        _("{name!r}: {value!r} does not match {pattern}").format(
            name=name, value=e.input, pattern=e.ctx.get("pattern")
        ),
    )
