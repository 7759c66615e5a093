"""The product's own words in the operator's language (docs/reference.md §7, "Language").

Standard gettext: the source holds English messages (msgids), marked with :func:`_`,
:func:`N_` or :func:`ngettext`; their Chinese translations live in PO files under
``engage_rules/i18n/po/zh_CN/`` (one part file per area of the code, merged and compiled
by :mod:`engage_rules.i18n.catalog` into ``engage_rules/locale/zh_CN/LC_MESSAGES/
engage_rules.mo``, which ships in the package); the standard library's :mod:`gettext`
reads the compiled catalog, so nothing beyond Python is needed at run time.

The language is chosen once per process: by the command line (``--lang``, else the
locale variables ``LC_ALL``, ``LC_MESSAGES``, ``LANG``, see :func:`language_from_env`),
or by an embedding application with :func:`set_language`; the default is English.
Texts the *engine* writes for a community (default reasons, announcements) follow the
playbook's ``community.language`` instead, through :func:`translate`.

Usage::

    from engage_rules.i18n import _
    raise ActionError(_("unknown currency {name!r}").format(name=name))

A message is translated when it is made, in the current language; a table of texts
defined at import time is marked with :func:`N_` and translated with ``_(text)`` where
it is shown.
"""

from __future__ import annotations

import gettext as _gettext
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from pathlib import Path

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "N_",
    "Translator",
    "_",
    "current_language",
    "language_from_env",
    "ngettext",
    "normalise_language",
    "set_language",
    "translate",
    "translator",
    "use_language",
]

#: The gettext domain of engage_rules' messages.
DOMAIN = "engage_rules"
#: Where the compiled catalogs are: ``<LOCALE_DIR>/<lang>/LC_MESSAGES/engage_rules.mo``.
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
#: The languages the product speaks, by their canonical code.
LANGUAGES: Mapping[str, str] = {"en": "English", "zh_CN": "简体中文"}
DEFAULT_LANGUAGE = "en"


class _State(threading.local):
    """This thread's language (None: the process's); a class attribute as the default,
    so that reading it is cheap (the engine reads it per event: engine/core.py)."""

    language: str | None = None


_state = _State()
_process_language = DEFAULT_LANGUAGE
#: Whether a language other than English was ever chosen in this process (by
#: :func:`set_language` or :func:`use_language`): until then nothing can be in another
#: language, and code on a hot path (the engine, per event) skips asking which it is.
other_language_used = False


def normalise_language(code: str) -> str | None:
    """The canonical code of a language name as users and locales spell it, or None.

    ``zh``, ``zh-CN``, ``zh_CN.UTF-8``, ``zh_Hans``, ``zh-hans-cn``, ``中文`` → ``zh_CN``;
    ``en``, ``en_US.UTF-8``, ``C``, ``POSIX``, ``C.UTF-8`` → ``en``; anything else → None.
    """
    text = code.strip()
    if text in ("中文", "简体中文", "汉语"):
        return "zh_CN"
    base = text.split(".", 1)[0].split("@", 1)[0].replace("-", "_").lower()
    if base in ("c", "posix", "en") or base.startswith("en_"):
        return "en"
    if base == "zh" or base in ("zh_cn", "zh_hans", "zh_hans_cn", "zh_sg"):
        return "zh_CN"
    return None


def language_from_env(environ: Mapping[str, str]) -> str:
    """The language the locale variables ask for, as gettext reads them: the first set
    of ``LANGUAGE`` (a colon-separated list), ``LC_ALL``, ``LC_MESSAGES``, ``LANG``.
    A language the product does not speak falls back to English."""
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(var, "")
        if not value:
            continue
        for item in value.split(":"):
            lang = normalise_language(item)
            if lang is not None:
                return lang
        return DEFAULT_LANGUAGE
    return DEFAULT_LANGUAGE


#: The catalogs of the plugins' translators (domain, locale folder), in the order they
#: were made: a text a plugin marks with its ``_.N_`` and the core shows (a plugin
#: action's description in ``engage-rules plugins``) is looked up there after the core's.
_plugin_catalogs: list[tuple[str, str]] = []


class _Chain(_gettext.NullTranslations):
    """The core's catalog, then each plugin's, for a text the core shows."""

    def __init__(self, catalogs: tuple[_gettext.NullTranslations, ...]) -> None:
        super().__init__()
        self._catalogs = catalogs

    def gettext(self, message: str) -> str:
        for catalog in self._catalogs:
            text = catalog.gettext(message)
            if text != message:
                return text
        return message

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        english = msgid1 if n == 1 else msgid2
        for catalog in self._catalogs:
            text = catalog.ngettext(msgid1, msgid2, n)
            if text != english:
                return text
        return english


def _catalog(lang: str) -> _gettext.NullTranslations:
    if lang == DEFAULT_LANGUAGE or not _plugin_catalogs:
        return _domain_catalog(DOMAIN, str(LOCALE_DIR), lang)
    return _chain(lang, len(_plugin_catalogs))


