"""Section titles and the plain-language explanation of each figure, shared by the
terminal and HTML reports so both say exactly the same thing (docs/reports.md is the
long form)."""

from __future__ import annotations

from typing import Any

from ...i18n import N_, _

SECTIONS: dict[str, tuple[str, str]] = {
    "members": (
        N_("Members"),
        N_(
            "Members at the end of the period are those first seen on or before its last day "
            "who had not left by then. New: first joined (or first seen) during the period. "
            "Left: left during the period. Churned: still a member, was active before, but "
            "not active in the last {churn} days of the period.",
        ),
    ),
    "activity": (
        N_("Daily active members"),
        N_(
            "A member is active on a day when they did something that counts as activity "
            "({events}). DAU: active members that day. WAU / MAU: members active in the last "
            "7 / 30 days of the period. Activity rate: the share of members active.",
        ),
    ),
    "growth": (
        N_("New and leaving members per day"),
        N_(
            "How many members were first seen (new) and how many left, each day of the period.",
        ),
    ),
    "retention": (
        N_("Weekly retention"),
        N_(
            "Members grouped by the week (Monday to Sunday) they were first seen in the period. "
            "Week 0 is that week; week 1 the next one, and so on. Each cell: the percentage of "
            "the group active at least once that week.",
        ),
    ),
    "silence": (
        N_("Silence stages"),
        N_(
            "Members at the end of the period, by how many days had passed since their last "
            "activity on the period's last day (0 = active that day). Never active: joined "
            "but never did anything that counts as activity.",
        ),
    ),
    "conversion": (
        N_("Conversion"),
        N_(
            "Goal events: '{goal}' events in the period. Converted: members with at least one. "
            "Conversion rate: converted members divided by members active in the period.",
        ),
    ),
    "experiments": (
        N_("Experiments"),
        N_(
            "For each experiment, the members first exposed to each variant by the end of the "
            "period, how many of them had a '{goal}' event in the period on or after the day "
            "of their exposure, the rate, and its 95% confidence interval (Wilson).",
        ),
    ),
    "rules": (
        N_("Top rules"),
        N_(
            "Rules that acted in the period (shadow rules excluded): the number of events or "
            "timers each acted on, and the actions it took.",
        ),
    ),
    "moderation": (
        N_("Moderation"),
        N_(
            "Moderation actions taken in the period, by type.",
        ),
    ),
    "messages": (
        N_("Messaging"),
        N_(
            "Messages sent in the period. Deferred: held back by quiet hours or the message "
            "cap and sent later. Suppressed: not sent at all (the member opted out, quiet "
            "hours set to drop, or over the cap).",
        ),
    ),
    "points": (
        N_("Points"),
        N_(
            "For each currency, the amounts issued (awards), spent, expired and revoked "
            "(taken back) in the period.",
        ),
    ),
    "shadow": (
        N_("Shadow rules"),
        N_(
            "Rules in shadow mode decide but never act: what they would have done in the "
            "period, by rule and action.",
        ),
    ),
}

#: Why a message was suppressed or deferred, as the audit log spells it, in words.
REASONS = {
    "quiet_hours": N_("quiet hours"),
    "capped": N_("over the message cap"),
    "opted_out": N_("member opted out"),
}

#: Names the report's JSON uses as keys or labels (silence stages, kinds of message and
#: of ledger entry), in words for people: the JSON keeps them in English.
WORDS = {
    "active in the last 7 days": N_("active in the last 7 days"),
    "silent 7–13 days": N_("silent 7–13 days"),
    "silent 14–29 days": N_("silent 14–29 days"),
    "silent 30 days or more": N_("silent 30 days or more"),
    "never active": N_("never active"),
    "direct message": N_("direct message"),
    "send to a channel": N_("send to a channel"),
    "reply": N_("reply"),
    "broadcast": N_("broadcast"),
    "warn": N_("warn"),
    "issued": N_("issued"),
    "spent": N_("spent"),
    "expired": N_("expired"),
    "revoked": N_("revoked"),
}


def words(key: str) -> str:
    """A reason, stage or kind the JSON names in English, in the current language (an
    unknown one as it is: action types and reasons a plugin invents)."""
    if key in REASONS:
        return _(REASONS[key])
    return _(WORDS[key]) if key in WORDS else key


def title(section: str) -> str:
    """The title of a report section."""
    return _(SECTIONS[section][0])


def explain(section: str, report: dict[str, Any]) -> str:
    """What a report section shows, in words."""
    events = ", ".join(report.get("activity_events") or []) or _("any event but joins and leaves")
    return _(SECTIONS[section][1]).format(
        churn=report["churn_after_days"], events=events, goal=report["conversion"]["goal"]
    )


def percent(value: float | None) -> str:
    """A share as a percentage, or a dash."""
    return "–" if value is None else f"{100 * value:.1f}%"


def interval(bounds: list[float] | None) -> str:
    """A confidence interval of a share as percentages, or a dash."""
    return "–" if bounds is None else f"{percent(bounds[0])} – {percent(bounds[1])}"


def report_title(report: dict[str, Any]) -> str:
    """What a report is called: the community's name (else the playbook's), and the
    community it covers when the store holds several."""
    name = report.get("community_name") or report["playbook"] or _("playbook")
    where = report["community"]
    return f"{name} — {where}" if where and where != name else name


def partial_note(period: dict[str, Any]) -> str | None:
    """The sentence marking the days that are not over, when the period has some."""
    if not period.get("partial_last_day"):
        return None
    until = str(period.get("data_until", ""))
    return _(
        "The store's data reach {day} {time}: the days from {first} to {last} (marked *) "
        "are not over, so their figures are partial, not a drop."
    ).format(day=until[:10], time=until[11:16], first=period["partial_from"], last=period["to"])


def partial_days(period: dict[str, Any]) -> str | None:
    """The first day marked partial (days from it on are not over), or None."""
    return str(period["partial_from"]) if period.get("partial_last_day") else None
