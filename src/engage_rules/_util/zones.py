"""Time zone names a playbook (or a member's ``attrs.timezone``) may use.

Only the IANA names listed by the bundled ``tzdata`` package are accepted (see
docs/language.md, "Time zones").  Other names that Python's :mod:`zoneinfo` would open
from the machine's own time zone folder — ``localtime``, ``posixrules``, ``posix/…``,
``right/…`` — are refused: they depend on how that machine is set up, so the same
playbook and events would give different times on another machine.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..i18n import _

__all__ = ["zone", "zone_names", "zone_problem"]


@lru_cache(maxsize=1)
def zone_names() -> frozenset[str]:
    """Every zone name of the bundled tzdata package."""
    text = resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


def zone_problem(name: object) -> str | None:
    """Why ``name`` is not an acceptable time zone, or None when it is one."""
    if not isinstance(name, str):
        return _("a time zone is an IANA name such as Asia/Shanghai, got {type}").format(
            type=type(name).__name__
        )
    if name in zone_names():
        return None
    shown = name if len(name) <= 40 else name[:37] + "..."
    if (
        name.lower() == "localtime"
        or name.startswith(("posix/", "right/", "/"))
        or (name == "posixrules")
    ):
        return _(
            "time zone {shown!r} depends on the machine that runs the playbook; "
            "use an IANA name such as Asia/Shanghai"
        ).format(shown=shown)
    return _("unknown time zone {shown!r} (use an IANA name such as Asia/Shanghai)").format(
        shown=shown
    )


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo | None:
    """The time zone ``name``, or None when it is not an acceptable name."""
    if zone_problem(name) is not None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # pragma: no cover - listed names load
        return None
