"""Inline SVG charts, drawn in Python: the HTML report needs no script library, no CDN
and no network, and opens offline in any browser.

Every chart is a ``<figure data-chart=NAME>`` holding one ``<svg role="img">`` with a
``<title>``, labelled axes, and its marks (bars or points, each with class ``mark``), then
the same numbers as a table for screen readers and for copying.  ``data-marks`` says how
many marks the chart draws, so a browser test can check they all rendered.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from ...i18n import _

WIDTH, HEIGHT = 760, 280
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 64
#: The width (in the chart's units) an x label needs: 5 characters at 17px.
LABEL_ROOM = 64
#: The width of a character of an x label, roughly (17px type; CJK characters twice).
CHAR_WIDTH = 9.5
#: Colours of successive series (colour-blind safe: blue, orange, green, red).
COLOURS = ("#3b6fb6", "#e08a1e", "#3a9a5b", "#c44e52")


def nice_top(value: float) -> tuple[float, float]:
    """A round axis maximum at or above ``value``, and its tick step (at most 5 ticks;
    whole numbers, since every chart counts members, events or points)."""
    if value <= 0:
        return 1.0, 1.0
    raw = max(value / 4, 1.0)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return step * math.ceil(value / step), step


def _num(value: float) -> str:
    return f"{value:g}" if value != int(value) else str(int(value))


def _axes(
    top: float, step: float, labels: Sequence[str], x_title: str, y_title: str, slot: float
) -> list[str]:
    """Gridlines, tick labels, x labels (thinned so they never overlap) and axis titles."""
    plot_h = HEIGHT - TOP - BOTTOM
    out = []
    tick = 0.0
    while tick <= top + 1e-9:
        y = TOP + plot_h - plot_h * tick / top
        out.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" '
            f'y2="{y:.1f}"/><text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" '
            f'text-anchor="end">{_num(tick)}</text>'
        )
        tick += step
    # Room for a label of 5 characters at the phone's larger type (html.CSS).
    every = max(1, math.ceil(len(labels) * LABEL_ROOM / (WIDTH - LEFT - RIGHT)))
    base = TOP + plot_h
    for i, label in enumerate(labels):
        if i % every:
            continue
        x = LEFT + slot * (i + 0.5)
        out.append(
            f'<text class="tick" x="{x:.1f}" y="{base + 18}" '
            f'text-anchor="middle">{_label_lines(label, slot * every, x)}</text>'
        )
    out.append(
        f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{base}" '
        f'y2="{base}"/><line class="axis" x1="{LEFT}" x2="{LEFT}" y1="{TOP}" '
        f'y2="{base}"/>'
    )
    out.append(
        f'<text class="axis-title" x="{LEFT + (WIDTH - LEFT - RIGHT) / 2:.0f}" '
        f'y="{HEIGHT - 8}" text-anchor="middle">{escape(x_title)}</text>'
    )
    out.append(
        f'<text class="axis-title" transform="translate(14 {TOP + plot_h / 2:.0f}) '
        f'rotate(-90)" text-anchor="middle">{escape(y_title)}</text>'
    )
    return out


def _label_lines(label: str, room: float, x: float) -> str:
    """An x label, on two lines (at its middle space) when one would not fit ``room``."""
    width = sum(2 if ord(c) > 0x2E80 else 1 for c in label) * CHAR_WIDTH
    if width <= room or " " not in label:
        return escape(label)
    spaces = [i for i, c in enumerate(label) if c == " "]
    cut = min(spaces, key=lambda i: abs(i - len(label) / 2))
    return (
        f'<tspan x="{x:.1f}">{escape(label[:cut])}</tspan>'
        f'<tspan x="{x:.1f}" dy="1.1em">{escape(label[cut + 1 :])}</tspan>'
    )


def _legend(series: Sequence[str]) -> str:
    if len(series) < 2:
        return ""
    items = "".join(
        f'<span class="key"><i style="background:{COLOURS[i % len(COLOURS)]}">'
        f"</i>{escape(name)}</span>"
        for i, name in enumerate(series)
    )
    return f'<p class="legend">{items}</p>'


def _table(
    caption: str, labels: Sequence[str], series: Sequence[str], values: Sequence[Sequence[float]]
) -> str:
    head = "".join(f'<th scope="col">{escape(s)}</th>' for s in series)
    rows = "".join(
        f'<tr><th scope="row">{escape(label)}</th>'
        + "".join(f"<td>{_num(values[s][i])}</td>" for s in range(len(series)))
        + "</tr>"
        for i, label in enumerate(labels)
    )
    summary = _("Data table")
    return (
        f'<details class="data"><summary>{escape(summary)}</summary>'
        f'<div class="scroll"><table><caption>{escape(caption)}</caption><thead><tr>'
        f'<th scope="col"></th>{head}</tr></thead><tbody>{rows}</tbody></table></div></details>'
    )


def _figure(name: str, title: str, marks: int, body: list[str], legend: str, table: str) -> str:
    tid = f"chart-{escape(name)}-title"
    return (
        f'<figure class="chart" data-chart="{escape(name)}" data-marks="{marks}">'
        f'<div class="chart-box"><svg role="img" aria-labelledby="{tid}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{tid}">{escape(title)}</title>{"".join(body)}</svg></div>'
        f"{legend}{table}</figure>"
    )


def bar_chart(
    name: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[str],
    values: Sequence[Sequence[float]],
    x_title: str,
    y_title: str,
) -> str:
    """Vertical bars, one group per label and one bar per series in each group."""
    top, step = nice_top(max((v for vs in values for v in vs), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(labels), 1)
    bar = slot * 0.8 / max(len(series), 1)
    body = _axes(top, step, labels, x_title, y_title, slot)
    for s, name_s in enumerate(series):
        colour = COLOURS[s % len(COLOURS)]
        for i, label in enumerate(labels):
            v = values[s][i]
            h = plot_h * v / top
            x = LEFT + slot * i + slot * 0.1 + bar * s
            body.append(
                f'<rect class="mark" x="{x:.1f}" y="{TOP + plot_h - h:.1f}" '
                f'width="{bar:.1f}" height="{h:.1f}" fill="{colour}"><title>'
                f"{escape(label)} {escape(name_s)}: {_num(v)}</title></rect>"
            )
    marks = len(labels) * len(series)
    return _figure(name, title, marks, body, _legend(series), _table(title, labels, series, values))


def line_chart(
    name: str,
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    x_title: str,
    y_title: str,
    series: str,
) -> str:
    """A line through one point per label (e.g. one per day)."""
    top, step = nice_top(max(values, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(labels), 1)
    body = _axes(top, step, labels, x_title, y_title, slot)
    points = [
        (LEFT + slot * (i + 0.5), TOP + plot_h - plot_h * v / top) for i, v in enumerate(values)
    ]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    body.append(
        f'<polyline class="line" points="{path}" fill="none" '
        f'stroke="{COLOURS[0]}" stroke-width="2"/>'
    )
    for (x, y), label, v in zip(points, labels, values, strict=True):
        body.append(
            f'<circle class="mark" cx="{x:.1f}" cy="{y:.1f}" r="3.5" '
            f'fill="{COLOURS[0]}"><title>{escape(label)}: {_num(v)}</title></circle>'
        )
    return _figure(
        name, title, len(values), body, "", _table(title, labels, [series], [list(values)])
    )
