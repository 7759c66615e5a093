"""Durations as operators write them: ``30s``, ``10m``, ``2h``, ``14d``, ``2w``."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Self, cast

from pydantic import (
    BaseModel,
    GetCoreSchemaHandler,
    GetPydanticSchema,
    ModelWrapValidatorHandler,
    PrivateAttr,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import CoreSchema, core_schema
from pydantic_core.core_schema import ValidatorFunctionWrapHandler

from ..i18n import _

_DURATION_RE = re.compile(r"^\s*([0-9]+)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

#: A duration in a JSON Schema (where ``\d`` is an ASCII digit, as ``[0-9]`` above).
JSON_PATTERN = r"^\s*\d+\s*[smhdw]\s*$"

#: The longest duration a playbook may name (ten years).
MAX_DURATION = timedelta(days=3660)
_MAX_SECONDS = int(MAX_DURATION.total_seconds())


def parse_duration(text: object) -> timedelta:
    """Parse ``30s`` / ``10m`` / ``2h`` / ``14d`` / ``2w``; raise ValueError otherwise."""
    if isinstance(text, bool) or not isinstance(text, str):
        raise ValueError(
            _("expected a duration such as 30s, 10m, 2h, 14d or 2w, got {text!r}").format(text=text)
        )
    shown = text if len(text) <= 40 else text[:37] + "..."
    m = _DURATION_RE.match(text)
    if not m:
        if text.strip().isdigit():
            n = text.strip()
            raise ValueError(
                _("{shown!r} has no unit: write {n}s, {n}m, {n}h or {n}d").format(shown=shown, n=n)
            )
        raise ValueError(
            _("{shown!r} is not a duration; write it like 30s, 10m, 2h, 14d or 2w").format(
                shown=shown
            )
        )
    digits = m.group(1).lstrip("0") or "0"
    # Compared before converting: a number of any length is an error, not a crash.
    if len(digits) > 9 or int(digits) * _UNIT_SECONDS[m.group(2)] > _MAX_SECONDS:
        raise ValueError(
            _("duration {shown!r} is longer than the limit of 3660d (ten years)").format(
                shown=shown
            )
        )
    return timedelta(seconds=int(digits) * _UNIT_SECONDS[m.group(2)])


def format_duration(value: timedelta) -> str:
    """The shortest exact spelling of a duration (``90m`` stays ``90m``; ``7d`` → ``1w``)."""
    seconds = int(value.total_seconds())
    for unit in ("w", "d", "h", "m"):
        size = _UNIT_SECONDS[unit]
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _text_or_timedelta(value: Any, from_text: ValidatorFunctionWrapHandler) -> timedelta:
    if isinstance(value, timedelta):  # already parsed (a model built in Python)
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value != value or value in (float("inf"), float("-inf")) or value != int(value):
            raise ValueError(
                _(
                    "{value!r} is a number; a duration is a whole number with its unit, "
                    "like 30s, 10m, 2h, 14d or 2w"
                ).format(value=value)
            )
        n = int(value)
        raise ValueError(
            _("{value!r} is a number; a duration needs its unit: {n}s, {n}m, {n}h or {n}d").format(
                value=value, n=n
            )
        )
    return cast(timedelta, from_text(value))


def _duration_schema(source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
    # A string first (so a number gets the usual "expected a string" problem), then parsed.
    from_text = core_schema.no_info_after_validator_function(
        parse_duration, core_schema.str_schema()
    )
    return core_schema.no_info_wrap_validator_function(
        _text_or_timedelta,
        from_text,
        serialization=core_schema.plain_serializer_function_ser_schema(
            format_duration, return_schema=core_schema.str_schema()
        ),
    )


#: A duration field of a playbook model: written ``30s`` / ``10m`` / ``2h`` / ``14d`` /
#: ``2w`` (a string: anything else is reported as "expected a string"), parsed once when
#: the playbook is validated (the model holds a :class:`~datetime.timedelta`), written back
#: in the shortest exact spelling; the JSON Schema describes it as a string.
Duration = Annotated[
    timedelta,
    GetPydanticSchema(_duration_schema),
    WithJsonSchema({"type": "string", "pattern": JSON_PATTERN}),
]


class WrittenDurations(BaseModel):
    """A model whose :data:`Duration` fields also remember how the operator wrote them
    (``7d`` stays ``7d``, where :func:`format_duration` would say ``1w``), for output and
    messages that quote the playbook: ``written("for_")``."""

    _written: dict[str, str] = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _remember_spelling(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        model = handler(data)
        if isinstance(data, dict):
            for name, info in cls.model_fields.items():
                text = data.get(info.alias or name)
                if isinstance(text, str) and isinstance(getattr(model, name), timedelta):
                    model._written[name] = text
        return model

    def written(self, name: str) -> str | None:
        """The duration field ``name`` as written (else in its shortest spelling), or
        None when it is not set."""
        value = getattr(self, name)
        if not isinstance(value, timedelta):
            return None
        return self._written.get(name) or format_duration(value)
