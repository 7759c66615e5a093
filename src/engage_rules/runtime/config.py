"""The runtime config file of ``engage-rules run --config FILE`` (docs/running.md).

A YAML file naming the playbook, the store, the event sources, the adapters and how the
dispatcher paces and retries deliveries::

    playbook: community.yaml            # relative to this file
    store: sqlite:///live.db            # relative to the working directory
    sources:
      - type: webhook                   # signed HTTP POSTs of events
        listen: 127.0.0.1:8787
        secret_env: ENGAGE_WEBHOOK_SECRET
    adapters:
      platform:                         # the platform name events carry in `platform`
        type: webhook                   # a registered adapter (default: the name)
        base_url: http://127.0.0.1:9000
        secret_env: PLATFORM_SECRET
    dispatch:
      default: platform

Secrets never sit in the file: a setting ``NAME_env: VAR`` becomes the setting ``NAME``
with the value of the environment variable ``VAR``, and ``${VAR}`` inside any string is
replaced by the variable's value.  A variable that is not set is an error.  Every problem
is reported as ``file:line:col: message``, all at once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

from .._util.durations import parse_duration
from ..errors import ConfigError as ConfigError
from ..errors import Problem
from ..i18n import _
from ..lang.setting_words import setting_error
from ..lang.yaml_source import YamlDocument, read_yaml_file

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _seconds(value: Any) -> Any:
    """A duration as seconds: a number, or ``30s`` / ``5m`` / ``2h``."""
    if isinstance(value, str):
        td: timedelta = parse_duration(value)
        return td.total_seconds()
    return value


Seconds = Annotated[float, BeforeValidator(_seconds), Field(gt=0)]

_STRICT = ConfigDict(extra="forbid", frozen=True)


class RateLimit(BaseModel):
    """A token bucket: ``rate`` calls per second on average, bursts of ``burst``."""

    model_config = _STRICT
    rate: float = Field(gt=0)
    burst: int = Field(default=1, ge=1)


class WebhookSource(BaseModel):
    """An HTTP server receiving signed events (``POST /events``)."""

    model_config = _STRICT
    type: Literal["webhook"]
    listen: str = "127.0.0.1:8787"
    path: str = "/events"
    secret: str = Field(min_length=16)
    window: Seconds = 300.0
    max_body: int = Field(default=1_048_576, ge=1024)
    #: A configured adapter whose ``parse`` reads the body (default: an event's JSON).
    parser: str | None = None
    #: How long a request may wait for its event to be committed before a 503.
    commit_timeout: Seconds = 30.0
    #: How long a connection may wait to start a request (a new one, or the next one on
    #: a kept-alive connection) before it is closed.
    idle_timeout: Seconds = 15.0
    #: How long a client has to send a whole request (request line, headers, body) once
    #: its first byte arrived; slower requests get a 408 and the connection is closed.
    read_timeout: Seconds = 30.0
    #: Connections open at once.  When full, a new connection closes the one idle
    #: longest, or is answered 503 and closed if none is idle.  Kept below the open-file
    #: limit (``ulimit -n``) less a reserve and the backlog (webhook_source.py).
    max_connections: int = Field(default=256, ge=1, le=100_000)
    #: Connections the kernel queues before they are accepted (the listen backlog).
    backlog: int = Field(default=128, ge=1, le=65_535)
    #: Bytes of the request line and headers together; more is a 431.
    max_header_bytes: int = Field(default=16_384, ge=1024, le=1_048_576)
    #: Accept requests signed the old way (``sha256=``, without the delivery id); they
    #: are deduplicated by their signature (docs/running.md, "Signatures").
    legacy_signatures: bool = True

    def address(self) -> tuple[str, int]:
        host, sep, port = self.listen.rpartition(":")
        if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(_("listen {listen!r} must be HOST:PORT").format(listen=self.listen))
        return host.strip("[]") or "127.0.0.1", int(port)


class JsonlSource(BaseModel):
    """Events (docs/language.md, "Events"), one JSON object per line, from a file or
    stdin (``-``)."""

    model_config = _STRICT
    type: Literal["jsonl"]
    path: str
    #: Keep reading a file as it grows (like ``tail -f``) instead of stopping at its end.
    follow: bool = False


Source = Annotated[WebhookSource | JsonlSource, Field(discriminator="type")]


class RetryPolicy(BaseModel):
    """Exponential backoff with full jitter: attempt n waits a random time in
    ``[0, min(max_delay, base * 2**(n-1))]``, and at least a platform's Retry-After."""

    model_config = _STRICT
    base: Seconds = 1.0
    max_delay: Seconds = 300.0
    #: Attempts before a retryable failure is recorded as permanent.
    max_attempts: int = Field(default=12, ge=1)


