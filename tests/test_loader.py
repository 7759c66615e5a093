"""Loading playbooks: merging folders, structural validation, human messages, positions."""

from __future__ import annotations

import re
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engage_rules.errors import PlaybookError
from engage_rules.lang.action_params import (
    AwardParams,
    BadgeParams,
    DeleteParams,
    FlagParams,
    MuteParams,
    TagParams,
)
from engage_rules.lang.loader import (
    RULE_FIELDS,
    ActionCall,
    LoadedPlaybook,
    playbook_files,
)
from engage_rules.testing import load_playbook, load_playbook_text

DATA = Path(__file__).parent / "data" / "playbooks"
PROBLEM_RE = re.compile(r"^(?P<file>.+):(?P<line>\d+):(?P<col>\d+): (?P<message>.+)$")
HEADER = "engage_rules: 1\ncommunity: {name: 测试社群, timezone: Asia/Shanghai}\n"


def load(body: str, header: str = HEADER) -> LoadedPlaybook:
    return load_playbook_text(header + textwrap.dedent(body), "pb.yaml")


def problems(body: str, header: str = HEADER) -> list[str]:
    with pytest.raises(PlaybookError) as info:
        load(body, header)
    lines = str(info.value).splitlines()
    assert lines == [str(p) for p in info.value.problems]
    for line in lines:
        assert PROBLEM_RE.match(line), line
    return lines


def one_problem(body: str, header: str = HEADER) -> str:
    (line,) = problems(body, header)
    return line


# -- a valid playbook ------------------------------------------------------------------------


def test_valid_playbook_loads_with_action_calls() -> None:
    loaded = load_playbook(DATA / "valid.yaml")
    spec = loaded.spec
    assert loaded.name == "摄影爱好者社群"  # the community name, set explicitly
    assert loaded.files == [DATA / "valid.yaml"]
    assert loaded.base_dir == DATA
    assert spec.community.timezone == "Asia/Shanghai"
    assert spec.vars == {"banned_words": ["代刷", "加微信", "刷单"]}
    assert [r.id for r in spec.rules] == ["welcome", "quality-post"]
    assert spec.rules[0].on == "member.joined"
    send, tag = spec.rules[0].do
    assert isinstance(send, ActionCall) and send.name == "send"
    assert send.path == ("rules", 0, "do", 0)
    assert isinstance(tag.params, TagParams) and tag.params.name == "newcomer"
    (award,) = spec.rules[1].do
    assert isinstance(award.params, AwardParams)
    assert award.params.points == 5 and award.params.cap is not None
    assert award.params.cap.per == "day" and award.params.cap.max == 50
    assert spec.rules[1].if_ == "event.data.text | length >= 20"
    assert spec.rules[1].cooldown == timedelta(seconds=60)  # parsed once, at load


def test_source_map_points_into_the_file() -> None:
    loaded = load_playbook(DATA / "valid.yaml")
    file = str(DATA / "valid.yaml")
    assert loaded.source.pos(("rules", 1, "if")) == (file, 14, 9)
    assert loaded.source.pos(("rules", 1, "do", 0, "award", "cap", "per")) == (file, 16, 55)
    assert loaded.source.pos(("rules", 1, "do", 0, "award", "nothing")) == (file, 16, 18)


def test_name_defaults() -> None:
    assert load("rules: []\n", "engage_rules: 1\nname: club\n").name == "club"
    assert load("rules: []\n", "engage_rules: 1\n").name == "pb"
    assert load_playbook_text("engage_rules: 1\n").name == "playbook"


