"""The JSON Schema for editors: valid JSON Schema, accepts good playbooks, rejects bad ones."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engage_rules.lang.schema import DURATION_PATTERN, playbook_json_schema
from engage_rules.lang.yaml_source import safe_load, safe_load_file
from engage_rules.plugins import default_registry
from engage_rules.testing import run_cli

jsonschema = pytest.importorskip("jsonschema")

DATA = Path(__file__).parent / "data" / "playbooks"


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return playbook_json_schema(default_registry(), "en")


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> Any:
    return jsonschema.Draft202012Validator(schema)


def errors(validator: Any, data: Any) -> list[str]:
    return [e.message for e in validator.iter_errors(data)]


def test_is_valid_json_schema(schema: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] and schema["title"]
    assert json.loads(json.dumps(schema)) == schema  # plain JSON
    assert schema["additionalProperties"] is False


def test_every_action_is_described(schema: dict[str, Any]) -> None:
    action = schema["$defs"]["Action"]
    assert action["additionalProperties"] is False
    assert (action["minProperties"], action["maxProperties"]) == (1, 1)
    assert set(action["properties"]) == set(default_registry().actions)
    assert all(p["description"] and p["title"] for p in action["properties"].values())


def test_descriptions_are_kept(schema: dict[str, Any]) -> None:
    rule = schema["$defs"]["RuleSpec"]
    assert rule["properties"]["on"]["description"]
    version = schema["properties"]["engage_rules"]
    assert version["description"] == "The version of the playbook language: 1"
    assert version["title"] == "Language version"
    award = schema["$defs"]["Action"]["properties"]["award"]
    assert (award["title"], award["description"]) == ("Award", "credit a currency")


def test_no_internal_names_show_as_titles(schema: dict[str, Any]) -> None:
    text = json.dumps(schema)
    assert '"title": "AwardParams"' not in text
    assert '"title": "Cooldown Per"' not in text  # derived from the field name
    assert "Parameters of `award`" not in text  # a docstring, for programmers
    assert schema["$defs"]["BadgeSpec"]["properties"]["title"]  # a key named title stays


def test_a_wrong_action_is_named_not_every_other_one(validator: Any) -> None:
    rule = {"id": "r", "on": "checkin", "do": [{"award": {"points": "x", "nope": 1}}]}
    messages = errors(validator, {"engage_rules": 1, "rules": [rule]})
    assert messages and not any("'ban' is a required property" in m for m in messages)
    assert errors(validator, {"engage_rules": 1, "rules": [{"id": "r", "on": "checkin"}]})


@pytest.mark.parametrize(
    "path",
    [
        "valid.yaml",
        "folder/00-base.yaml",
        "folder/rules/10-welcome.yaml",
        "folder/rules/20-posts.yml",
    ],
)
def test_valid_playbooks_pass(validator: Any, path: str) -> None:
    assert errors(validator, safe_load_file(DATA / path)) == []


def test_unknown_rule_key_fails(validator: Any) -> None:
    data = safe_load_file(DATA / "valid.yaml")
    data["rules"][0]["priorty"] = 3
    assert any("priorty" in m for m in errors(validator, data))


def test_unknown_top_level_and_unsupported_sections_fail(validator: Any) -> None:
    assert errors(validator, {"engage_rules": 1, "levels": {}})
    assert errors(validator, {"engage_rules": 1, "rulez": []})


def test_unknown_action_fails(validator: Any) -> None:
    data = safe_load("engage_rules: 1\nrules: [{id: a, on: x, do: [{awrd: {points: 5}}]}]\n")
    assert errors(validator, data)


def test_action_parameters_are_checked(validator: Any) -> None:
    def rule(action: str) -> Any:
        return safe_load(f"engage_rules: 1\nrules: [{{id: a, on: x, do: [{action}]}}]\n")

    assert errors(validator, rule("{award: {points: 5, bogus: 1}}"))
    assert errors(validator, rule("{award: {points: 5, cap: {per: year, max: 5}}}"))
    assert errors(validator, rule("{mute: {}}"))  # `for` is required
    assert errors(validator, rule("{award: 5}"))  # no short form
    assert errors(validator, rule("{tag: x, untag: y}"))  # one key per action
    assert errors(validator, rule("{mute: {for: 1 hour}}"))  # not a duration
    assert errors(validator, rule("{tag: newcomer}")) == []
    assert errors(validator, rule("{grant_badge: first-post}")) == []
    assert errors(validator, rule("{delete_message: }")) == []
    assert errors(validator, rule("{mute: {for: 1h, reason: spam}}")) == []
    assert errors(validator, rule("{set: {vip: true, note: x}}")) == []


def test_else_and_ladder_actions_are_checked(validator: Any) -> None:
    base = "engage_rules: 1\n"
    assert errors(validator, safe_load(base + "rules: [{id: a, on: x, else: [{bogus: {}}]}]"))
    ladder = "moderation: {strikes: {ladder: [{at: 1, do: [%s]}]}}"
    assert errors(validator, safe_load(base + ladder % "{kick: {}}")) == []
    assert errors(validator, safe_load(base + ladder % "{kik: {}}"))


def test_durations_have_a_pattern(schema: dict[str, Any]) -> None:
    cooldown = schema["$defs"]["RuleSpec"]["properties"]["cooldown"]
    assert {"type": "string", "pattern": DURATION_PATTERN} in cooldown["anyOf"]


def test_folder_part_files_need_no_version(validator: Any) -> None:
    assert errors(validator, {"rules": []}) == []


def test_shipped_schema_file_is_current() -> None:
    """docs/playbook.schema.json (referenced by the example playbooks for editors) must be
    what `engage-rules schema` prints; regenerate it with
    `engage-rules schema > docs/playbook.schema.json`."""
    shipped = Path(__file__).resolve().parents[1] / "docs" / "playbook.schema.json"
    assert json.loads(shipped.read_text(encoding="utf-8")) == playbook_json_schema(
        default_registry()
    )


# --- Titles and descriptions a person can read, in English and Chinese -----------------

CJK = re.compile(r"[\u4e00-\u9fff]")


def described(schema: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every (path, schema) of a key of the schema: sections, rule keys, action
    parameters, flow step keys, and the actions themselves."""
    if isinstance(schema, list):
        for i, item in enumerate(schema):
            yield from described(item, f"{where}[{i}]")
    elif isinstance(schema, dict):
        for key, value in schema.items():
            if key in ("properties", "$defs") and isinstance(value, dict):
                for name, child in value.items():
                    if key == "properties":
                        yield f"{where}.{name}", child
                    yield from described(child, f"{where}.{name}")
            elif key not in ("default", "const", "enum"):
                yield from described(value, where)