class DispatchConfig(BaseModel):
    """The ``dispatch`` section: routing, retries and rate limits of deliveries."""

    model_config = _STRICT
    #: The adapter for actions whose event had no platform (timers, plain events).
    default: str | None = None
    #: community → adapter, for actions whose event had no platform.
    communities: dict[str, str] = Field(default_factory=dict)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    #: Calls in flight at once (across routes; one at a time per route, in order).
    workers: int = Field(default=4, ge=1, le=64)
    #: Items read from the outbox per query.
    batch: int = Field(default=200, ge=1, le=10_000)
    #: Default per-platform and per-route limits (an adapter's own settings win).
    rate_limit: RateLimit | None = None
    route_rate_limit: RateLimit | None = None
    #: On SIGTERM, how long to keep delivering what is due before exiting.
    shutdown_timeout: Seconds = 10.0
    #: Seed of the jitter (None: seeded from the OS).
    seed: int | None = None


class AdapterConfig(BaseModel):
    """One adapter: its registered type, rate limits, and its own settings."""

    model_config = ConfigDict(extra="allow", frozen=True)
    type: str | None = None
    rate_limit: RateLimit | None = None
    route_rate_limit: RateLimit | None = None
    #: Whether an adapter that can read its platform by itself (Telegram's polling,
    #: Discord's gateway) does: None (default) connects it unless a webhook source
    #: reads its payloads (``parser:``); false never, true always.
    connect: bool | None = None

    def settings(self, name: str) -> dict[str, Any]:
        """What the adapter factory receives: every other key, plus ``platform``."""
        extra = dict(self.model_extra or {})
        extra.setdefault("platform", name)
        return extra


class TracesConfig(BaseModel):
    """Rule traces for `engage-rules explain` (tracing.py): what every rule made of
    every event, kept for ``keep`` of event time."""

    model_config = _STRICT
    enabled: bool = True
    keep: Seconds = 30 * 86400.0


class KafkaConfig(BaseModel):
    """The ``kafka`` section: the topic of events keyed by community that ``ingest``
    produces to and ``worker`` consumes (docs/scaling.md)."""

    model_config = _STRICT
    #: ``host:port[,host:port...]`` of the brokers.
    bootstrap_servers: str = Field(min_length=1)
    topic: str = Field(default="engage-events", min_length=1, max_length=249)
    #: The consumer group of the workers.
    group_id: str = Field(default="engage-rules-workers", min_length=1)
    #: More librdkafka settings for every client (``security.protocol``,
    #: ``session.timeout.ms``...), as librdkafka names them.
    settings: dict[str, str | int | float | bool] = Field(default_factory=dict)
    #: Records a worker takes per poll (and decides before committing) at most.
    max_poll_records: int = Field(default=1000, ge=1, le=100_000)
    #: How long a worker waits for records per poll (it fires due timers in between).
    poll_timeout: Seconds = 0.5
    #: How long a partition's decisions may wait to be committed (group commit: more
    #: records per transaction), unless ``max_poll_records`` of them wait already.
    commit_interval: Seconds = 0.2


