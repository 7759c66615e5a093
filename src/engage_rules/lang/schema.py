"""The JSON Schema of the playbook language, for editors (``engage-rules schema``).

Derived from the pydantic models of :mod:`engage_rules.lang.spec`, with every list of actions
(a rule's ``do:``/``else:``, a strike ladder step's ``do:``) described as one of the
actions the given plugin registry knows — plugin actions included — and every section a
plugin feature owns.  Point an editor at it with a first line such as::

    # yaml-language-server: $schema=./playbook.schema.json

The schema checks structure only; the loader still checks what JSON Schema cannot say
(duplicate rule ids, expressions, templates, time zones).

Every section, key, action and parameter has a title and a description, written where it
is defined (``Field(title=N_(...), description=N_(...))``, ``ActionSpec.title`` and
``.description``) and shown in English, Chinese or both (:mod:`.schema_language`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, models_json_schema
from pydantic_core import CoreSchema

from .._util.durations import JSON_PATTERN
from ..i18n import N_
from .flow_steps import ExitSpec, WaitForSpec
from .loader import LoadRegistry
from .names import EVENT_TYPE, MAX_NAME, NAME
from .schema_language import localise_schema, schema_language
from .spec import PlaybookSpec

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "urn:engage-rules:schema:playbook:1"
#: Durations as :func:`engage_rules._util.durations.parse_duration` reads them: every
#: field of type :data:`~engage_rules._util.durations.Duration` is a string of this pattern.
DURATION_PATTERN = JSON_PATTERN
#: Where lists of actions live: (definition, property).
ACTION_LISTS = (
    ("RuleSpec", "do"),
    ("RuleSpec", "else"),
    ("RuleSpec", "refused"),
    ("LadderStep", "do"),
    ("OnCloseStep", "do"),
    ("FlagParams", "on_approve"),
    ("PrizeSpec", "do"),
    ("DrawSpec", "do"),
)


def _branches(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The schema itself, or its alternatives when it is an ``anyOf``."""
    return list(schema.get("anyOf", [schema]))


class _WrittenTitles(GenerateJsonSchema):
    """Titles only where the language gives one (``Field(title=N_(...))``), never the
    ones pydantic derives from a field's name (``Cooldown Per``)."""

    def field_title_should_be_set(self, schema: CoreSchema | Any) -> bool:
        """Never derive a title from a field's name."""
        return False


def _drop_model_texts(defs: dict[str, Any]) -> None:
    """Remove what pydantic takes from the models' classes: the class name as a title
    (``AwardParams``) and the docstring, written for programmers, as a description.  A
    key's own title and description, on the property that uses the model, stay."""
    for definition in defs.values():
        definition.pop("title", None)
        definition.pop("description", None)


def _flow_steps(defs: dict[str, Any], refs: Any) -> None:
    """A flow's ``steps:`` items: an action or one of the step forms (flow_steps.py)."""

    def steps(title: str, description: str) -> dict[str, Any]:
        return {
            "title": title,
            "description": description,
            "type": "array",
            "items": {"$ref": "#/$defs/Step"},
        }

    def form(key: str, value: dict[str, Any], **more: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {key: value, **more},
            "required": [key],
            "additionalProperties": False,
        }

    defs["Step"] = {
        "title": N_("Step"),
        "description": N_(
            "A flow step: an action, or `wait`, `wait_for` (with `on_timeout`), "
            "`if` (with `then` and/or `else`) or `exit`"
        ),
        "anyOf": [
            {"$ref": "#/$defs/Action"},
            form(
                "wait",
                {
                    "title": N_("Wait"),
                    "description": N_("Pause the flow for this long, like 1h or 2d"),
                    "type": "string",
                    "pattern": DURATION_PATTERN,
                },
            ),
            form(
                "wait_for",
                {
                    "title": N_("Wait for"),
                    "description": N_(
                        "Pause the flow until the member's next event of a type, or until "
                        "the timeout"
                    ),
                    **refs[(WaitForSpec, "validation")],
                },
                on_timeout=steps(
                    N_("On timeout"), N_("The steps run when the wait times out instead")
                ),
            ),
            form(
                "if",
                dict(defs["RuleSpec"]["properties"]["if"]),
                then=steps(N_("Then"), N_("The steps run when the condition holds")),
                **{"else": steps(N_("Else"), N_("The steps run when the condition does not hold"))},
            ),
            form(
                "exit",
                {
                    "title": N_("Exit"),
                    "description": N_("End the flow here, optionally with a reason"),
                    "anyOf": [dict(refs[(ExitSpec, "validation")]), {"type": "null"}],
                },
            ),
        ],
    }
    defs["FlowSpec"]["properties"]["steps"]["items"] = {"$ref": "#/$defs/Step"}


def _describe_empty(root: dict[str, Any], defs: dict[str, Any]) -> None:
    """Say what an empty value means wherever a key may be left empty (``cooldown:``).

    Also keeps hover readable in yaml-language-server, which shows a key's title once
    per alternative of its ``anyOf`` when it cannot tell the alternatives apart (they
    have neither title nor description): ``Cooldown || Cooldown``."""
    for definition in (root, *defs.values()):
        for schema in definition.get("properties", {}).values():
            for branch in schema.get("anyOf", ()):
                if branch == {"type": "null"}:
                    branch["description"] = N_("Left empty: the default")


