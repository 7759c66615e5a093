"""The Example Chat adapter passes the adapter contract (engage_rules.testing)."""

from __future__ import annotations

from typing import Any

from engage_rules_example_chat import ExampleChatAdapter

from engage_rules.testing import AdapterContract, PayloadSample, action, event

AT = "2026-03-02T20:15:00+08:00"


class TestExampleChatContract(AdapterContract):
    samples = (
        PayloadSample(
            name="a member's message",
            payload={
                "update_id": 7,
                "kind": "message",
                "message": {
                    "id": "m-1",
                    "chat": "general",
                    "text": "hi",
                    "sent_at": AT,
                    "user": {"id": "u1", "name": "Ann", "bot": False},
                },
            },
            events=[
                event(
                    "message.posted",
                    {"id": "u1", "name": "Ann"},
                    id="example_chat-7",
                    at=AT,
                    platform="example_chat",
                    channel="general",
                    message_id="m-1",
                    text="hi",
                )
            ],
        ),
        PayloadSample(
            name="a join",
            payload={
                "update_id": 8,
                "kind": "join",
                "join": {"chat": "general", "sent_at": AT, "user": {"id": "u2"}},
            },
            events=[
                event(
                    "member.joined",
                    "u2",
                    id="example_chat-8",
                    at=AT,
                    platform="example_chat",
                    channel="general",
                )
            ],
        ),
        PayloadSample(
            name="a reaction",
            payload={
                "update_id": 9,
                "kind": "reaction",
                "reaction": {
                    "message_id": "m-1",
                    "emoji": "👍",
                    "author_id": "u1",
                    "sent_at": AT,
                    "user": {"id": "u3"},
                },
            },
            events=[
                event(
                    "reaction.added",
                    "u3",
                    id="example_chat-9",
                    at=AT,
                    platform="example_chat",
                    message_id="m-1",
                    emoji="👍",
                    to_member="u1",
                )
            ],
        ),
        PayloadSample(
            name="the bot's own message is not an event",
            payload={
                "update_id": 10,
                "kind": "message",
                "message": {
                    "id": "m-2",
                    "text": "welcome!",
                    "sent_at": AT,
                    "user": {"id": "bot", "bot": True},
                },
            },
            events=[],
        ),
        PayloadSample(
            name="an update kind the engine ignores",
            payload={"update_id": 11, "kind": "typing"},
            events=[],
        ),
    )
    malformed = (
        {},
        {"update_id": "7", "kind": "message"},
        {"update_id": 7, "kind": "message", "message": {"user": {"id": "u1"}}},
        {
            "update_id": 7,
            "kind": "join",
            "join": {"sent_at": "2026-03-02T20:15:00", "user": {"id": "u1"}},
        },
    )

    def make_adapter(self, base_url: str) -> ExampleChatAdapter:
        return ExampleChatAdapter({"base_url": base_url, "token": "test-token"})

    def sample_action(self, capability: str) -> dict[str, Any]:
        if capability == "example_chat.pin":
            return action(capability, params={"message_id": "m-1", "channel": "general"})
        return action(capability)

    def success_body(self, capability: str) -> Any:
        return {"ok": True, "id": "x-1"}
