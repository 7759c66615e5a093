"""Built-in expression functions, the function registry, and text normalisation."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest

from engage_rules import Engine
from engage_rules.errors import ExpressionError
from engage_rules.expr.context import EvalContext
from engage_rules.expr.expressions import ExprCompileError, compile_expression
from engage_rules.expr.functions import (
    BUILTIN_FUNCTIONS,
    CallSite,
    FunctionSpec,
    check_function_name,
    compile_pattern,
)
from engage_rules.model.state import MemberState, ts
from engage_rules.testing import expr_env, message
from engage_rules.text import normalise as textnorm
from engage_rules.text import wordmatch
from helpers import playbook
from moderation_helpers import acts, kinds
from test_expressions import make_context

ENV = expr_env()

VARS = {"banned_words": ["代刷", "加微信", "刷单", "spam", "free money"], "bad": ["代刷", 3]}


def run(text: str, c: EvalContext, **kw: Any) -> Any:
    return compile_expression(text, vars=VARS, **kw, env=ENV).fn(c)


def text_context(text: Any, **kw: Any) -> EvalContext:
    return make_context(data={"text": text}, **kw)


# -- count / duplicates -------------------------------------------------------------------------


def member_with_history() -> tuple[MemberState, EvalContext]:
    m = MemberState(id="u42", community="default", level=1)
    c = make_context(member=m)
    now = c.now_ts
    for ago in (10, 3000, 2 * 86400, 9 * 86400):
        m.record("message.posted", now - ago, 30 * 86400)
    m.record("checkin", now - 100, None)
    return m, c


def test_count_lifetime_and_windows() -> None:
    _, c = member_with_history()
    assert run("count('message.posted')", c) == 4
    assert run("count('message.posted', within='1h')", c) == 2
    assert run("count('message.posted', '1d')", c) == 2
    assert run("count('message.posted', within='7d')", c) == 3
    assert run("count('message.posted', within='2w')", c) == 4
    assert run("count('checkin')", c) == 1
    assert run("count('reaction.added', within='7d')", c) == 0
    assert run("count('message.posted', within='7d')", make_context(member=False)) == 0


def test_duplicates_counts_the_same_fingerprint_in_the_window() -> None:
    m = MemberState(id="u42", community="default")
    c = text_context("Buy NOW!!! 加微信")
    now = c.now_ts
    same = textnorm.fingerprint("buy now 加 微信")
    other = textnorm.fingerprint("hello")
    m.texts = [(now - 7200, same), (now - 300, same), (now - 60, other), (now, same)]
    c.m = m
    assert run("duplicates()", c) == 2  # 10 minutes by default; the current one counts
    assert run("duplicates(within='1m')", c) == 1
    assert run("duplicates('3h')", c) == 3
    assert run("duplicates('3h')", text_context(None, member=m)) == 0
    assert run("duplicates()", make_context(member=False)) == 0


# -- contains_any ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("加微信领红包", "加微信"),
        ("加 微 信", "加微信"),
        ("加-微-信", "加微信"),
        ("加.微。信！", "加微信"),
        ("加😀微💬信", "加微信"),
        ("代\u200b刷", "代刷"),
        ("代\ufeff刷\u200d单", "代刷"),
        ("ＳＰＡＭ here", "spam"),
        ("buy spam now", "spam"),
        ("Buy SPAM now", "spam"),
        ("s p a m", "spam"),
        ("s.p.a.m!", "spam"),
        ("我要spam了", "spam"),
        ("free   money!!", "free money"),
        ("FREE-MONEY", "free money"),
        ("spamming", ""),
        ("antispam", ""),
        ("this pam", ""),
        ("大家好", ""),
        ("", ""),
    ],
)
def test_contains_any_with_evasions(text: str, found: str) -> None:
    c = text_context(text)
    assert run("contains_any(event.data.text, vars.banned_words)", c) == found
    assert c.match == found


def test_contains_any_literal_and_runtime_word_lists() -> None:
    c = text_context("快来刷单")
    assert run("contains_any(event.data.text, ['刷单', '返利'])", c) == "刷单"
    c = make_context(data={"text": "call me maybe", "words": ["maybe", "never"]})
    assert run("contains_any(event.data.text, event.data.words)", c) == "maybe"
    assert run("contains_any(event.data.text, event.data.missing)", c) == ""
    assert run("contains_any(event.data.text, 'call')", c) == "call"
    assert run("contains_any(event.data.nothing, ['x'])", c) == ""
    c = make_context(data={"text": "x", "words": [1, 2]})
    with pytest.raises(ExpressionError, match="must be strings"):
        run("contains_any(event.data.text, event.data.words)", c)


def test_contains_any_precompiles_literal_words() -> None:
    compiled = compile_expression(
        "contains_any(event.data.text, vars.banned_words)", vars=VARS, env=ENV
    )
    matchers = [v for v in compiled.fn.__globals__.values() if isinstance(v, wordmatch.WordMatcher)]
    assert len(matchers) == 1 and matchers[0].words == tuple(VARS["banned_words"])
    with pytest.raises(ExprCompileError, match="must be strings"):
        compile_expression("contains_any(event.data.text, vars.bad)", vars=VARS, env=ENV)


def test_match_is_set_only_when_found() -> None:
    c = text_context("hello")
    c.match = "earlier"
    assert run("contains_any(event.data.text, vars.banned_words)", c) == ""
    assert c.match == "earlier"


# -- matches ------------------------------------------------------------------------------------


def test_matches() -> None:
    c = text_context("Contact me at QQ 123456789 now")
    assert run(r"matches(event.data.text, '(?i)qq\s*\d{5,}')", c) == "QQ 123456789"
    assert c.match == "QQ 123456789"
    assert run("matches(event.data.text, 'xyz')", c) == ""
    assert run("matches(event.data.text, '^') is sameas true", c) is True
    assert run(r"matches(event.data.text, '\\bme\\b')", c) == "me"


def test_matches_pattern_must_be_a_valid_literal() -> None:
    with pytest.raises(ExprCompileError, match="quoted regular expression"):
        compile_expression("matches(event.data.text, event.data.p)", vars={}, env=ENV)
    # Patterns from `vars` are known at load time too: compiled and checked there.
    compile_expression("matches(event.data.text, vars.p)", vars={"p": "a+"}, env=ENV)
    with pytest.raises(ExprCompileError, match="RE2"):
        compile_expression("matches(event.data.text, vars.p)", vars={"p": "(a)\\1"}, env=ENV)
    with pytest.raises(ExprCompileError, match="RE2"):
        compile_expression(r"matches(event.data.text, '(a)\\1')", vars={}, env=ENV)
    with pytest.raises(ExprCompileError, match="RE2"):
        compile_expression("matches(event.data.text, '(?<=a)b')", vars={}, env=ENV)
    with pytest.raises(ExprCompileError, match="limit is 1000"):
        compile_expression(f"matches(event.data.text, '{'a' * 1001}')", vars={}, env=ENV)
    with pytest.raises(ExprCompileError, match="backspace"):
        compile_expression(r"matches(event.data.text, '\bx')", vars={}, env=ENV)
    with pytest.raises(ValueError, match="cannot be used"):
        compile_pattern("((")


def test_matches_is_linear_on_catastrophic_patterns() -> None:
    c = text_context("a" * 50000 + "!")
    assert run("matches(event.data.text, '(a+)+$')", c) == ""
    assert run("matches(event.data.text, '(a|aa)+!')", c) == "a" * 50000 + "!"


# -- links, domains, mentions, caps ----------------------------------------------------------


def test_links_and_domains() -> None:
    text = (
        "看这里 https://Example.com/a?b=1。还有 www.foo.cn, bar.xyz/path) 和 file.txt "
        "以及 evil。com 邮件 a@b.com ｈｔｔｐ：／／ｆｕｌｌ．ｗｉｄｔｈ．ｃｏｍ"
    )
    c = text_context(text)
    assert run("links(event.data.text)", c) == [
        "https://Example.com/a?b=1",
        "www.foo.cn",
        "bar.xyz/path",
        "evil.com",
        "http://full.width.com",
    ]
    assert c.match == "https://Example.com/a?b=1"
    assert run("domains(event.data.text)", c) == [
        "example.com",
        "www.foo.cn",
        "bar.xyz",
        "evil.com",
        "full.width.com",
    ]
    c = text_context("https://a.io/x https://A.io/y http://user@host.io:8080/z")
    assert run("domains(event.data.text)", c) == ["a.io", "host.io"]
    c = text_context("no links here. see you.")
    assert run("links(event.data.text)", c) == []
    assert not run("links(event.data.text)", c)
    assert c.match == ""


def test_mentions() -> None:
    c = text_context("hi @bob and @小明. mail a@b.com <@!12345> @")
    assert run("mentions(event.data.text)", c) == ["@bob", "@小明", "@12345"]
    assert c.match == "@bob"
    assert run("mentions(event.data.text) | length > 2", c) is True


def test_caps_ratio() -> None:
    assert run("caps_ratio(event.data.text)", text_context("HELLO world")) == 0.5
    assert run("caps_ratio(event.data.text)", text_context("123 !!")) == 0.0
    assert run("caps_ratio(event.data.text)", text_context("ＳＰＡＭ")) == 1.0
    assert run("caps_ratio(event.data.text)", text_context("大家好 OK")) == 1.0
    assert run("caps_ratio(event.data.missing)", text_context("x")) == 0.0


# -- durations and range ----------------------------------------------------------------------


def test_durations() -> None:
    c = make_context()
    assert run("days(1) + hours(2) + minutes(3)", c) == timedelta(days=1, hours=2, minutes=3)
    assert run("days(0.5)", c) == timedelta(hours=12)
    assert run("member.silent_for >= days(3)", c) is True
    with pytest.raises(ExprCompileError):
        compile_expression("days(1000000000000)", vars={}, env=ENV)
    c = make_context(data={"n": 10**12})
    with pytest.raises(ExpressionError, match="out of range"):
        run("days(event.data.n)", c)


def test_range_is_bounded() -> None:
    c = make_context(data={"n": 5, "big": 10**9})
    assert run("range(event.data.n) | list", c) == [0, 1, 2, 3, 4]
    with pytest.raises(ExpressionError, match="10000"):
        run("range(event.data.big)", c)


# -- the registry -------------------------------------------------------------------------------


def test_registry_and_plugin_functions() -> None:
    calls: list[Any] = []

    def check(site: CallSite) -> dict[int | str, Any]:
        arg = site.arg(0, "word")
        if arg is None or not arg[1].literal:
            raise ValueError("shout(): the word must be a literal")
        return {arg[0]: str(arg[1].value).upper()}

    def shout(c: EvalContext, word: str, times: int = 1) -> str:
        calls.append(word)
        return "!".join([word] * times)

    spec = FunctionSpec("shout", shout, ("word", "times"), 1, check=check)
    assert BUILTIN_FUNCTIONS.items() <= ENV.functions.items()
    registry = ENV.with_functions({"shout": spec}).functions
    assert "count" in registry and "shout" in registry
    compiled = compile_expression(
        "shout('hey', times=2)", vars={}, env=ENV.with_functions({"shout": spec})
    )
    assert compiled.fn(make_context()) == "HEY!HEY"
    assert calls == ["HEY"]
    with pytest.raises(ExprCompileError, match="must be a literal"):
        compile_expression("shout(event.type)", vars={}, env=ENV.with_functions({"shout": spec}))
    with pytest.raises(ExprCompileError, match="unknown function"):
        compile_expression("shout('x')", vars={}, env=ENV)
    with pytest.raises(ValueError, match="taken"):
        check_function_name(FunctionSpec("member", shout))
    with pytest.raises(ValueError, match="invalid"):
        check_function_name(FunctionSpec("_x", shout))


def test_builtin_specs_are_documented() -> None:
    for name, spec in BUILTIN_FUNCTIONS.items():
        assert spec.name == name and spec.doc and spec.params is not None


# -- textnorm -----------------------------------------------------------------------------------


def test_normalise() -> None:
    assert textnorm.normalise("ＳＰＡＭ") == "spam"
    assert textnorm.normalise("Stra\u00dfe") == "strasse"
    assert textnorm.normalise("代\u200b刷\ufe0f") == "代刷"
    assert textnorm.normalise("s\u0336p\u0336a\u0336m\u0336") == "spam"
    assert textnorm.normalise("cafe\u0301") == "café"
    assert textnorm.normalise("ABC") == "abc"


def test_fingerprint_ignores_trivial_variation() -> None:
    fp = textnorm.fingerprint
    assert fp("Hello, World!") == fp("hello world") == fp("ＨＥＬＬＯ　ｗｏｒｌｄ")
    assert fp("加 微 信") == fp("加微信")
    assert fp("hello") != fp("world")
    assert fp("👍") != fp("😀")
    assert len(fp("x")) == 16


def test_word_matcher_on_a_large_text_and_list() -> None:
    rng = random.Random(7)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = ["".join(rng.choice(letters) for _ in range(rng.randint(5, 9))) for _ in range(500)]
    words += ["".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(3)) for _ in range(500)]
    matcher = wordmatch.WordMatcher(words)
    alphabet = "abcdefghij klmnop,.qrstuvwxyz这是一个测试文本 "
    text = "".join(rng.choice(alphabet) for _ in range(100_000))
    assert matcher.search(text + " " + words[3]) == words[3]
    assert matcher.search(text + "，" + " ".join(words[700])) == words[700]


def test_word_matcher_symbols_and_phrases() -> None:
    m = wordmatch.WordMatcher(["c++", "🔞", "$$$", "get rich quick", "QQ群"])
    assert m.search("I like c++ a lot") == "c++"
    assert m.search("see c") == ""
    assert m.search("x 🔞 y") == "🔞"
    assert m.search("win $$$ today") == "$$$"
    assert m.search("GET RICH, quick!") == "get rich quick"
    assert m.search("get rich slowly") == ""
    assert m.search("加qq 群") == "QQ群"
    assert len(wordmatch.WordMatcher([])) == 0 and wordmatch.WordMatcher([]).search("x") == ""
    with pytest.raises(TypeError):
        wordmatch.WordMatcher([3])  # type: ignore[list-item]


def test_posts_without_text_are_no_duplicates() -> None:
    """Photos, albums and stickers carry no text: three of them in ten minutes are not
    the same text three times (the moderation playbook's repeated-text rule)."""
    engine = Engine(
        playbook(
            "rules:\n  - id: r\n    on: message.posted\n"
            '    if: "duplicates() >= 2"\n    do: [{tag: repeated}]\n'
        )
    )
    for text in ("", " \u3000", "\u200b", "", "\n"):
        assert acts(engine, message("u1", text)) == []
    assert engine.state.communities["default"].members["u1"].texts == []
    assert acts(engine, message("u1", "同一句话")) == []
    assert kinds(acts(engine, message("u1", "同一句话!"))) == ["tag"]


def test_fingerprint_used_by_engine_matches_duplicates() -> None:
    m = MemberState(id="u1", community="default")
    c = text_context("Same text")
    m.texts.append((ts(c.now), textnorm.fingerprint("same   TEXT!")))
    c.m = m
    assert run("duplicates()", c) == 1
