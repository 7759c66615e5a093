"""Chinese help text is wrapped by terminal columns (engage_rules._util.display): lines
break between Chinese characters and at spaces, never lose a character, fit the width,
and English text is wrapped exactly as textwrap wraps it."""

from __future__ import annotations

import textwrap

from hypothesis import given, settings
from hypothesis import strategies as st

from engage_rules._util.display import columns, pad, wrap
from engage_rules.cli.help_format import wide_colons

HAN = st.sampled_from("积分签到规则社群成员动作默认永久")
ASCII_WORD = st.text(alphabet="abcdefxyz0123", min_size=1, max_size=5)
PIECE = st.one_of(HAN, ASCII_WORD, st.just(" "), st.sampled_from("，；："))


def help_text(pieces: list[str]) -> str:
    """Pieces joined as argparse hands help to the formatter: spaces collapsed, stripped."""
    return " ".join("".join(pieces).split())


@settings(max_examples=50, deadline=None)
@given(st.lists(PIECE, max_size=40).map(help_text), st.integers(min_value=6, max_value=40))
def test_wrapping_keeps_every_character_and_fits_the_width(text: str, width: int) -> None:
    lines = wrap(text, width)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    for line in lines:
        assert line == line.strip()
        # A line is over the width only by the punctuation kept with its character, or
        # when it is one English word longer than the width (it is not cut).
        bare = line.rstrip("，；： ")
        assert columns(bare) <= width or (" " not in bare and columns(bare) == len(bare))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.one_of(ASCII_WORD, st.just(" ")), max_size=30).map(help_text))
def test_english_is_wrapped_as_textwrap_wraps_it(text: str) -> None:
    assert wrap(text, 12) == textwrap.wrap(text, 12)


def test_a_line_never_starts_with_closing_punctuation() -> None:
    assert wrap("默认永久默认永久（默认）。", 16) == ["默认永久默认永久", "（默认）。"]
    assert wrap("一二三四五，六", 10) == ["一二三四五，", "六"]
    assert (
        columns("动作 ab") == 7
        and pad("动作", 6) == "动作  "
        and pad("ab", 4, right=True) == "  ab"
    )


def test_chinese_headings_end_with_the_full_width_colon() -> None:
    text = "用法：x\n\n选项:\n  -h  帮助\n\noptions:\n"
    assert wide_colons(text, ["选项", "options"]) == "用法：x\n\n选项：\n  -h  帮助\n\noptions:\n"
