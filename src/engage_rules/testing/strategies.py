"""Hypothesis strategies for property tests of playbooks, events, adapters and stores.

Import this module explicitly (``from engage_rules.testing import strategies as est``):
``import engage_rules.testing`` alone does not import hypothesis, which the ``testing``
extra installs (``pip install 'engage-rules[testing]'``).

* identities and kinds: :func:`member_ids`, :func:`event_types`;
* JSON data: :func:`valid_text`, :func:`int64s`, :func:`json_scalars`,
  :func:`json_values`, :func:`json_objects` — tuned per test by their arguments (the
  integers, floats and text a scalar may be; the sizes of containers);
* times: :func:`instants`, :func:`iso_times`, :func:`arrival_times` (seconds after
  :data:`~engage_rules.testing.T0` at which a log's events arrive, late ones included),
  :func:`durations` (a playbook duration and its length in seconds);
* events: :func:`event_objs` (well-formed event objects, docs/reference.md §3),
  :func:`malformed_event_objs` (event-shaped objects with any value in any field),
  :func:`events` (parsed events);
* actions: :func:`damaged_actions` (actions whose parameters, member and community are
  anything, for an adapter's ``plan``/``deliver``);
* platform payloads: :func:`damaged_payloads` (recorded payloads with fields deleted or
  replaced by any JSON value anywhere in the tree, for an adapter's ``parse``);
* playbook fragments: :func:`odd_values` (values a playbook loader must survive),
  :func:`yaml_nodes`, :func:`yaml_documents` and :func:`mutated_documents`;
* :func:`mostly` — one strategy most of the time, another otherwise.

Every strategy here draws bounded values; bound the test too
(``@settings(max_examples=..., deadline=None)``).
"""

from __future__ import annotations

import copy
import string
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any, NamedTuple, TypeGuard, TypeVar

import yaml
from hypothesis import assume
from hypothesis import strategies as st

from ..model.events import MAX_INT, MIN_INT, Event, EventError, event_from_obj
from .builders import DEFAULT_PARAMS

T = TypeVar("T")

#: The members property tests usually draw from: few, so that they meet.
MEMBERS = ("u1", "u2", "u3")
#: Event types the built-in features react to (docs/reference.md §3.2) and one custom.
EVENT_TYPES = (
    "member.joined",
    "member.left",
    "message.posted",
    "message.deleted",
    "reaction.added",
    "checkin",
    "referral.completed",
    "redeem.requested",
    "custom.thing",
)
#: The action types of the built-in actions an adapter may be asked to deliver.
ACTION_TYPES = tuple(DEFAULT_PARAMS)
#: Parameters of platform actions (docs/reference.md §6.1) that adapters read.
ACTION_PARAMS = ("text", "channel", "reply_to", "message_id", "until", "for", "reason")


def mostly(usual: st.SearchStrategy[T], other: st.SearchStrategy[T], tenths: int = 7) -> Any:
    """``usual`` about ``tenths`` times in ten, else ``other`` (so that most examples get
    past a target's early checks and exercise the deeper ones)."""
    return st.integers(0, 9).flatmap(lambda n: usual if n < tenths else other)


# -- identities ----------------------------------------------------------------------------


def member_ids(members: Sequence[str] = MEMBERS) -> st.SearchStrategy[str]:
    """One of a few member ids (default :data:`MEMBERS`)."""
    return st.sampled_from(list(members))


def event_types(types: Sequence[str] = EVENT_TYPES) -> st.SearchStrategy[str]:
    """One of ``types`` (default :data:`EVENT_TYPES`)."""
    return st.sampled_from(list(types))


# -- JSON data -------------------------------------------------------------------------------


def valid_text(max_size: int = 12, *, min_size: int = 0) -> st.SearchStrategy[str]:
    """Any text an event or a store may hold: valid Unicode (no lone surrogate)."""
    return st.text(st.characters(codec="utf-8"), min_size=min_size, max_size=max_size)


def int64s(*, beyond: bool = False) -> st.SearchStrategy[int]:
    """64-bit integers (the range events and stores keep); with ``beyond``, sometimes
    just outside it or far beyond."""
    inside = st.integers(min_value=MIN_INT, max_value=MAX_INT)
    if not beyond:
        return inside
    return st.one_of(inside, st.sampled_from([MAX_INT, MIN_INT, MAX_INT + 1, -(2**64), 10**30]))