def test_name_falls_back_to_the_file_stem_not_the_path(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "my-club.yaml"
    path.parent.mkdir()
    path.write_text("engage_rules: 1\nrules: []\n")
    loaded = load_playbook(str(path))
    assert loaded.name == "my-club" and loaded.base_dir == path.parent


def test_on_key_is_not_a_boolean() -> None:
    loaded = load("rules:\n  - {id: a, on: [member.joined, member.left], do: [{tag: x}]}\n")
    assert loaded.spec.rules[0].on == ["member.joined", "member.left"]


def test_else_and_ladder_actions_become_action_calls() -> None:
    loaded = load(
        """
        moderation:
          exempt: {roles: [admin]}
          strikes:
            expire_after: 30d
            ladder:
              - {at: 1, do: [{warn: {template: w}}]}
              - {at: 2, do: [{mute: {for: 1h}}]}
        rules:
          - id: buy
            on: message.posted
            if: "true"
            do: [{spend: {points: 5}}]
            else: [{reply: {text: "余额不足"}}]
        """
    )
    strikes = loaded.spec.moderation.strikes  # type: ignore[union-attr]
    assert strikes is not None
    mute = strikes.ladder[1].do[0]
    assert isinstance(mute, ActionCall) and isinstance(mute.params, MuteParams)
    assert mute.params.for_ == timedelta(hours=1)
    assert mute.params.written("for_") == "1h"
    assert mute.path == ("moderation", "strikes", "ladder", 1, "do", 0)
    (reply,) = loaded.spec.rules[0].else_ or []
    assert reply.name == "reply" and reply.path == ("rules", 0, "else", 0)


# -- actions -----------------------------------------------------------------------------------


def test_shorthand_actions() -> None:
    loaded = load(
        """
        rules:
          - id: a
            on: x
            do:
              - grant_badge: first-post
              - tag: newcomer
              - untag: lurker
              - delete_message:
              - flag_for_review: {}
        """
    )
    badge, tag, untag, delete, flag = loaded.spec.rules[0].do
    assert badge.params == BadgeParams(badge="first-post")
    assert tag.params == TagParams(name="newcomer")
    assert untag.name == "untag" and untag.params.name == "lurker"  # type: ignore[attr-defined]
    assert isinstance(delete.params, DeleteParams) and isinstance(flag.params, FlagParams)


def test_unknown_action_did_you_mean() -> None:
    msg = one_problem("rules:\n  - id: a\n    on: x\n    do:\n      - awrd: {points: 5}\n")
    assert msg == "pb.yaml:7:9: unknown action 'awrd'; did you mean 'award'?"


def test_unknown_plugin_action() -> None:
    msg = one_problem("rules:\n  - id: a\n    on: x\n    do: [{acme.boost: {}}]\n")
    assert msg.endswith("unknown action 'acme.boost' (no installed plugin registers it)")


def test_shorthand_only_where_allowed() -> None:
    msg = one_problem("rules:\n  - id: a\n    on: x\n    do: [{award: 5}]\n")
    assert msg.startswith("pb.yaml:6:18: action 'award' takes a mapping of parameters")


def test_action_with_two_keys_suggests_indenting() -> None:
    msg = one_problem(
        "rules:\n  - id: a\n    on: x\n    do:\n      - award: {points: 1}\n        reason: r\n"
    )
    assert msg.startswith("pb.yaml:7:9: an action is a mapping with exactly one key")
    assert "indent the parameters under `award:`" in msg


def test_action_parameter_errors_point_at_the_parameter() -> None:
    lines = problems(
        """
        rules:
          - id: a
            on: x
            do:
              - award: {points: 5, cap: {per: year, max: 0}, bogus: 1}
              - mute: {}
              - tag: {name: x, expires: 3 days}
        """
    )
    assert lines == [
        "pb.yaml:8:39: 'cap.per': expected 'day', 'week' or 'month', got the string 'year'",
        "pb.yaml:8:50: 'cap.max' must be at least 1, got 0",
        "pb.yaml:8:54: unknown key 'bogus' in action 'award' (expected one of: to, points, "
        "currency, amount, reason, cap)",
        "pb.yaml:9:15: missing required key 'for' in action 'mute'",
        "pb.yaml:10:33: 'expires': '3 days' is not a duration; write it like 30s, 10m, 2h, 14d "
        "or 2w",
    ]


def test_action_model_check_names_the_action() -> None:
    msg = one_problem("rules:\n  - id: a\n    on: x\n    do: [{award: {reason: r}}]\n")
    assert msg.startswith("pb.yaml:6:18: action 'award': give either `points: N`")


def test_bare_action_name_hint() -> None:
    msg = one_problem("rules:\n  - id: a\n    on: x\n    do: [delete_message]\n")
    assert msg == "pb.yaml:6:10: write the action as a mapping: `delete_message: {}`"


# -- rules and sections ------------------------------------------------------------------------


def test_unknown_rule_key_did_you_mean_points_at_the_key() -> None:
    msg = one_problem("rules:\n  - id: welcome\n    on: x\n    priorty: 3\n    do: [{tag: a}]\n")
    assert msg == "pb.yaml:6:5: unknown key 'priorty' in rule 'welcome'; did you mean 'priority'?"


def test_python_field_names_are_not_accepted() -> None:
    msg = one_problem("rules:\n  - id: a\n    on: x\n    if_: 'true'\n    do: [{tag: a}]\n")
    assert msg.endswith("unknown key 'if_' in rule 'a'; did you mean 'if'?")


def test_bad_duration() -> None:
    msg = one_problem(
        "rules:\n  - id: a\n    on: x\n    cooldown: 60 seconds\n    do: [{tag: a}]\n"
    )
    assert msg == (
        "pb.yaml:6:15: 'cooldown': '60 seconds' is not a duration; write it like "
        "30s, 10m, 2h, 14d or 2w"
    )


def test_missing_id_and_on() -> None:
    lines = problems("rules:\n  - do: [{tag: a}]\n  - id: b\n    do: [{tag: a}]\n")
    assert lines == [
        "pb.yaml:4:5: missing required key 'id' in rule #1",
        "pb.yaml:4:5: missing required key 'on' in rule #1",
        "pb.yaml:5:5: missing required key 'on' in rule 'b'",
    ]


def test_wrong_types() -> None:
    lines = problems(
        "rules:\n  - id: a\n    on: {type: x}\n    once: yes\n    do: {tag: x}\n  - 5\n"
    )
    assert lines == [
        "pb.yaml:5:9: `on:` takes an event type, a list of event types, or a trigger map "
        "(silent_for, after, cron, post_reached), got a mapping with "
        "'type'",
        "pb.yaml:6:11: 'once': expected true or false, got the string 'yes' (only true and "
        "false are booleans)",
        "pb.yaml:7:9: 'do': expected a list of actions, got a mapping",
        "pb.yaml:8:5: 'rules[1]': expected a rule (a mapping with `id:`, `on:` and `do:`), got "
        "the number 5",
    ]
    msg = one_problem("rules:\n  - {id: a, on: 5, do: [{tag: x}]}\n")
    assert msg.endswith("'on': expected an event type or a list of event types, got the number 5")


def test_unknown_top_level_key() -> None:
    msg = one_problem("rulez: []\n")
    assert msg == "pb.yaml:3:1: unknown top-level key 'rulez'; did you mean 'rules'?"


def test_missing_and_wrong_version() -> None:
    assert one_problem("rules: []\n", "") == (
        "pb.yaml:1:1: missing `engage_rules: 1` (the language version) at the top of the playbook"
    )
    assert one_problem("rules: []\n", "engage_rules: 2\n").startswith(
        "pb.yaml:1:15: unsupported language version 2"
    )


def test_playbook_must_be_a_mapping() -> None:
    msg = one_problem("- a\n- b\n", "")
    assert msg.startswith("pb.yaml:1:1: a playbook file is a mapping of sections")


def test_rule_without_actions() -> None:
    msg = one_problem("rules:\n  - {id: a, on: x}\n")
    assert msg == "pb.yaml:4:5: rule 'a' has no actions (`do:`)"


def test_duplicate_rule_id_in_one_file() -> None:
    msg = one_problem(
        "rules:\n  - {id: a, on: x, do: [{tag: a}]}\n  - {id: a, on: y, do: [{tag: b}]}\n"
    )
    assert msg == "pb.yaml:5:10: duplicate rule id 'a' (first defined at pb.yaml:4:10)"


def test_three_errors_three_lines() -> None:
    lines = problems(
        "rules:\n  - id: a\n    on: x\n    priorty: 1\n    cooldown: soon\n    do: [{awrd: {}}]\n"
    )
    assert [PROBLEM_RE.match(x).group("line") for x in lines] == ["6", "7", "8"]  # type: ignore[union-attr]


def test_yaml_and_structure_problems_are_reported_together() -> None:
    lines = problems(
        "rules:\n  - id: a\n    id: b\n    on: x\n    do: [{tag: !custom x}]\n    stop: maybe\n"
    )
    assert len(lines) == 3
    assert "duplicate key 'id'" in lines[0] and "tag !custom" in lines[1]
    assert "'stop': expected true or false" in lines[2]


def test_every_problem_of_a_bad_playbook_has_a_position() -> None:
    with pytest.raises(PlaybookError) as info:
        load_playbook(DATA / "many_errors.yaml")
    lines = str(info.value).splitlines()
    assert len(lines) >= 35
    for line in lines:
        m = PROBLEM_RE.match(line)
        assert m is not None and m.group("file").endswith("many_errors.yaml"), line
        assert int(m.group("line")) >= 1 and int(m.group("col")) >= 1, line


@given(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12).filter(
        lambda k: k not in RULE_FIELDS
    )
)
@settings(max_examples=30)
def test_any_unknown_rule_key_is_reported_at_its_key(key: str) -> None:
    msg = one_problem(f"rules:\n  - id: a\n    on: x\n    do: [{{tag: a}}]\n    {key}: 1\n")
    shown = key if key in ("true", "false", "null") else repr(key)  # YAML 1.2 scalars
    assert msg.startswith(f"pb.yaml:7:5: unknown key {shown} in rule 'a'")


