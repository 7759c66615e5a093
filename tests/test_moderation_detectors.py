"""Detectors of docs/reference.md §5.9 end to end: Aho–Corasick word matching, word-list files,
pattern lists and their limits, ReDoS, domain allow/deny lists, and score()."""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from engage_rules import Engine, hookimpl
from engage_rules.errors import PlaybookError
from engage_rules.expr.expressions import compile_expression
from engage_rules.lang.wordlists import read_word_list
from engage_rules.plugins import Registry
from engage_rules.testing import expr_env, isolated_plugins, load, message
from engage_rules.text.ahocorasick import Automaton
from engage_rules.text.wordmatch import WordMatcher, squash
from helpers import playbook
from moderation_helpers import acts, decide, kinds
from test_expressions import make_context

ENV = expr_env()

# -- the automaton ------------------------------------------------------------------------------


def test_automaton_finds_every_occurrence() -> None:
    ac = Automaton(["he", "she", "his", "hers"])
    found = [(s, e, ac.keys[i]) for s, e, i in ac.finditer("ushers")]
    assert found == [(1, 4, "she"), (2, 4, "he"), (2, 6, "hers")]
    assert ac.search("ushers") == (1, 4, 0 + 1)  # "she" is key 1
    assert ac.search("xyz") is None and len(ac) == 4
    with pytest.raises(ValueError):
        Automaton(["ok", ""])


def _naive(keys: list[str], text: str) -> set[tuple[int, int, str]]:
    return {
        (i, i + len(k), k) for k in set(keys) for i in range(len(text)) if text.startswith(k, i)
    }


@given(
    st.lists(st.text("abc", min_size=1, max_size=4), min_size=1, max_size=8),
    st.text("abcd", max_size=40),
)
def test_automaton_agrees_with_a_naive_search(keys: list[str], text: str) -> None:
    ac = Automaton(keys)
    for _ in range(2):  # the second pass runs on memoised transitions
        got = {(s, e, ac.keys[i]) for s, e, i in ac.finditer(text)}
        assert got == _naive(keys, text)


# -- the word matcher ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("加 微 信", "加微信"),
        ("加-微-信", "加微信"),
        ("加🍀微🍀信", "加微信"),
        ("加\u200b微\u200b信", "加微信"),
        ("ＳＰＡＭ here", "spam"),
        ("ѕрам", "spam"),
        ("s p a m", "spam"),
        ("s🍀p🍀a🍀m", "spam"),
        ("买spam", "spam"),
        ("free-money", "free money"),
        ("FREE money!", "free money"),
        ("freemoney", "free money"),
        ("spamming", ""),
        ("this pam", ""),
        ("s pam", ""),
        ("sp am", ""),
        ("classic", ""),
        ("free time, money later", ""),
    ],
)
def test_word_matcher_rules(text: str, found: str) -> None:
    m = WordMatcher(["加微信", "spam", "free money", "ass"])
    assert m.search(text) == found


_SEPARATORS = [" ", "-", ".", "，", "🍀", "\u200b", "\u2060", "*", "  ", "💰"]
_HAN = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)


@given(
    st.text(_HAN, min_size=2, max_size=5),
    st.lists(st.sampled_from(_SEPARATORS), min_size=4, max_size=4),
    st.text("这是一段文字", max_size=5),
    st.text("测试内容", max_size=5),
)
def test_separators_between_han_characters_never_hide_a_word(
    word: str, seps: list[str], before: str, after: str
) -> None:
    spaced = "".join(ch + seps[i % len(seps)] for i, ch in enumerate(word))
    assert WordMatcher([word]).search(before + spaced + after) == word


@given(
    st.text("abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=8),
    st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=3),
    st.booleans(),
)
def test_latin_words_match_whole_words_only(word: str, extra: str, prefix: bool) -> None:
    assume(word not in ("say", "now"))  # the words of the sentence around it
    m = WordMatcher([word])
    longer = extra + word if prefix else word + extra
    assert m.search(f"say {longer} now") == ""
    assert m.search(f"say {word} now") == word
    fullwidth = "".join(chr(ord(ch) + 0xFEE0) for ch in word.upper())
    assert m.search(f"say {fullwidth}!") == word
    assert m.search(" ".join(word)) == word  # spelled out


