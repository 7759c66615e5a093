"""This plugin's own messages in the operator's language: its gettext catalog
(``po/<lang>/*.po``, compiled into ``locale/<lang>/LC_MESSAGES/engage_rules_onebot.mo`` by
``python -m engage_rules.i18n.catalog --package <this folder>``), read in the language
engage_rules speaks (``--lang``, the locale; docs/plugins.md)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from engage_rules.plugin_api import translator

#: ``_("text {name}").format(name=...)``: the text in the current language.
_ = translator("engage_rules_onebot", Path(__file__).resolve().parent / "locale")

__all__ = ["Translated", "_"]


class Translated(Mapping[str, str]):
    """A table of texts marked with ``_.N_``, each read in the language of the moment
    (the adapter's ``missing_events``, which ``engage-rules validate --platform`` shows)."""

    def __init__(self, texts: Mapping[str, str]) -> None:
        self._texts = dict(texts)

    def __getitem__(self, key: str) -> str:
        return _(self._texts[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._texts)

    def __len__(self) -> int:
        return len(self._texts)