# -- folders -----------------------------------------------------------------------------------


def test_folder_merges_files_in_order_without_test_files() -> None:
    folder = DATA / "folder"
    assert [p.relative_to(folder).as_posix() for p in playbook_files(folder)] == [
        "00-base.yaml",
        "rules/10-welcome.yaml",
        "rules/20-posts.yml",
    ]
    loaded = load_playbook(folder)
    assert loaded.name == "photo-club"
    assert loaded.base_dir == folder
    assert loaded.files == playbook_files(folder)
    spec = loaded.spec
    assert [r.id for r in spec.rules] == ["welcome", "quality-post", "banned-words"]
    assert spec.vars == {"banned_words": ["代刷", "加微信", "刷单"], "post_points": 5}
    assert list(spec.templates) == ["welcome", "tasks"]
    assert spec.rules[2].do[1].path == ("rules", 2, "do", 1)


def test_folder_positions_come_from_the_right_file() -> None:
    loaded = load_playbook(DATA / "folder")
    posts = str(DATA / "folder" / "rules" / "20-posts.yml")
    base = str(DATA / "folder" / "00-base.yaml")
    assert loaded.source.pos(("rules", 1, "if")) == (posts, 5, 9)
    assert loaded.source.pos(("rules", 2, "do", 1, "strike", "reason"))[0] == posts
    assert loaded.source.pos(("templates", "tasks"))[0].endswith("10-welcome.yaml")
    assert loaded.source.pos(("moderation", "strikes", "ladder", 1))[0] == base


