"""Allow and deny lists of domains for ``links()`` and ``domains()`` (docs/language.md,
"Detectors").

``domains(text, allow=[...], deny=[...])`` reports the hosts linked from a text that
are denied, or, when an allow list is given, not allowed; ``links(...)`` the same for
whole URLs.  How a host is compared with a list entry:

* hosts and entries are compared in Unicode form: punycode labels (``xn--…``) are
  decoded, then NFKC and case folding apply, and a trailing dot or ``www.`` does not
  matter;
* an entry covers its subdomains: ``example.com`` covers ``cdn.example.com``;
* an **allow** entry matches only that exact domain (and its subdomains): a look-alike
  such as ``ехаmple.com`` (Cyrillic ``е`` and ``а``) or ``examp1e.com`` is *not*
  allowed, so it is reported;
* a **deny** entry also matches the domain's look-alikes: hosts whose *skeleton*
  (letters of other scripts that look Latin read as Latin) is the entry's skeleton;
* deny wins over allow;
* two named groups may be used as entries: ``@shorteners`` (the common URL
  shorteners, whose links hide where they lead: ``bit.ly``, ``t.cn``, ``tinyurl.com``...)
  and ``@lookalikes`` (hosts that mix Latin with Cyrillic or Greek letters within a
  label, or that are written in punycode, which honest links rarely are).
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from .._util.reprs import shown
from ..i18n import _
from .wordmatch import CONFUSABLES

__all__ = ["GROUPS", "SHORTENERS", "DomainList", "domain_list", "host_form", "skeleton"]

#: Common URL shorteners (``@shorteners``).
SHORTENERS = frozenset(
    {
        "bit.ly",
        "bitly.com",
        "t.co",
        "tinyurl.com",
        "goo.gl",
        "ow.ly",
        "is.gd",
        "v.gd",
        "buff.ly",
        "rebrand.ly",
        "cutt.ly",
        "t.ly",
        "rb.gy",
        "shorturl.at",
        "tiny.cc",
        "tiny.one",
        "s.id",
        "soo.gd",
        "clck.ru",
        "qr.ae",
        "lnkd.in",
        "surl.li",
        "shorturl.asia",
        "t.cn",
        "url.cn",
        "dwz.cn",
        "suo.im",
        "mrw.so",
        "sohu.gg",
        "6du.in",
        "u.nu",
        "x.co",
        "bl.ink",
        "short.io",
        "shorte.st",
        "adf.ly",
        "bc.vc",
        "ouo.io",
        "linktr.ee",
    }
)
#: The named groups a list may include.
GROUPS = ("@shorteners", "@lookalikes")
#: Most entries one list may hold.
MAX_ENTRIES = 100_000

_LATIN = re.compile(r"[a-z]")
_OTHER_LOOKALIKE = re.compile("[\u0370-\u03ff\u0400-\u052f]")  # Greek, Cyrillic


@lru_cache(maxsize=1024)
def host_form(host: str) -> str:
    """A host name in the form lists compare: punycode decoded, NFKC, case folded,
    without a trailing dot or a leading ``www.``."""
    host = host.strip().rstrip(".")
    if "xn--" in host.lower():
        labels = []
        for label in host.split("."):
            if label.lower().startswith("xn--"):
                with contextlib.suppress(UnicodeError, ValueError):
                    label = label.encode("ascii").decode("idna")
            labels.append(label)
        host = ".".join(labels)
    host = unicodedata.normalize("NFKC", host).casefold()
    return host[4:] if host.startswith("www.") else host


@lru_cache(maxsize=1024)
def skeleton(host: str) -> str:
    """``host_form(host)`` with look-alike letters read as the Latin letters they imitate."""
    return host_form(host).translate(CONFUSABLES)


def is_lookalike(host: str) -> bool:
    """A host written in punycode, or with a label mixing Latin and Cyrillic or Greek."""
    if "xn--" in host.lower():
        return True
    form = host_form(host)
    return any(_LATIN.search(label) and _OTHER_LOOKALIKE.search(label) for label in form.split("."))


def _suffixes(host: str) -> Iterable[str]:
    """``a.b.example.com`` → ``a.b.example.com``, ``b.example.com``, ``example.com``, ``com``."""
    parts = host.split(".")
    for i in range(len(parts)):
        yield ".".join(parts[i:])


class DomainList:
    """A compiled allow list and deny list: :meth:`reports` says whether a host is to
    be reported (denied, or not allowed)."""

    __slots__ = (
        "allow",
        "allow_lookalikes",
        "allow_shorteners",
        "deny",
        "deny_lookalikes",
        "deny_shorteners",
    )

    def __init__(self, allow: Iterable[str] | None, deny: Iterable[str] | None) -> None:
        self.allow: frozenset[str] | None = None
        self.allow_shorteners = self.allow_lookalikes = False
        if allow is not None:
            entries, self.allow_shorteners, self.allow_lookalikes = _entries(allow, "allow")
            self.allow = frozenset(host_form(e) for e in entries)
        self.deny: frozenset[str] = frozenset()
        self.deny_shorteners = self.deny_lookalikes = False
        if deny is not None:
            entries, self.deny_shorteners, self.deny_lookalikes = _entries(deny, "deny")
            self.deny = frozenset(skeleton(e) for e in entries)

    def denied(self, host: str) -> bool:
        if self.deny_shorteners and host_form(host) in SHORTENERS:
            return True
        if self.deny_lookalikes and is_lookalike(host):
            return True
        return bool(self.deny) and any(s in self.deny for s in _suffixes(skeleton(host)))

    def allowed(self, host: str) -> bool:
        if self.allow is None:
            return True
        form = host_form(host)
        if self.allow_shorteners and form in SHORTENERS:
            return True
        if self.allow_lookalikes and is_lookalike(host):
            return True
        return any(s in self.allow for s in _suffixes(form))

    def reports(self, host: str) -> bool:
        """True when ``host`` is denied, or an allow list is given and it is not on it."""
        return self.denied(host) or not self.allowed(host)


def _entries(items: Iterable[str], what: str) -> tuple[list[str], bool, bool]:
    if isinstance(items, str):
        items = [items]
    entries: list[str] = []
    shorteners = lookalikes = False
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise ValueError(
                _("the {what} list must hold domain names, got {got}").format(
                    what=what, got=shown(item)
                )
            )
        item = item.strip()
        if item.startswith("@"):
            if item == "@shorteners":
                shorteners = True
            elif item == "@lookalikes":
                lookalikes = True
            else:
                raise ValueError(
                    _(
                        "unknown domain group {item!r} in the {what} list; the groups are {names}"
                    ).format(item=item, what=what, names=", ".join(GROUPS))
                )
            continue
        if "/" in item or " " in item:
            raise ValueError(
                _(
                    "{item!r} in the {what} list is not a domain name (write `example.com`, "
                    "without `https://` or a path)"
                ).format(item=item, what=what)
            )
        entries.append(item)
        if len(entries) > MAX_ENTRIES:
            raise ValueError(
                _("the {what} list holds more than {limit:,} domains").format(
                    what=what, limit=MAX_ENTRIES
                )
            )
    return entries, shorteners, lookalikes


def domain_list(allow: tuple[Any, ...] | None, deny: tuple[Any, ...] | None) -> DomainList:
    """A cached :class:`DomainList`; ValueError when an entry is not a domain name."""
    for items, what in ((allow, "allow"), (deny, "deny")):
        for item in items or ():
            if not isinstance(item, str):  # (a list or mapping could not even be cached)
                raise ValueError(
                    _("the {what} list must hold domain names, got {got}").format(
                        what=what, got=shown(item)
                    )
                )
    return _domain_list(allow, deny)


@lru_cache(maxsize=128)
def _domain_list(allow: tuple[str, ...] | None, deny: tuple[str, ...] | None) -> DomainList:
    return DomainList(allow, deny)
