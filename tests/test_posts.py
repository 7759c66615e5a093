"""Posts as objects (docs/language.md, "Posts"): what updates a post, `post.*` in
expressions and templates, `on: {post_reached: ...}` once per post, `tag_post`, bounds,
persistence, and load-time problems."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engage_rules import Engine, Event
from engage_rules.errors import PlaybookError
from engage_rules.model.decision import ActionRecord
from engage_rules.model.posts import POSTS_KEY, post_key
from engage_rules.shell.runner import Runner
from engage_rules.testing import event, open_store
from helpers import playbook, run

DAY = 86400

ESSENCE = """
rules:
  - id: essence
    on: {post_reached: {reactions: 3}}
    do:
      - tag_post: essence
      - award: {points: 20, reason: 精华}
      - reply: {text: "{{ member.name }}: {{ post.reactions }} / {{ post.id }} / {{ post.tags }}"}
"""


def post(mid: str, member: str = "u1", at: float = 0, channel: str = "g", **data: Any) -> Event:
    data = {"message_id": mid, "text": "hi", **data}
    return event("message.posted", member, at, channel=channel, data=data)


def react(
    mid: str, member: str, at: float = 0, emoji: str = "👍", to: str | None = "u1", **kw: Any
) -> Event:
    data: dict[str, Any] = {"message_id": mid, "emoji": emoji}
    if to is not None:
        data["to_member"] = to
    return event("reaction.added", member, at, channel=kw.pop("channel", "g"), data=data, **kw)


def unreact(mid: str, member: str, at: float = 0, emoji: str = "👍") -> Event:
    return event(
        "reaction.removed", member, at, channel="g", data={"message_id": mid, "emoji": emoji}
    )


def items(engine: Engine, community: str = "default") -> dict[str, dict[str, Any]]:
    posts = engine.state.community(community).data.get(POSTS_KEY)
    return posts["items"] if posts else {}


def test_post_reached_fires_once_for_the_author_with_the_post_in_scope() -> None:
    engine = Engine(playbook(ESSENCE))
    acts = run(engine, post("m1"), react("m1", "u2", 1), react("m1", "u3", 2))
    assert acts == []
    third = react("m1", "u4", 3)
    acts = run(engine, third)
    cause = f"{third.id}/post:essence"
    assert [(a.type, a.member, a.rule, a.cause) for a in acts] == [
        ("tag_post", "u1", "essence", cause),
        ("award", "u1", "essence", cause),
        ("reply", "u1", "essence", cause),
    ]
    assert acts[0].params == {"name": "essence", "message_id": "m1", "channel": "g"}
    assert acts[2].params["text"] == 'u1: 3 / m1 / ["essence"]'
    assert acts[2].params["reply_to"] == "m1"
    # More reactions, a removal and the same reactions again: never a second time.
    acts = run(
        engine,
        react("m1", "u5", 4),
        unreact("m1", "u5", 5),
        unreact("m1", "u4", 6),
        react("m1", "u4", 7),
        react("m1", "u6", 8),
    )
    assert acts == []
    assert engine.state.community("default").members["u1"].balance("points") == 20
    assert items(engine)[post_key("g", "m1")]["f"] == ["essence"]


def test_reactions_count_once_per_member_and_emoji_and_removals_take_them_back() -> None:
    engine = Engine(playbook(ESSENCE))
    run(
        engine,
        post("m1"),
        react("m1", "u2", 1),
        react("m1", "u2", 2),  # the same reaction again: not counted
        react("m1", "u2", 3, emoji="❤️"),  # another emoji: counted
        unreact("m1", "u3", 4),  # never counted: ignored
        unreact("m1", "u2", 5, emoji="❤️"),
        unreact("m1", "u2", 6, emoji="❤️"),  # twice: once
    )
    item = items(engine)[post_key("g", "m1")]
    assert (item["r"], item["k"], item["a"]) == (1, ["u2:👍"], "u1")


def test_replies_and_shares_count_on_the_post_they_concern() -> None:
    pb = playbook("""
rules:
  - id: hot
    on: message.posted
    if: "post.replies >= 2"
    do: [{award: {points: 5, to: "{{ post.author }}"}}]
  - id: shared
    on: content.shared
    if: "post.shares == 2 and post.author == 'u1' and post.channel == 'g'"
    do: [{tag: {name: "shared-{{ post.id }}", to: "{{ post.author }}"}}]
