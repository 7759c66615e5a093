"""Actions → OneBot API calls (plan, pure), answers → deliveries (retcodes), and the HTTP
API caller against a local OneBot HTTP API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from engage_rules_onebot.client import (
    MAX_MUTE,
    ApiCall,
    HttpCaller,
    Targets,
    deliver,
    outcome,
    plan,
)
from onebot_fake import HttpApi

from engage_rules.plugin_api import DeliveryError

NOW = 1_700_000_000.0
GROUPS = {"fans": 123456}


def group_of(community: str) -> int:
    if community not in GROUPS:
        raise DeliveryError(f"no group for {community}", permanent=True)
    return GROUPS[community]


TARGETS = Targets(group_of, {"vip": "尊贵会员"}, "admin")


def action(kind: str, member: str | None = "20002000", **params: Any) -> dict[str, Any]:
    return {
        "key": "k",
        "type": kind,
        "member": member,
        "rule": "r",
        "cause": "onebot:123456:42",
        "at": "2023-11-14T22:13:20+00:00",
        "params": params,
        "community": "fans",
    }


def calls(act: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(c.action, c.params) for c in plan(act, TARGETS, NOW)]


def test_messages() -> None:
    assert calls(action("send", text="欢迎")) == [
        (
            "send_private_msg",
            {"user_id": 20002000, "message": [{"type": "text", "data": {"text": "欢迎"}}]},
        )
    ]
    assert calls(action("warn", text="注意"))[0][0] == "send_private_msg"
    assert calls(action("reply", text="收到", channel="123456", reply_to="42")) == [
        (
            "send_group_msg",
            {
                "group_id": 123456,
                "message": [
                    {"type": "reply", "data": {"id": "42"}},
                    {"type": "at", "data": {"qq": "20002000"}},
                    {"type": "text", "data": {"text": " "}},
                    {"type": "text", "data": {"text": "收到"}},
                ],
            },
        )
    ]
    assert calls(action("broadcast", member=None, text="公告")) == [
        (
            "send_group_msg",
            {"group_id": 123456, "message": [{"type": "text", "data": {"text": "公告"}}]},
        )
    ]
    private = calls(action("reply", text="hi", channel="private:20002000", reply_to="7"))
    assert private[0][0] == "send_private_msg"
    assert private[0][1]["user_id"] == 20002000


def test_moderation() -> None:
    assert calls(action("delete_message", message_id="-2147480000", channel="123456")) == [
        ("delete_msg", {"message_id": -2147480000})
    ]
    assert calls(action("mute", until="2023-11-14T23:13:20+00:00", reason="spam")) == [
        ("set_group_ban", {"group_id": 123456, "user_id": 20002000, "duration": 3600})
    ]
    assert calls(action("mute", until="2023-11-14T22:13:30+00:00"))[0][1]["duration"] == 60
    assert calls(action("mute"))[0][1]["duration"] == MAX_MUTE
    assert calls(action("mute", until="2023-11-14T22:13:00+00:00")) == []  # already over
    assert calls(action("unmute"))[0][1]["duration"] == 0
    assert calls(action("kick", reason="x")) == [
        ("set_group_kick", {"group_id": 123456, "user_id": 20002000, "reject_add_request": False})
    ]
    assert calls(action("ban"))[0][1]["reject_add_request"] is True


def test_roles_pins_and_join_requests() -> None:
    assert calls(action("grant_role", role="admin")) == [
        ("set_group_admin", {"group_id": 123456, "user_id": 20002000, "enable": True})
    ]
    assert calls(action("remove_role", role="admin"))[0][1]["enable"] is False
    assert calls(action("grant_role", role="vip")) == [
        (
            "set_group_special_title",
            {"group_id": 123456, "user_id": 20002000, "special_title": "尊贵会员", "duration": -1},
        )
    ]
    assert calls(action("remove_role", role="vip"))[0][1]["special_title"] == ""
    assert calls(action("pin", message_id="42")) == [("set_essence_msg", {"message_id": 42})]
    assert calls(action("unpin", message_id="42")) == [("delete_essence_msg", {"message_id": 42})]
    join = {**action("approve_join"), "cause": "onebot:123456:request:17000"}
    assert calls(join) == [
        ("set_group_add_request", {"flag": "17000", "sub_type": "add", "approve": True})
    ]
    decline = {**action("decline_join", reason="答案不对"), "cause": "onebot:123456:request:17000"}
    assert calls(decline)[0][1] == {
        "flag": "17000",
        "sub_type": "add",
        "approve": False,
        "reason": "答案不对",
    }


def test_group_cards_and_badge_titles() -> None:
    target = {"group_id": 123456, "user_id": 20002000}
    assert calls(action("onebot.set_card", card="【新人】小王")) == [
        ("set_group_card", {**target, "card": "【新人】小王"})
    ]
    assert calls(action("onebot.set_card", card=""))[0][1]["card"] == ""
    titled = Targets(group_of, badge_titles={"helper": "热心群友"})
    grant = action("grant_badge", badge="helper", name="热心群友", title=True)
    assert [(c.action, c.params) for c in plan(grant, titled, NOW)] == [
        ("set_group_special_title", {**target, "special_title": "热心群友", "duration": -1})
    ]
    revoke = action("revoke_badge", badge="helper", reason="expired")
    assert plan(revoke, titled, NOW)[0].params["special_title"] == ""
    # A badge that is no QQ title: nothing is sent, and the delivery says why.
    other = action("grant_badge", badge="first-post")
    assert plan(other, titled, NOW) == []
    sent: list[ApiCall] = []
    skipped = deliver(other, titled, lambda c: sent.append(c), NOW)
    assert sent == [] and "badge_titles" in skipped.details["skipped"]


def test_join_answer_without_a_known_request_is_permanent() -> None:
    with pytest.raises(DeliveryError) as err:
        plan(action("approve_join"), TARGETS, NOW)
    assert err.value.permanent and "flag" in str(err.value)
    remembered = Targets(
        group_of, flag_of=lambda c, m: "f-1" if (c, m) == ("fans", "20002000") else None
    )
    assert plan(action("approve_join"), remembered, NOW)[0].params["flag"] == "f-1"


@pytest.mark.parametrize(
    ("act", "message"),
    [
        (action("send", text=""), "no text"),
        (action("onebot.set_card"), "has no card"),
        (action("onebot.set_card", member=None, card="x"), "needs a member"),
        (action("send", member=None, text="x"), "needs a member"),
        (action("send", member="abc", text="x"), "not a QQ number"),
        (action("delete_message", message_id=None), "no message_id"),
        (action("delete_message", message_id="x1"), "not a OneBot message id"),
        (action("mute", until="tomorrow"), "ISO 8601"),
        (action("grant_role"), "no role"),
        ({**action("broadcast", text="x"), "community": "other"}, "no group"),
        (action("poll", question="q", options=["a", "b"]), "cannot deliver `poll`"),
        ({**action("send"), "params": [1]}, "params must be an object"),
    ],
)
def test_actions_that_cannot_be_delivered_are_permanent(act: dict[str, Any], message: str) -> None:
    with pytest.raises(DeliveryError) as err:
        plan(act, TARGETS, NOW)
    assert err.value.permanent
    assert message in str(err.value)


CALL = ApiCall("delete_msg", {"message_id": 1}, "onebot:123456")


def test_answers() -> None:
    sent = outcome(CALL, {"status": "ok", "retcode": 0, "data": {"message_id": 77}})
    assert (sent.platform_id, sent.route) == ("77", "onebot:123456")
    assert outcome(CALL, {"status": "async", "retcode": 1, "data": None}).details == {"async": True}


@pytest.mark.parametrize(
    ("retcode", "is_permanent"),
    [
        (100, True),
        (102, True),
        (1400, True),
        (1401, True),
        (1403, True),
        (1404, True),
        (103, False),
        (201, False),
        (-1, False),
    ],
)
def test_failed_retcodes_are_reported(retcode: int, is_permanent: bool) -> None:
    with pytest.raises(DeliveryError) as err:
        outcome(
            CALL, {"status": "failed", "retcode": retcode, "data": None, "wording": "消息不存在"}
        )
    assert err.value.permanent is is_permanent
    assert f"retcode {retcode}" in str(err.value) and "消息不存在" in str(err.value)


@pytest.mark.parametrize("answer", [None, [], {"status": "ok"}, {"retcode": "0"}])
def test_answers_without_a_retcode_are_retryable_errors(answer: Any) -> None:
    with pytest.raises(DeliveryError) as err:
        outcome(CALL, answer)
    assert not err.value.permanent


@pytest.fixture
def api() -> Iterator[HttpApi]:
    server = HttpApi(token="tok")
    yield server
    server.close()


def test_http_caller_delivers_with_the_token(api: HttpApi) -> None:
    caller = HttpCaller(api.url, "tok", 5.0)
    delivery = deliver(action("send", text="你好"), TARGETS, caller, NOW)
    assert delivery.platform_id == "1001"
    assert api.calls == [
        (
            "send_private_msg",
            {"user_id": 20002000, "message": [{"type": "text", "data": {"text": "你好"}}]},
        )
    ]
    api.retcodes["delete_msg"] = 1404
    with pytest.raises(DeliveryError) as err:
        deliver(action("delete_message", message_id="5"), TARGETS, caller, NOW)
    assert err.value.permanent


def test_http_caller_with_a_wrong_token_is_permanent(api: HttpApi) -> None:
    with pytest.raises(DeliveryError) as err:
        deliver(action("send", text="x"), TARGETS, HttpCaller(api.url, "wrong", 5.0), NOW)
    assert err.value.permanent and "401" in str(err.value)


def test_http_caller_unreachable_is_retryable() -> None:
    with pytest.raises(DeliveryError) as err:
        deliver(action("send", text="x"), TARGETS, HttpCaller("http://127.0.0.1:9", None, 2.0), NOW)
    assert not err.value.permanent