class RuntimeConfig(BaseModel):
    """The runtime config of ``engage-rules run`` (docs/running.md)."""

    model_config = _STRICT
    playbook: str
    store: str = "sqlite:///engage-rules.db"
    #: Where events come from, besides the adapters that connect by themselves
    #: (docs/running.md); the runtime refuses to start with neither.
    sources: list[Source] = Field(default_factory=list)
    adapters: dict[str, AdapterConfig] = Field(min_length=1)
    dispatch: DispatchConfig = Field(default_factory=DispatchConfig)
    #: Longest sleep between two checks for due timers, in seconds.
    timer_poll: Seconds = 1.0
    #: Events processed per store transaction at most (a transaction holds what arrived
    #: while the previous one was being written).
    max_batch: int = Field(default=500, ge=1, le=100_000)
    #: How far ahead of the wall clock an event may be dated: later ones are quarantined
    #: (``future_time``) instead of moving the engine's clock (docs/running.md, "Time").
    max_clock_skew: Seconds = 300.0
    #: How long the store remembers processed event and delivery ids (None: forever).
    #: An event dated before what it has forgotten is quarantined
    #: (``beyond_dedup_window``) rather than risk processing it twice (docs/running.md).
    dedup_window: Seconds | None = 30 * 86400.0
    traces: TracesConfig = Field(default_factory=TracesConfig)
    #: The Kafka topic of the scaled-out roles (``ingest``, ``worker``; docs/scaling.md).
    kafka: KafkaConfig | None = None
    #: The directory relative paths are resolved against (the config file's).
    base_dir: Path = Field(default=Path("."), exclude=True)

    def playbook_path(self) -> Path:
        return (self.base_dir / self.playbook).resolve()

    def adapter_type(self, name: str) -> str:
        return self.adapters[name].type or name


# -- loading ------------------------------------------------------------------------------


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> RuntimeConfig:
    """Read, resolve secrets in, and validate a config file; raise :class:`ConfigError`."""
    env = os.environ if environ is None else environ
    doc = read_yaml_file(path)
    if doc.problems:
        raise ConfigError(doc.problems)
    name = str(path)
    if not isinstance(doc.data, dict):
        raise ConfigError([Problem(name, 1, 1, _("a runtime config must be a mapping"))])
    file = _ConfigFile(name, doc, env)
    data = file.resolve(doc.data, ())
    try:
        config = RuntimeConfig.model_validate({**data, "base_dir": Path(path).resolve().parent})
    except ValidationError as err:
        file.report_validation_errors(err)
        raise ConfigError(file.problems) from None
    problems = file.problems
    problems.extend(_cross_checks(config, name, file.at))
    if problems:
        raise ConfigError(problems)
    return config


_Loc = tuple[str | int, ...]


