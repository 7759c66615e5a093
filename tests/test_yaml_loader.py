"""The safe YAML 1.2 reader: typing, duplicate keys, aliases, tags, limits, positions."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from engage_rules.errors import PlaybookError
from engage_rules.lang import yaml_source as yaml_loader
from engage_rules.lang.yaml_source import (
    MAX_ALIAS_NODES,
    MAX_DEPTH,
    MAX_FILE_BYTES,
    parse_yaml_text,
    read_yaml_file,
    safe_load,
)

PROBLEM_RE = re.compile(r"^.+:\d+:\d+: .+$")
PARSERS = [yaml.SafeLoader] + ([yaml.CSafeLoader] if yaml.__with_libyaml__ else [])


@pytest.fixture(autouse=True, params=PARSERS, ids=lambda p: p.__name__)
def event_parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every test with PyYAML's pure-Python parser and, when built, with libyaml's."""
    monkeypatch.setattr(yaml_loader, "_EVENT_LOADER", request.param)


def messages(text: str) -> list[str]:
    return [str(p) for p in parse_yaml_text(text, "f.yaml").problems]


# -- YAML 1.2 core schema typing ------------------------------------------------------------


def test_on_key_and_yes_no_are_strings() -> None:
    data = safe_load("on: member.joined\nyes: no\nflags: [on, off, y, n, Yes, NO, ON]\n")
    assert data == {
        "on": "member.joined",
        "yes": "no",
        "flags": ["on", "off", "y", "n", "Yes", "NO", "ON"],
    }


@pytest.mark.parametrize("text", ["true", "True", "TRUE"])
def test_true_spellings(text: str) -> None:
    assert safe_load(f"a: {text}") == {"a": True}


@pytest.mark.parametrize("text", ["false", "False", "FALSE"])
def test_false_spellings(text: str) -> None:
    assert safe_load(f"a: {text}") == {"a": False}


def test_quoted_true_is_a_string() -> None:
    assert safe_load("a: 'true'\nb: \"false\"") == {"a": "true", "b": "false"}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("010", 10),
        ("-7", -7),
        ("+3", 3),
        ("0o17", 15),
        ("0x1f", 31),
        ("1:30", "1:30"),
        ("1_000", "1_000"),
        ("0b101", "0b101"),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        (".5", 0.5),
        ("2026-03-01", "2026-03-01"),
        ("60s", "60s"),
        ("null", None),
        ("~", None),
        ("", None),
        ("NULL", None),
        ("nil", "nil"),
    ],
)
def test_core_schema_scalars(text: str, value: object) -> None:
    assert safe_load(f"a: {text}") == {"a": value}


def test_special_floats() -> None:
    data = safe_load("a: [.inf, -.Inf, .NAN]")
    assert data["a"][0] == math.inf and data["a"][1] == -math.inf and math.isnan(data["a"][2])


def test_allowed_explicit_tags() -> None:
    text = "a: !!str 5\nb: !!int '7'\nc: !!float 2\nd: !!bool true\ne: !!null ''\n"
    text += "f: !!seq [1]\ng: !!map {x: 1}\nh: ! 12\n"
    assert safe_load(text) == {
        "a": "5",
        "b": 7,
        "c": 2.0,
        "d": True,
        "e": None,
        "f": [1],
        "g": {"x": 1},
        "h": "12",
    }


def test_bool_tag_with_yaml11_word_is_rejected() -> None:
    (msg,) = messages("a: !!bool yes")
    assert "only true and false are booleans" in msg


@given(st.integers(min_value=-(10**30), max_value=10**30))
@settings(max_examples=50)
def test_integers_round_trip(n: int) -> None:
    assert safe_load(f"a: {n}") == {"a": n}


# YAML's printable set: no surrogates or controls, and no U+FFFE / U+FFFF (noncharacters
# that YAML rejects, as the loader does with a clear message).
_YAML_PRINTABLE = st.characters(
    codec="utf-8", exclude_categories=("Cs", "Cc"), exclude_characters="\ufffe\uffff"
)


@given(st.text(alphabet=_YAML_PRINTABLE, max_size=30))
@settings(max_examples=50)
def test_double_quoted_strings_stay_strings(s: str) -> None:
    escaped = s.replace("\\", "\\\\").replace('"', '\\"')
    assert safe_load(f'a: "{escaped}"') == {"a": s}


# -- rejected constructs ---------------------------------------------------------------------


def test_duplicate_key_names_both_lines() -> None:
    (msg,) = messages("rules:\n  - id: a\n    on: x\n    id: b\n")
    assert msg == "f.yaml:4:5: duplicate key 'id' (first defined at line 2)"


def test_all_duplicate_keys_are_reported() -> None:
    assert len(messages("a: 1\nb: 2\na: 3\nb: 4\n")) == 2


def test_billion_laughs_is_rejected_without_building_it() -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    (msg,) = messages("\n".join(lines))
    assert f"more than {MAX_ALIAS_NODES} nodes" in msg


def test_modest_aliases_are_expanded() -> None:
    data = safe_load("base: &b {tag: x}\none: *b\ntwo: *b\n")
    assert data == {"base": {"tag": "x"}, "one": {"tag": "x"}, "two": {"tag": "x"}}
    assert data["one"] is not data["two"]  # copies, not shared objects


