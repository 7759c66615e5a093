"""Why a rule failed, in words: the English message stored with a rule error, and the same
message in the operator's language when it is printed (docs/reference.md §7, "Language").

A rule error (:class:`~engage_rules.model.decision.RuleFailure`) is data: its message is
written to stores, decisions and JSON answers in English, byte for byte the same whatever
the language.  The messages the product makes come from the templates below (marked with
``N_()``); the places that fail an action or an expression fill them in English with
:func:`english`.  A printer tells a stored message again in the current language with
:func:`in_words`: it recognises the template the message (or the end of it, after the
``award: `` or ``levels.by: `` that names where it failed) was made from, and fills the
translated template with the same values.  A message made otherwise (a library's own
words, a playbook's text) is shown as it is.
"""

from __future__ import annotations

from typing import Any

from ..i18n import N_
from .message_templates import retell

# -- values an action could not store (model/storable.py) --------------------------------
VALUE_TOO_DEEP = N_("`{path}`: the value nests lists and mappings more than {depth} levels deep")
VALUE_INTEGER_OUT_OF_RANGE = N_("`{path}`: {number} is outside the signed 64-bit integer range")
VALUE_NOT_FINITE = N_("`{path}`: {value} is not a finite number")
VALUE_LONE_SURROGATE = N_("`{path}`: the text is not valid Unicode (a lone surrogate)")
VALUE_BAD_KEY = N_("`{path}`: a {kind} cannot be a key")
VALUE_CANNOT_STORE = N_("`{path}`: cannot store a {kind}")

# -- whom an action is for (engine/scope.py, points, tags, platform...) -------------------
TO_NOT_A_MEMBER = N_("`to:` must be a member id, got {kind}")
NEEDS_A_MEMBER = N_("`{action}` needs a member: the event has none; give `to:`")
NEEDS_A_MESSAGE = N_(
    "`{action}` needs a message: the event has no data.message_id; give `message:`"
)
NEEDS_A_POST = N_("`tag_post` needs a post: the event concerns no followed post")
PERSONS_NOT_A_GROUP = N_("`community: {persons}` is not a group: it holds the persons")

# -- amounts (features/points.py) ---------------------------------------------------------
AMOUNT_NOT_A_NUMBER_TEXT = N_("amount {raw!r} is not a number")
AMOUNT_NOT_A_NUMBER = N_("amount must be a number, got {type}")
AMOUNT_NOT_FINITE = N_("amount must be a finite number, got {raw}")
AMOUNT_NOT_WHOLE = N_("amount must be a whole number, got {raw}")
AMOUNT_NEGATIVE = N_("amount must not be negative, got {amount}")
AMOUNT_TOO_LARGE = N_("amount {too_big} is larger than the limit of {limit}")
EARNED_LIMIT = N_(
    "{member} has earned {earned} {currency}; {amount} more would pass the limit of {limit}"
)

# -- the other actions ---------------------------------------------------------------------
LOTTERY_STOCK_BELOW_ZERO = N_("lottery stock would go below zero")
FLOW_STEP_GONE = N_("step {step} no longer exists in the flow")
FLOWS_TOO_DEEP = N_("flows started each other more than {depth} levels deep")
UNKNOWN_DRAW = N_("unknown draw {draw}")
WEIGHT_NOT_WHOLE = N_("weight must be a whole number, got {weight}")
WEIGHT_OUT_OF_RANGE = N_("weight must be a whole number from 1 to {most}, got {weight}")
TAG_NAME_EMPTY = N_("tag name is empty")
POST_TAGS_LIMIT = N_("a post has at most {most} tags")
TAG_NOT_A_NAME = N_('tag name {name} is not a name (docs/language.md, "Names")')
NO_LEVELS_SECTION = N_("the playbook has no `levels:` section")
NOT_A_LEVEL_NUMBER = N_("set_level: {value} is not a level number")
NOT_ON_THE_LADDER = N_("set_level: {level} is not a level of the ladder ({levels})")
LEVELS_BY_NOT_A_NUMBER = N_("levels.by: {source} must give a number, got {kind}")
ROLE_EMPTY = N_("`{action}`: the role is empty")
POLL_QUESTION_LENGTH = N_("`poll`: the question must have 1 to 300 characters")
POLL_OPTIONS = N_("`poll`: each option needs 1 to 55 characters, and they must differ")
EMIT_DATA_NOT_MAPPING = N_("emit data must be a mapping")
AUDIENCE_FAILED = N_("audience {audience} for member {member}: {error}")

# -- moderators' commands (features/moderation/moderator_events.py) ------------------------
NOT_A_MODERATOR = N_(
    "{type} sent by {who}, who is not a moderator (moderation.moderators): ignored"
)
NO_MEMBER_NOT_A_MODERATOR = N_(
    "{type} sent by no member, who is not a moderator (moderation.moderators): ignored"
)
NEEDS_TARGET_MEMBER = N_("{type} needs data.member, the id of the member")

# -- loops the engine stops (engine/core.py) -----------------------------------------------
MEMBER_CHECKS_LOOP = N_(
    "member checks kept raising events; level or badge rules are triggering each other in a loop"
)
INTERNAL_EVENTS_LOOP = N_(
    "internal event {type} nested deeper than {hops} hops; rules that emit events are "
    "triggering each other in a loop"
)

