"""Webhook signatures, shared by the webhook source (verify) and adapter (sign).

A signed request carries::

    X-Engage-Timestamp: <unix seconds>
    X-Engage-Delivery:  <unique id of this delivery>
    X-Engage-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">

with the shared secret as the HMAC key.  The timestamp is inside the signed text, so a
captured request cannot be re-dated; the receiver rejects timestamps outside its window
and delivery ids it has already seen.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Engage-Signature"
TIMESTAMP_HEADER = "X-Engage-Timestamp"
DELIVERY_HEADER = "X-Engage-Delivery"
SCHEME = "sha256="


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """The ``X-Engage-Signature`` value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return SCHEME + mac.hexdigest()


def signature_matches(secret: bytes, timestamp: str, body: bytes, header: str) -> bool:
    """True if ``header`` is the right signature (constant-time comparison)."""
    if not header.startswith(SCHEME):
        return False
    try:
        expected = signature(secret, timestamp, body)
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(expected.encode("ascii"), header.strip().encode("ascii", "replace"))
