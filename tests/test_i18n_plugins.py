"""A plugin speaks the operator's language with its own catalog (docs/plugins.md,
"Speaking the operator's language"): ``plugin_api.translator`` follows the core's
language, ``python -m engage_rules.i18n.catalog --package DIR`` compiles and checks the
plugin's PO files, and a command's help may be a function, made in the language chosen
by ``--lang``."""

from __future__ import annotations

import argparse
import io
from contextlib import redirect_stderr, redirect_stdout
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engage_rules import i18n
from engage_rules.i18n import catalog
from engage_rules.plugin_api import RegisterCommand, Translator, hookimpl, translator
from engage_rules.testing import isolated_plugins, run_cli

ROOT = Path(__file__).resolve().parents[1]
SOURCE = """\
from pathlib import Path

from engage_rules.plugin_api import translator

_ = translator("pins", Path(__file__).parent / "locale")


def hello(name):
    return _("hello {name}").format(name=name)


def apples(n):
    return _.ngettext("{n} apple", "{n} apples", n).format(n=n)


LABEL = _.N_("pinned")
"""
PO = """\
msgid "hello {name}"
msgstr "你好，{name}"

msgid "{n} apple"
msgid_plural "{n} apples"
msgstr[0] "{n} 个苹果"

msgid "pinned"
msgstr "已置顶"
"""


def make_plugin(root: Path, po: str = PO) -> Path:
    """A plugin package folder ``pins`` with its source and a zh_CN part file."""
    package = root / "pins"
    (package / "po" / "zh_CN").mkdir(parents=True)
    (package / "__init__.py").write_text(SOURCE, "utf-8")
    (package / "po" / "zh_CN" / "messages.po").write_text(po, "utf-8")
    return package