def json_scalars(
    *,
    integers: st.SearchStrategy[int] | None = None,
    floats: st.SearchStrategy[float] | None = None,
    text: st.SearchStrategy[str] | None = None,
    extra: st.SearchStrategy[Any] | None = None,
) -> st.SearchStrategy[Any]:
    """``None``, booleans, ``integers`` (default any), ``floats`` (default any, NaN and
    infinities included), ``text`` (default up to 20 characters) and ``extra`` values."""
    parts: list[st.SearchStrategy[Any]] = [
        st.none(),
        st.booleans(),
        integers if integers is not None else st.integers(),
        floats if floats is not None else st.floats(),
        text if text is not None else st.text(max_size=20),
    ]
    if extra is not None:
        parts.append(extra)
    return st.one_of(*parts)


def json_values(
    scalars: st.SearchStrategy[Any] | None = None,
    *,
    keys: st.SearchStrategy[str] | None = None,
    max_size: int = 4,
    max_leaves: int = 12,
) -> st.SearchStrategy[Any]:
    """JSON documents: ``scalars`` (default :func:`json_scalars`) nested in lists and
    objects of at most ``max_size`` items, keyed by ``keys`` (default text up to 8
    characters), with at most ``max_leaves`` scalars in all."""
    leaf = scalars if scalars is not None else json_scalars()
    key = keys if keys is not None else st.text(max_size=8)
    return st.recursive(
        leaf,
        lambda inner: (
            st.lists(inner, max_size=max_size) | st.dictionaries(key, inner, max_size=max_size)
        ),
        max_leaves=max_leaves,
    )


def json_objects(
    keys: Sequence[str] | st.SearchStrategy[str],
    values: st.SearchStrategy[Any] | None = None,
    *,
    max_size: int = 8,
) -> st.SearchStrategy[dict[str, Any]]:
    """Objects whose keys are drawn from ``keys`` (a platform payload's field names,
    say) and whose values are anything (default :func:`json_values`)."""
    key = keys if isinstance(keys, st.SearchStrategy) else st.sampled_from(list(keys))
    return st.dictionaries(key, values if values is not None else json_values(), max_size=max_size)


# -- times ---------------------------------------------------------------------------------


def instants(
    min_value: datetime = datetime(1970, 1, 2),
    max_value: datetime = datetime(2200, 12, 30),
    zones: Sequence[tzinfo] = (UTC,),
) -> st.SearchStrategy[datetime]:
    """Aware datetimes between two naive bounds (default: the window events may be
    dated in, a day inside each end) in one of ``zones``."""
    return st.datetimes(
        min_value=min_value, max_value=max_value, timezones=st.sampled_from(list(zones))
    )


def iso_times(
    min_value: datetime = datetime(1970, 1, 2),
    max_value: datetime = datetime(2200, 12, 30),
    zones: Sequence[tzinfo] = (UTC,),
) -> st.SearchStrategy[str]:
    """:func:`instants` as ISO 8601 strings with an offset."""
    return instants(min_value, max_value, zones).map(datetime.isoformat)


def arrival_times(
    steps: Sequence[int] | st.SearchStrategy[int],
    *,
    late: Sequence[int] = (0,),
    min_size: int = 1,
    max_size: int = 40,
    floor: int | None = None,
) -> st.SearchStrategy[list[int]]:
    """When a log's events arrive, in seconds after :data:`~engage_rules.testing.T0`:
    a clock moves on by a step (one of ``steps``) before each event, which is dated that
    much less one of ``late`` (so some arrive late), and no earlier than ``floor``."""
    step = steps if isinstance(steps, st.SearchStrategy) else st.sampled_from(list(steps))

    @st.composite
    def build(draw: st.DrawFn) -> list[int]:
        clock, out = 0, []
        for _ in range(draw(st.integers(min_size, max_size))):
            clock += draw(step)
            when = clock - draw(st.sampled_from(list(late)))
            out.append(when if floor is None else max(when, floor))
        return out

    return build()


class Duration(NamedTuple):
    """A playbook duration (``"90m"``) and its length in seconds."""

    text: str
    seconds: int


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def durations(
    units: str = "smhdw", *, min_count: int = 1, max_count: int = 72
) -> st.SearchStrategy[Duration]:
    """A duration as playbooks write it (docs/language.md, "Durations"): a count from
    ``min_count`` to ``max_count`` of one of ``units`` (``s m h d w``)."""
    return st.builds(
        lambda n, unit: Duration(f"{n}{unit}", n * _UNITS[unit]),
        st.integers(min_count, max_count),
        st.sampled_from(list(units)),
    )


