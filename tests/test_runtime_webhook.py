"""The webhook source inside a running service: signatures, the replay window, delivery
id dedup (across restarts), malformed events, and what reaches the platform."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engage_rules.runtime.config import load_config
from engage_rules.runtime.service import Service, SetupError
from engage_rules.store.sqlite import SQLiteStore
from engage_rules.testing import RecordingPlatform, live_service, wait_for
from runtime_helpers import ENV, PLATFORM_SECRET, committed_ids, write_setup

pytestmark = pytest.mark.e2e


@pytest.fixture
def platform() -> Iterator[RecordingPlatform]:
    with RecordingPlatform(secret=PLATFORM_SECRET) as p:
        yield p


def state_of(tmp_path: Path) -> tuple[set[str], list[str]]:
    """(processed ids, outbox keys) as committed."""
    store = SQLiteStore(tmp_path / "state.db")
    try:
        store.open()
        return committed_ids(store.path), [i.action.key for i in store.outbox()]
    finally:
        store.close()


def test_a_signed_event_is_accepted_committed_and_its_actions_delivered(
    tmp_path: Path, platform: RecordingPlatform
) -> None:
    with live_service(write_setup(tmp_path, platform.url), env=ENV) as live:
        status, body = live.post(live.event_obj("member.joined", id="evt-1"))
        assert (status, body) == (202, {"status": "accepted", "events": ["evt-1"]})
        assert live.service.store.is_processed("evt-1")  # durable before the answer
        wait_for(lambda: len(platform.calls) == 1)
    [call] = platform.calls
    assert (call["type"], call["member"], call["params"]["text"]) == ("send", "u1", "欢迎 u1")
    assert platform.deliveries == [call["key"]] and platform.bad_signatures == 0
    lines = (tmp_path / "bookkeeping.jsonl").read_text().splitlines()
    assert len(lines) == 1 and '"award"' in lines[0]


def test_forged_stale_and_replayed_requests_are_rejected_without_state_change(
    tmp_path: Path, platform: RecordingPlatform
) -> None:
    with live_service(write_setup(tmp_path, platform.url), env=ENV) as live:
        posts = {n: live.event_obj("message.posted", id=f"evt-{n}") for n in range(1, 7)}
        assert live.post(posts[1], delivery="d-1")[0] == 202
        before = state_of_live(live.service)
        assert live.post(posts[2], secret="not-the-secret-at-all") == (
            401,
            {"status": "rejected", "reason": "bad signature"},
        )
        assert live.post(posts[3], sig="sha256=" + "0" * 64)[0] == 401
        assert live.post(posts[4], timestamp=time.time() - 301) == (
            401,
            {"status": "rejected", "reason": "stale timestamp"},
        )
        assert live.post(posts[5], timestamp=time.time() + 301)[0] == 401
        assert live.post(posts[1], delivery="d-1") == (
            409,
            {"status": "rejected", "reason": "replayed delivery"},
        )
        assert live.post(posts[6], delivery="d-1")[0] == 409  # same id, other body
        # a sender's retry of the same event with a new delivery id: accepted as a no-op
        assert live.post(posts[1], delivery="d-2") == (
            200,
            {"status": "duplicate", "events": ["evt-1"]},
        )
        after = state_of_live(live.service)
        assert after[1] == before[1]  # no new actions
        assert after[0] - before[0] == {"webhook-delivery:d-2"}
        counts = live.service.webhooks[0].counts
        assert (counts["forged"], counts["stale"], counts["replayed"]) == (2, 2, 2)
    for n in (2, 3, 4, 5, 6):
        assert f"evt-{n}" not in state_of(tmp_path)[0]


def state_of_live(service: Service) -> tuple[set[str], list[str]]:
    return committed_ids(service.store.path), [  # type: ignore[attr-defined]
        i.action.key for i in service.store.outbox()
    ]


def test_a_replay_after_a_restart_is_still_rejected(
    tmp_path: Path, platform: RecordingPlatform
) -> None:
    config = write_setup(tmp_path, platform.url)
    with live_service(config, env=ENV) as live:
        first = live.event_obj("message.posted", id="evt-1")
        assert live.post(first, delivery="once", timestamp=time.time())[0] == 202
    with live_service(config, env=ENV) as live:
        assert live.post(first, delivery="once")[0] == 409


def test_malformed_events_get_400_with_the_quarantine_reason(
    tmp_path: Path, platform: RecordingPlatform
) -> None:
    with live_service(write_setup(tmp_path, platform.url), env=ENV) as live:
        assert live.post(b"{not json")[0] == 400
        status, body = live.post({"id": "x", "at": "2026-03-02T10:00:00Z"})
        assert (status, body["status"], body["reason"]) == (400, "quarantined", "missing_field")
        status, body = live.post(
            {**live.event_obj("message.posted", id="evt-9"), "at": "2026-03-02T10:00:00"}
        )
        assert body["reason"] == "bad_time"
        assert live.post(live.event_obj("message.posted", id="evt-10"), path="/other")[0] == 404
        assert live.service.stats.accepted == 0


def test_a_playbook_action_no_adapter_supports_fails_start_up(
    tmp_path: Path, platform: RecordingPlatform
) -> None:
    config = write_setup(tmp_path, platform.url)
    text = config.read_text().replace(
        "    secret_env: PLATFORM_SECRET\n",
        "    secret_env: PLATFORM_SECRET\n    capabilities: [send, reply]\n",
    )
    text = re.sub(
        r"    type: jsonl\n    actions_out: .*\n",
        "    type: webhook\n    base_url: http://x\n    capabilities: [send]\n",
        text,
    )
    config.write_text(text)
    with pytest.raises(SetupError) as info:
        Service.from_config(load_config(config, ENV))
    lines = info.value.problems
    assert [line.split(": ", 1)[1].split(";")[0] for line in lines] == [
        "action `delete_message` is not supported by any configured adapter",
        "action `mute` is not supported by any configured adapter",
        "action `unmute` is not supported by any configured adapter",
    ]
    assert lines[0].startswith(f"{(tmp_path / 'playbook.yaml').resolve()}:")


def test_timers_fire_in_real_time(tmp_path: Path, platform: RecordingPlatform) -> None:
    with live_service(write_setup(tmp_path, platform.url), env=ENV) as live:
        assert live.post(live.event_obj("message.posted", id="evt-1", text="spam"))[0] == 202
        wait_for(lambda: "unmute" in [c["type"] for c in platform.calls])
    kinds = [c["type"] for c in platform.calls]
    assert sorted(kinds) == ["delete_message", "mute", "unmute"]
    assert kinds.index("mute") < kinds.index("unmute")  # one route (the member), in order
