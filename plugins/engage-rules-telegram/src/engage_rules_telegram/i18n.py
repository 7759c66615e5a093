"""This plugin's own messages in the operator's language: its gettext catalog
(``po/<lang>/*.po``, compiled into ``locale/<lang>/LC_MESSAGES/engage_rules_telegram.mo`` by
``python -m engage_rules.i18n.catalog --package <this folder>``), read in the language
engage_rules speaks (``--lang``, the locale; docs/plugins.md)."""

from __future__ import annotations

from pathlib import Path

from engage_rules.plugin_api import translator

#: ``_("text {name}").format(name=...)``: the text in the current language.
_ = translator("engage_rules_telegram", Path(__file__).resolve().parent / "locale")

__all__ = ["_"]
