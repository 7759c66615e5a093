"""Why an event is quarantined, in words: the English message stored with it, and the same
message in the operator's language when it is printed (docs/reference.md §7, "Language").

A quarantine message is data: it is written to quarantine records, stores and answers in
English, byte for byte the same whatever the language.  Each message is made from one of
the templates below (marked with ``N_()``), so a printer can tell it again in the current
language with :func:`in_words`, which recognises the template an English message was
made from and fills the translated template with the same values.  A message made
otherwise (a library's own words) is shown as it is.
"""

from __future__ import annotations

from ..i18n import N_
from .message_templates import retell

BAD_TIME = N_("`{field}` must be an ISO 8601 time with an offset (Z or ±HH:MM)")
AT_WITHOUT_OFFSET = N_("`at` must carry a UTC offset (Z or ±HH:MM)")
CREATED_WITHOUT_OFFSET = N_("`member.created_at` must carry a UTC offset")
AT_NOT_TEXT = N_("`at` must be an ISO 8601 string with an offset")
TIME_OUT_OF_RANGE = N_("`{field}` {time} is outside the years 1970 through 2200 (UTC)")
BAD_EVENT_TYPE = N_("`type` {type} is not a dotted lower-case name")
RESERVED_COMMUNITY = N_("`community` {community} is reserved (it holds the persons)")
TOO_DEEP = N_("the event nests objects and arrays more than {depth} levels deep")
INTEGER_OUT_OF_RANGE = N_("`{path}` {number} is outside the signed 64-bit integer range")
NOT_FINITE = N_("`{path}` {value} is not a finite number")
FLOAT_TOO_LARGE = N_("a number is too large for a float (such as 1e400)")
LONE_SURROGATE = N_("`{path}`: invalid text (a lone surrogate)")
KEY_NOT_TEXT = N_("`{path}`: object keys must be strings, got {key}")
NOT_JSON_VALUE = N_("`{path}`: a {kind} is not a JSON value")
INVALID_TEXT = N_("invalid text: {reason}")
INVALID_JSON = N_("invalid JSON: {error}")
OVERSIZED = N_("event is {size} bytes; the limit is {limit}")
MISSING_FIELD = N_("missing required field `{field}`")
NOT_OBJECT = N_("an event must be a JSON object")
BEYOND_DEDUP_WINDOW = N_(
    "event {id} is dated {at}, before {horizon}: the store no longer remembers the ids of "
    "events that old (its dedup window), so it cannot tell whether this one was processed; "
    "it is not processed again"
)
FUTURE_DATED = N_(
    "event {id} is dated {at}, {ahead} s ahead of the runtime's clock ({now}); "
    "max_clock_skew is {skew} s"
)
EMPTY_RECORD = N_("the record has no value")
WRONG_KEY = N_(
    "the record's key {key} is not the community of its event ({community}): records are "
    "keyed by community"
)

#: Every template a quarantine message is made from, the longest first (a message is
#: matched against them in this order).
TEMPLATES = sorted(
    (
        BAD_TIME,
        AT_WITHOUT_OFFSET,
        CREATED_WITHOUT_OFFSET,
        AT_NOT_TEXT,
        TIME_OUT_OF_RANGE,
        BAD_EVENT_TYPE,
        RESERVED_COMMUNITY,
        TOO_DEEP,
        INTEGER_OUT_OF_RANGE,
        NOT_FINITE,
        FLOAT_TOO_LARGE,
        LONE_SURROGATE,
        KEY_NOT_TEXT,
        NOT_JSON_VALUE,
        INVALID_TEXT,
        INVALID_JSON,
        OVERSIZED,
        MISSING_FIELD,
        NOT_OBJECT,
        BEYOND_DEDUP_WINDOW,
        FUTURE_DATED,
        EMPTY_RECORD,
        WRONG_KEY,
    ),
    key=len,
    reverse=True,
)


def in_words(message: str) -> str:
    """A quarantine message (English, as stored) in the current language: made from one
    of :data:`TEMPLATES`, it is told with that template translated and the same values;
    otherwise it is returned as it is."""
    told = retell(message, TEMPLATES)
    return message if told is None else told
