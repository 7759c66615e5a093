"""docs/zh/reference.md, the Chinese reference, keeps up with docs/reference.md.

The English reference is the normative one; the Chinese one falls behind when it lacks a
section or an anchor, a built-in action or one of its parameters, a function, an expression
name, an event type, a quarantine reason, a snapshot field, or any code literal (what is
written in backticks) of a section, or when one of its YAML examples no longer has the
English example's shape. Every YAML example of the reference, in both languages, loads as
a playbook (the §8 example runs as a playbook test). docs/zh/reports.md keeps the sections
and the literals of docs/reports.md, and the links of both Chinese pages resolve.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engage_rules.api import load
from engage_rules.cli.main import main
from engage_rules.expr.context import EVENT_FIELDS, MEMBER_FIELDS, ROOT_NAMES
from engage_rules.expr.functions import BUILTIN_FUNCTIONS
from engage_rules.lang.loader import TOP_LEVEL_FIELDS
from engage_rules.lang.yaml_source import parse_yaml_text
from engage_rules.model.events import CANONICAL_TYPES, INTERNAL_TYPES, REASONS
from engage_rules.model.state import MemberState
from engage_rules.plugins import build_registry
from test_reference_docs import backticked, table_rows

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
ENGLISH = (DOCS / "reference.md").read_text(encoding="utf-8")
CHINESE = (DOCS / "zh" / "reference.md").read_text(encoding="utf-8")
ENGLISH_REPORTS = (DOCS / "reports.md").read_text(encoding="utf-8")
CHINESE_REPORTS = (DOCS / "zh" / "reports.md").read_text(encoding="utf-8")

REGISTRY = build_registry(installed=False)
BUILTIN_ACTION_SPECS = [a.spec for a in REGISTRY.actions.values()]
TOP_LEVEL = frozenset((*TOP_LEVEL_FIELDS, *REGISTRY.sections))
#: Quarantine reasons only the live runtime gives (as tests/test_reference_docs.py).
RUNTIME_REASONS = ("future_time", "bad_payload", "beyond_dedup_window")

ANCHOR = re.compile(r'<a id="([^"]+)"></a>')
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", flags=re.MULTILINE | re.DOTALL)
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")


# -- reading the pages ----------------------------------------------------------------------


def anchor_ids(text: str) -> list[str]:
    return ANCHOR.findall(text)


def section_ids(text: str) -> list[str]:
    """The numbered section anchors (``s5-3``), in order."""
    return [a for a in anchor_ids(text) if re.fullmatch(r"s[\d-]+", a)]


def section(text: str, key: str) -> str:
    """The text of section ``key`` (``s5-3``) up to the next section anchor that is not one
    of its own, as tests/test_reference_docs.py reads the English reference."""
    anchor = f'<a id="{key}"></a>'
    start = text.index(anchor) + len(anchor)
    for m in re.finditer(r'<a id="(s[\d-]+)"></a>', text[start:]):
        if not m.group(1).startswith(key + "-"):
            return text[start : start + m.start()]
    return text[start:]


def own_text(text: str, key: str) -> str:
    """Section ``key``'s text without its subsections (§5's head without §5.1...)."""
    body = section(text, key)
    cut = re.search(r'<a id="s[\d-]+"></a>', body)
    return body[: cut.start()] if cut else body


def heading_numbers(text: str) -> list[str]:
    """The numbers of the ``##``/``###`` headings (``5.3``), in order."""
    return re.findall(r"^#{2,3} (\d+(?:\.\d+)*)\.? ", text, flags=re.MULTILINE)


def without_fences(text: str) -> str:
    return FENCE.sub("", text)


def literals(text: str) -> set[str]:
    """What ``text`` writes in backticks outside its fenced blocks."""
    spans = re.findall(r"`([^`]+)`", without_fences(text))
    return {" ".join(span.split()) for span in spans}


def yaml_examples(text: str) -> list[str]:
    return [body for lang, body in FENCE.findall(text) if lang == "yaml"]