""")
    engine = Engine(pb)
    second = post("r2", "u3", 2, reply_to="m1", reply_to_member="u1")
    acts = run(engine, post("m1"), post("r1", "u2", 1, reply_to="m1", reply_to_member="u1"), second)
    assert [(a.type, a.member, a.cause) for a in acts] == [("award", "u1", second.id)]
    item = items(engine)[post_key("g", "m1")]
    assert (item["p"], item["r"], item["s"]) == (2, 0, 0)
    assert items(engine)[post_key("g", "r1")]["a"] == "u2"  # a reply is a post too
    share = {"message_id": "m1", "to_member": "u1"}
    acts = run(
        engine,
        event("content.shared", "u4", 3, channel="g", data=share),
        event("content.shared", "u5", 4, channel="g", data=share),
    )
    assert [(a.type, a.member, a.params["name"]) for a in acts] == [("tag", "u1", "shared-m1")]


def test_the_same_message_id_in_two_channels_is_two_posts() -> None:
    engine = Engine(playbook(ESSENCE))
    run(engine, post("m1", channel="a"), post("m1", "u9", channel="b"))
    acts = run(engine, *(react("m1", f"u{i}", i, channel="b", to="u9") for i in range(2, 5)))
    assert {(a.type, a.member) for a in acts} >= {("tag_post", "u9")}
    assert items(engine)[post_key("a", "m1")]["r"] == 0
    assert post_key("a", "m1") != post_key("a:", "m1") and post_key(None, "m1") != post_key(
        "", "m1"
    )


def test_a_post_first_seen_through_reactions_takes_its_author_from_to_member() -> None:
    engine = Engine(playbook(ESSENCE))
    acts = run(engine, *(react("old", f"u{i}", i, to="u7") for i in range(2, 5)))
    assert [(a.type, a.member) for a in acts if a.type == "award"] == [("award", "u7")]


def test_post_fields_without_a_post_are_zero_and_none() -> None:
    pb = playbook("""
rules:
  - id: r
    on: checkin
    if: "post is none and post.reactions == 0 and post.author is none and post.tags == []"
    do: [{tag: {name: "x{{ post.replies }}y{{ post is none }}"}}]
""")
    engine = Engine(pb)
    acts = run(engine, event("checkin", "u1", 0))
    # In templates, the fields of no post are undefined: they print as nothing.
    assert [a.params["name"] for a in acts] == ["xyTrue"]


def test_post_age_and_expiry_after_keep() -> None:
    pb = playbook("""
posts: {keep: 1h}
rules:
  - id: fresh
    on: reaction.added
    if: "post.age < minutes(30)"
    do: [{tag: fresh}]
  - id: known
    on: reaction.added
    if: "post.id == none"
    do: [{tag: unknown}]
""")
    engine = Engine(pb)
    run(engine, post("m1"))
    assert [a.params["name"] for a in run(engine, react("m1", "u2", 60))] == ["fresh"]
    assert [a.params["name"] for a in run(engine, react("m1", "u3", 40 * 60))] == []
    # After `keep` the post is followed afresh: age 0, one reaction.
    assert [a.params["name"] for a in run(engine, react("m1", "u4", 2 * 3600))] == ["fresh"]
    assert items(engine)[post_key("g", "m1")]["r"] == 1
    # New posts push out the expired ones.
    run(engine, post("m2", at=4 * 3600))
    assert list(items(engine)) == [post_key("g", "m2")]


def test_at_most_max_posts_are_kept_oldest_forgotten_first() -> None:
    engine = Engine(playbook("posts: {max: 3}\n" + ESSENCE))
    run(engine, *(post(f"m{i}", at=i) for i in range(6)))
    assert [v["id"] for v in items(engine).values()] == ["m3", "m4", "m5"]


def test_posts_cost_nothing_when_unused() -> None:
    pb = playbook("""
rules:
  - id: r
    on: reaction.added
    if: "count('reaction.added') > 0"
    do: [{tag: x}]
""")
    assert pb.before == {} and pb.data  # nothing registered before rules
    engine = Engine(pb)
    run(engine, post("m1"), react("m1", "u2", 1))
    assert POSTS_KEY not in engine.state.community("default").data
    assert "post" not in repr(pb.observers)


def test_tag_post_without_a_post_is_a_rule_error() -> None:
    pb = playbook("""
rules:
  - id: r
    on: checkin
    do: [{tag_post: x}]
