"""``engage-rules schema``: the JSON Schema of the playbook language, for editors."""

from __future__ import annotations

import argparse
import sys

import orjson


def configure(p: argparse.ArgumentParser) -> None:
    """``engage-rules schema`` takes no options."""
    pass


def cmd_schema(args: argparse.Namespace) -> int:
    """``engage-rules schema``: print the playbook JSON Schema."""
    from ..lang.schema import playbook_json_schema

    schema = playbook_json_schema(args.registry)
    sys.stdout.write(orjson.dumps(schema, option=orjson.OPT_INDENT_2).decode())
    sys.stdout.write("\n")
    return 0