@pytest.mark.parametrize("language", ["en", "zh_CN", None])
def test_every_key_and_action_has_a_title_and_a_description(language: str | None) -> None:
    keys = list(described(playbook_json_schema(default_registry(), language)))
    assert len(keys) > 250
    for path, key in keys:
        title, description = key.get("title"), key.get("description")
        assert isinstance(title, str) and title, path
        assert isinstance(description, str) and len(description) > len(title) // 2, path
        for text in (title, description):
            if language == "en":
                assert not CJK.search(text), (path, text)
            else:
                assert CJK.search(text), (path, text)  # a missing translation is English
        if language is None:
            english, chinese = description.split("\n\n")
            assert not CJK.search(english) and CJK.search(chinese), path
            assert " / " in title, path


def test_texts_come_from_the_definitions() -> None:
    """The schema shows what the models and the action specs say: nothing kept apart."""
    from engage_rules.lang.spec import RuleSpec

    registry = default_registry()
    english = playbook_json_schema(registry, "en")
    field = RuleSpec.model_fields["cooldown"]
    cooldown = english["$defs"]["RuleSpec"]["properties"]["cooldown"]
    assert (cooldown["title"], cooldown["description"]) == (field.title, field.description)
    mute = registry.action_specs["mute"]
    shown = english["$defs"]["Action"]["properties"]["mute"]
    assert (shown["title"], shown["description"]) == (mute.title, mute.description)
    chinese = playbook_json_schema(registry, "zh-CN")
    assert chinese["$defs"]["RuleSpec"]["properties"]["cooldown"]["title"] == "冷却时间"
    assert chinese["$defs"]["Action"]["properties"]["mute"]["title"] == "禁言"
    both = playbook_json_schema(registry)
    assert both["$defs"]["RuleSpec"]["properties"]["cooldown"]["title"] == "Cooldown / 冷却时间"
    assert both["$defs"]["Action"]["properties"]["mute"]["description"] == (
        "mute, with automatic expiry\n\n禁言，到时自动解除"
    )


def test_the_language_changes_words_only() -> None:
    """Structure, names and patterns are the same in every language."""

    def shape(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: shape(v) for k, v in node.items() if k not in ("title", "description")}
        if isinstance(node, list):
            return [shape(v) for v in node]
        return node

    registry = default_registry()
    shapes = [shape(playbook_json_schema(registry, lang)) for lang in ("en", "zh_CN", None)]
    assert shapes[0] == shapes[1] == shapes[2]


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError):
        playbook_json_schema(default_registry(), "fr")


def test_schema_command_language() -> None:
    """`schema` speaks both languages unless --lang names one, whatever the locale."""
    both = run_cli("schema", env={"LANG": "zh_CN.UTF-8"})
    assert both.returncode == 0
    shipped = Path(__file__).resolve().parents[1] / "docs" / "playbook.schema.json"
    assert json.loads(both.stdout) == json.loads(shipped.read_text(encoding="utf-8"))
    chinese = run_cli("--lang", "zh_CN", "schema")
    assert json.loads(chinese.stdout)["properties"]["rules"]["title"] == "规则"
    english = run_cli("--lang", "en", "schema", env={"LANG": "zh_CN.UTF-8"})
    assert not CJK.search(english.stdout)
    assert json.loads(english.stdout)["properties"]["rules"]["title"] == "Rules"
    refused = run_cli("--lang", "fr", "schema")
    assert refused.returncode == 2 and "unknown language 'fr'" in refused.stderr


def test_init_writes_the_schema_in_the_same_language(tmp_path: Path) -> None:
    assert run_cli("init", tmp_path / "both").returncode == 0
    both = json.loads((tmp_path / "both" / "playbook.schema.json").read_text(encoding="utf-8"))
    assert both == playbook_json_schema(default_registry())
    assert run_cli("--lang", "zh_CN", "init", tmp_path / "zh").returncode == 0
    chinese = json.loads((tmp_path / "zh" / "playbook.schema.json").read_text(encoding="utf-8"))
    assert chinese["properties"]["rules"]["title"] == "规则"