#: Sections keyed by names operators give (lang/names.py).
NAMED_SECTIONS = ("segments", "badges", "leaderboards", "flows", "draws")


def _names(root: dict[str, Any], defs: dict[str, Any]) -> None:
    """The naming rule of lang/names.py wherever a name is written: the keys of the
    named sections and the currencies written as plain strings; and the event-type
    pattern on a rule's ``on:``."""
    for branch in _branches(defs["RuleSpec"]["properties"]["on"]):
        if branch.get("type") == "string":
            branch["pattern"] = EVENT_TYPE
        elif branch.get("type") == "array":
            branch["items"] = {"type": "string", "pattern": EVENT_TYPE}
    name = {"type": "string", "pattern": NAME, "maxLength": MAX_NAME}
    props = root.get("properties", {})
    for section in NAMED_SECTIONS:
        for branch in _branches(props.get(section, {})):
            if branch.get("type") == "object":
                branch["propertyNames"] = dict(name)
    for branch in _branches(defs.get("ShopSpec", {}).get("properties", {}).get("items", {})):
        if branch.get("type") == "object":
            branch["propertyNames"] = dict(name)
    for branch in _branches(props.get("currencies", {})):
        items = branch.get("items")
        if isinstance(items, dict):
            for item in _branches(items):
                if item.get("type") == "string":
                    item.update(name)


def playbook_json_schema(registry: LoadRegistry, language: str | None = None) -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) of a playbook file, with every action and plugin
    section ``registry`` knows; its titles and descriptions in ``language`` (``en``,
    ``zh_CN``, as :func:`engage_rules.i18n.normalise_language` reads it), or in English
    and Chinese together when None.  Raises ValueError for a language not spoken."""
    lang = schema_language(language)
    action_specs = registry.action_specs
    param_models: list[type[BaseModel]] = []
    for spec in action_specs.values():
        if spec.params not in param_models:
            param_models.append(spec.params)
    sections = dict(sorted(registry.sections.items()))
    models: list[type[BaseModel]] = [
        PlaybookSpec,
        WaitForSpec,
        ExitSpec,
        *param_models,
        *(m for m in sections.values() if m not in param_models),
    ]
    refs, generated = models_json_schema(
        [(m, "validation") for m in models], by_alias=True, schema_generator=_WrittenTitles
    )
    defs: dict[str, Any] = generated.get("$defs", {})
    _drop_model_texts(defs)
    root_ref = refs[(PlaybookSpec, "validation")]["$ref"]
    root = defs.pop(root_ref.rsplit("/", 1)[-1])

    # One object whose single key names the action: an editor completes each action
    # once, shows its description on hover, and a validator reports the problem of the
    # action written (a oneOf of one schema per action would report them all).
    properties: dict[str, Any] = {}
    for name, spec in sorted(action_specs.items()):
        params_ref = refs[(spec.params, "validation")]
        params_def = defs[params_ref["$ref"].rsplit("/", 1)[-1]]
        value: list[dict[str, Any]] = [dict(params_ref)]
        if spec.shorthand is not None:
            short = params_def["properties"][spec.shorthand]
            value.append({k: v for k, v in short.items() if k not in ("title", "default")})
        if not params_def.get("required"):
            value.append({"type": "null"})
        body = value[0] if len(value) == 1 else {"anyOf": value}
        properties[name] = {
            "title": spec.title or name,
            "description": spec.description or name,
            **body,
        }
    defs["Action"] = {
        "title": N_("Action"),
        "description": N_(
            "An action: a mapping with one key, the action's name, whose value "
            "holds its parameters (or, for some actions, a short form such as `tag: newcomer`)"
        ),
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
        "minProperties": 1,
        "maxProperties": 1,
    }

    _flow_steps(defs, refs)
    for def_name, prop in ACTION_LISTS:
        for branch in _branches(defs[def_name]["properties"][prop]):
            if branch.get("type") == "array":
                branch["items"] = {"$ref": "#/$defs/Action"}
    for definition in (root, *defs.values()):
        for schema in definition.get("properties", {}).values():
            if any(branch.get("pattern") == DURATION_PATTERN for branch in _branches(schema)):
                schema.setdefault(
                    "description", N_("A duration, written like 30s, 10m, 2h, 14d or 2w")
                )

    _names(root, defs)
    _describe_empty(root, defs)
    # A rule needs actions: `do:`, or at least `else:` (the loader says the same).
    defs["RuleSpec"]["anyOf"] = [{"required": ["do"]}, {"required": ["else"]}]
    for section, model in sections.items():
        root.setdefault("properties", {})[section] = dict(refs[(model, "validation")])
    root.pop("title", None)
    # The playbook's description is the one below, not PlaybookSpec's docstring.
    root.pop("description", None)
    # Files of a folder playbook need not repeat `engage_rules:`; the loader checks that
    # the playbook as a whole has it.
    root.pop("required", None)
    schema = {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": SCHEMA_ID,
        "title": N_("engage_rules playbook"),
        "description": N_(
            "A community engagement and moderation playbook (engage_rules "
            "language version 1). One file, or one of a folder of files that are merged."
        ),
        **root,
        "$defs": dict(sorted(defs.items())),
    }
    localise_schema(schema, lang)
    return schema