def parsed(example: str, where: str) -> Any:
    """The example's data, read as the engine reads a playbook (YAML 1.2 core, strict)."""
    document = parse_yaml_text(example, where)
    assert not document.problems, f"{where}: {[str(p) for p in document.problems]}"
    return document.data


# -- anchors, numbers and sections ---------------------------------------------------------------


def test_the_chinese_reference_has_every_anchor_in_the_same_order() -> None:
    english, chinese = anchor_ids(ENGLISH), anchor_ids(CHINESE)
    missing = [a for a in english if a not in chinese]
    assert not missing, f"docs/zh/reference.md lacks the anchors {missing}"
    assert chinese == english, "docs/zh/reference.md has its anchors in another order"


def test_every_section_heading_has_the_english_number_under_the_same_anchor() -> None:
    assert heading_numbers(CHINESE) == heading_numbers(ENGLISH)
    for text in (ENGLISH, CHINESE):
        for key in section_ids(text):
            if key.startswith("s11-"):
                continue  # the guarantees are list items, not headings
            heading = re.search(r"^#{2,3} (\d+(?:\.\d+)*)\.? ", section(text, key), re.M)
            assert heading and heading.group(1) == key[1:].replace("-", "."), key


def test_the_head_says_the_english_file_is_normative_and_links_it() -> None:
    head = CHINESE[: CHINESE.index('<a id="s1"></a>')]
    assert "](../reference.md)" in head
    assert "以英文版为准" in head


def test_the_english_pages_point_at_the_chinese_ones() -> None:
    head = ENGLISH[: ENGLISH.index('<a id="s1"></a>')]
    assert "](zh/reference.md)" in head
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "](docs/zh/reference.md)" in readme
    assert "](docs/zh/reports.md)" in readme


@pytest.mark.parametrize("key", section_ids(ENGLISH))
def test_each_section_keeps_every_code_literal_of_the_english_one(key: str) -> None:
    """Whatever a section writes in backticks (a key, an action, a field, an option, a
    value...) is written in the Chinese section too: a row or a sentence added to the
    English section with a new literal shows up here."""
    missing = literals(own_text(ENGLISH, key)) - literals(own_text(CHINESE, key))
    assert not missing, f"§{key[1:].replace('-', '.')} of docs/zh/reference.md lacks {missing}"


# -- the lists of the implementation, in the Chinese reference ---------------------------------


def test_every_builtin_action_and_its_parameters_are_in_the_chinese_tables() -> None:
    actions = table_rows(section(CHINESE, "s5-3"))
    params = table_rows(section(CHINESE, "s6-2"))
    for spec in BUILTIN_ACTION_SPECS:
        assert spec.name in actions, f"zh §5.3 has no row for `{spec.name}`"
        assert spec.name in params, f"zh §6.2 has no row for `{spec.name}`"
        documented = backticked(actions[spec.name])
        for field, info in spec.params.model_fields.items():
            name = info.alias or field
            assert name in documented or spec.name == "set", (
                f"zh §5.3 does not name the parameter `{name}` of `{spec.name}`"
            )


def test_every_event_type_and_quarantine_reason_is_in_the_chinese_tables() -> None:
    canonical = table_rows(section(CHINESE, "s3-2"))
    internal = table_rows(section(CHINESE, "s3-4"))
    reasons = table_rows(section(CHINESE, "s3-7"))
    for t in CANONICAL_TYPES:
        assert t in canonical, f"zh §3.2 does not list `{t}`"
    for t in INTERNAL_TYPES:
        assert t in internal, f"zh §3.4 does not list `{t}`"
    for reason in (*REASONS, *RUNTIME_REASONS):
        assert reason in reasons, f"zh §3.7 does not list the reason code `{reason}`"


