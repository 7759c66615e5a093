"""The words of the playbook JSON Schema in the operator's language (docs/editors.md).

Every title and description of the schema is written once, in English, where the thing
it describes is defined — ``Field(title=N_(...), description=N_(...))`` on the section
models (:mod:`engage_rules.lang.spec`, :mod:`engage_rules.lang.action_params`), the
``title`` and ``description`` of each :class:`~engage_rules.lang.action_params.ActionSpec`
— and translated through the gettext catalog (``i18n/po/zh_CN/editor.po``).

:func:`localise_schema` rewrites them for one language, or for both: an editor shows the
English and the Chinese text together, so one schema file serves every operator of a
team (``engage-rules schema`` without ``--lang``; the committed
``docs/playbook.schema.json``).
"""

from __future__ import annotations

from typing import Any

from ..i18n import normalise_language, translate

#: The keys whose string values are words for people.
TEXT_KEYS = ("title", "description")
#: Keys whose values are data (defaults, examples), not schemas: left as they are.
DATA_KEYS = frozenset({"default", "const", "enum", "examples"})
#: Keys whose values map names to schemas.
NAMED_SCHEMAS = frozenset({"properties", "patternProperties", "$defs"})
#: How the two languages are joined in a bilingual title and description.
TITLE_SEPARATOR = " / "
DESCRIPTION_SEPARATOR = "\n\n"


def schema_language(code: str | None) -> str | None:
    """The canonical code of the language a schema is written in (``en``, ``zh_CN``), or
    None for both.  Raises ValueError for a language the product does not speak."""
    if code is None:
        return None
    lang = normalise_language(code)
    if lang is None:
        raise ValueError(code)
    return lang


def in_language(text: str, language: str | None, separator: str) -> str:
    """``text`` (English) in ``language``; with None, the English and the Chinese text
    joined by ``separator`` (the English alone when it has no translation)."""
    if language is not None:
        return translate(text, language)
    chinese = translate(text, "zh_CN")
    return text if chinese == text else f"{text}{separator}{chinese}"


def localise_schema(schema: Any, language: str | None) -> None:
    """Rewrite, in place, every title and description of ``schema`` (English) in
    ``language`` (a canonical code, or None for both languages)."""
    if isinstance(schema, list):
        for item in schema:
            localise_schema(item, language)
        return
    if not isinstance(schema, dict):
        return
    for key, value in schema.items():
        if key in TEXT_KEYS and isinstance(value, str):
            separator = TITLE_SEPARATOR if key == "title" else DESCRIPTION_SEPARATOR
            schema[key] = in_language(value, language, separator)
        elif key in NAMED_SCHEMAS and isinstance(value, dict):
            # Keys of these mappings are names (a property may be called `title`).
            for child in value.values():
                localise_schema(child, language)
        elif key not in DATA_KEYS:
            localise_schema(value, language)
