"""How ``engage-rules --help`` lays out its text in every language: argparse's layout,
with lines measured in terminal columns (a Chinese character takes two) and broken
between Chinese characters as well as at spaces, and section headings ending with the
colon of their language (``选项：``, ``options:``).  English help is laid out exactly as
argparse lays it out."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable
from typing import Any

from .._util.display import columns, wrap

_SPACES = re.compile(r"\s+")


class HelpFormatter(argparse.HelpFormatter):
    """argparse's help formatter, measuring text by terminal columns."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._headings: list[str] = []

    def _split_lines(self, text: str, width: int) -> list[str]:
        return wrap(_SPACES.sub(" ", text).strip(), width)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        lines = wrap(_SPACES.sub(" ", text).strip(), width - len(indent))
        return "\n".join(indent + line for line in lines)

    def start_section(self, heading: str | None) -> None:
        if heading:
            self._headings.append(heading)
        super().start_section(heading)

    def format_help(self) -> str:
        return wide_colons(super().format_help(), self._headings)


def wide_colons(text: str, headings: Iterable[str]) -> str:
    """``text`` with the headings written in wide characters (Chinese) ending with the
    full-width colon, as Chinese punctuation wants."""
    for heading in headings:
        if columns(heading) != len(heading):
            text = re.sub(rf"(?m)^(\s*){re.escape(heading)}:$", rf"\g<1>{heading}：", text)
    return text


def parser_options() -> dict[str, Any]:
    """The keyword arguments every parser of the command line is made with."""
    return {"formatter_class": HelpFormatter}


def lay_out_like(parser: argparse.ArgumentParser, model: argparse.ArgumentParser) -> None:
    """Give the subcommands a command added to ``parser`` (``telegram map``...) the
    formatter of ``model``: argparse does not pass it down."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                sub.formatter_class = model.formatter_class
                lay_out_like(sub, model)
