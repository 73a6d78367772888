"""Charts for the authorship report (issue #3, item 6), drawn on the server as SVG.

The charts are Vega-Lite specifications built with Altair from inline values (no data frames)
and rendered to SVG by ``vl-convert``, so the page needs no script to show them and the site's
Content-Security-Policy stays strict: the SVG uses presentation attributes, never ``style``.
Charts hold only numbers and the fixed origin names, never text a user wrote, which is why the
report template may insert them unescaped. Each chart comes with the rows it was drawn from, so
the page can follow it with a data table for people who do not see it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

#: The origins of text, in the order they are stacked and listed, with their names and colours.
#: The colours are told apart with the common kinds of colour blindness and meet 3:1 contrast
#: against white, as WCAG 1.4.11 asks of graphics.
ORIGINS: tuple[tuple[str, str, str], ...] = (
    ("typed", "Typed", "#0b5d57"),
    ("pasted", "Pasted", "#b35900"),
    ("muse", "Muse (AI)", "#6b46b0"),
    ("imported", "Imported", "#57606a"),
)
ORIGIN_NAMES = {key: name for key, name, _ in ORIGINS}

# Arial and Liberation Sans share their metrics, so labels measured on the server fit in the
# browser; a wider system font would overflow the space the renderer left for them.
_FONT = "Liberation Sans, Arial, Helvetica, sans-serif"
_WIDTH = 520  # the plot area; the page scales the SVG to the width of the text column


@dataclass(frozen=True)
class Chart:
    """An SVG chart, what it shows in a sentence, and the rows of its data table."""

    svg: Markup
    description: str
    columns: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]


def _config() -> dict[str, Any]:
    return {
        "background": "#ffffff",
        "padding": 8,
        "font": _FONT,
        "view": {"stroke": None},
        "axis": {
            "labelColor": "#1f2328",
            "titleColor": "#1f2328",
            "gridColor": "#ebe8e2",
            "domainColor": "#8c959f",
            "tickColor": "#8c959f",
            "labelFontSize": 12,
            "titleFontSize": 12,
            "titleFontWeight": "normal",
        },
        "legend": {"labelFontSize": 12, "labelColor": "#1f2328", "columnPadding": 16},
    }


@functools.lru_cache(maxsize=128)
def _render(spec_json: str) -> str:
    # Imported here: only the web face draws charts, and loading the renderer takes a moment.
    import vl_convert

    svg: str = vl_convert.vegalite_to_svg(spec_json)
    return svg


def _svg(spec: dict[str, Any], description: str) -> Markup:
    svg = _render(json.dumps(spec, sort_keys=True))
    # The description is ours, built from numbers and fixed words; escape it all the same.
    label = Markup.escape(description)
    if not svg.startswith("<svg "):
        raise ValueError("the chart renderer did not return an SVG document")
    return Markup(f'<svg role="img" aria-label="{label}" focusable="false" ' + svg[5:])


def _scale() -> dict[str, Any]:
    return {
        "domain": [name for _, name, _ in ORIGINS],
        "range": [colour for _, _, colour in ORIGINS],
    }


def composition_chart(counts: Mapping[str, int], shares: Mapping[str, float]) -> Chart:
    """One bar per origin: how many characters of the final text came from where."""
    import altair as alt

    values = [
        {
            "origin": name,
            "chars": int(counts.get(key, 0)),
            "label": f"{float(shares.get(key, 0.0)):g}%",
            "order": index,
        }
        for index, (key, name, _) in enumerate(ORIGINS)
    ]
    parts = ", ".join(f"{v['origin']} {v['label']}" for v in values)
    description = f"Where the characters of the final text came from: {parts}."
    base = alt.Chart(alt.InlineData(values=values)).encode(
        y=alt.Y("origin:N", title=None, sort=[name for _, name, _ in ORIGINS]),
        x=alt.X("chars:Q", title="Characters in the final text"),
    )
    bars = base.mark_bar(cornerRadiusEnd=3, height=22).encode(
        color=alt.Color("origin:N", scale=alt.Scale(**_scale()), legend=None)
    )
    labels = base.mark_text(align="left", dx=6, fontSize=12, color="#1f2328").encode(text="label:N")
    spec = (
        alt.layer(bars, labels)
        .properties(width=_WIDTH - 60, height=4 * 34, description=description)
        .configure(**_config())
        .to_dict()
    )
    rows = [(str(v["origin"]), f"{v['chars']:,}", str(v["label"])) for v in values]
    return Chart(_svg(spec, description), description, ("Origin", "Characters", "Share"), rows)


def _time_unit(span_ms: int) -> tuple[float, str]:
    """A unit that keeps the time axis readable for a few seconds of writing or for days."""
    if span_ms <= 2 * 60_000:
        return 1000.0, "Seconds since writing began"
    if span_ms <= 3 * 3600_000:
        return 60_000.0, "Minutes since writing began"
    if span_ms <= 3 * 86400_000:
        return 3600_000.0, "Hours since writing began"
    return 86400_000.0, "Days since writing began"


def _duration(ms: int) -> str:
    seconds = round(ms / 1000)
    if seconds < 60:
        return f"{seconds} seconds"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} days {hours % 24} h"


def _elapsed(ms: int) -> str:
    seconds = ms // 1000
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{seconds:02d}"
    return f"{minutes}:{seconds:02d}"


def timeline_chart(timeline: Sequence[Mapping[str, int]]) -> Chart | None:
    """The text growing over time, stacked by origin; None when there is nothing to draw."""
    import altair as alt

    if not timeline:
        return None
    start = int(timeline[0]["t"])
    span = max(int(timeline[-1]["t"]) - start, 1)
    unit, axis_title = _time_unit(span)
    values: list[dict[str, Any]] = []
    rows: list[tuple[str, ...]] = []
    for point in timeline:
        ms = int(point["t"]) - start
        counts = [int(point.get(key, 0)) for key, _, _ in ORIGINS]
        for index, ((_, name, _), count) in enumerate(zip(ORIGINS, counts, strict=True)):
            values.append({"at": round(ms / unit, 3), "origin": name, "chars": count, "o": index})
        rows.append((_elapsed(ms), *(f"{c:,}" for c in counts), f"{sum(counts):,}"))
    final = rows[-1][-1]
    description = (
        f"How the text grew, by origin, to {final} characters over {_duration(span)} "
        "from the first change to the last."
    )
    chart = (
        alt.Chart(alt.InlineData(values=values))
        .mark_area(interpolate="step-after", opacity=0.9)
        .encode(
            x=alt.X("at:Q", title=axis_title),
            y=alt.Y("chars:Q", title="Characters", stack="zero"),
            color=alt.Color(
                "origin:N",
                scale=alt.Scale(**_scale()),
                legend=alt.Legend(title=None, orient="top", direction="horizontal"),
            ),
            order=alt.Order("o:Q", sort="ascending"),
        )
        .properties(width=_WIDTH, height=220, description=description)
        .configure(**_config())
        .to_dict()
    )
    columns = ("Time", *(name for _, name, _ in ORIGINS), "Total")
    return Chart(_svg(chart, description), description, columns, rows)
