"""How the command line reports errors it did not expect: one line, never a traceback
(unless ``ENGAGE_RULES_DEBUG=1``)."""

from __future__ import annotations

#: Set to 1 to let unexpected errors show their traceback.
DEBUG_ENV = "ENGAGE_RULES_DEBUG"


def internal(err: BaseException) -> str:
    """An unexpected error as one line, saying it is a bug and how to see where."""
    text = str(err).splitlines()[0] if str(err) else ""
    return (
        f"{type(err).__name__}: {text[:300]} (this is a bug in engage_rules or a "
        f"plugin: please report it; set {DEBUG_ENV}=1 to see where it happened)"
    )
