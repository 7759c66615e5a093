"""``engage-rules plugins`` and the commands plugins add to ``engage-rules``."""

from __future__ import annotations

import argparse
import inspect
import sys

import orjson

from ..i18n import N_, _
from ..plugins.registry import KINDS, Registry

#: Each kind's line in the listing (its count and names), and its heading with -v.
_TITLES = {
    "features": (N_("features ({n}): {names}"), N_("features:")),
    "adapters": (N_("adapters ({n}): {names}"), N_("adapters:")),
    "actions": (N_("actions ({n}): {names}"), N_("actions:")),
    "functions": (N_("functions ({n}): {names}"), N_("functions:")),
    "event_types": (N_("event types ({n}): {names}"), N_("event types:")),
    "stores": (N_("stores ({n}): {names}"), N_("stores:")),
    "commands": (N_("commands ({n}): {names}"), N_("commands:")),
    "classifiers": (N_("classifiers ({n}): {names}"), N_("classifiers:")),
    "timer_kinds": (N_("timer kinds ({n}): {names}"), N_("timer kinds:")),
    "sections": (N_("playbook sections ({n}): {names}"), N_("playbook sections:")),
}


def _translated(description: str | None) -> str:
    return _(description) if description else ""


def _details(reg: Registry, kind: str, name: str) -> str:
    """A one-line description of a registered thing, for the text listing."""
    # Descriptions are marked N_() where they are made (a feature's: the first paragraph
    # of its docstring, translated in po/zh_CN/polish.po); a plugin gives a function
    # returning its adapters' and event types' descriptions in the current language.
    if kind == "features":
        feature = reg.feature(name)
        doc = inspect.cleandoc(type(feature).__doc__ or "") if feature is not None else ""
        return _(" ".join(doc.split("\n\n")[0].split())) if doc else ""
    if kind == "adapters":
        return reg.adapters[name].description_text()
    if kind == "actions":
        return _translated(reg.actions[name].spec.description)
    if kind == "functions":
        return _translated(reg.functions[name].doc)
    if kind == "event_types":
        return reg.event_types[name].description_text()
    if kind == "stores":
        return f"--store {name}:..."
    if kind == "commands":
        return reg.commands[name].help_text()
    return ""


def cmd_plugins(args: argparse.Namespace) -> int:
    """``engage-rules plugins``: list the loaded plugins and what each registers."""
    reg: Registry = args.registry
    if args.json:
        sys.stdout.write(orjson.dumps(reg.describe(), option=orjson.OPT_INDENT_2).decode())
        sys.stdout.write("\n")
        return 0
    out: list[str] = []
    for plugin in reg.describe():
        out.append(f"{plugin['name']} ({plugin['source']})")
        registered = [k for k in KINDS if plugin[k]]
        if not registered:
            out.append("  " + _("(registers nothing)"))
        for kind in registered:
            names: list[str] = plugin[kind]
            if args.verbose:
                out.append("  " + _(_TITLES[kind][1]))
                width = max(len(n) for n in names)
                for name in names:
                    details = _details(reg, kind, name)
                    out.append(f"    {name:<{width}}  {details}".rstrip())
            else:
                text = _(_TITLES[kind][0]).format(n=len(names), names=", ".join(names))
                out.append(f"  {text}")
    sys.stdout.write("\n".join(out) + "\n")
    return 0


def configure(p: argparse.ArgumentParser) -> None:
    """``engage-rules plugins [--json] [-v]``."""
    p.add_argument("--json", action="store_true", help=_("print JSON (one object per plugin)"))
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help=_("one line per registered item, with its description"),
    )
