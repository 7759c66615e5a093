"""The contract every platform adapter passes (docs/reference.md §9), as a pytest base class.

Subclass :class:`AdapterContract` in a test module of the adapter's package and fill in
what the contract cannot know::

    from engage_rules.testing import AdapterContract, PayloadSample, event

    class TestChatAdapter(AdapterContract):
        samples = [
            PayloadSample(
                name="a text message",
                payload={"kind": "message", "id": "m-1", "user": "u1", "text": "hi",
                         "ts": "2026-03-02T12:00:00+08:00"},
                events=[event("message.posted", "u1", id="chat-m-1", platform="chat",
                              at="2026-03-02T12:00:00+08:00", message_id="m-1", text="hi")],
            ),
        ]
        malformed = [{"kind": "message"}]

        def make_adapter(self, base_url: str) -> ChatAdapter:
            return ChatAdapter({"base_url": base_url, "token": "t"})

The contract then checks, for the adapter:

* it is an :class:`~engage_rules.adapters.base.Adapter`, with a name and capabilities
  that are all known action types (built-in, engine bookkeeping, or plugin actions);
* **parse**: every recorded sample maps to exactly its events, repeatably (parsing is
  pure); every ``malformed`` payload raises :class:`PayloadError`; random JSON, and the
  samples with random parts replaced or removed (hypothesis), never raise anything but
  :class:`PayloadError`; streams of recorded payloads (``fuzz_payloads``, by default the
  samples'), some damaged, fed in turn through one adapter — whatever it remembers of
  earlier payloads included — map to events whose ``data.links`` are texts, at most
  ``MAX_LINKS`` of them, or raise :class:`PayloadError`;
* **deliver**, against a local HTTP server (``pytest-httpserver``'s ``httpserver``
  fixture; the adapter is built with its URL as ``base_url``): each capability is
  delivered and reaches the server; a 429 with ``Retry-After`` raises a retryable
  :class:`DeliveryError` whose ``retry_after`` is the header's value; 5xx raises a
  retryable one; 400/403/404 a permanent one; a server that cannot be reached a retryable
  one.

Override :meth:`sample_action` when an action of some type needs platform-specific
parameters, :meth:`success_body` for the platform's success response, and
:meth:`rate_limited_body` / :meth:`error_body` for its error bodies.  An adapter that
does not speak HTTP (a console adapter) sets ``delivers_over_http = False``: the delivery
checks are then skipped with a reason.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ..adapters.base import Adapter, Delivery, DeliveryError, PayloadError
from ..adapters.capabilities import ENGINE_ACTIONS
from ..adapters.payload_fields import MAX_LINKS
from ..model.events import Event, event_from_obj, event_to_json
from ..plugins.manager import default_registry
from ..plugins.registry import Registry
from .builders import action
from .strategies import damaged_payloads, json_scalars, json_values

#: Action types the engine emits on its own (docs/reference.md §6.3), beyond the
#: registered action types.
ENGINE_ACTION_TYPES = ENGINE_ACTIONS

_ANY_PATH = re.compile(".*")
_SUPPRESSED = [HealthCheck.too_slow, HealthCheck.differing_executors]


def known_action_types(registry: Registry | None = None) -> frozenset[str]:
    """Every action type an adapter may declare: the actions of ``registry`` (default:
    the installed plugins', built-in included) and the engine's bookkeeping actions."""
    reg = registry if registry is not None else default_registry()
    return frozenset(reg.actions) | ENGINE_ACTION_TYPES


@dataclass
class PayloadSample:
    """A recorded platform payload and the events it must parse into (in order).

    ``events`` holds :class:`Event` values or their JSON objects (docs/reference.md §3.1 shape).
    """

    name: str
    payload: Mapping[str, Any]
    events: Sequence[Event | Mapping[str, Any]] = field(default_factory=list)

    def expected(self) -> list[dict[str, Any]]:
        return [
            event_to_json(e if isinstance(e, Event) else event_from_obj(dict(e)))
            for e in self.events
        ]


def _json_values() -> st.SearchStrategy[Any]:
    return json_values(
        json_scalars(integers=st.integers(-(2**63), 2**63), floats=st.floats(allow_nan=False)),
        keys=st.text(max_size=10),
    )


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a nested value of a JSON document."""
    out: list[tuple[Any, ...]] = []
    items: list[tuple[Any, Any]] = []
    if isinstance(value, Mapping):
        items = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    for key, child in items:
        path = (*prefix, key)
        out.append(path)
        out.extend(_paths(child, path))
    return out


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _mutate(payload: Mapping[str, Any], path: tuple[Any, ...], new: Any, delete: bool) -> Any:
    doc = _copy(payload)
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = new
    return doc


class AdapterContract:
    """Base class of an adapter's contract tests; see the module docstring."""

    #: Recorded payloads and the events they map to.  At least one is required.
    samples: ClassVar[Sequence[PayloadSample]] = ()
    #: Payloads the adapter must reject with :class:`PayloadError`.
    malformed: ClassVar[Sequence[Any]] = ()
    #: Recorded payloads (no events expected) the stream fuzz test damages and feeds in
    #: turn; empty: the samples' payloads.
    fuzz_payloads: ClassVar[Sequence[Mapping[str, Any]]] = ()
    #: False for adapters that deliver without HTTP (the delivery checks are skipped).
    delivers_over_http: ClassVar[bool] = True
    #: The ``Retry-After`` value the rate-limit check sends, in seconds.
    retry_after_seconds: ClassVar[int] = 7
    #: The registry whose actions capabilities are checked against (default: the
    #: installed plugins'; give one when the plugin under test is not installed).
    registry: ClassVar[Registry | None] = None

    # -- what a subclass provides ---------------------------------------------------------

    def make_adapter(self, base_url: str) -> Adapter:
        """Build the adapter with ``base_url`` pointing at the local test server."""
        pytest.fail(
            f"{type(self).__name__}: an AdapterContract subclass must define make_adapter()"
        )

    def sample_action(self, capability: str) -> dict[str, Any]:
        """An action of type ``capability`` (docs/reference.md §6.1) the adapter can deliver."""
        return action(capability)

    def success_body(self, capability: str) -> Any:
        """The JSON body the platform answers a successful call with."""
        return {"ok": True}

    def rate_limited_body(self, retry_after: int) -> Any:
        """The JSON body of the platform's 429 answer (the header is sent as well)."""
        return {
            "ok": False,
            "error_code": 429,
            "message": "rate limited",
            "retry_after": retry_after,
            "parameters": {"retry_after": retry_after},
        }

    def error_body(self, status: int) -> Any:
        """The JSON body of the platform's answer with an error ``status``."""
        return {
            "ok": False,
            "error_code": status,
            "message": "contract test error",
            "description": "contract test error",
        }

    # -- helpers ----------------------------------------------------------------------------

    def _adapter(self) -> Adapter:
        return self.make_adapter("http://127.0.0.1:9")

    def _http_adapter(self, httpserver: Any) -> Adapter:
        if not self.delivers_over_http:
            pytest.skip("this adapter does not deliver over HTTP")
        return self.make_adapter(httpserver.url_for("/").rstrip("/"))

    def _capabilities(self) -> list[str]:
        adapter = self._adapter()
        try:
            return sorted(adapter.capabilities)
        finally:
            adapter.close()

    def _deliver_failing(
        self, httpserver: Any, status: int, body: Any, headers: dict[str, str] | None = None
    ) -> list[DeliveryError]:
        """Deliver one action per capability against a server answering ``status``."""
        adapter = self._http_adapter(httpserver)
        errors: list[DeliveryError] = []
        try:
            for capability in sorted(adapter.capabilities):
                httpserver.clear()
                httpserver.expect_request(_ANY_PATH).respond_with_json(
                    body, status=status, headers=headers or {}
                )
                with pytest.raises(DeliveryError) as info:
                    adapter.deliver(self.sample_action(capability))
                errors.append(info.value)
        finally:
            adapter.close()
        return errors

    # -- the contract -------------------------------------------------------------------------

    def test_is_an_adapter(self) -> None:
        adapter = self._adapter()
        try:
            assert isinstance(adapter, Adapter)
            assert isinstance(adapter.name, str) and adapter.name
            assert isinstance(adapter.capabilities, frozenset)
            assert adapter.capabilities, "an adapter must deliver at least one action type"
        finally:
            adapter.close()

    def test_capabilities_are_known_action_types(self) -> None:
        unknown = set(self._capabilities()) - known_action_types(self.registry)
        assert not unknown, f"capabilities that no action registers: {sorted(unknown)}"

    def test_has_samples(self) -> None:
        assert self.samples, "record at least one real payload in `samples`"

    def test_parses_samples(self) -> None:
        adapter = self._adapter()
        try:
            for sample in self.samples:
                got = [event_to_json(e) for e in adapter.parse(sample.payload)]
                assert got == sample.expected(), f"sample {sample.name!r}"
                again = [event_to_json(e) for e in adapter.parse(sample.payload)]
                assert again == got, f"sample {sample.name!r}: parsing is not repeatable"
        finally:
            adapter.close()

    def test_parse_returns_events(self) -> None:
        adapter = self._adapter()
        try:
            for sample in self.samples:
                for e in adapter.parse(sample.payload):
                    assert isinstance(e, Event), f"sample {sample.name!r}: {e!r}"
                    assert not e.internal
        finally:
            adapter.close()

    def test_rejects_malformed_payloads(self) -> None:
        adapter = self._adapter()
        try:
            for payload in self.malformed:
                with pytest.raises(PayloadError):
                    adapter.parse(payload)
        finally:
            adapter.close()

    # Each subclass is a different adapter: the same test method legitimately runs on
    # several classes ("differing executors").
    @settings(deadline=None, suppress_health_check=_SUPPRESSED)
    @given(payload=st.dictionaries(st.text(max_size=10), _json_values(), max_size=5))
    def test_random_json_raises_only_payload_errors(self, payload: dict[str, Any]) -> None:
        adapter = self._adapter()
        try:
            events = adapter.parse(payload)
        except PayloadError:
            return
        finally:
            adapter.close()
        assert isinstance(events, list)
        assert all(isinstance(e, Event) for e in events)

    @settings(deadline=None, suppress_health_check=_SUPPRESSED)
    @given(data=st.data())
    def test_damaged_samples_raise_only_payload_errors(self, data: st.DataObject) -> None:
        if not self.samples:
            return
        sample = data.draw(st.sampled_from(list(self.samples)), label="sample")
        paths = _paths(sample.payload)
        if not paths:
            return
        path = data.draw(st.sampled_from(paths), label="path")
        delete = data.draw(st.booleans(), label="delete")
        new = None if delete else data.draw(_json_values(), label="new value")
        payload = _mutate(sample.payload, path, new, delete)
        adapter = self._adapter()
        try:
            events = adapter.parse(payload)
        except PayloadError:
            return
        finally:
            adapter.close()
        assert all(isinstance(e, Event) for e in events)

    @settings(max_examples=60, deadline=None, suppress_health_check=_SUPPRESSED)
    @given(data=st.data())
    def test_damaged_streams_map_or_raise_payload_errors(self, data: st.DataObject) -> None:
        payloads = [dict(p) for p in self.fuzz_payloads] or [dict(s.payload) for s in self.samples]
        if not payloads:
            return
        some = st.one_of(damaged_payloads(payloads), st.sampled_from(payloads))
        stream = data.draw(st.lists(some, min_size=1, max_size=6), label="stream")
        adapter = self._adapter()
        try:
            for payload in stream:
                try:
                    events = adapter.parse(payload)
                except PayloadError:
                    continue
                assert all(isinstance(e, Event) for e in events)
                for e in events:
                    links = e.data.get("links", [])
                    assert isinstance(links, list) and all(isinstance(u, str) for u in links)
                    assert len(links) <= MAX_LINKS
        finally:
            adapter.close()

    def test_delivers_each_capability(self, httpserver: Any) -> None:
        adapter = self._http_adapter(httpserver)
        try:
            for capability in sorted(adapter.capabilities):
                httpserver.clear()
                httpserver.expect_request(_ANY_PATH).respond_with_json(
                    self.success_body(capability)
                )
                result = adapter.deliver(self.sample_action(capability))
                assert isinstance(result, Delivery), f"{capability}: {result!r}"
                assert httpserver.log, f"{capability}: the adapter did not call base_url"
                for _request, response in httpserver.log:
                    assert response.status_code == 200, (
                        f"{capability}: the adapter made a request the server did not "
                        f"expect: {_request.method} {_request.path}"
                    )
        finally:
            adapter.close()

    def test_rate_limit_is_retryable_with_retry_after(self, httpserver: Any) -> None:
        seconds = self.retry_after_seconds
        for err in self._deliver_failing(
            httpserver, 429, self.rate_limited_body(seconds), {"Retry-After": str(seconds)}
        ):
            assert not err.permanent, "a 429 must be retryable"
            # An adapter that honours the limit before calling (two actions on one route)
            # refuses the second with the time left of the first's wait: within a second.
            assert err.retry_after == pytest.approx(seconds, abs=1.0), (
                f"retry_after {err.retry_after!r}, expected {seconds}"
            )

    @pytest.mark.parametrize("status", [500, 502, 503])
    def test_server_errors_are_retryable(self, httpserver: Any, status: int) -> None:
        for err in self._deliver_failing(httpserver, status, self.error_body(status)):
            assert not err.permanent, f"a {status} must be retryable"

    @pytest.mark.parametrize("status", [400, 403, 404])
    def test_client_errors_are_permanent(self, httpserver: Any, status: int) -> None:
        for err in self._deliver_failing(httpserver, status, self.error_body(status)):
            assert err.permanent, f"a {status} must be a permanent failure"

    def test_unreachable_server_is_retryable(self) -> None:
        if not self.delivers_over_http:
            pytest.skip("this adapter does not deliver over HTTP")
        with socket.socket() as sock:  # a port nothing listens on once closed
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        adapter = self.make_adapter(f"http://127.0.0.1:{port}")
        try:
            capability = sorted(adapter.capabilities)[0]
            with pytest.raises(DeliveryError) as info:
                adapter.deliver(self.sample_action(capability))
            assert not info.value.permanent
        finally:
            adapter.close()
