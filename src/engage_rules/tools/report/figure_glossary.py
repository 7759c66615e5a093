"""The titles, explanations and labels of the report's handbook figures — volumes, day-N
and monthly retention, churn rate, segment sizes, conversion by source, tag and segment,
communities and channels — shared by the terminal and HTML reports, in the operator's language
(docs/reports.md is the long form; glossary.py holds the other sections').
"""

from __future__ import annotations

from typing import Any

from ...i18n import N_, _

#: Section key -> (title, explanation); translated where shown.
FIGURE_SECTIONS: dict[str, tuple[str, str]] = {
    "volumes": (
        N_("Volumes"),
        N_(
            "Events per type in the period and on each day. Posts are messages that reply "
            "to nothing; replies are messages that answer another message (data.reply_to)."
        ),
    ),
    "day_retention": (
        N_("Day-1, day-7 and day-30 retention"),
        N_(
            "For the members first seen on each day of the period: the share active again "
            "1, 7 and 30 days later. A day whose later day is after the period has no "
            "figure yet (–). Overall: all those join days together."
        ),
    ),
    "monthly_retention": (
        N_("Monthly retention"),
        N_(
            "Members grouped by the calendar month they were first seen in the period. "
            "Month 0 is that month, month 1 the next, and so on. Each cell: the percentage "
            "of the group active at least once that month."
        ),
    ),
    "churn": (
        N_("Churn rate"),
        N_(
            "Of the members at the start of the period, those who were not churned then "
            "and by its end have left or been silent for {churn} days or more, divided by "
            "the members at the start."
        ),
    ),
    "segment_sizes": (
        N_("Segment sizes"),
        N_(
            "Each segment's members at the end of each day (the engine counts them at the "
            "community's midnight; left and banned members are not counted). A day the "
            "engine was not running has no count (–)."
        ),
    ),
    "conversion_by": (
        N_("Conversion by source, tag and segment"),
        N_(
            "Members by where they came from (the join's source or invite link), by the "
            "tags the playbook gave them and by the segments they were counted in: how many "
            "had a '{goal}' event in the period on or after the day they joined, were "
            "tagged or were first counted in the segment, the rate and its 95% interval."
        ),
    ),
    "communities": (
        N_("Communities and channels"),
        N_(
            "Activity per community: events that count as activity and members active in "
            "the period; then the events in each channel (joins and leaves left out)."
        ),
    ),
}

#: Volume keys -> their label (other event types are shown as they are spelled).
VOLUME_LABELS: dict[str, str] = {
    "posts": N_("posts"),
    "replies": N_("replies"),
    "reaction.added": N_("reactions"),
    "content.shared": N_("shares"),
    "checkin": N_("check-ins"),
    "purchase": N_("purchases"),
    "member.joined": N_("joins"),
    "member.left": N_("leaves"),
}

#: Conversion dimensions -> their heading.
DIMENSION_LABELS: dict[str, str] = {
    "source": N_("source"),
    "tag": N_("tag"),
    "segment": N_("segment"),
}


def figure_title(section: str) -> str:
    """The title of a handbook-figure section, translated."""
    return _(FIGURE_SECTIONS[section][0])


def figure_explain(section: str, report: dict[str, Any]) -> str:
    """What a handbook-figure section shows, in words, translated."""
    return _(FIGURE_SECTIONS[section][1]).format(
        churn=report["churn_after_days"], goal=report["conversion"]["goal"]
    )


def volume_label(key: str) -> str:
    """A volume column's label: posts, replies, reactions... or the event type."""
    label = VOLUME_LABELS.get(key)
    return _(label) if label is not None else key


def share(value: float | None) -> str:
    """A share as a percentage, or a dash."""
    return "–" if value is None else f"{100 * value:.1f}%"


def bounds(ci: list[float] | None) -> str:
    """A 95% interval as percentages, or a dash."""
    return "–" if ci is None else f"{share(ci[0])} – {share(ci[1])}"
