"""``postgresql://`` store URLs: the libpq URL, the schema the store lives in, and how the
URL is shown in messages (without its password).

Any libpq connection URL works (``postgresql://USER:PASSWORD@HOST:PORT/DB?sslmode=...``,
also ``postgres://``); the one parameter libpq does not know, ``schema=NAME``, picks the
schema (default ``engage_rules``) and is removed before the URL reaches libpq.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..errors import StoreError

DEFAULT_SCHEMA = "engage_rules"

#: Schema names the store accepts: plain identifiers (no quoting needed anywhere), not
#: PostgreSQL's reserved ``pg_`` prefix.
_SCHEMA_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")

SCHEMES = ("postgresql", "postgres")


@dataclass(frozen=True, slots=True)
class PostgresURL:
    """A parsed store URL."""

    #: What libpq connects with (the URL without ``schema``).
    conninfo: str
    schema: str
    #: The URL as messages show it: the password replaced by ``***``.
    shown: str


def parse_url(url: str) -> PostgresURL:
    """Split a ``postgresql://`` store URL, or raise StoreError saying what is wrong."""
    try:
        parts = urlsplit(url.strip())
        query = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=False)
        password, _ = parts.password, parts.port  # (a port that is no number: ValueError)
    except ValueError as err:
        raise StoreError(f"invalid store URL {_hide(url)!r}: {err}") from None
    if parts.scheme.lower() not in SCHEMES or not url.strip()[len(parts.scheme) :].startswith(
        "://"
    ):
        raise StoreError(
            f"invalid store URL {_hide(url)!r}: write postgresql://USER@HOST[:PORT]/DATABASE"
            "[?schema=NAME]"
        )
    schemas = [value for key, value in query if key == "schema"]
    if len(schemas) > 1:
        raise StoreError(f"invalid store URL {_hide(url)!r}: `schema` is given more than once")
    schema = schemas[0] if schemas else DEFAULT_SCHEMA
    if not _SCHEMA_RE.fullmatch(schema) or schema.lower().startswith("pg_"):
        raise StoreError(
            f"invalid store URL {_hide(url)!r}: schema {schema!r} is not a plain name "
            "(letters, digits and _, not starting with a digit or pg_, at most 63)"
        )
    rest = urlencode([(key, value) for key, value in query if key != "schema"])
    conninfo = urlunsplit((parts.scheme, parts.netloc, parts.path, rest, parts.fragment))
    shown = _hide(conninfo) if password is not None else conninfo
    if schemas:
        shown += ("&" if rest else "?") + f"schema={schema}"
    return PostgresURL(conninfo, schema, shown)


def _hide(url: str) -> str:
    """``url`` with the password of its user info replaced by ``***``."""
    return re.sub(r"^([A-Za-z+]+://[^:/@?#]*):[^@/?#]*@", r"\1:***@", url.strip())
