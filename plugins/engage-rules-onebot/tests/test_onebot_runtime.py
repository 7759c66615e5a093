"""The adapter inside `engage-rules run` (Service + SQLite store), connected to a fake
OneBot implementation over a forward WebSocket: a group message breaking the rules is
recalled (``delete_msg``) and its author muted (``set_group_ban``); a message the
implementation delivers twice is processed once; after a disconnect the adapter
reconnects and carries on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from onebot_fake import ForwardServer, ReverseClient, group_message, wait_for

from engage_rules.testing import live_service

pytestmark = pytest.mark.e2e

PLAYBOOK = """\
engage_rules: 1
name: qq-moderation
community: {name: Fans, timezone: Asia/Shanghai}
rules:
  - id: no-ads
    on: message.posted
    if: "contains_any(event.data.text, ['加微信'])"
    do:
      - delete_message: {reason: advertising}
      - mute: {for: 10m, reason: advertising}
"""


def config(tmp_path: Path, url: str) -> str:
    return f"""\
store: sqlite:///{tmp_path}/state.db
timer_poll: 0.2
adapters:
  onebot:
    url: {url}
    access_token_env: ONEBOT_TOKEN
    groups: {{123456: fans}}
dispatch:
  default: onebot
  retry: {{base: 0.05, max_delay: 0.5, max_attempts: 50}}
  shutdown_timeout: 5
"""


@pytest.fixture
def onebot() -> Iterator[ForwardServer]:
    server = ForwardServer(token="s3cret")
    yield server
    server.close()


def test_a_group_message_is_moderated_end_to_end(tmp_path: Path, onebot: ForwardServer) -> None:
    with live_service(
        config(tmp_path, onebot.url),
        playbook=PLAYBOOK,
        directory=tmp_path,
        env={"ONEBOT_TOKEN": "s3cret"},
    ):
        wait_for(lambda: len(onebot.open()) == 1)
        onebot.push(group_message(7, "你好"))
        onebot.push(group_message(8, "兼职日结，加微信 abc123"))
        onebot.push(group_message(8, "兼职日结，加微信 abc123"))  # delivered twice
        wait_for(lambda: len(onebot.calls) >= 2)
        onebot.drop()
        wait_for(lambda: len(onebot.open()) == 1)
        onebot.push(group_message(9, "加微信 again", user_id=20002001))
        wait_for(lambda: len(onebot.calls) >= 4)
    # A mute's duration is the time left until it ends when the call is made: a call
    # delivered a second after the decision (a reconnect in between) asks for 599.
    calls = sorted(onebot.calls, key=lambda c: (c[0], str(c[1])))
    durations = [body.pop("duration") for name, body in calls if name == "set_group_ban"]
    assert calls == [
        ("delete_msg", {"message_id": 8}),
        ("delete_msg", {"message_id": 9}),
        ("set_group_ban", {"group_id": 123456, "user_id": 20002000}),
        ("set_group_ban", {"group_id": 123456, "user_id": 20002001}),
    ]
    assert all(590 <= d <= 600 for d in durations), durations


TITLES = """\
engage_rules: 1
name: qq-titles
community: {name: Fans, timezone: Asia/Shanghai}
badges:
  helper: {name: 热心群友, title: true}
  first-post: {name: 第一次发言}
rules:
  - id: helpful
    on: message.posted
    if: "contains_any(event.data.text, ['已解决'])"
    do:
      - grant_badge: helper
      - grant_badge: first-post
      - onebot.set_card: "【热心】{{ event.data.text[:4] }}"
"""


def test_honour_titles_and_group_cards_reach_qq(tmp_path: Path, onebot: ForwardServer) -> None:
    text = config(tmp_path, onebot.url).replace(
        "    groups: {123456: fans}\n",
        "    groups: {123456: fans}\n    badge_titles: {helper: 热心群友}\n",
    )
    with live_service(
        text, playbook=TITLES, directory=tmp_path, env={"ONEBOT_TOKEN": "s3cret"}
    ) as live:
        wait_for(lambda: len(onebot.open()) == 1)
        onebot.push(group_message(21, "问题已解决，谢谢"))
        wait_for(lambda: len(onebot.calls) >= 2)
        stats = live.service.dispatcher.stats
        wait_for(lambda: stats.delivered >= 3)
    target = {"group_id": 123456, "user_id": 20002000}
    assert sorted(onebot.calls, key=lambda c: c[0]) == [
        ("set_group_card", {**target, "card": "【热心】问题已解"}),
        ("set_group_special_title", {**target, "special_title": "热心群友", "duration": -1}),
    ]


def test_reverse_websocket_in_the_runtime(tmp_path: Path) -> None:
    config = f"""\
store: sqlite:///{tmp_path}/state.db
adapters:
  onebot:
    mode: reverse
    port: 0
    access_token_env: ONEBOT_TOKEN
    groups: {{123456: fans}}
dispatch:
  default: onebot
  shutdown_timeout: 5
"""
    with live_service(
        config, playbook=PLAYBOOK, directory=tmp_path, env={"ONEBOT_TOKEN": "s3cret"}
    ) as live:
        (source,) = live.service.sources
        host, port = source.address  # type: ignore[attr-defined]
        client = ReverseClient(
            f"ws://{host}:{port}/onebot/v11/ws",
            {
                "Authorization": "Bearer s3cret",
                "X-Self-ID": "10001000",
                "X-Client-Role": "Universal",
            },
        )
        try:
            client.push(group_message(11, "加微信"))
            wait_for(lambda: len(client.calls) >= 2)
        finally:
            client.close()
    assert sorted(a for a, _ in client.calls) == ["delete_msg", "set_group_ban"]