def test_alias_position_is_where_the_alias_is_written() -> None:
    doc = parse_yaml_text("base: &b {tag: x}\none: *b\n")
    assert doc.positions[("one",)] == (2, 6)


def test_recursive_alias_is_rejected() -> None:
    (msg,) = messages("a: &a [1, *a]")
    assert "contains it" in msg


def test_undefined_alias() -> None:
    assert messages("a: *nope") == ["f.yaml:1:4: undefined alias '*nope'"]


@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object/apply:os.system ['echo hi']",
        "!!python/name:os.system ''",
        "!!python/object:collections.OrderedDict {}",
        "!custom 5",
        "!!binary aGk=",
        "!!timestamp 2026-01-01",
        "!!set {a: null}",
        "!!omap [a: 1]",
        "!<tag:example.com,2000:x> 1",
    ],
)
def test_non_core_tags_are_rejected(tag: str) -> None:
    (msg,) = messages(f"a: {tag}\n")
    assert msg.startswith("f.yaml:1:4: tag ") and "is not allowed" in msg


def test_python_apply_tag_names_the_tag() -> None:
    (msg,) = messages("x: !!python/object/apply:os.system ['rm -rf /']")
    assert "!!python/object/apply:os.system" in msg


def test_merge_keys_are_rejected() -> None:
    (msg,) = messages("a: &a {x: 1}\nb:\n  <<: *a\n  y: 2\n")
    assert msg.startswith("f.yaml:3:3: merge keys")


def test_complex_key_and_unquoted_template_hint() -> None:
    (msg,) = messages("text: {{ member.name }}\n")
    assert "must be quoted" in msg


def test_multi_document_files_are_rejected() -> None:
    (msg,) = messages("a: 1\n---\nb: 2\n")
    assert msg.startswith("f.yaml:2:1: a playbook file holds one YAML document")


def test_too_deep_nesting() -> None:
    (msg,) = messages("[" * (MAX_DEPTH + 5))
    assert f"deeper than {MAX_DEPTH}" in msg


def test_text_too_large() -> None:
    doc = parse_yaml_text("a: " + "x" * MAX_FILE_BYTES)
    assert doc.fatal and "too large" in doc.problems[0].message


def test_file_too_large_is_checked_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("a: 1\n" + "#" * MAX_FILE_BYTES)
    doc = read_yaml_file(path)
    assert doc.fatal and doc.data is None
    assert str(doc.problems[0]).startswith(f"{path}:1:1: file is too large")


def test_invalid_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(b"a: 1\nb: \xff\n")
    (problem,) = read_yaml_file(path, "bad.yaml").problems
    assert (problem.line, problem.col) == (2, 4) and "UTF-8" in problem.message


def test_missing_file(tmp_path: Path) -> None:
    (problem,) = read_yaml_file(tmp_path / "nope.yaml").problems
    assert "cannot read file" in problem.message


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfa: 1\n")
    assert read_yaml_file(path).data == {"a": 1}


# -- syntax errors and positions -------------------------------------------------------------


def test_syntax_error_position() -> None:
    (msg,) = messages("a: [1, 2\nb: 3\n")
    assert msg.startswith("f.yaml:2:2: YAML syntax error:")


def test_bad_indentation_position() -> None:
    (msg,) = messages("rules:\n  - id: a\n   on: x\n")
    assert re.match(r"f\.yaml:3:\d+: YAML syntax error", msg)


def test_tab_indentation() -> None:
    (msg,) = messages("a:\n\tb: 1\n")
    assert msg.startswith("f.yaml:2:1: YAML syntax error")


def test_control_character() -> None:
    (msg,) = messages("a: 1\nb: \x07\n")
    assert msg.startswith("f.yaml:2:4:")


def test_positions_of_values_items_and_keys() -> None:
    text = 'rules:\n  - id: welcome\n    if: "x > 1"\n    do: [{tag: a}]\n'
    doc = parse_yaml_text(text)
    assert doc.positions[()] == (1, 1)
    assert doc.positions[("rules", 0)] == (2, 5)
    assert doc.positions[("rules", 0, "id")] == (2, 9)
    assert doc.positions[("rules", 0, "if")] == (3, 9)
    assert doc.key_positions[("rules", 0, "if")] == (3, 5)
    assert doc.positions[("rules", 0, "do", 0)] == (4, 10)
    assert doc.positions[("rules", 0, "do", 0, "tag")] == (4, 16)


def test_columns_count_characters_not_bytes() -> None:
    doc = parse_yaml_text("名字: 摄影\n")
    assert doc.positions[("名字",)] == (1, 5)


def test_empty_document_is_none() -> None:
    assert safe_load("") is None
    assert safe_load("# only a comment\n") is None


def test_safe_load_raises_with_every_problem() -> None:
    with pytest.raises(PlaybookError) as info:
        safe_load("a: 1\na: 2\nb: !!python/name:os.system ''\n", "x.yaml")
    assert len(info.value.problems) == 2
    assert all(PROBLEM_RE.match(line) for line in str(info.value).splitlines())


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers(-1000, 1000) | st.text("abc xyz:-#", max_size=8),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(st.text("abcdef", min_size=1, max_size=5), inner, max_size=4)
        ),
        max_leaves=15,
    )
)
@settings(max_examples=50)
def test_json_compatible_data_round_trips(value: object) -> None:
    import json

    assert safe_load(json.dumps({"v": value})) == {"v": value}
