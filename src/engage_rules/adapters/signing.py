"""Webhook signatures, shared by the webhook source (verify) and adapter (sign).

A signed request carries::

    X-Engage-Timestamp: <unix seconds>
    X-Engage-Delivery:  <unique id of this delivery>
    X-Engage-Signature: v2=<hex HMAC-SHA256 of "v2\\n<timestamp>\\n<delivery>\\n<raw body>">

with the shared secret as the HMAC key.  The timestamp and the delivery id are inside
the signed text, so a captured request can be neither re-dated nor sent again under a
fresh delivery id; the receiver rejects timestamps outside its window and delivery ids
it has already seen.  Header values cannot hold a newline, so the signed text splits
one way only, and its ``v2`` line keeps it apart from legacy signed texts.

The legacy scheme (version 1) signs only ``"<timestamp>.<raw body>"``::

    X-Engage-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">

Its delivery id is not signed, so the webhook source deduplicates a legacy request by
its signature instead (docs/running.md, "Signatures").
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Literal

SIGNATURE_HEADER = "X-Engage-Signature"
TIMESTAMP_HEADER = "X-Engage-Timestamp"
DELIVERY_HEADER = "X-Engage-Delivery"
#: The prefix of a version 2 signature (timestamp, delivery id and body signed).
SCHEME_V2 = "v2="
#: The prefix of a legacy (version 1) signature (timestamp and body signed).
SCHEME_V1 = "sha256="

Version = Literal["v2", "v1"]


def sign(secret: bytes, timestamp: str, delivery: str, body: bytes) -> str:
    """The ``X-Engage-Signature`` value (version 2) for ``body`` sent at ``timestamp`` as
    delivery ``delivery``.  Both must be ASCII (they travel in HTTP headers)."""
    text = b"v2\n" + timestamp.encode("ascii") + b"\n" + delivery.encode("ascii") + b"\n"
    return SCHEME_V2 + hmac.new(secret, text + body, hashlib.sha256).hexdigest()


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """The legacy (version 1) ``X-Engage-Signature`` value for ``body`` sent at
    ``timestamp``: it does not cover the delivery id; prefer :func:`sign`."""
    mac = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return SCHEME_V1 + mac.hexdigest()


def verify(
    secret: bytes, timestamp: str, delivery: str, body: bytes, header: str
) -> Version | None:
    """Which scheme ``header`` is a right signature in (constant-time comparison), or
    None when it is not one."""
    header = header.strip()
    version: Version
    try:
        given = header.encode("ascii")
        if header.startswith(SCHEME_V2):
            version, expected = "v2", sign(secret, timestamp, delivery, body)
        elif header.startswith(SCHEME_V1):
            version, expected = "v1", signature(secret, timestamp, body)
        else:
            return None
    except UnicodeEncodeError:
        return None
    return version if hmac.compare_digest(expected.encode("ascii"), given) else None


def signature_matches(secret: bytes, timestamp: str, body: bytes, header: str) -> bool:
    """True if ``header`` is the right legacy (version 1) signature."""
    if not header.strip().startswith(SCHEME_V1):
        return False
    return verify(secret, timestamp, "", body, header) == "v1"