# -- events --------------------------------------------------------------------------------


def event_objs(
    *,
    ids: st.SearchStrategy[str] | None = None,
    types: st.SearchStrategy[str] | None = None,
    times: st.SearchStrategy[str] | None = None,
    member_ids: st.SearchStrategy[str] | None = None,
    texts: st.SearchStrategy[str] | None = None,
    data: st.SearchStrategy[Any] | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    """Well-formed event objects (docs/reference.md §3): an id, a type, a time, maybe a
    member (maybe with ``created_at`` and roles) and maybe data — each part from the
    given strategy (defaults: short ids, :data:`EVENT_TYPES`, :func:`iso_times`, short
    member ids, :func:`valid_text` roles and keys, and JSON values inside the bounds)."""
    ids = ids if ids is not None else st.text(min_size=1, max_size=8)
    types = types if types is not None else event_types()
    times = times if times is not None else iso_times()
    who = member_ids if member_ids is not None else st.text(min_size=1, max_size=6)
    text = texts if texts is not None else valid_text(10)
    values = (
        data
        if data is not None
        else json_values(
            json_scalars(
                integers=int64s(),
                floats=st.floats(allow_nan=False, allow_infinity=False),
                text=text,
            ),
            keys=text,
            max_size=3,
            max_leaves=8,
        )
    )

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        out: dict[str, Any] = {"id": draw(ids), "type": draw(types), "at": draw(times)}
        if draw(st.booleans()):
            member: dict[str, Any] = {"id": draw(who)}
            if draw(st.booleans()):
                member["created_at"] = draw(times)
            if draw(st.booleans()):
                member["roles"] = draw(st.lists(text, max_size=2))
            out["member"] = member
        if draw(st.booleans()):
            out["data"] = draw(st.dictionaries(text, values, max_size=4))
        return out

    return build()


def malformed_event_objs(
    values: st.SearchStrategy[Any] | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    """Event-shaped objects gone wrong: any of the envelope's fields, each either
    plausible or any JSON value (default :func:`json_values`), times valid, naive or
    nonsense; ``internal`` and ``depth`` (which input may not claim) included."""
    anything = values if values is not None else json_values()
    times = st.one_of(
        st.datetimes(timezones=st.sampled_from([UTC, None])).map(datetime.isoformat),
        st.text(max_size=30),
        anything,
    )
    fields = {
        "id": st.one_of(st.text(max_size=10), anything),
        "type": st.one_of(
            st.sampled_from(["message.posted", "checkin", "Bad Type", ""]),
            st.text(max_size=12),
            anything,
        ),
        "at": times,
        "community": st.one_of(st.text(max_size=8), anything),
        "member": st.one_of(
            st.fixed_dictionaries(
                {},
                optional={
                    "id": st.one_of(st.text(max_size=8), anything),
                    "name": anything,
                    "roles": anything,
                    "created_at": times,
                },
            ),
            anything,
        ),
        "data": anything,
        "internal": anything,
        "depth": anything,
    }
    return st.fixed_dictionaries({}, optional=fields)


def events(**kw: Any) -> st.SearchStrategy[Event]:
    """Parsed events: :func:`event_objs` (arguments as there) that validate."""

    def parse(obj: dict[str, Any]) -> Event | None:
        try:
            return event_from_obj(obj)
        except EventError:
            return None

    return event_objs(**kw).map(parse).filter(_is_event)


def _is_event(value: Event | None) -> TypeGuard[Event]:
    return value is not None


# -- actions -------------------------------------------------------------------------------


def damaged_actions(
    *,
    types: Sequence[str] = ACTION_TYPES,
    communities: Sequence[str] = ("default",),
    params: Sequence[str] = ACTION_PARAMS,
    samples: Sequence[Any] = (),
) -> st.SearchStrategy[dict[str, Any]]:
    """Actions ``{type, params, member, community}`` of one of ``types`` whose params
    (an object with some of ``params``, or not an object at all) and member are any
    scalar or one of ``samples`` (ids, times, names the adapter knows): what an
    adapter's planning must either turn into calls or refuse permanently."""
    scalars = json_scalars(text=st.text(max_size=10))
    if samples:
        scalars = scalars | st.sampled_from(list(samples))
    return st.fixed_dictionaries(
        {
            "type": st.sampled_from(list(types)),
            "params": st.dictionaries(st.sampled_from(list(params)), scalars, max_size=7) | scalars,
            "member": scalars,
            "community": st.sampled_from(list(communities)),
        }
    )


# -- playbook fragments ---------------------------------------------------------------------

_ODD_TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=30)
#: Scalars a playbook loader meets in the wild and must report, not crash on.
ODD_SCALAR_SAMPLES = (
    "",
    "0s",
    "-1d",
    "1d",
    "3661d",
    "99999999999d",
    "9" * 60 + "s",
    "localtime",
    "posixrules",
    "right/UTC",
    "Asia/Shanghai",
    "UTC",
    "*/0 * * * *",
    "0 0 31 2 *",
    "@reboot",
    "member.joined",
    "a.b",
    "{{ event }}",
    "{{ 1 / 0 }}",
    "{{ x",
    "{% for %}",
    "{file: x.txt}",
)


def odd_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """Values to put anywhere in a playbook: huge and non-finite numbers, odd durations,
    zones, crons, templates and text, nested in lists and mappings (with odd keys)."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**40), max_value=10**40),
        st.sampled_from([2**63, -(2**63) - 1, 10**4000]),
        st.floats(allow_nan=True, allow_infinity=True),
        _ODD_TEXT,
        st.sampled_from(ODD_SCALAR_SAMPLES),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(
                st.one_of(_ODD_TEXT, st.integers(-5, 5), st.booleans()), inner, max_size=4
            ),
        ),
        max_leaves=max_leaves,
    )


#: Keys of a playbook and its rules (and YAML's merge and complex keys).
PLAYBOOK_KEYS = (
    "engage_rules",
    "name",
    "community",
    "vars",
    "templates",
    "rules",
    "flows",
    "moderation",
    "currencies",
    "levels",
    "badges",
    "leaderboards",
    "segments",
    "messaging",
    "id",
    "on",
    "if",
    "do",
    "else",
    "cooldown",
    "priority",
    "once",
    "timezone",
    "award",
    "send",
    "tag",
    "template",
    "amount",
    "cron",
    "<<",
    "?",
)
#: YAML tags, the unsafe ones included.
YAML_TAGS = (
    "!!str",
    "!!int",
    "!!float",
    "!!bool",
    "!!null",
    "!!binary",
    "!!set",
    "!!omap",
    "!!python/object:os.system",
    "!!python/name:os.system",
    "!custom",
    "!",
    "!!map",
    "!!seq",
    "!<tag:yaml.org,2002:str>",
)
_PLAIN = st.one_of(
    st.sampled_from(
        [
            "1",
            "-0",
            "0x1F",
            "0o17",
            "1e999",
            ".nan",
            "-.inf",
            "~",
            "null",
            "yes",
            "on",
            "true",
            "1_000",
            "0b101",
            "12:30",
            "2026-03-01",
            "9" * 5000,
            "0x" + "f" * 40,
            "a b",
            "@x",
            "`x`",
        ]
    ),
    st.text(alphabet=string.ascii_letters + string.digits + "._-/", min_size=1, max_size=12),
)
_QUOTED = _ODD_TEXT.map(lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"')


@st.composite
def yaml_nodes(draw: st.DrawFn, depth: int = 0) -> str:
    """A YAML flow node — plain, quoted, a sequence or a mapping — possibly anchored,
    aliased or tagged (:data:`YAML_TAGS`), keys often :data:`PLAYBOOK_KEYS`."""
    kind = draw(st.integers(0, 9 if depth < 6 else 3))
    if kind <= 1:
        node = draw(_PLAIN)
    elif kind == 2:
        node = draw(_QUOTED)
    elif kind == 3:
        node = "*" + draw(st.sampled_from(["a", "b", "c"]))
    elif kind <= 6:
        items = draw(st.lists(yaml_nodes(depth + 1), max_size=4))
        node = "[" + ", ".join(items) + "]"
    else:
        pairs = draw(
            st.lists(
                st.tuples(st.one_of(st.sampled_from(PLAYBOOK_KEYS), _PLAIN), yaml_nodes(depth + 1)),
                max_size=4,
            )
        )
        node = "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"
    if kind != 3 and draw(st.integers(0, 5)) == 0:
        node = f"&{draw(st.sampled_from(['a', 'b', 'c']))} {node}"
    if kind != 3 and draw(st.integers(0, 6)) == 0:
        node = f"{draw(st.sampled_from(YAML_TAGS))} {node}"
    return node


@st.composite
def yaml_documents(draw: st.DrawFn) -> str:
    """A playbook-like YAML document: top-level keys with :func:`yaml_nodes` values,
    sometimes deeply nested brackets or a second document."""
    lines = []
    if draw(st.booleans()):
        lines.append("engage_rules: 1")
    for key in draw(st.lists(st.sampled_from(PLAYBOOK_KEYS), max_size=5)):
        lines.append(f"{key}: {draw(yaml_nodes())}")
    if draw(st.integers(0, 4)) == 0:  # deep nesting, beyond the loader's limit or not
        depth = draw(st.integers(1, 120))
        lines.append("vars: " + "[" * depth + "]" * depth)
    if draw(st.integers(0, 6)) == 0:
        lines.append("---\nengage_rules: 1")
    return "\n".join(lines) + "\n"


def _tree_paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _tree_paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _tree_paths(v, (*prefix, i))
    return out


def mutated_documents(
    bases: Sequence[tuple[str, Any]],
    snippets: Sequence[str],
    *,
    keys: Sequence[str] = ("id", "if", "on", "do", "cooldown", "expires", "within", "zz"),
    values: st.SearchStrategy[Any] | None = None,
) -> st.SearchStrategy[tuple[str, str]]:
    """``(name, YAML text)`` of one of ``bases`` (a name and a parsed playbook) changed in
    one to four places: a ``snippet`` spliced into a string, a key (one of ``keys`` or
    any text) set to an odd value, a node wrapped in a list or a mapping, or a node
    replaced by an odd value (default :func:`odd_values`)."""
    odd = values if values is not None else odd_values()
    key_choice = st.one_of(st.sampled_from(list(keys)), _ODD_TEXT)

    @st.composite
    def build(draw: st.DrawFn) -> tuple[str, str]:
        filename, base = draw(st.sampled_from(list(bases)))
        data = copy.deepcopy(base)
        paths = _tree_paths(data)[1:]
        for _ in range(draw(st.integers(1, 4))):
            path = draw(st.sampled_from(paths))
            parent: Any = data
            try:
                for key in path[:-1]:
                    parent = parent[key]
                old = parent[path[-1]]
            except (KeyError, IndexError, TypeError):
                continue
            how = draw(st.integers(0, 3))
            if how == 0 and isinstance(old, str):
                at = draw(st.integers(0, len(old)))
                new: Any = old[:at] + draw(st.sampled_from(list(snippets))) + old[at:]
            elif how == 1 and isinstance(parent, dict):
                parent[draw(key_choice)] = draw(odd)
                continue
            elif how == 2:
                new = [old] if draw(st.booleans()) else {"x": old}
            else:
                new = draw(odd)
            try:
                parent[path[-1]] = new
            except TypeError:
                continue
        try:
            text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=200)
        except yaml.YAMLError:
            text = ""
        assume(text)
        return filename, text

    return build()


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path (keys and indexes) into a JSON document."""
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def damaged_payloads(
    samples: Sequence[dict[str, Any]], *, damages: int = 3
) -> st.SearchStrategy[dict[str, Any]]:
    """One of ``samples`` (recorded platform payloads) with 1 to ``damages`` fields, at
    any depth, deleted or replaced by any JSON value: what an adapter's ``parse`` must
    map or refuse with :class:`~engage_rules.adapters.base.PayloadError`."""

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        payload: dict[str, Any] = copy.deepcopy(draw(st.sampled_from(list(samples))))
        for _ in range(draw(st.integers(1, damages))):
            where = _paths(payload)
            if not where:
                break
            path = draw(st.sampled_from(where))
            parent: Any = payload
            for key in path[:-1]:
                parent = parent[key]
            if draw(st.booleans()) and isinstance(parent, dict):
                del parent[path[-1]]
            else:
                parent[path[-1]] = draw(
                    json_values(json_scalars(text=st.text(max_size=8)), max_leaves=6)
                )
        return payload

    return build()


__all__ = [
    "ACTION_PARAMS",
    "ACTION_TYPES",
    "EVENT_TYPES",
    "MEMBERS",
    "ODD_SCALAR_SAMPLES",
    "PLAYBOOK_KEYS",
    "YAML_TAGS",
    "Duration",
    "arrival_times",
    "damaged_actions",
    "damaged_payloads",
    "durations",
    "event_objs",
    "event_types",
    "events",
    "instants",
    "int64s",
    "iso_times",
    "json_objects",
    "json_scalars",
    "json_values",
    "malformed_event_objs",
    "member_ids",
    "mostly",
    "mutated_documents",
    "odd_values",
    "valid_text",
    "yaml_documents",
    "yaml_nodes",
]