class _ConfigFile:
    """A config file being loaded: its positions, its environment, the problems found."""

    def __init__(self, name: str, doc: YamlDocument, env: Mapping[str, str]) -> None:
        self.name = name
        self.doc = doc
        self.env = env
        self.problems: list[Problem] = []
        #: Settings whose environment variable is missing (their validation errors are
        #: not reported again).
        self.unresolved: set[_Loc] = set()

    def at(self, loc: _Loc, *, key: bool = False) -> tuple[int, int]:
        """The position of the value (or the key) at ``loc``, or of its nearest parent."""
        p = tuple(loc)
        if key and p in self.doc.key_positions:
            return self.doc.key_positions[p]
        while p and p not in self.doc.positions:
            p = p[:-1]
        return self.doc.positions.get(p, (1, 1))

    def add(self, loc: _Loc, message: str) -> None:
        """Record a problem at the value at ``loc``."""
        line, col = self.at(loc)
        self.problems.append(Problem(self.name, line, col, message))

    def resolve(self, value: Any, loc: _Loc) -> Any:
        """``value`` with its ``NAME_env`` settings and ``${VAR}`` references resolved."""
        if isinstance(value, dict):
            return self._resolve_mapping(value, loc)
        if isinstance(value, list):
            return [self.resolve(item, (*loc, i)) for i, item in enumerate(value)]
        if isinstance(value, str) and "${" in value:
            return self._substitute(value, loc)
        return value

    def _resolve_mapping(self, value: dict[Any, Any], loc: _Loc) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(key, str) and key.endswith("_env") and len(key) > 4:
                self._resolve_env_setting(out, key, item, loc)
            else:
                out[key] = self.resolve(item, (*loc, key))
        return out

    def _resolve_env_setting(self, out: dict[str, Any], key: str, var: Any, loc: _Loc) -> None:
        """``NAME_env: VAR`` in a mapping becomes ``NAME`` with the value of ``VAR``."""
        here = (*loc, key)
        setting = key[:-4]
        self.unresolved.add((*loc, setting))
        if not isinstance(var, str) or not _ENV_NAME.match(var):
            self.add(here, _("{key} must name an environment variable").format(key=key))
            return
        if var not in self.env:
            self.add(
                here,
                _("environment variable {variable} is not set (needed by {key})").format(
                    variable=var, key=key
                ),
            )
            return
        self.unresolved.discard((*loc, setting))
        out[setting] = self.env[var]

    def _substitute(self, value: str, loc: _Loc) -> str:
        """``value`` with each ``${VAR}`` replaced by the variable's value."""

        def sub(m: re.Match[str]) -> str:
            var = m.group(1)
            if var not in self.env:
                self.add(loc, _("environment variable {variable} is not set").format(variable=var))
                return ""
            return self.env[var]

        return _ENV_REF.sub(sub, value)

    def report_validation_errors(self, err: ValidationError) -> None:
        """Record pydantic's errors as problems, except for settings already reported."""
        for e in err.errors():
            loc = tuple(
                x for x in e["loc"] if not (isinstance(x, str) and x in ("webhook", "jsonl"))
            )
            if loc in self.unresolved:
                continue  # already reported as a missing variable
            line, col = self.at(loc, key=e["type"] == "extra_forbidden")
            self.problems.append(Problem(self.name, line, col, _validation_message(e, loc)))


def _validation_message(error: ErrorDetails, loc: _Loc) -> str:
    """The problem message for one pydantic error at ``loc`` (the source tags left out)."""
    if error["type"] == "extra_forbidden":
        return _("unknown setting `{name}`").format(name=loc[-1])
    if error["type"] == "missing":
        return _("missing required setting `{name}`").format(name=loc[-1])
    message = setting_error(
        error["type"],
        error["msg"].removeprefix("Value error, "),
        error.get("ctx") or {},
        error.get("input"),
    )
    where = ".".join(str(x) for x in loc)
    return f"{where}: {message}" if where else message


def _cross_checks(config: RuntimeConfig, name: str, at: Any) -> list[Problem]:
    problems: list[Problem] = []

    def add(loc: tuple[str | int, ...], message: str) -> None:
        line, col = at(loc)
        problems.append(Problem(name, line, col, message))

    known = sorted(config.adapters)
    d = config.dispatch
    if d.default is not None and d.default not in config.adapters:
        add(
            ("dispatch", "default"),
            _(
                "dispatch.default names no configured adapter: {name!r} (configured: {known})"
            ).format(name=d.default, known=", ".join(known)),
        )
    for community, adapter in d.communities.items():
        if adapter not in config.adapters:
            add(
                ("dispatch", "communities", community),
                _("community {community!r} routes to {adapter!r}, which is not configured").format(
                    community=community, adapter=adapter
                ),
            )
    listens: set[str] = set()
    for i, source in enumerate(config.sources):
        if isinstance(source, WebhookSource):
            try:
                source.address()
            except ValueError as err:
                add(("sources", i, "listen"), str(err))
            if source.listen in listens:
                add(
                    ("sources", i, "listen"),
                    _("two sources listen on {listen}").format(listen=source.listen),
                )
            listens.add(source.listen)
            if source.parser is not None and source.parser not in config.adapters:
                add(
                    ("sources", i, "parser"),
                    _("parser names no configured adapter: {name!r}").format(name=source.parser),
                )
    return problems
