"""``engage-rules plugins`` and the commands plugins add to ``engage-rules``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from .plugins import KINDS, PluginError, registry

_TITLES = {
    "adapters": "adapters", "actions": "actions", "functions": "functions",
    "event_types": "event types", "stores": "stores", "commands": "commands",
    "classifiers": "classifiers",
}


def _details(kind: str, name: str) -> str:
    """A one-line description of a registered thing, for the text listing."""
    reg = registry()
    if kind == "adapters":
        return reg.adapters[name].description
    if kind == "actions":
        return reg.actions[name].spec.description
    if kind == "functions":
        return reg.functions[name].doc
    if kind == "event_types":
        return reg.event_types[name].description
    if kind == "stores":
        return f"--store {name}:..."
    if kind == "commands":
        return reg.commands[name].help
    return ""


def cmd_plugins(args: argparse.Namespace) -> int:
    reg = registry()
    if args.json:
        sys.stdout.write(orjson.dumps(reg.describe(), option=orjson.OPT_INDENT_2).decode())
        sys.stdout.write("\n")
        return 0
    out: list[str] = []
    for plugin in reg.describe():
        out.append(f"{plugin['name']} ({plugin['source']})")
        registered = [k for k in KINDS if plugin[k]]
        if not registered:
            out.append("  (registers nothing)")
        for kind in registered:
            names: list[str] = plugin[kind]
            if args.verbose:
                out.append(f"  {_TITLES[kind]}:")
                width = max(len(n) for n in names)
                for name in names:
                    details = _details(kind, name)
                    out.append(f"    {name:<{width}}  {details}".rstrip())
            else:
                out.append(f"  {_TITLES[kind]} ({len(names)}): {', '.join(names)}")
    sys.stdout.write("\n".join(out) + "\n")
    return 0


def add_plugins_command(sub: Any) -> None:
    """``engage-rules plugins [--json] [-v]``."""
    p = sub.add_parser("plugins", help="list installed plugins and what each registers")
    p.add_argument("--json", action="store_true", help="print JSON (one object per plugin)")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="one line per registered item, with its description")
    p.set_defaults(func=cmd_plugins)


def add_plugin_commands(sub: Any) -> None:
    """Add every command plugins register (``register_commands``) as a subcommand."""
    for name, entry in sorted(registry().commands.items()):
        if name in sub.choices:
            raise PluginError(f"plugin {entry.plugin!r} registers command {name!r}, "
                              "which is a built-in command")
        p = sub.add_parser(name, help=f"{entry.help} [plugin {entry.plugin}]")
        entry.configure(p)
        p.set_defaults(func=entry.run)
