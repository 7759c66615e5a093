"""OneBot v11 payloads → events: recorded payloads (tests/data, each citing its source),
CQ codes, malformed payloads, and fuzzed payloads that must never crash parse."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from engage_rules_onebot.commands import event_json
from engage_rules_onebot.mapping import MappingConfig, delivery_key, parse_payload
from engage_rules_onebot.segments import parse_cq, read_message, to_cq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engage_rules.plugin_api import PayloadError

DATA = Path(__file__).parent / "data"
CONFIG = MappingConfig(groups={"123456": "fans"})


def load(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text("utf-8"))
    return payload


def one(name: str, config: MappingConfig = CONFIG) -> dict[str, Any]:
    events = parse_payload(load(name), config)
    assert len(events) == 1, events
    return event_json(events[0])


def test_every_fixture_cites_its_source() -> None:
    for path in DATA.glob("*.json"):
        source = json.loads(path.read_text("utf-8")).get("_source", "")
        assert source.startswith("https://github.com/"), path.name


def test_group_message_array() -> None:
    assert one("group_message_array") == {
        "id": "onebot:123456:-2147480000",
        "type": "message.posted",
        "at": "2023-11-14T22:13:20+00:00",
        "community": "fans",
        "platform": "onebot",
        "channel": "123456",
        "member": {"id": "20002000", "name": "群名片", "roles": ["admin"]},
        "data": {
            "text": " 看这个 https://example.com/a?b=1，",
            "message_id": "-2147480000",
            "kind": "face",
            "mentions": ["30003000"],
            "reply_to": "-2147479999",
            "images": 1,
            "faces": ["178"],
            "links": ["https://example.com/a?b=1", "http://baidu.com"],
        },
    }


def test_cq_string_message_unescapes_and_reads_json_cards() -> None:
    event = one("group_message_cq_string")
    assert event["data"] == {
        "text": " 进群福利 [限时] ",
        "message_id": "42",
        "kind": "json",
        "mentions": ["all"],
        "links": ["https://spam.example/x"],
    }
    assert event["member"] == {"id": "20002000", "name": "小不点"}


def test_recall_is_a_deletion_with_its_operator() -> None:
    event = one("group_recall")
    assert (event["type"], event["member"], event["data"]) == (
        "message.deleted",
        {"id": "20002000"},
        {"message_id": "42", "operator": "30003000", "by_author": False},
    )


def test_joins_leaves_and_requests() -> None:
    assert one("group_increase_invite")["data"] == {"how": "invite", "inviter": "30003000"}
    assert one("group_increase_approve")["data"] == {"how": "approve", "approved_by": "30003000"}
    kicked = one("group_decrease_kick")
    assert (kicked["type"], kicked["data"]) == (
        "member.left",
        {"reason": "kicked", "operator": "30003000"},
    )
    assert one("group_decrease_leave")["data"] == {"reason": "left"}
    request = one("request_group_add")
    assert request["type"] == "member.join_requested"
    assert request["id"] == "onebot:123456:request:1700000010123456"
    assert request["data"] == {"comment": "问题：暗号\n答案：芝麻开门", "flag": "1700000010123456"}


def test_notify_and_upload_events() -> None:
    assert one("notify_poke")["type"] == "onebot.poke"
    assert one("notify_poke")["data"] == {"to_member": "30003000"}
    assert one("notify_honor")["data"] == {"honor": "talkative"}
    upload = one("group_upload")
    assert upload["type"] == "onebot.file_uploaded"
    assert upload["data"] == {"file": "群规.pdf", "file_id": "/a1b2c3", "size": 10240}


@pytest.mark.parametrize(
    "name",
    ["heartbeat", "group_message_anonymous", "group_decrease_kick_me", "private_message"],
)
def test_payloads_that_carry_no_member_event(name: str) -> None:
    assert parse_payload(load(name), CONFIG) == []


def test_private_messages_count_in_the_private_community_when_set() -> None:
    config = MappingConfig(private_community="dm")
    event = one("private_message", config)
    assert (event["community"], event["channel"], event["data"]["text"]) == (
        "dm",
        "private:1",
        " Test text",
    )


def test_other_groups_are_ignored_when_groups_are_named() -> None:
    payload = {**load("group_message_array"), "group_id": 999}
    assert parse_payload(payload, CONFIG) == []
    assert parse_payload(payload, MappingConfig())[0].community == "999"


def test_the_bots_own_messages_are_ignored() -> None:
    payload = {**load("group_message_array"), "user_id": 10001000}
    assert parse_payload(payload, CONFIG) == []
    assert parse_payload({**payload, "post_type": "message_sent"}, CONFIG) == []


def test_api_answers_are_not_events() -> None:
    assert parse_payload({"status": "ok", "retcode": 0, "data": None, "echo": "1"}, CONFIG) == []


def test_delivery_keys() -> None:
    assert delivery_key(load("group_message_array")) == "onebot:10001000:group:-2147480000"
    recall = load("group_recall")
    assert delivery_key(recall) == delivery_key(dict(reversed(list(recall.items()))))
    assert delivery_key(recall) != delivery_key({**recall, "message_id": 43})


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        ([], None),
        ({"post_type": 3}, "post_type"),
        ({"post_type": "message", "time": "now", "self_id": 1}, "time"),
        ({"post_type": "message", "time": 1, "self_id": 1, "message_type": "group"}, "message_id"),
        ({**load("group_message_array"), "message": {"a": 1}}, "message"),
        (
            {**load("group_message_array"), "message": [{"type": "at", "data": {"qq": None}}]},
            "message[0].data.qq",
        ),
        ({**load("group_message_array"), "message": [{"data": {}}]}, "message[0]"),
        ({**load("group_recall"), "operator_id": "x"}, "operator_id"),
        ({**load("group_upload"), "file": "x"}, "file"),
        ({**load("request_group_add"), "flag": 5}, "flag"),
        ({**load("notify_poke"), "time": 10**20}, "time"),
    ],
)
def test_malformed_payloads_name_the_field(payload: Any, where: str | None) -> None:
    with pytest.raises(PayloadError) as err:
        parse_payload(payload, CONFIG)
    if where is not None:
        assert where in str(err.value)


def test_cq_codes_round_trip() -> None:
    segments = [
        {"type": "text", "data": {"text": "a[b]&c,d"}},
        {"type": "at", "data": {"qq": "123"}},
        {"type": "share", "data": {"url": "https://x.example/?a=1,2", "title": "[t]"}},
    ]
    text = to_cq(segments)
    assert text == (
        "a&#91;b&#93;&amp;c,d[CQ:at,qq=123]"
        "[CQ:share,url=https://x.example/?a=1&#44;2,title=&#91;t&#93;]"
    )
    assert parse_cq(text) == segments


def test_links_in_xml_cards_and_text_punctuation() -> None:
    content = read_message(
        [
            {"type": "text", "data": {"text": "见 https://a.example/x。"}},
            {"type": "xml", "data": {"data": '<msg url="http://b.example/y"/>'}},
            {"type": "json", "data": {"data": "not json https://c.example"}},
        ]
    )
    assert content.links == ["https://a.example/x", "http://b.example/y", "https://c.example"]


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.sampled_from(sorted(p.stem for p in DATA.glob("*.json"))),
    key=st.sampled_from(
        [
            "time",
            "self_id",
            "post_type",
            "message_type",
            "sub_type",
            "notice_type",
            "message",
            "group_id",
            "user_id",
            "operator_id",
            "message_id",
            "file",
            "flag",
            "sender",
            "target_id",
            "honor_type",
            "anonymous",
            "comment",
        ]
    ),
    value=_JSON,
)
def test_fuzzed_payloads_never_crash_parse(base: str, key: str, value: Any) -> None:
    payload = {**load(base), key: value}
    with contextlib.suppress(PayloadError):
        parse_payload(payload, CONFIG)


@settings(max_examples=150, deadline=None)
@given(
    st.text(max_size=60)
    | st.lists(st.dictionaries(st.sampled_from(["type", "data"]), _JSON), max_size=4)
)
def test_fuzzed_messages_never_crash(message: Any) -> None:
    with contextlib.suppress(PayloadError):
        read_message(message)
