"""Playbook problems speak the operator's language (issue 18): `validate` in zh_CN names
the same file:line:col, the same number of problems and the same exit code as in English,
in Chinese words (the "did you mean" too); every problem of a corpus of broken playbooks
is worded in Chinese; and what the engine writes into decisions is the same whatever the
operator's language (docs/reference.md §7, "Language")."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engage_rules import Engine, load_text
from engage_rules.errors import PlaybookError, Problem, ReviewError
from engage_rules.features.moderation.review import find_item
from engage_rules.i18n import use_language
from engage_rules.testing import message, run_cli
from i18n_corpus import CASES, HEADER, seed_cases, send
from test_hostile_playbooks import LOAD_TIME

CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef\u3000-\u303f]")
LINE = re.compile(r"^(?P<where>.+?:\d+:\d+): (?P<message>.*)$")
#: What may stay as written in a Chinese message: code in backticks, quoted names and
#: values, bracketed lists of keys or examples.
QUOTED = re.compile(r"`[^`]*`|'[^']*'|\"[^\"]*\"|\{[^{}]*\}|\([^()]*\)|\[[^\[\]]*\]")
#: Three English words in a row, outside what is quoted: a sentence left untranslated.
ENGLISH_RUN = re.compile(r"\b[A-Za-z]{2,}(?: [A-Za-z]{2,}){2,}\b")

BROKEN = """\
engage_rules: 1
community: {name: club, timezone: Mars/Olympus}
rules:
  - id: welcome
    on: member.joined
    cooldown: 5
    do:
      - awrd: {points: 5}
      - award: {points: -3}
  - id: welcome
    on: message.posted
    if: "membr.points > 10"
    do:
      - send: {template: hi}