@cache
def _chain(lang: str, plugins: int) -> _gettext.NullTranslations:
    core = _domain_catalog(DOMAIN, str(LOCALE_DIR), lang)
    others = (_domain_catalog(d, folder, lang) for d, folder in _plugin_catalogs[:plugins])
    return _Chain((core, *others))


@cache
def _domain_catalog(domain: str, localedir: str, lang: str) -> _gettext.NullTranslations:
    if lang == DEFAULT_LANGUAGE:
        return _gettext.NullTranslations()
    try:
        return _gettext.translation(domain, localedir, languages=[lang])
    except OSError:  # a source tree whose catalog was not compiled: speak English
        return _gettext.NullTranslations()


def current_language() -> str:
    """The language messages are made in now (this thread's, else the process's)."""
    lang = _state.language
    return lang if lang is not None else _process_language


def set_language(code: str | None) -> str:
    """Speak ``code`` from now on in this process (None: English); returns the canonical
    code.  Raises ValueError for a language the product does not speak."""
    global _process_language, other_language_used
    lang = DEFAULT_LANGUAGE if code is None else normalise_language(code)
    if lang is None:
        raise ValueError(code)
    _process_language = lang
    if lang != DEFAULT_LANGUAGE:
        other_language_used = True
    return lang


@contextmanager
def use_language(code: str) -> Iterator[str]:
    """Speak ``code`` in this thread inside the ``with`` block (tests, one request)."""
    global other_language_used
    lang = normalise_language(code)
    if lang is None:
        raise ValueError(code)
    if lang != DEFAULT_LANGUAGE:
        other_language_used = True
    previous = _state.language
    _state.language = lang
    try:
        yield lang
    finally:
        _state.language = previous


def _(message: str) -> str:
    """``message`` in the current language (English when it has no translation)."""
    return _catalog(current_language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for ``n``, in the current language."""
    return _catalog(current_language()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark ``message`` for translation without translating it (a constant defined at
    import time, translated with ``_(message)`` where it is shown)."""
    return message


def translate(message: str, language: str | None) -> str:
    """``message`` in ``language`` (a community's language), whatever the current one."""
    lang = normalise_language(language) if language else None
    return _catalog(lang or DEFAULT_LANGUAGE).gettext(message)


class Translator:
    """The ``_`` of a plugin: its own messages, from its own gettext catalog
    (``<localedir>/<lang>/LC_MESSAGES/<domain>.mo``), in the language engage_rules speaks
    now (``--lang``, the locale, :func:`set_language`, :func:`use_language`).

    Call it as ``_("text {name}").format(name=...)``; :meth:`ngettext` for plural forms;
    :meth:`N_` marks a text defined at import time.  A message the catalog lacks (or a
    missing catalog) stays in English.  The core looks up what it shows in the plugins'
    catalogs too, after its own: a plugin action's description marked with ``N_`` is
    shown translated by ``engage-rules plugins``.  Made by :func:`translator`
    (``engage_rules.plugin_api.translator``; docs/plugins.md, "Speaking the operator's
    language")."""

    def __init__(self, domain: str, localedir: str | Path) -> None:
        self.domain = domain
        self.localedir = str(Path(localedir).resolve())
        if (domain, self.localedir) not in _plugin_catalogs:
            _plugin_catalogs.append((domain, self.localedir))

    def _catalog(self) -> _gettext.NullTranslations:
        return _domain_catalog(self.domain, self.localedir, current_language())

    def __call__(self, message: str) -> str:
        """``message`` in the current language (English when it has no translation)."""
        return self._catalog().gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """The singular or plural form for ``n``, in the current language."""
        return self._catalog().ngettext(singular, plural, n)

    @staticmethod
    def N_(message: str) -> str:
        """Mark ``message`` for translation without translating it."""
        return message

    def table(self, texts: Mapping[str, str]) -> Mapping[str, str]:
        """``texts`` (values marked with :meth:`N_`) as a mapping whose values are read
        in the language of the moment: for a table defined at import time and shown
        later, such as an adapter's ``missing_fields``."""
        return TranslatedTable(texts, self)


class TranslatedTable(Mapping[str, str]):
    """A table of texts, each translated by ``translate`` when it is read."""

    def __init__(self, texts: Mapping[str, str], translate: Callable[[str], str]) -> None:
        self._texts = dict(texts)
        self._translate = translate

    def __getitem__(self, key: str) -> str:
        return self._translate(self._texts[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._texts)

    def __len__(self) -> int:
        return len(self._texts)


def translator(domain: str, localedir: str | Path) -> Translator:
    """A plugin's ``_``: its catalog ``domain`` compiled under ``localedir``, following
    the core's current language (see :class:`Translator`)."""
    return Translator(domain, localedir)
