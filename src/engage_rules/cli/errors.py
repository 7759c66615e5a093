"""How the command line reports errors it did not expect: one line, never a traceback
(unless ``ENGAGE_RULES_DEBUG=1``)."""

from __future__ import annotations

from ..i18n import _

#: Set to 1 to let unexpected errors show their traceback.
DEBUG_ENV = "ENGAGE_RULES_DEBUG"


def internal(err: BaseException) -> str:
    """An unexpected error as one line, saying it is a bug and how to see where."""
    text = str(err).splitlines()[0] if str(err) else ""
    hint = _(
        "this is a bug in engage_rules or a plugin: please report it; set {variable}=1 "
        "to see where it happened"
    ).format(variable=DEBUG_ENV)
    return f"{type(err).__name__}: {text[:300]} ({hint})"