""")
    engine = Engine(pb)
    d = engine.process(event("checkin", "u1", 0))[-1]
    assert d.actions == []
    assert [e.message for e in d.errors] == [
        "tag_post: `tag_post` needs a post: the event concerns no followed post"
    ]


def test_posts_survive_a_restart_of_a_sqlite_store(tmp_path: Path) -> None:
    pb = playbook(ESSENCE)
    url = f"sqlite:///{tmp_path / 's.db'}"
    first = Runner(pb, open_store(url))
    for e in (post("m1"), react("m1", "u2", 1), react("m1", "u3", 2)):
        first.feed(e)
    first.close()
    second = Runner(pb, open_store(url))
    committed: list[ActionRecord] = []
    second.on_commit = committed.extend
    second.feed(react("m1", "u2", 3))  # the same reaction: still counted once
    last = react("m1", "u4", 4)
    second.feed(last)
    second.feed(react("m1", "u5", 5))
    second.close()
    assert [(a.type, a.cause) for a in committed if a.type == "award"] == [
        ("award", f"{last.id}/post:essence")
    ]


@pytest.mark.parametrize(
    ("on", "message"),
    [
        (
            "{post_reached: {}}",
            "test.yaml:7:24: 'on.post_reached' in rule 'r': `post_reached` needs at least one",
        ),
        ("{post_reached: {reactions: 0}}", "'on.post_reached.reactions'"),
        ("{post_reached: {likes: 3}}", "'on.post_reached'"),
        ("{post_reached: {reactions: many}}", "'on.post_reached.reactions'"),
        ("{post_reached: 10}", "'on.post_reached'"),
    ],
)
def test_malformed_post_triggers_are_located(on: str, message: str) -> None:
    with pytest.raises(PlaybookError) as exc:
        playbook(f"""
rules:
  - id: r
    on: {on}
    do: [{{tag: x}}]
""")
    text = "\n".join(map(str, exc.value.problems))
    assert message in text, text


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("posts: {keep: 10s}\n", "test.yaml:4:15: 'posts.keep': `keep` must be between 1m"),
        ("posts: {max: 0}\n", "'posts.max'"),
        ("posts: {kept: 1d}\n", "'posts'"),
        (
            "rules:\n  - {id: r, on: x, if: 'post.likes > 1', do: [{tag: x}]}\n",
            "`post` has no attribute `likes`",
        ),
        (
            "rules:\n  - {id: r, on: x, if: 'post.count()', do: [{tag: x}]}\n",
            "`post` has no method `count()`",
        ),
    ],
)
def test_malformed_posts_sections_and_fields_are_located(body: str, message: str) -> None:
    with pytest.raises(PlaybookError) as exc:
        playbook(body)
    text = "\n".join(map(str, exc.value.problems))
    assert message in text, text


# -- properties ----------------------------------------------------------------------------
_reaction = st.tuples(
    st.sampled_from(["added", "removed"]),
    st.sampled_from(["u2", "u3", "u4", "u5", "u6"]),
    st.sampled_from(["👍", "❤️"]),
    st.sampled_from(["m1", "m2"]),
)


def _stream(reactions: list[tuple[str, str, str, str]]) -> list[Event]:
    out = [post("m1", at=0), post("m2", "u9", at=0)]
    for n, (kind, who, emoji, mid) in enumerate(reactions, 1):
        to = "u1" if mid == "m1" else "u9"
        if kind == "added":
            out.append(react(mid, who, n, emoji=emoji, to=to))
        else:
            out.append(unreact(mid, who, n, emoji=emoji))
    return out


@settings(max_examples=40, deadline=None)
@given(st.lists(_reaction, max_size=40))
def test_a_post_becomes_essence_at_most_once_and_exactly_when_it_reaches_the_count(
    reactions: list[tuple[str, str, str, str]],
) -> None:
    engine = Engine(playbook(ESSENCE))
    acts = run(engine, *_stream(reactions))
    essences = [a.params["message_id"] for a in acts if a.type == "tag_post"]
    assert len(essences) == len(set(essences))
    # Brute force: the distinct reactions standing after each event.
    for mid in ("m1", "m2"):
        standing: set[tuple[str, str]] = set()
        reached = False
        for kind, who, emoji, m in reactions:
            if m != mid:
                continue
            (standing.add if kind == "added" else standing.discard)((who, emoji))
            reached = reached or len(standing) >= 3
        assert (mid in essences) == reached
        assert items(engine)[post_key("g", mid)]["r"] == len(standing)


@settings(max_examples=20, deadline=None)
@given(st.lists(_reaction, max_size=30))
def test_replaying_the_same_reactions_gives_the_same_actions_and_posts(
    reactions: list[tuple[str, str, str, str]],
) -> None:
    pb = playbook(ESSENCE)
    first, second = Engine(pb), Engine(pb)
    stream = _stream(reactions)
    assert run(first, *stream) == run(second, *stream)
    assert items(first) == items(second)


def test_tag_post_in_a_flow_step_makes_the_playbook_follow_posts() -> None:
    pb = playbook("""
flows:
  f:
    steps: [{tag_post: flowed}]
rules:
  - {id: r, on: message.posted, do: [{start_flow: f}]}
""")
    assert pb.before  # followed, though no rule reads `post`
    acts = run(Engine(pb), post("m1"))
    assert [(a.type, a.params.get("name")) for a in acts if a.type == "tag_post"] == [
        ("tag_post", "flowed")
    ]
