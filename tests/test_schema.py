"""The JSON Schema for editors: valid JSON Schema, accepts good playbooks, rejects bad ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engage_rules.lang.schema import DURATION_PATTERN, playbook_json_schema
from engage_rules.lang.yaml_source import safe_load, safe_load_file
from engage_rules.plugins import default_registry

jsonschema = pytest.importorskip("jsonschema")

DATA = Path(__file__).parent / "data" / "playbooks"


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return playbook_json_schema(default_registry())


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
    assert all(p["description"] for p in action["properties"].values())


def test_descriptions_are_kept(schema: dict[str, Any]) -> None:
    rule = schema["$defs"]["RuleSpec"]
    assert rule["properties"]["on"]["description"]
    assert schema["properties"]["engage_rules"]["description"] == "Language version"
    assert schema["$defs"]["Action"]["properties"]["award"]["description"] == "credit a currency"


def test_no_internal_names_show_as_titles(schema: dict[str, Any]) -> None:
    text = json.dumps(schema)
    assert '"title": "AwardParams"' not in text
    assert '"title": "Cooldown"' not in text
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