def test_a_failed_longer_candidate_does_not_hide_a_shorter_one() -> None:
    m = WordMatcher(["scam", "ascam"])
    assert m.search("a scam") == "scam"  # "ascam" runs over a space not inside the word
    assert m.findall("scam ascam scam") == ["scam", "ascam"]


def test_word_matcher_scales_to_many_words() -> None:
    rng = random.Random(3)
    words = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(8)) for _ in range(5000)
    ]
    m = WordMatcher(words)
    assert m.search("lorem " * 10_000 + words[4321]) == words[4321]


def test_squash_and_normalize_functions() -> None:
    assert squash("ｑｑ：１２３ ４５６") == "qq123456"
    pb = playbook("""
rules:
  - id: r
    on: message.posted
    if: "normalize(event.data.text) == 'spam' and squash('a b') == 'ab'"
    do: [{tag: x}]
""")
    assert kinds(acts(Engine(pb), message("u1", "ЅРАМ"))) == ["tag"]


# -- word-list files -------------------------------------------------------------------------


def _write_playbook(folder: Path, vars_yaml: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "community.yaml"
    path.write_text(
        "engage_rules: 1\nname: t\n"
        + vars_yaml
        + """
rules:
  - id: banned
    on: message.posted
    if: "contains_any(event.data.text, vars.banned)"
    do: [{delete_message: {reason: "{{ match }}"}}]
""",
        encoding="utf-8",
    )
    return path


def test_word_list_file_next_to_the_playbook(tmp_path: Path) -> None:
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "banned.txt").write_bytes(
        "\ufeff# a comment\n\n  代刷  \nfree money\n".encode()
    )
    path = _write_playbook(tmp_path, "vars: {banned: {file: lists/banned.txt}}")
    engine = Engine(load(path))
    assert engine.playbook.vars["banned"] == ["代刷", "free money"]
    [delete] = acts(engine, message("u1", "代 刷 好评"))
    assert delete.params["reason"] == "代刷"
    assert acts(engine, message("u2", "# a comment")) == []


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("missing.txt", "not found"),
        ("../outside.txt", "outside the playbook's folder"),
        ("/etc/passwd", "must be relative"),
        ("", "takes the path"),
        ("sub", "is not a file"),
        ("bad.txt", "line 2 is not valid UTF-8"),
    ],
)
def test_word_list_file_errors_are_located(tmp_path: Path, ref: str, message: str) -> None:
    (tmp_path / "outside.txt").write_text("x\n")
    folder = tmp_path / "pb"
    (folder / "sub").mkdir(parents=True)
    (folder / "bad.txt").write_bytes(b"ok\n\xff\xfe\n")
    path = _write_playbook(folder, f"vars: {{banned: {{file: {ref!r}}}}}")
    with pytest.raises(PlaybookError) as err:
        load(path)
    [problem] = err.value.problems
    assert problem.file == str(path) and problem.line == 3 and message in problem.message


def test_word_list_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "big.txt").write_text("a\nb\nc\n")
    monkeypatch.setattr("engage_rules.lang.wordlists.MAX_WORDS", 2)
    with pytest.raises(ValueError, match="holds 3 words; the limit is 2"):
        read_word_list(tmp_path / "p.yaml", "big.txt")
    monkeypatch.setattr("engage_rules.lang.wordlists.MAX_FILE_BYTES", 3)
    with pytest.raises(ValueError, match="the limit is 3"):
        read_word_list(tmp_path / "p.yaml", "big.txt")


def test_a_word_list_file_is_relative_to_the_file_that_names_it(tmp_path: Path) -> None:
    (tmp_path / "mod").mkdir()
    (tmp_path / "mod" / "words.txt").write_text("刷单\n", encoding="utf-8")
    (tmp_path / "base.yaml").write_text("engage_rules: 1\nname: t\n")
    (tmp_path / "mod" / "rules.yaml").write_text(
        """
vars: {banned: {file: words.txt}}
rules:
  - id: banned
    on: message.posted
    if: "contains_any(event.data.text, vars.banned)"
    do: [{delete_message: {}}]
""",
        encoding="utf-8",
    )
    assert load(tmp_path).vars["banned"] == ["刷单"]


# -- patterns --------------------------------------------------------------------------------