def test_folder_name_is_the_folder_name(tmp_path: Path) -> None:
    folder = tmp_path / "club"
    folder.mkdir()
    (folder / "a.yaml").write_text("engage_rules: 1\n")
    (folder / "b.yml").write_text("rules: [{id: x, on: y, do: [{tag: z}]}]\n")
    loaded = load_playbook(folder)
    assert loaded.name == "club" and len(loaded.spec.rules) == 1


def test_folder_duplicates_name_both_places() -> None:
    folder = DATA / "folder_dupes"
    a, b = str(folder / "a.yaml"), str(folder / "b.yaml")
    with pytest.raises(PlaybookError) as info:
        load_playbook(folder)
    assert [str(p) for p in info.value.problems] == [
        f"{b}:2:1: `community:` is already defined at {a}:2:1; a section may appear in only "
        "one file",
        f"{b}:4:3: duplicate key 'points' in `vars:` (first defined at {a}:3:8)",
        f"{b}:9:9: duplicate rule id 'welcome' (first defined at {a}:5:9)",
        f"{b}:12:5: unknown key 'priorty' in rule 'welcome'; did you mean 'priority'?",
    ]


def test_folder_problems_from_every_file(tmp_path: Path) -> None:
    with pytest.raises(PlaybookError) as info:
        load_playbook(DATA / "folder_broken")
    files = [Path(p.file).name for p in info.value.problems]
    messages = [p.message for p in info.value.problems]
    assert files == ["a.yaml", "b.yaml", "b.yaml"]
    assert messages[0].startswith("YAML syntax error")
    assert "!!python/name:os.system" in messages[1] and "duplicate key 'do'" in messages[2]


