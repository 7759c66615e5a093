"""``engage-rules schema``: the JSON Schema of the playbook language, for editors.

Its titles and descriptions are in the language ``--lang`` names (``engage-rules --lang
zh_CN schema``); without ``--lang`` they are in English and Chinese together, whatever the
locale, so the file a team commits reads the same for everyone (docs/editors.md).
"""

from __future__ import annotations

import argparse
import sys

import orjson


def configure(p: argparse.ArgumentParser) -> None:
    """``engage-rules schema`` takes no options of its own (the global ``--lang`` chooses
    the language of its texts)."""
    pass


def cmd_schema(args: argparse.Namespace) -> int:
    """``engage-rules schema``: print the playbook JSON Schema."""
    from ..lang.schema import playbook_json_schema

    # main() has refused a --lang it does not know before any command runs.
    schema = playbook_json_schema(args.registry, language=getattr(args, "lang", None))
    sys.stdout.write(orjson.dumps(schema, option=orjson.OPT_INDENT_2).decode())
    sys.stdout.write("\n")
    return 0
