"""One pydantic error about a setting (of a runtime config), in the operator's language.

Pydantic words its errors in English ("String should have at least 16 characters").  The
runtime config (docs/reference.md §6) is read by the same people as the playbook, so its
problems are worded here, as :mod:`engage_rules.lang.messages` words the playbook's: by
the kind of error, from the error's context (bounds, lengths, expected choices).  A text
value is never echoed in full (it may be a secret): only its kind or its length.  An
error of a kind not worded here keeps pydantic's words.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..i18n import N_, _, ngettext
from .messages import _TYPE_WORDS, _literal_choices, show

#: The bound errors: the words for the bound, and the context key holding it.
_BOUNDS = {
    "greater_than_equal": (N_("must be at least {bound}, got {value}"), "ge"),
    "less_than_equal": (N_("must be at most {bound}, got {value}"), "le"),
    "greater_than": (N_("must be more than {bound}, got {value}"), "gt"),
    "less_than": (N_("must be less than {bound}, got {value}"), "lt"),
}

#: Parsing errors, by the type their value should have had (a key of _TYPE_WORDS).
_PARSING = {
    "int_parsing": "int_type",
    "int_from_float": "int_type",
    "float_parsing": "float_type",
    "bool_parsing": "bool_type",
}


def setting_error(kind: str, message: str, context: Mapping[str, Any], value: Any) -> str:
    """The words for one pydantic error: its ``kind`` (``type``), pydantic's ``message``
    (``msg``), its ``context`` (``ctx``) and the ``value`` (``input``) it is about."""
    if kind in _BOUNDS:
        text, key = _BOUNDS[kind]
        return _(text).format(bound=context.get(key), value=value)
    if kind in ("string_too_short", "string_too_long"):
        return _text_length(kind, context, value)
    if kind in ("too_short", "too_long"):
        return _item_count(kind, context)
    if kind in _TYPE_WORDS or kind in _PARSING:
        return _("expected {expected}, got {got}").format(
            expected=_(_TYPE_WORDS[_PARSING.get(kind, kind)]), got=show(value)
        )
    if kind == "literal_error":
        return _("expected {expected}, got {got}").format(
            expected=_literal_choices(context.get("expected")), got=show(value)
        )
    if kind == "union_tag_invalid":
        return _("unknown {key} {tag!r} (expected {expected})").format(
            key=context.get("discriminator", "").strip("'"),
            tag=context.get("tag"),
            expected=context.get("expected_tags"),
        )
    if kind == "union_tag_not_found":
        return _("missing required setting `{name}`").format(
            name=str(context.get("discriminator", "")).strip("'")
        )
    if kind in ("value_error", "assertion_error") and "error" in context:
        return str(context["error"])  # the validator's own words, translated where made
    return message


def _text_length(kind: str, context: Mapping[str, Any], value: Any) -> str:
    length = len(value) if isinstance(value, str) else 0
    if kind == "string_too_short":
        n = int(context.get("min_length", 0))
        if n == 1:
            return _("must not be empty")
        text = ngettext(
            "must be at least {n} character long, not {length}",
            "must be at least {n} characters long, not {length}",
            n,
        )
    else:
        n = int(context.get("max_length", 0))
        text = ngettext(
            "must be at most {n} character long, not {length}",
            "must be at most {n} characters long, not {length}",
            n,
        )
    return text.format(n=n, length=length)


def _item_count(kind: str, context: Mapping[str, Any]) -> str:
    actual = context.get("actual_length")
    if kind == "too_short":
        n = int(context.get("min_length", 0))
        text = ngettext(
            "needs at least {n} entry, not {actual}", "needs at least {n} entries, not {actual}", n
        )
    else:
        n = int(context.get("max_length", 0))
        text = ngettext(
            "takes at most {n} entry, not {actual}", "takes at most {n} entries, not {actual}", n
        )
    return text.format(n=n, actual=actual)