def _pattern_rule(patterns: list[str], rules: int = 1) -> str:
    quoted = ("'" + p.replace("'", "''") + "'" for p in patterns)  # YAML single quotes
    listed = "\n".join(f"    - {q}" for q in quoted)
    body = f"vars:\n  patterns:\n{listed}\nrules:\n"
    for i in range(rules):
        body += f"""  - id: r{i}
    on: message.posted
    if: "matches(event.data.text, vars.patterns)"
    do: [{{delete_message: {{reason: "{{{{ match }}}}"}}}}]
"""
    return body


def test_pattern_lists_and_the_match_group() -> None:
    pb = playbook(_pattern_rule([r"(?i)free\s+money", r"\D(?P<match>1[3-9]\d{9})\D"]))
    engine = Engine(pb)
    [a] = acts(engine, message("u1", "call 13800138000 now"))
    assert a.params["reason"] == "13800138000"
    [b] = acts(engine, message("u1", "FREE   money"))
    assert b.params["reason"] == "FREE   money"
    assert acts(engine, message("u1", "order 2013800138000123")) == []


def test_pattern_limits_are_checked_at_load() -> None:
    with pytest.raises(PlaybookError, match="101 patterns in one call; the limit is 100"):
        playbook(_pattern_rule([f"a{i}" for i in range(101)]))
    with pytest.raises(PlaybookError, match="more than 1000 regular expressions"):
        playbook(_pattern_rule([f"a{i}" for i in range(100)], rules=11))
    with pytest.raises(PlaybookError, match=r"pattern #2: .*limit is 1000"):
        playbook(_pattern_rule(["ok", "a" * 1001]))


@pytest.mark.parametrize("pattern", [r"(a)\1", r"(?<=a)b", r"(?=a)", r"(?!a)b", r"a++"])
def test_patterns_re2_cannot_run_safely_are_rejected_at_load(pattern: str) -> None:
    with pytest.raises(PlaybookError, match="RE2"):
        playbook(_pattern_rule([pattern]))


@pytest.mark.parametrize("pattern", [r"(a+)+$", r"(a|aa)+$", r"(a*)*b", r"(.*a){12}x"])
def test_catastrophic_backtracking_patterns_run_in_linear_time(pattern: str) -> None:
    engine = Engine(playbook(_pattern_rule([pattern])))
    text = "a" * 60_000 + "!"
    assert acts(engine, message("u1", text)) == []  # returns (RE2), no match


def test_a_100kb_message_against_100_patterns() -> None:
    # Events over 64 KB are quarantined before any rule sees them; the detectors are
    # checked here directly on 100 KB of text (80,000 characters).  Longer texts, which
    # only an expression can build, are scanned within the pattern budget
    # (docs/language.md, "Detectors"; tests/test_hostile_playbooks.py).
    patterns = [rf"(?i)\bword{i:03d}x\d+" for i in range(99)] + [r"needle-\d{3}"]
    fn = compile_expression(
        "matches(event.data.text, vars.patterns)", vars={"patterns": patterns}, env=ENV
    ).fn
    rng = random.Random(5)
    filler = "".join(rng.choice("abcdefghij klmnop,.这是一段测试文字 ") for _ in range(80_000))
    assert len(filler.encode()) > 100_000
    assert fn(make_context(data={"text": filler})) == ""
    c = make_context(data={"text": filler + " needle-123"})
    assert fn(c) == "needle-123" and c.match == "needle-123"
    words = compile_expression(
        "contains_any(event.data.text, vars.words)",
        vars={"words": [f"word{i:03d}" for i in range(1000)]},
        env=ENV,
    ).fn
    assert words(make_context(data={"text": filler})) == ""
    assert words(make_context(data={"text": filler + " word999"})) == "word999"


# -- domains ---------------------------------------------------------------------------------

DOMAIN_RULES = """
vars:
  trusted: [example.com, github.com]
  denied: ['@shorteners', '@lookalikes', spam.com]
rules:
  - id: allow
    on: message.posted
    if: "domains(event.data.text, allow=vars.trusted)"
    do: [{set: {off_list: "{{ match }}"}}]
  - id: deny
    on: message.posted
    if: "links(event.data.text, deny=vars.denied)"
    do: [{set: {denied: "{{ match }}"}}]
"""


