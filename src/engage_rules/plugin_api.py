"""Everything a plugin imports, at one stable path (docs/plugins.md).

The package is laid out by phase (docs/architecture.md), and modules move as it grows;
this module is the promise to plugin authors: these names stay importable from
``engage_rules.plugin_api`` across minor versions.

* **Hooks**: :data:`hookimpl` and the ``Register*`` protocols each hook's ``register``
  callable follows.
* **Actions**: :class:`ActionSpec` (name, parameter model, shorthand, description), the
  executor's :class:`ActionScope` and :class:`CompiledAction`, :class:`ActionError` for
  an action that cannot be carried out.
* **Features** (a playbook section of a plugin's own): :class:`Feature` /
  :class:`BaseFeature`, :class:`ActionDef`, :class:`FeaturePlan`, :class:`FeatureKey`,
  the :class:`CompileContext` they compile in, the run-time :class:`Effects`, timers
  (:class:`Timer`, :func:`timer_action`) and state (:class:`MemberState`,
  :class:`Decision`).
* **Functions**: :class:`FunctionSpec` and the :class:`EvalContext` functions receive.
* **Adapters**: :class:`Adapter`, :class:`Delivery`, :class:`PayloadError`,
  :class:`DeliveryError`, events (:class:`Event`, :func:`event_from_obj`,
  :class:`EventError`, :func:`event_to_json`) and :func:`reject_unknown` for settings.  An
  adapter that reads its platform by itself (:class:`ConnectingAdapter`) returns a
  :class:`Source` from ``connect`` and submits through its :class:`SourceContext`
  (:class:`Outcome`, :class:`ServiceStopping`).  :mod:`api_calls`
  (:mod:`engage_rules.adapters.api_calls`): one HTTP API call and what its answer means;
  :mod:`payload_fields` (:mod:`engage_rules.adapters.payload_fields`): typed readers of
  platform payloads, the event built from them and the URLs of ``data.links``
  for delivery (retryable or permanent, ``Retry-After``, rate-limit buckets).
  :func:`map_payload_file` and :func:`write_events` serve an adapter's ``map`` and
  ``import`` commands.
* **Errors**: :class:`EngageRulesError` is the root of every error engage_rules raises
  (``engage_rules.errors`` draws the tree); a plugin's own errors may derive from it.
* **Language**: :func:`translator` gives a plugin its own ``_`` over its own gettext
  catalog, following the language engage_rules speaks (``--lang``, the locale);
  :class:`Translator` is what it returns (docs/plugins.md, "Speaking the operator's
  language").
* **Durations**: :func:`parse_duration` / :data:`Duration` for section models;
  :func:`json_value` for what goes into action parameters and member state.
"""

from __future__ import annotations

from ._util.durations import Duration, parse_duration
from .adapters import api_calls, payload_fields
from .adapters.base import Adapter, Delivery, DeliveryError, PayloadError
from .adapters.payload_files import import_export_file, map_payload_file, write_events
from .adapters.settings import reject_unknown
from .adapters.sources import ConnectingAdapter, Outcome, Source, SourceContext
from .compile.feature import (
    ActionDef,
    BaseFeature,
    CompileContext,
    Feature,
    FeatureKey,
    FeaturePlan,
)
from .compile.playbook import CompiledAction, CompiledPlaybook
from .engine.effects import Effects
from .engine.scope import ActionScope
from .engine.timers import timer_action
from .errors import ActionError, EngageRulesError, ServiceStopping
from .expr.context import EvalContext
from .expr.function_spec import FunctionSpec
from .i18n import Translator, translator
from .lang.action_params import ActionSpec
from .model.decision import ActionRecord, Decision
from .model.events import Event, EventError, event_from_obj, event_to_json
from .model.state import MemberState, Timer
from .model.storable import json_value
from .plugins.hookspecs import (
    RegisterAction,
    RegisterAdapter,
    RegisterClassifier,
    RegisterCommand,
    RegisterEventType,
    RegisterFeature,
    RegisterFunction,
    RegisterStore,
    hookimpl,
)

__all__ = [
    "ActionDef",
    "ActionError",
    "ActionRecord",
    "ActionScope",
    "ActionSpec",
    "Adapter",
    "BaseFeature",
    "CompileContext",
    "CompiledAction",
    "CompiledPlaybook",
    "ConnectingAdapter",
    "Decision",
    "Delivery",
    "DeliveryError",
    "Duration",
    "Effects",
    "EngageRulesError",
    "EvalContext",
    "Event",
    "EventError",
    "Feature",
    "FeatureKey",
    "FeaturePlan",
    "FunctionSpec",
    "MemberState",
    "Outcome",
    "PayloadError",
    "RegisterAction",
    "RegisterAdapter",
    "RegisterClassifier",
    "RegisterCommand",
    "RegisterEventType",
    "RegisterFeature",
    "RegisterFunction",
    "RegisterStore",
    "ServiceStopping",
    "Source",
    "SourceContext",
    "Timer",
    "Translator",
    "api_calls",
    "event_from_obj",
    "event_to_json",
    "hookimpl",
    "import_export_file",
    "json_value",
    "map_payload_file",
    "parse_duration",
    "payload_fields",
    "reject_unknown",
    "timer_action",
    "translator",
    "write_events",
]
