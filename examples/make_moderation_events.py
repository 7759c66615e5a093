"""Write examples/moderation-events.jsonl: a day of a photography group, for the
moderation example playbook (rules/moderation/).

Event ids say what each event is: ``ok-…`` clean messages (near misses included: they
must not be touched), ``off-<rule>-…`` offences (the rule expected to catch them),
``mod-…`` moderators' own events.  The stream is deterministic.

    python examples/make_moderation_events.py [OUT]
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

T0 = datetime.fromisoformat("2026-03-02T09:00:00+08:00")
OLD = "2024-05-01T00:00:00Z"  # established accounts
NEW = "2026-03-01T20:00:00+08:00"  # an account created the evening before

#: Clean messages, near misses of the checks included.
CLEAN = [
    ("alice", "早上好！今天去外滩拍日出，光线特别好，分享几张给大家看看。"),
    ("bob", "Morning all, I finally tried the classic 50mm lens on my old body."),
    ("alice", "微信支付现在很方便，展览门票直接扫码就能买。"),
    ("bob", "Shot this at ISO 1600, 1/250s, f/2.8 — the grain is lovely."),
    ("carol", "我参加vlog拍摄活动了，下周六在公园集合。"),
    ("bob", "Scampi for dinner after the shoot, then editing all night."),
    ("carol", "我用QQ音乐听歌修图，效率高多了。"),
    ("alice", "这张照片的构图太棒了，前景的树枝很有层次感！"),
    ("bob", "My analysis of the light: golden hour starts at 17:40 today."),
    ("carol", "教程在这里 https://github.com/photo-club/lightroom-presets 欢迎改进"),
    ("bob", "The assassin bug macro shot from last week is my favourite."),
    ("alice", "12 张照片里我最喜欢第 3 张，色彩很干净。"),
    ("carol", "Bilibili 上有个很好的构图视频 https://www.bilibili.com/video/BV1xx411c7mD"),
    ("bob", "Does anyone know a good repair shop? My shutter sounds bad."),
    ("alice", "推荐大家看看这个摄影师的作品，真的很有感染力。"),
    ("carol", "明天 8:30 地铁 2 号线人民广场站集合，别迟到哦。"),
    ("bob", "Great critique session, thanks everyone for the honest feedback!"),
    ("alice", "我的新镜头到了，35mm f1.4，晚上试拍一下夜景。"),
]

#: Offences: (event id suffix, member, text, expected rule).
OFFENCES = [
    ("banned-1", "spammer", "代 刷 好 评，价格 美 丽", "banned-words"),
    ("ads-1", "spammer", "加\u200b微\u200b信 领红包，名额有限", "ads"),
    ("contact-1", "spammer", "想要原图的 V❤X：photo_deal88", "contact-info"),
    ("banned-2", "spammer", "ＣＡＳＩＮＯ 今晚开局，稳赢", "banned-words"),
    ("contact-2", "lurer", "有问题加我 ｑｑ：１２３ ４５６ ７８ 私聊", "contact-info"),
    ("contact-3", "lurer", "电话 138-0013-8000 随时联系", "contact-info"),
    ("ads-2", "lurer", "💰日💰入💰过💰万💰 不是梦", "ads"),
    ("banned-3", "lurer", "Best ѕⅽаm-free сrурtо рumр ever", "banned-words"),
    ("hidden-links-1", "linker", "看看这个 https://bit.ly/3xYzAb 超值", "hidden-links"),
    ("hidden-links-2", "linker", "官方网站 https://bіlibili.com/event", "hidden-links"),
    ("abuse-1", "troll", "你就是个傻 逼，懂不懂摄影", "abuse"),
    ("abuse-2", "troll", "what an IDIOT, total moron", "abuse"),
    ("mass-mentions-1", "pinger", "@alice @bob @carol @dave @erin 快来看我的主页", "mass-mentions"),
]


def _event(
    eid: str,
    type_: str,
    at: datetime,
    actor: str,
    *,
    roles: list[str] | None = None,
    created_at: str = OLD,
    channel: str = "general",
    **data: Any,
) -> dict[str, Any]:
    mem: dict[str, Any] = {"id": actor, "name": actor, "created_at": created_at}
    if roles:
        mem["roles"] = roles
    return {
        "id": eid,
        "type": type_,
        "at": at.isoformat(),
        "community": "photo",
        "platform": "discord",
        "channel": channel,
        "member": mem,
        "data": data,
    }


def build() -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    at = T0
    step = timedelta(minutes=3)

    def post(eid: str, member: str, text: str, **kw: Any) -> None:
        events.append(
            _event(eid, "message.posted", at, member, text=text, message_id=f"msg-{eid}", **kw)
        )

    for i, (member, text) in enumerate(CLEAN):
        post(f"ok-{i + 1:02d}", member, text)
        at += step
    for eid, member, text, _ in OFFENCES:
        post(f"off-{eid}", member, text)
        at += step
    # A new account's link to a shop waits for review; its link to a trusted site is fine.
    post(
        "ok-newbie-trusted",
        "newbie",
        "我的作品集 https://github.com/newbie/portfolio",
        created_at=NEW,
    )
    at += step
    post(
        "off-new-account-links-1",
        "newbie",
        "便宜镜头看这里 https://cheap-lens.shop/deal",
        created_at=NEW,
    )
    at += step
    # Rude, not clearly abusive: flagged for a moderator, nothing else.
    post("off-heated-1", "grumpy", "this is stupid, honestly")
    at += step
    # Shouting gets a reminder.
    post("off-shouting-1", "loud", "THIS IS THE BEST SUNSET PHOTO EVER TAKEN!!!")
    at += step
    # The same text three times, varied by spacing and punctuation.
    copies = ["出二手相机，需要的私信", "出二手相机 需要的私信！", "出 二手相机，需要的 私信"]
    for k, text in enumerate(copies):
        eid = "off-repeated-text-1" if k == 2 else f"ok-repeat-{k + 1}"
        post(eid, "seller", text)
        at += timedelta(minutes=2)
    # A flood: seven posts in 21 seconds; the sixth trips the threshold.
    for k in range(7):
        eid = "off-flood-1" if k == 5 else f"ok-flood-{k + 1}"
        post(eid, "flooder", f"第{k + 1}张")
        at += timedelta(seconds=3)
    at += step
    # Moderators are exempt: quoting an ad to warn the group touches nothing.
    post(
        "ok-mod-quote", "mod", "提醒：看到「加微信领红包」这类消息请直接举报。", roles=["moderator"]
    )
    at += step
    # A moderator removes a post of Alice's: the points it earned are taken back.
    events.append(
        _event(
            "mod-delete-1",
            "message.deleted",
            at,
            "mod",
            roles=["moderator"],
            message_id="msg-ok-01",
            author="alice",
        )
    )
    at += step
    # A moderator strikes the troll by hand, then resets the lurer's strikes on appeal.
    events.append(
        _event(
            "mod-strike-1",
            "moderation.strike",
            at,
            "mod",
            roles=["moderator"],
            member="troll",
            reason="私信骚扰成员",
        )
    )
    at += step
    events.append(
        _event(
            "mod-reset-1",
            "moderation.strike_reset",
            at,
            "mod",
            roles=["moderator"],
            member="lurer",
            reason="申诉通过",
        )
    )
    at += step
    # A member who is not a moderator cannot strike anyone.
    events.append(
        _event(
            "ok-forged-strike", "moderation.strike", at, "troll", member="alice", reason="revenge"
        )
    )
    at += step
    # The next day the banned spammer posts again from a client that still lets them:
    # the post is removed and the strike recorded (the ban itself stays as it was).
    at = T0 + timedelta(days=1, hours=3)
    post("off-ads-3", "spammer", "扫 码 进 群，免费领取 教程")
    return events


def main() -> None:
    out = (
        Path(sys.argv[1])
        if len(sys.argv) > 1
        else (Path(__file__).resolve().parent / "moderation-events.jsonl")
    )
    lines = [json.dumps(e, ensure_ascii=False, separators=(",", ":")) for e in build()]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(lines)} events to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