def test_every_expression_name_and_function_is_in_the_chinese_tables() -> None:
    text = section(CHINESE, "s5-2")
    names = table_rows(text)
    for root in ROOT_NAMES:
        assert root in names, f"zh §5.2 does not list the name `{root}`"
    for field in MEMBER_FIELDS:
        assert f"`{field}`" in names["member"], f"zh §5.2 does not list `member.{field}`"
    for field in EVENT_FIELDS:
        assert f"`{field}`" in names["event"], f"zh §5.2 does not list `event.{field}`"
    functions = {re.sub(r"\(.*", "", cell) for cell in backticked(text)}
    for name in BUILTIN_FUNCTIONS:
        assert name in functions, f"zh §5.2 does not list the function `{name}`"


def test_every_snapshot_member_field_is_in_the_chinese_table() -> None:
    fields = table_rows(section(CHINESE, "s6-6"))
    for key in MemberState(id="u1", community="c").snapshot(None):
        assert key in fields, f"zh §6.6 does not list the snapshot field `{key}`"


def test_every_table_row_of_the_english_reference_is_in_the_chinese_one() -> None:
    for key in section_ids(ENGLISH):
        english = table_rows(own_text(ENGLISH, key))
        chinese = table_rows(own_text(CHINESE, key))
        for name, row in english.items():
            assert name in chinese, f"zh §{key[1:]} has no table row for `{name}`"
            lost = backticked(row) - backticked(chinese[name])
            assert not lost, f"zh §{key[1:]}, row `{name}`, lacks {sorted(lost)}"


# -- the YAML examples ---------------------------------------------------------------------------


def same_shape(english: Any, chinese: Any, path: str = "") -> Iterator[str]:
    """Where ``chinese`` differs from ``english`` other than by a translated string (one
    holding Chinese characters): keys, list lengths, numbers, booleans and every string
    left in English must be the same."""
    if isinstance(english, dict):
        if not isinstance(chinese, dict) or list(english) != list(chinese):
            yield f"{path or '/'}: keys {list(english)} in English"
            return
        for k in english:
            yield from same_shape(english[k], chinese[k], f"{path}/{k}")
    elif isinstance(english, list):
        if not isinstance(chinese, list) or len(english) != len(chinese):
            yield f"{path or '/'}: {len(english)} items in English"
            return
        for i, (e, c) in enumerate(zip(english, chinese, strict=True)):
            yield from same_shape(e, c, f"{path}/{i}")
    elif english != chinese and not (isinstance(chinese, str) and CJK.search(chinese)):
        yield f"{path}: {english!r} in English, {chinese!r} in Chinese"


@pytest.mark.parametrize("key", section_ids(ENGLISH))
def test_each_section_has_the_english_yaml_examples(key: str) -> None:
    english = yaml_examples(own_text(ENGLISH, key))
    chinese = yaml_examples(own_text(CHINESE, key))
    assert len(chinese) == len(english), f"zh §{key[1:]}: {len(english)} YAML examples in English"
    for i, (e, c) in enumerate(zip(english, chinese, strict=True)):
        differences = list(same_shape(parsed(e, "en"), parsed(c, f"zh §{key[1:]} #{i + 1}")))
        assert not differences, f"zh §{key[1:]}, example {i + 1}: {differences}"


def walk(value: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair of the mappings in ``value``, depth first."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield k, v
            yield from walk(v)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)


def as_playbook(example: str, folder: Path) -> Path:
    """A playbook file holding ``example``, completed with what the example leaves out: the
    language version, a rule around rule keys (`if:`) and a list of rules, the templates
    it names, the word-list files and code lists it reads, and one action where it writes
    the placeholder `[ ... ]`."""
    data = parsed(example.replace("[ ... ]", "[{tag: example}]"), "example")
    if isinstance(data, list):
        data = {"rules": data}
    assert isinstance(data, dict), example
    rule_keys = {k: data.pop(k) for k in list(data) if k not in TOP_LEVEL}
    if rule_keys:
        rule = {"id": "example", "on": "message.posted", "do": [{"tag": "example"}]}
        data.setdefault("rules", []).append({**rule, **rule_keys})
    data.setdefault("engage_rules", 1)
    templates = data.setdefault("templates", {})
    variables = data.setdefault("vars", {})
    for k, v in list(walk(data)):
        if k == "template" and isinstance(v, str):
            templates.setdefault(v, f"{v}: {{{{ member.name }}}}")
        elif k == "file" and isinstance(v, str):
            (folder / v).write_text("代刷\n加微信\n", encoding="utf-8")
        elif k == "codes" and isinstance(v, dict) and isinstance(v.get("var"), str):
            codes = f"{v['var']}.txt"
            (folder / codes).write_text("CODE-1\nCODE-2\n", encoding="utf-8")
            variables.setdefault(v["var"], {"file": codes})
    path = folder / "playbook.yaml"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")  # JSON is YAML
    return path