def test_version_in_several_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("engage_rules: 1\n")
    (tmp_path / "b.yaml").write_text("engage_rules: 1\nrules: []\n")
    assert load_playbook(tmp_path).spec.engage_rules == 1
    (tmp_path / "c.yaml").write_text("engage_rules: 2\n")
    with pytest.raises(PlaybookError) as info:
        load_playbook(tmp_path)
    (problem,) = info.value.problems
    assert problem.file.endswith("c.yaml") and "already defined" in problem.message


def test_folder_without_version(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("rules: []\n")
    with pytest.raises(PlaybookError, match="missing `engage_rules: 1`"):
        load_playbook(tmp_path)


def test_list_of_paths(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("engage_rules: 1\nrules: [{id: a, on: x, do: [{tag: z}]}]\n")
    (tmp_path / "b.yaml").write_text("rules: [{id: b, on: x, do: [{tag: z}]}]\n")
    loaded = load_playbook([tmp_path / "a.yaml", str(tmp_path / "b.yaml")])
    assert [r.id for r in loaded.spec.rules] == ["a", "b"] and loaded.name == "a"


def test_missing_path_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(PlaybookError, match="no such file or folder"):
        load_playbook(tmp_path / "nope.yaml")
    with pytest.raises(PlaybookError, match="no playbook files"):
        load_playbook(tmp_path)


def test_field_names_used_as_template_names_get_plain_messages() -> None:
    msg = one_problem("templates: {rules: 5}\n")
    assert msg == (
        "pb.yaml:3:20: 'templates.rules': expected a string, got the number 5 (put it in "
        "quotes to make it text)"
    )


@given(st.lists(st.integers(min_value=1, max_value=4), min_size=1, max_size=4))
@settings(max_examples=20, deadline=None)
def test_splitting_rules_across_files_keeps_order_and_positions(sizes: list[int]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "00.yaml").write_text("engage_rules: 1\n")
        n = 0
        for f, size in enumerate(sizes, start=1):
            body = "rules:\n" + "".join(
                f"  - id: r{n + k}\n    on: x\n    do: [{{tag: t{n + k}}}]\n" for k in range(size)
            )
            (folder / f"{f:02}.yaml").write_text(body)
            n += size
        loaded = load_playbook(folder)
        assert [r.id for r in loaded.spec.rules] == [f"r{i}" for i in range(n)]
        i = 0
        for f, size in enumerate(sizes, start=1):
            for k in range(size):
                file, line, col = loaded.source.pos(("rules", i, "do", 0, "tag"))
                assert (Path(file).name, line, col) == (f"{f:02}.yaml", 4 + 3 * k, 16)
                assert loaded.spec.rules[i].do[0].path == ("rules", i, "do", 0)
                i += 1
