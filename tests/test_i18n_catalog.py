"""The product speaks English and Chinese: every marked message has a zh_CN translation
with the same placeholders, the shipped catalog is compiled from the PO files, and the
language is chosen by --lang or the locale (engage_rules.i18n)."""

from __future__ import annotations

import gettext
import io
from pathlib import Path

import pytest

from engage_rules import i18n
from engage_rules.i18n import catalog
from engage_rules.testing import run_cli


def test_every_marked_message_has_a_chinese_translation_and_the_catalog_is_current() -> None:
    problems = catalog.check()
    assert problems == [], "\n".join(problems[:50])


def test_the_compiled_catalog_is_what_gettext_reads(tmp_path: Path) -> None:
    table = {"hello {name}": "你好 {name}", ("{n} apple", "{n} apples"): ("{n} 个苹果",)}
    data = catalog.mo_bytes("zh_CN", table)
    assert catalog.mo_bytes("zh_CN", dict(reversed(list(table.items())))) == data
    translations = gettext.GNUTranslations(io.BytesIO(data))
    assert translations.gettext("hello {name}") == "你好 {name}"
    assert translations.ngettext("{n} apple", "{n} apples", 3) == "{n} 个苹果"
    assert translations.gettext("untranslated") == "untranslated"


def test_placeholders_are_compared_by_name() -> None:
    assert catalog.placeholders("{a!r} and {b:>3} and %(c)s, not {{d}}") == {"a", "b", "c"}


@pytest.mark.parametrize(
    ("spelling", "code"),
    [
        ("zh", "zh_CN"),
        ("zh-CN", "zh_CN"),
        ("zh_CN.UTF-8", "zh_CN"),
        ("zh_Hans", "zh_CN"),
        ("中文", "zh_CN"),
        ("en_US.UTF-8", "en"),
        ("C.UTF-8", "en"),
        ("POSIX", "en"),
        ("fr_FR", None),
        ("", None),
    ],
)
def test_language_spellings(spelling: str, code: str | None) -> None:
    assert i18n.normalise_language(spelling) == code


def test_the_locale_variables_are_read_as_gettext_reads_them() -> None:
    assert i18n.language_from_env({}) == "en"
    assert i18n.language_from_env({"LANG": "zh_CN.UTF-8"}) == "zh_CN"
    assert i18n.language_from_env({"LC_ALL": "C", "LANG": "zh_CN.UTF-8"}) == "en"
    assert i18n.language_from_env({"LANGUAGE": "fr:zh_CN", "LANG": "en_US"}) == "zh_CN"
    assert i18n.language_from_env({"LANG": "de_DE.UTF-8"}) == "en"


def test_use_language_is_scoped_and_translate_ignores_it() -> None:
    message = "Run a community's engagement and moderation playbook."
    with i18n.use_language("zh_CN"):
        assert i18n._(message) != message
        assert i18n.translate(message, "en") == message
    assert i18n._(message) == message
    assert i18n.translate(message, "zh-CN") == i18n.translate(message, "zh_CN") != message
    with pytest.raises(ValueError), i18n.use_language("klingon"):
        pass


def test_the_command_line_speaks_the_language_asked_for() -> None:
    english = run_cli("replay")
    assert "the following arguments are required" in english.stderr
    chinese = run_cli("--lang", "zh_CN", "replay")
    assert "缺少必需的参数" in chinese.stderr and chinese.returncode == 2
    by_locale = run_cli("replay", env={"LANG": "zh_CN.UTF-8"})
    assert "缺少必需的参数" in by_locale.stderr
    # validate's own usage error (neither a PATH nor --config) in both languages.
    assert run_cli("validate").stderr == (
        "error: name a playbook (PATH) or a runtime config (--config)\n"
    )
    chinese = run_cli("--lang", "zh_CN", "validate")
    assert chinese.stderr == "错误：请给出剧本（PATH）或运行时配置文件（--config）\n"
    assert chinese.returncode == 2
    unknown = run_cli("--lang", "fr", "validate")
    assert unknown.returncode == 2 and "unknown language 'fr'" in unknown.stderr
    assert i18n.current_language() == "en"
