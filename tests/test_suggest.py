"""One "did you mean" (engage_rules._util.suggest) for every message naming an unknown."""

from __future__ import annotations

import re
from pathlib import Path

from engage_rules._util.suggest import closest, did_you_mean

SRC = Path(__file__).resolve().parents[1] / "src" / "engage_rules"


def test_did_you_mean_in_yaml_and_in_code() -> None:
    assert did_you_mean("mesage", ["message", "member"]) == "; did you mean 'message'?"
    assert did_you_mean("membr", ["member", "event"], code=True) == "; did you mean `member`?"
    assert did_you_mean("zzz", ["member", "event"]) == ""
    assert did_you_mean("x", []) == ""


def test_closest_takes_any_names_and_a_cutoff() -> None:
    assert closest("al", {"all": 1, "any": 2}) == "all"  # a mapping: its keys
    assert closest(5, [5, "a"]) == "5"  # compared as text, never a crash
    assert closest("mesage.posted", ["message.posted"], cutoff=0.85) == "message.posted"
    assert closest("msg.posted", ["message.posted"], cutoff=0.85) is None


def test_only_the_suggest_module_uses_difflib() -> None:
    users = sorted(
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if re.search(
            r"\bget_close_matches\b|^\s*(from|import) difflib\b", p.read_text("utf-8"), re.M
        )
    )
    assert users == ["_util/suggest.py"]