# -- functions of expressions (expr/) ------------------------------------------------------
WINDOW_NOT_A_DURATION = N_("a window must be a duration such as '7d', got {value}")
UNIT_NEEDS_A_NUMBER = N_("{unit}() needs a number, got {kind}")
UNIT_OUT_OF_RANGE = N_("{unit}({n}) is out of range")
UNKNOWN_SEGMENT = N_("segment(): unknown segment {name}")
PATTERNS_NOT_TEXT = N_("matches(): the patterns must be strings")
DOMAIN_LIST = N_("a domain list must be a list of domain names, got {value}")
UNKNOWN_CLASSIFIER = N_("score(): no classifier named {name} is registered")
LABEL_NOT_TEXT = N_("score(): the label must be a string, got {value}")
UNKNOWN_EXPERIMENT = N_("variant(): unknown experiment {name}")
VARIANT_WITHOUT_MEMBER = N_("variant(): the event has no member")
UNKNOWN_TEMPLATE = N_("unknown template {name}")
CHANNEL_NOT_A_NAME = N_("`channel` must be a channel name, got {value}")
PATTERN_NOT_TEXT = N_("matches(): the pattern must be a string or a list of them, got {kind}")
CLASSIFIER_FAILED = N_("score(): classifier {name} failed: {error}")
CLASSIFIER_OUT_OF_RANGE = N_("score(): classifier {name} returned {value}, not a number in [0, 1]")

#: The run-time errors of expressions that expr/runtime.py makes with ``_()`` where it
#: raises them: the engine decides in English (engine/core.py), so what it stores is the
#: English text; validation, which may raise them too, prints them translated already.
#: The same msgids, listed here so that a stored message is told again
#: (tests/test_rule_problems.py checks that expr/runtime.py still marks each).
EXPRESSION_TEMPLATES = (
    N_("a string of {size} characters is longer than the limit of {limit}"),
    N_("a list of {size} items is longer than the limit of {limit}"),
    N_("a number larger than {limit} bits"),
    N_("`loop` cannot be printed; print one of its fields, e.g. `loop.index`"),
    N_(
        "a function or method cannot be printed or used as a value; call it, "
        "e.g. `count('checkin')` or `name.upper()`"
    ),
    N_("a value of type {type} cannot be printed"),
    N_("a value nested more than {limit} levels deep"),
    N_("unsupported format conversion {group!r}"),
    N_("format widths and precisions are limited to {limit}"),
    N_("range() needs whole numbers, got {type}"),
    N_("range() arg 3 must not be zero"),
    N_("range() of more than {limit} items"),
    N_("access to attribute {name!r} is not allowed"),
    N_("access to attribute {key!r} is not allowed"),
    N_("a {type} cannot be sliced"),
    N_("the characters to strip must be text, got {type}"),
    N_("trim and strip() take at most {limit} characters to remove, got {n}"),
    N_("strftime() takes a text format, got {type}"),
    N_("strftime() formats are limited to {limit} characters"),
    N_("strftime(): unsupported directive {shown!r} (the directives are {all})"),
    N_("timestamp() needs a date-time with a time zone"),
    N_("a {type} value has no method {name}()"),
    N_("attribute= takes a key such as 'name' or 'user.name', got {type}"),
    N_("attribute= paths are limited to {limit} keys"),
    N_("the base of `int` is 0 or from 2 to 36, got {got}"),
    N_("sum() adds numbers, got {type}"),
    N_("truncate() needs length >= {n} and leeway >= 0"),
    N_("the precision of `round` must be a whole number, got {type}"),
    N_("the precision of `round` is {precision}, beyond the limit of ±{limit} digits"),
    N_("the method of `round` is common, ceil or floor, got {got}"),
    N_("`round` needs a number, got {type}"),
    N_("the {what} of `truncate` must be a whole number >= 0, got {got}"),
    N_("the count of `replace` must be a whole number, got {got}"),
    N_("the `{name}` filter has no parameter `{key}` (its parameters: {known})"),
    N_("the `{name}` filter got `{key}` twice"),
)

#: Amounts in a currency with decimals (features/currencies.py's ``to_minor``, made with
#: ``_()`` there, in English while the engine decides), as an `award` or `spend` fails.
CURRENCY_TEMPLATES = (
    N_("amount {raw!r} is not a finite number"),
    N_("amount {raw} has more than {places} decimal places"),
)

#: Where the templates made with ``_()`` are marked (a path relative to the
#: package): a test checks that each is still marked there.
MARKED_WHERE_MADE = {
    "expr/runtime.py": EXPRESSION_TEMPLATES,
    "features/currencies.py": CURRENCY_TEMPLATES,
}

#: Every template a rule error's message is made from, the longest first (a message is
#: matched against them in this order).
TEMPLATES: list[str] = sorted(
    {
        *(
            value
            for name, value in dict(globals()).items()
            if name.isupper() and isinstance(value, str)
        ),
        *EXPRESSION_TEMPLATES,
        *CURRENCY_TEMPLATES,
    },
    key=len,
    reverse=True,
)

#: Values that are themselves a message (``{error}``): told in words too.
_NESTED = frozenset({"error"})


def english(template: str, **values: Any) -> str:
    """The message ``template`` (one of :data:`TEMPLATES`) makes with ``values``, in
    English whatever the language: what is stored."""
    return template.format(**values)


def _nested(name: str, value: str) -> str:
    return in_words(value) if name in _NESTED else value


def _whole(message: str) -> str | None:
    return retell(message, TEMPLATES, _nested)


def in_words(message: str) -> str:
    """A rule error's message (English, as stored) in the current language.

    The message, or what follows one of its ``: `` (the prefix naming the action or the
    expression that failed stays as it is), made from one of :data:`TEMPLATES` is told
    with that template translated and the same values; otherwise the message is returned
    as it is."""
    at = 0
    while True:
        told = _whole(message[at:])
        if told is not None:
            return message[:at] + told
        at = message.find(": ", at)
        if at < 0:
            return message
        at += 2