@pytest.mark.parametrize(
    ("text", "off_list", "denied"),
    [
        ("see https://cdn.example.com/x and www.github.com", None, None),
        ("see https://shop.example.net", "shop.example.net", None),
        ("see https://ехаmple.com/a", "ехаmple.com", "https://ехаmple.com/a"),
        ("short https://bit.ly/abc", "bit.ly", "https://bit.ly/abc"),
        ("look-alike ѕpam.com here", "ѕpam.com", "ѕpam.com"),
        ("sub https://x.spam.com/p", "x.spam.com", "https://x.spam.com/p"),
        ("puny http://xn--80ak6aa92e.com", "xn--80ak6aa92e.com", "http://xn--80ak6aa92e.com"),
        ("full width ｅｘａｍｐｌｅ．ｃｏｍ", None, None),
    ],
)
def test_domain_allow_and_deny_lists(text: str, off_list: str | None, denied: str | None) -> None:
    engine = Engine(playbook(DOMAIN_RULES))
    decide(engine, message("u1", text))
    attrs = engine.state.community("default").members["u1"].attrs
    assert attrs.get("off_list") == off_list
    assert attrs.get("denied") == denied


@pytest.mark.parametrize(
    ("lists", "message"),
    [
        ("allow=['@nope']", "unknown domain group '@nope'"),
        ("deny=['https://x.com/a']", "is not a domain name"),
        ("deny=[3]", "must hold domain names"),
    ],
)
def test_bad_domain_lists_fail_at_load(lists: str, message: str) -> None:
    with pytest.raises(PlaybookError, match=re.escape(message)):
        playbook(f"""
rules:
  - id: r
    on: message.posted
    if: "domains(event.data.text, {lists})"
    do: [{{delete_message: {{}}}}]
""")


# -- score() and classifiers -----------------------------------------------------------------

SCORE_RULE = """
rules:
  - id: abuse
    on: message.posted
    if: "score(event.data.text, 'toxicity'{extra}) >= 0.8"
    do: [{{delete_message: {{}}}}]
  - id: after
    on: message.posted
    do: [{{tag: seen}}]
"""


def test_score_with_the_lexicon_end_to_end() -> None:
    engine = Engine(playbook(SCORE_RULE.format(extra="")))
    assert kinds(acts(engine, message("u1", "你就是个傻 逼"))) == ["delete_message", "tag"]
    assert kinds(acts(engine, message("u2", "you IDIOT"))) == ["delete_message", "tag"]
    assert kinds(acts(engine, message("u3", "beautiful light today"))) == ["tag"]


class _FlakyClassifier:
    """A plugin registering a classifier that fails or misbehaves on demand."""

    @staticmethod
    @hookimpl
    def register_classifiers(register: Any) -> None:
        def scorer(text: str, label: str) -> float:
            if "boom" in text:
                raise RuntimeError("model unavailable")
            return 2.0 if "big" in text else 0.9

        scorer.labels = frozenset({"toxicity"})  # type: ignore[attr-defined]
        register("flaky", scorer)


@pytest.fixture
def flaky_classifier() -> Registry:
    return isolated_plugins(("flaky", _FlakyClassifier()))


def test_classifier_errors_fail_the_rule_not_the_stream(flaky_classifier: Registry) -> None:
    engine = Engine(playbook(SCORE_RULE.format(extra=", 'flaky'"), registry=flaky_classifier))
    [d] = decide(engine, message("u1", "boom"))
    assert kinds(d.actions) == ["tag"]  # the next rule still ran
    assert "classifier 'flaky' failed: RuntimeError: model unavailable" in d.errors[0].message
    [d] = decide(engine, message("u1", "big"))
    assert "returned 2.0, not a number in [0, 1]" in d.errors[0].message
    assert kinds(acts(engine, message("u2", "fine"))) == ["delete_message", "tag"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (", 'lexicon'", None),
        (", 'nope'", "no classifier named 'nope' is registered"),
        (", event.data.c", "the classifier must be a quoted name"),
    ],
)
def test_classifier_names_are_checked_at_load(extra: str, message: str | None) -> None:
    if message is None:
        playbook(SCORE_RULE.format(extra=extra))
        return
    with pytest.raises(PlaybookError, match=re.escape(message)):
        playbook(SCORE_RULE.format(extra=extra))


def test_literal_labels_are_checked_at_load() -> None:
    with pytest.raises(PlaybookError, match="has no label 'toxic'; did you mean 'toxicity'"):
        playbook(SCORE_RULE.replace("'toxicity'", "'toxic'").format(extra=""))