"""


def english_left(text: str) -> list[str]:
    """The runs of English words in ``text`` once its quoted parts are taken out."""
    for _round in range(2):  # (brackets holding quotes)
        text = QUOTED.sub(" ", text)
    return ENGLISH_RUN.findall(text)


def problems(text: str, lang: str) -> list[Problem]:
    """The problems of a playbook that must not load, worded in ``lang``."""
    with use_language(lang), pytest.raises(PlaybookError) as info:
        load_text(text, "club.yaml")
    return info.value.problems


def located(output: str) -> list[tuple[str, str]]:
    """(file:line:col, message) of each problem line `validate` printed."""
    return [
        (m["where"], m["message"])
        for m in map(LINE.match, output.splitlines())
        if m is not None and not m["where"].startswith("note")
    ]


# -- validate, English and Chinese ----------------------------------------------------------


def test_validate_in_chinese_names_the_same_places_as_in_english(tmp_path: Path) -> None:
    path = tmp_path / "club.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    en = run_cli("validate", path)
    zh = run_cli("--lang", "zh_CN", "validate", path)
    assert en.returncode == zh.returncode == 1
    en_lines, zh_lines = located(en.stderr + en.stdout), located(zh.stderr + zh.stdout)
    assert len(en_lines) == len(zh_lines) == 5
    assert [w for w, _m in zh_lines] == [w for w, _m in en_lines]
    assert [w.rsplit(":", 2)[1:] for w, _m in zh_lines] == [
        ["2", "35"],
        ["6", "15"],
        ["8", "9"],
        ["9", "16"],
        ["10", "9"],
    ]
    for (_w, english), (_w2, chinese) in zip(en_lines, zh_lines, strict=True):
        assert not CJK.search(english), english
        assert CJK.search(chinese) and not english_left(chinese), chinese
    assert "unknown action 'awrd'; did you mean 'award'?" in en.stderr
    assert "未知的动作 'awrd'；你是不是想写 'award'？" in zh.stderr
    assert "duplicate rule id 'welcome' (first defined at " in en.stderr
    assert f"规则 id 'welcome' 重复了（首次定义于 {path}:4:9）" in zh.stderr


def test_the_locale_chooses_chinese_as_lang_does(tmp_path: Path) -> None:
    path = tmp_path / "club.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    by_option = run_cli("--lang", "zh_CN", "validate", path)
    by_locale = run_cli("validate", path, env={"LANG": "zh_CN.UTF-8"})
    assert by_locale.returncode == by_option.returncode == 1
    assert by_locale.stderr == by_option.stderr
    assert "未知的时区 'Mars/Olympus'" in by_locale.stderr


def test_paths_that_hold_no_playbook_are_worded_in_chinese(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    missing = tmp_path / "missing.yaml"
    en = run_cli("validate", empty, missing)
    zh = run_cli("--lang", "zh_CN", "validate", empty, missing)
    assert en.returncode == zh.returncode == 1
    assert f"{empty}:0:0: no playbook files (*.yaml, *.yml) in this folder" in en.stderr
    assert f"{missing}:0:0: no such file or folder" in en.stderr
    assert f"{empty}:0:0: 这个文件夹里没有剧本文件（*.yaml、*.yml）" in zh.stderr
    assert f"{missing}:0:0: 没有这个文件或文件夹" in zh.stderr


def test_an_expression_problem_keeps_its_column_and_suggests_in_chinese(tmp_path: Path) -> None:
    path = tmp_path / "club.yaml"
    path.write_text(
        HEADER + 'rules:\n  - id: r\n    on: message.posted\n    if: "membr.points > 10"\n'
        "    do: [{tag: x}]\n",
        encoding="utf-8",
    )
    en = run_cli("validate", path)
    zh = run_cli("--lang", "zh_CN", "validate", path)
    assert en.returncode == zh.returncode == 1
    where = f"{path}:6:9"
    assert f"{where}: unknown name `membr`; did you mean `member`?" in en.stderr
    assert f"{where}: 未知的名称 `membr`；你是不是想写 `member`？" in zh.stderr


def test_warnings_are_worded_in_chinese_and_still_exit_0(tmp_path: Path) -> None:
    path = tmp_path / "club.yaml"
    path.write_text(
        HEADER + "moderation:\n  exempt: {roles: [admin]}\n"
        "rules:\n  - id: typo\n    on: message.posed\n    do: [{tag: x}]\n"
        "  - id: mod\n    on: message.posted\n"
        "    do: [{delete_message: {}}, {award: {points: 1}}]\n",
        encoding="utf-8",
    )
    en = run_cli("validate", path)
    zh = run_cli("--lang", "zh_CN", "validate", path)
    assert en.returncode == zh.returncode == 0
    en_lines, zh_lines = located(en.stderr + en.stdout), located(zh.stderr + zh.stdout)
    assert [w for w, _m in zh_lines] == [w for w, _m in en_lines]
    assert [m.split(":", 1)[0] for _w, m in en_lines] == ["warning", "warning"]
    assert [m.split("：", 1)[0] for _w, m in zh_lines] == ["警告", "警告"]
    assert "你是不是想写 'message.posted'？" in zh_lines[0][1]
    assert "规则 'mod' 会执行管理动作：角色为 admin 的成员不受它约束" in zh.stdout + zh.stderr


# -- every problem of a corpus of broken playbooks ----------------------------------------

CORPUS = [
    *CASES,
    *seed_cases(),
    *((f"template-bound-{i}", send(text)) for i, (text, _m) in enumerate(LOAD_TIME)),
]


@pytest.mark.parametrize(("name", "text"), CORPUS, ids=[name for name, _t in CORPUS])
def test_every_problem_is_worded_in_chinese_at_the_same_place(name: str, text: str) -> None:
    english, chinese = problems(text, "en"), problems(text, "zh_CN")
    assert [(p.file, p.line, p.col) for p in chinese] == [(p.file, p.line, p.col) for p in english]
    for en, zh in zip(english, chinese, strict=True):
        assert CJK.search(zh.message), f"{name}: no Chinese in {zh.message!r}"
        assert not english_left(zh.message), f"{name}: English left in {zh.message!r}"
        assert zh.message != en.message


def test_the_heuristic_finds_english_sentences_but_not_quoted_code() -> None:
    assert english_left("unknown action 'awrd'; did you mean 'award'?")
    assert english_left("YAML 语法错误：did not find expected key")
    assert not english_left("未知的动作 'awrd'；你是不是想写 'award'？")
    assert not english_left("应为 {all: [...]}、{any: [...]}，例如 `count('message.posted')`")
    assert not english_left("角色为 admin, moderator 的成员")


# -- the engine writes the same data in every language -------------------------------------


def test_what_a_failed_rule_records_does_not_depend_on_the_language() -> None:
    text = HEADER + (
        "rules:\n  - id: r\n    on: message.posted\n"
        '    do: [{send: {text: "{{ event.data.n|round(event.data.p) }}"}}]\n'
        "  - id: other\n    on: message.posted\n    do: [{award: {points: 1}}]\n"
    )
    failed = {}
    for lang in ("en", "zh_CN"):
        with use_language(lang):
            engine = Engine(load_text(text, "club.yaml"))
            [decision] = engine.process(message("u1", "hi", n=5, p=-30_000_000))
        failed[lang] = [(e.rule, e.message) for e in decision.errors]
        assert [a.type for a in decision.actions] == ["award"]
    assert failed["zh_CN"] == failed["en"]
    [(rule, text_en)] = failed["en"]
    assert rule == "r" and "the precision of `round` is -30000000" in text_en


def test_what_a_failed_schedule_records_does_not_depend_on_the_language() -> None:
    text = HEADER + (
        'rules:\n  - id: daily\n    on: {cron: "0 9 * * *"}\n'
        '    do: [{broadcast: {text: "{{ range(now.year * 10)|length }}"}}]\n'
    )
    failed = {}
    for lang in ("en", "zh_CN"):
        with use_language(lang):
            engine = Engine(load_text(text, "club.yaml"))
            engine.process(message("u1", "hi"))  # (the community exists from its first event)
            fired = engine.advance_to(datetime(2026, 3, 4, 10, tzinfo=UTC))
        failed[lang] = [(e.rule, e.message) for d in fired for e in d.errors]
    assert len(failed["en"]) == 3  # 2, 3 and 4 March, 09:00
    assert failed["zh_CN"] == failed["en"]
    assert "range() of more than 10000 items" in failed["en"][0][1]


# -- an invariant over generated broken playbooks ------------------------------------------

_WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)
_VALUES = st.one_of(
    st.integers(-5, 5),
    st.booleans(),
    st.sampled_from(["5", "soon", "10x", "1h", "[1, 2]", "{a: 1}", "''", "null"]),
)


@st.composite
def broken_rules(draw: st.DrawFn) -> str:
    """A playbook of one to three rules, each with a wrong key, value or action."""
    rules = []
    for i in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(["cooldown", "edits", "on", "if", "do", "priority"]))
        value = draw(_VALUES)
        action = draw(st.one_of(st.sampled_from(["award", "tag", "send", "mute"]), _WORDS))
        extra = draw(_WORDS)
        rules.append(
            f"  - id: r{i}\n    on: message.posted\n    {key}: {value}\n"
            f"    {extra}: 1\n    do: [{{{action}: {{points: 1}}}}]\n"
        )
    return HEADER + "rules:\n" + "".join(rules)


@settings(max_examples=40, deadline=None)
@given(broken_rules())
def test_generated_broken_playbooks_have_the_same_problems_in_both_languages(text: str) -> None:
    def attempt(lang: str) -> list[Problem] | None:
        with use_language(lang):
            try:
                load_text(text, "club.yaml")
            except PlaybookError as err:
                return err.problems
        return None

    english, chinese = attempt("en"), attempt("zh_CN")
    assert (english is None) == (chinese is None)
    if english is None or chinese is None:
        return
    assert [(p.line, p.col) for p in chinese] == [(p.line, p.col) for p in english]
    for problem in chinese:
        assert CJK.search(problem.message) and not english_left(problem.message), problem


def test_review_errors_are_worded_in_the_operators_language() -> None:
    items = [{"id": "abcdef123456", "rule": "r"}, {"id": "abcdef999999", "rule": "r"}]
    with use_language("zh_CN"):
        with pytest.raises(ReviewError, match=r"^没有审核项 'zzzzzzz'$"):
            find_item(items, "zzzzzzz")
        with pytest.raises(ReviewError, match=r"^'abcdef' 匹配到 2 个审核项；请给出更长的 id$"):
            find_item(items, "abcdef")
    english = r"^'abcdef' matches 2 review items; give more of the id$"
    with pytest.raises(ReviewError, match=english):
        find_item(items, "abcdef")