def catalog_main(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = catalog.main(list(args))
        except SystemExit as exit_:
            code = int(exit_.code or 0)
    return code, out.getvalue(), err.getvalue()


def test_a_plugin_catalog_is_compiled_checked_and_read_in_the_current_language(
    tmp_path: Path,
) -> None:
    package = make_plugin(tmp_path)
    code, out, _err = catalog_main("--package", str(package), "--check")
    assert code == 1 and "out of date" in out and "--package" in out
    code, out, _err = catalog_main("--package", str(package))
    assert code == 0 and "pins.mo" in out
    assert (package / "locale" / "zh_CN" / "LC_MESSAGES" / "pins.mo").is_file()
    assert catalog_main("--package", str(package), "--check")[0] == 0
    _ = translator("pins", package / "locale")
    assert isinstance(_, Translator)
    assert _("hello {name}") == "hello {name}"
    with i18n.use_language("zh_CN"):
        assert _("hello {name}").format(name="小明") == "你好，小明"
        assert _.ngettext("{n} apple", "{n} apples", 3).format(n=3) == "3 个苹果"
        assert _(_.N_("pinned")) == "已置顶"
        assert _("not in the catalog") == "not in the catalog"
    # A table made at import time reads each value in the language of the moment.
    table = _.table({"pin": _.N_("pinned"), "x": _.N_("not in the catalog")})
    assert dict(table) == {"pin": "pinned", "x": "not in the catalog"}
    with i18n.use_language("zh_CN"):
        assert table["pin"] == "已置顶" and list(table) == ["pin", "x"] and len(table) == 2
        assert dict(table) == {"pin": "已置顶", "x": "not in the catalog"}
    with pytest.raises(KeyError):
        table["nope"]
    assert _.ngettext("{n} apple", "{n} apples", 1).format(n=1) == "1 apple"
    # What the core shows of a plugin (an action's description marked with the plugin's
    # N_) is found in the plugin's catalog after the core's, in the current language.
    with i18n.use_language("zh_CN"):
        assert i18n._("pinned") == "已置顶"
        assert i18n.ngettext("{n} apple", "{n} apples", 2) == "{n} 个苹果"
        assert i18n._("ok: {n} playbook(s) valid") == "通过：{n} 个剧本有效"  # the core's own
        assert i18n._("not in any catalog") == "not in any catalog"
    assert i18n._("pinned") == "pinned"


def test_the_check_names_what_a_plugin_catalog_lacks(tmp_path: Path) -> None:
    package = make_plugin(
        tmp_path,
        'msgid "hello {name}"\nmsgstr "你好，{who}"\n\nmsgid "gone"\nmsgstr "没了"\n',
    )
    problems = catalog.check(catalog.Domain.plugin(package))
    text = "\n".join(problems)
    assert "no zh_CN translation of ('{n} apple', '{n} apples')" in text
    assert "no zh_CN translation of 'pinned'" in text
    assert "has the placeholders ['who'], the message ['name']" in text
    assert "'gone' is no longer in the source" in text


def test_a_package_without_part_files_and_bad_options_are_reported(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    code, out, _err = catalog_main("--package", str(tmp_path / "empty"), "--check")
    assert code == 1 and "no part files" in out
    assert catalog_main("--domain", "x")[0] == 2
    code, _out, err = catalog_main("--package", str(tmp_path / "nowhere"))
    assert code == 2 and "no such folder" in err


def test_a_missing_plugin_catalog_speaks_english(tmp_path: Path) -> None:
    _ = translator("nothing", tmp_path)
    with i18n.use_language("zh_CN"):
        assert _("hello") == "hello"
        assert _.ngettext("{n} apple", "{n} apples", 2) == "{n} apples"


@pytest.mark.parametrize("plugin", ["telegram", "discord", "onebot"])
def test_the_shipped_plugins_catalogs_are_complete_and_compiled(plugin: str) -> None:
    package = ROOT / "plugins" / f"engage-rules-{plugin}" / "src" / f"engage_rules_{plugin}"
    problems = catalog.check(catalog.Domain.plugin(package))
    assert problems == [], "\n".join(problems)


class Pins:
    """A plugin whose command's help is a function, translated by its own catalog."""

    def __init__(self, package: Path) -> None:
        self._ = translator("pins", package / "locale")

    @hookimpl
    def register_commands(self, register: RegisterCommand) -> None:
        _ = self._

        def configure(p: argparse.ArgumentParser) -> None:
            p.add_argument("--label", help=_(_.N_("pinned")))

        register("pins", configure, lambda args: 0, lambda: _("hello {name}"))


def test_a_plugin_command_help_is_made_in_the_language_asked_for(tmp_path: Path) -> None:
    package = make_plugin(tmp_path)
    assert catalog_main("--package", str(package))[0] == 0
    registry = isolated_plugins(("pins", Pins(package)))
    english = run_cli("--help", registry=registry)
    chinese = run_cli("--lang", "zh_CN", "--help", registry=registry)
    assert "hello {name} [plugin pins]" in english.stdout
    assert "你好，{name} [插件 pins]" in chinese.stdout
    assert "已置顶" in run_cli("--lang", "zh_CN", "pins", "--help", registry=registry).stdout
    entry = registry.commands["pins"]
    with i18n.use_language("zh_CN"):
        assert entry.help_text() == "你好，{name}"
    assert entry.help_text() == "hello {name}"


TELEGRAM = ROOT / "plugins" / "engage-rules-telegram" / "src" / "engage_rules_telegram"


@cache
def telegram_messages() -> frozenset[object]:
    return frozenset(catalog.extract(catalog.Domain.plugin(TELEGRAM)))


@settings(max_examples=30, deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_a_text_the_catalog_lacks_comes_back_unchanged(text: str) -> None:
    _ = translator("engage_rules_telegram", TELEGRAM / "locale")
    with i18n.use_language("zh_CN"):
        assert (_(text) == text) is (text not in telegram_messages())
    assert i18n.Translator.N_(text) == text