def is_test_file(example: str) -> bool:
    data = parsed(example, "example")
    return isinstance(data, dict) and {"playbook", "cases"} <= set(data)


EXAMPLES = [
    pytest.param(example, id=f"{lang}-{n + 1}")
    for lang, text in (("en", ENGLISH), ("zh", CHINESE))
    for n, example in enumerate(yaml_examples(text))
]


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_yaml_example_loads(example: str, tmp_path: Path) -> None:
    """Each example is a valid playbook (or part of one), and the playbook-test example
    passes against the starter playbook it was written for."""
    if is_test_file(example):
        shutil.copy(ROOT / "rules" / "starter" / "community.yaml", tmp_path / "community.yaml")
        (tmp_path / "example.test.yaml").write_text(example, encoding="utf-8")
        assert main(["test", str(tmp_path / "example.test.yaml")]) == 0
        return
    load(as_playbook(example, tmp_path))


def test_the_placeholder_completion_is_needed_and_loads(tmp_path: Path) -> None:
    """The completion of as_playbook does not hide mistakes: an example with an unknown
    action or a misspelled key still fails to load."""
    for broken in (
        "rules:\n  - {id: r, on: member.joined, do: [{awrd: {points: 1}}]}\n",
        "- id: r\n  on: member.joined\n  cooldwn: 1m\n  do: [ ... ]\n",
        "if: \"count('message.posted') >>= 1\"\n",
    ):
        with pytest.raises(Exception, match=r"awrd|cooldwn|expected|syntax"):
            load(as_playbook(broken, tmp_path))


# -- links, and the reports page ------------------------------------------------------------------


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    found = set(ANCHOR.findall(text))
    found |= {slug(h) for h in re.findall(r"^#{1,6} (.+)$", text, flags=re.M)}
    return found


@pytest.mark.parametrize("page", ["reference.md", "reports.md"])
def test_the_links_of_the_chinese_pages_resolve(page: str) -> None:
    doc = DOCS / "zh" / page
    checked = 0
    for target, anchor in re.findall(r"\]\(([\w./-]*\.md)?(?:#([^)\s]+))?\)", doc.read_text()):
        if not target and not anchor:
            continue
        path = doc if not target else (doc.parent / target).resolve()
        assert path.exists(), f"zh/{page} links to a missing file {target}"
        assert not anchor or anchor in anchors(path), f"zh/{page}: no #{anchor} in {path}"
        checked += 1
    assert checked >= (60 if page == "reference.md" else 2)


def test_the_chinese_reports_page_keeps_the_english_sections_and_literals() -> None:
    zh_anchors = anchors(DOCS / "zh" / "reports.md")
    for heading in re.findall(r"^## (.+)$", ENGLISH_REPORTS, flags=re.M):
        assert slug(heading) in zh_anchors, f"zh/reports.md has no #{slug(heading)}"
    missing = literals(ENGLISH_REPORTS) - literals(CHINESE_REPORTS)
    assert not missing, f"docs/zh/reports.md lacks {missing}"
    assert "](../reports.md)" in CHINESE_REPORTS[: CHINESE_REPORTS.index("##")]


def test_the_chinese_reports_page_shows_the_english_commands() -> None:
    def commands(text: str) -> list[str]:
        return [
            re.sub(r"\s+#.*$", "", line).rstrip()
            for lang, body in FENCE.findall(text)
            if lang == ""
            for line in body.splitlines()
        ]

    assert commands(CHINESE_REPORTS) == commands(ENGLISH_REPORTS)
