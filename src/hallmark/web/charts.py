"""Charts drawn on the server as SVG: the authorship report (issue #3, item 6) and the insight
page (issue #7, item 4).

The charts are Vega-Lite specifications built with Altair from inline values (no data frames)
and rendered to SVG by ``vl-convert``, so the page needs no script to show them and the site's
Content-Security-Policy stays strict: the SVG uses presentation attributes, never ``style``.
Charts hold only numbers, dates and fixed names (origins, labels, levels), never text a user
wrote, which is why the templates may insert them unescaped. Each chart comes with the rows it
was drawn from, so the page can follow it with a data table for people who do not see it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
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


def _finish(chart: Any, *, width: int, height: int, description: str) -> dict[str, Any]:
    """The Vega-Lite spec of ``chart``: sized, described, and in Hallmark's look."""
    spec: dict[str, Any] = (
        chart.properties(width=width, height=height, description=description)
        .configure(**_config())
        .to_dict()
    )
    return spec


def _stacked(field: str, scale: Any) -> dict[str, Any]:
    """Encodings of a stacked chart's parts: coloured by ``field`` (legend on top) and stacked
    in the order of their ``o`` value, so the stack keeps the legend's order."""
    import altair as alt

    return {
        "color": alt.Color(
            f"{field}:N",
            scale=scale,
            legend=alt.Legend(title=None, orient="top", direction="horizontal"),
        ),
        "order": alt.Order("o:Q", sort="ascending"),
    }


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
    spec = _finish(
        alt.layer(bars, labels),
        width=_WIDTH - 60,
        height=4 * 34,
        description=description,
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
    chart = _finish(
        alt.Chart(alt.InlineData(values=values))
        .mark_area(interpolate="step-after", opacity=0.9)
        .encode(
            x=alt.X("at:Q", title=axis_title),
            y=alt.Y("chars:Q", title="Characters", stack="zero"),
            **_stacked("origin", alt.Scale(**_scale())),
        ),
        width=_WIDTH,
        height=220,
        description=description,
    )
    columns = ("Time", *(name for _, name, _ in ORIGINS), "Total")
    return Chart(_svg(chart, description), description, columns, rows)


# The insight page (issue #7, item 4) ---------------------------------------------------------

#: Origin labels, in the order they are stacked and listed, with their names and colours: the
#: report's hues, so human work is teal and AI-generated work purple on every chart.
LABELS: tuple[tuple[str, str, str], ...] = (
    ("human-made", "Human-made", "#0b5d57"),
    ("ai-assisted", "AI-assisted", "#b35900"),
    ("ai-generated", "AI-generated", "#6b46b0"),
)
LEVELS: tuple[tuple[str, str], ...] = (
    ("declared", "Declared"),
    ("analyzed", "Analyzed"),
    ("process-verified", "Process verified"),
    ("reviewed", "Reviewed"),
)
#: Review outcomes and log entry kinds with their colours. Every colour here meets 3:1 contrast
#: against white (WCAG 1.4.11), and colour is never the only cue: each bar is named on its axis
#: or stacked in a fixed order under a legend, and its numbers are in the table that follows.
OUTCOMES: tuple[tuple[str, str, str], ...] = (
    ("approved", "Approved", "#0b5d57"),
    ("rejected", "Rejected", "#b42318"),
    ("pending", "Waiting for review", "#57606a"),
    ("appealed", "Waiting after an appeal", "#6b46b0"),
)
LOG_KINDS: tuple[tuple[str, str, str], ...] = (
    ("certificates", "Certificates", "#0b5d57"),
    ("revocations", "Revocations", "#b42318"),
)
PERIOD_TITLES = {"day": "Day", "week": "Week beginning", "month": "Month"}
#: The en dash between the bounds of a range; written as an escape, since ruff flags it (RUF001).
_EN_DASH = "\u2013"


def _label_scale() -> dict[str, Any]:
    return {"domain": [name for _, name, _ in LABELS], "range": [c for _, _, c in LABELS]}


def _period_names(records: Sequence[Mapping[str, Any]], period: str) -> tuple[list[str], list[str]]:
    """Short names for the axis and full ones for the table, one per period.

    The short names leave out the year unless the periods cross one, where "2 Nov" would be
    ambiguous (and, as an axis category, would merge two bars).
    """
    starts = [date.fromisoformat(str(r["period_start"])) for r in records]
    several_years = len({start.year for start in starts}) > 1
    short, full = [], []
    for start in starts:
        if period == "month":
            short.append(f"{start:%b %Y}")
            full.append(f"{start:%B %Y}")
            continue
        short.append(f"{start.day} {start:%b %y}" if several_years else f"{start.day} {start:%b}")
        full.append(f"{start.day} {start:%b %Y}")
    return short, full


def _time_axis(names: Sequence[str], period: str) -> Any:
    import altair as alt

    return alt.X(
        "period:O",
        title=PERIOD_TITLES.get(period, "Period"),
        sort=list(names),
        axis=alt.Axis(labelAngle=-45 if len(names) > 8 else 0, labelOverlap="parity"),
    )


def _span(full: Sequence[str]) -> str:
    return f"for {full[0]}" if len(full) == 1 else f"from {full[0]} to {full[-1]}"


def _works(count: int) -> str:
    return f"{count:,} work" if count == 1 else f"{count:,} works"


def _in_text(name: str) -> str:
    """A label's name inside a sentence: "human-made", but "AI-assisted"."""
    return name if name.startswith("AI") else name.lower()


def _count(value: Any) -> str:
    return f"{int(value):,}"


def _count_axis(top: int) -> Any:
    """An axis of whole numbers: Vega would put ticks at 0.5 when the counts are small."""
    import altair as alt

    return alt.Axis(tickCount=max(1, min(top, 5)), format="d")


def registrations_chart(records: Sequence[Mapping[str, Any]], period: str) -> Chart | None:
    """Works registered per period, stacked by origin label; None when there are none."""
    import altair as alt

    if not records:
        return None
    short, full = _period_names(records, period)
    values = [
        {"period": name, "label": label_name, "works": int(record[key]), "o": index}
        for name, record in zip(short, records, strict=True)
        for index, (key, label_name, _) in enumerate(LABELS)
    ]
    totals = {key: sum(int(r[key]) for r in records) for key, _, _ in LABELS}
    parts = ", ".join(f"{totals[key]:,} {_in_text(name)}" for key, name, _ in LABELS)
    description = (
        f"Works registered per {period}, by origin label, {_span(full)}: "
        f"{sum(totals.values()):,} in all ({parts})."
    )
    spec = _finish(
        alt.Chart(alt.InlineData(values=values))
        .mark_bar()
        .encode(
            x=_time_axis(short, period),
            y=alt.Y(
                "works:Q",
                title="Works registered",
                stack="zero",
                axis=_count_axis(max(int(r["total"]) for r in records)),
            ),
            **_stacked("label", alt.Scale(**_label_scale())),
        ),
        width=_WIDTH,
        height=220,
        description=description,
    )
    rows = [
        (name, *(_count(record[key]) for key, _, _ in LABELS), _count(record["total"]))
        for name, record in zip(full, records, strict=True)
    ]
    columns = (PERIOD_TITLES.get(period, "Period"), *(n for _, n, _ in LABELS), "Total")
    return Chart(_svg(spec, description), description, columns, rows)


def ai_share_chart(records: Sequence[Mapping[str, Any]]) -> Chart | None:
    """A histogram of the AI share of AI-assisted works; None when there are none."""
    import altair as alt

    if not records:
        return None
    values: list[dict[str, Any]] = [
        {
            "bin": f"{int(r['from_percent'])}{_EN_DASH}{int(r['to_percent'])}%",
            "works": int(r["works"]),
        }
        for r in records
    ]
    total = sum(v["works"] for v in values)
    top = max(v["works"] for v in values)
    parts = ", ".join(f"{v['bin']}: {v['works']:,}" for v in values if v["works"])
    description = (
        f"How much was generated by AI in the {total:,} AI-assisted "
        f"{'work' if total == 1 else 'works'}, in bins of ten percent that each include their "
        f"lower bound: {parts}."
    )
    spec = _finish(
        alt.Chart(alt.InlineData(values=values))
        .mark_bar(color="#b35900", cornerRadiusEnd=2)
        .encode(
            x=alt.X(
                "bin:O",
                title="Share generated by AI",
                sort=[v["bin"] for v in values],
                axis=alt.Axis(labelAngle=0),
            ),
            y=alt.Y("works:Q", title="AI-assisted works", axis=_count_axis(top)),
        ),
        width=_WIDTH,
        height=200,
        description=description,
    )
    rows = [(str(v["bin"]), _count(v["works"])) for v in values]
    return Chart(_svg(spec, description), description, ("AI share", "Works"), rows)


def levels_chart(records: Sequence[Mapping[str, Any]]) -> Chart | None:
    """Works per assurance level, stacked by origin label; None when there are none."""
    import altair as alt

    if not records:
        return None
    names = dict(LEVELS)
    values = [
        {
            "level": names.get(str(record["level"]), str(record["level"])),
            "label": label_name,
            "works": int(record[key]),
            "o": index,
        }
        for record in records
        for index, (key, label_name, _) in enumerate(LABELS)
    ]
    parts = ", ".join(
        f"{names.get(str(r['level']), r['level'])} {int(r['total']):,}" for r in records
    )
    description = f"Works per assurance level, by origin label: {parts}."
    spec = _finish(
        alt.Chart(alt.InlineData(values=values))
        .mark_bar(height=22)
        .encode(
            y=alt.Y("level:N", title=None, sort=[name for _, name in LEVELS]),
            x=alt.X(
                "works:Q",
                title="Works",
                stack="zero",
                axis=_count_axis(max(int(r["total"]) for r in records)),
            ),
            **_stacked("label", alt.Scale(**_label_scale())),
        ),
        width=_WIDTH - 100,
        height=len(LEVELS) * 34,
        description=description,
    )
    rows = [
        (
            names.get(str(r["level"]), str(r["level"])),
            *(_count(r[key]) for key, _, _ in LABELS),
            _count(r["total"]),
        )
        for r in records
    ]
    columns = ("Assurance level", *(n for _, n, _ in LABELS), "Total")
    return Chart(_svg(spec, description), description, columns, rows)


def reviews_chart(records: Sequence[Mapping[str, Any]]) -> Chart | None:
    """Reviewers' decisions and the works waiting for one; None when there are none."""
    import altair as alt

    if not records:
        return None
    found = {str(r["outcome"]): int(r["count"]) for r in records}
    values: list[dict[str, Any]] = [
        {"outcome": name, "count": found.get(key, 0), "text": f"{found.get(key, 0):,}"}
        for key, name, _ in OUTCOMES
    ]
    parts = ", ".join(f"{v['outcome'].lower()} {v['text']}" for v in values)
    description = f"Review decisions, and works waiting for one now: {parts}."
    scale = alt.Scale(domain=[name for _, name, _ in OUTCOMES], range=[c for _, _, c in OUTCOMES])
    base = alt.Chart(alt.InlineData(values=values)).encode(
        y=alt.Y("outcome:N", title=None, sort=[name for _, name, _ in OUTCOMES]),
        x=alt.X(
            "count:Q",
            title="Decisions, or works waiting",
            axis=_count_axis(max(v["count"] for v in values)),
        ),
    )
    bars = base.mark_bar(cornerRadiusEnd=3, height=22).encode(
        color=alt.Color("outcome:N", scale=scale, legend=None)
    )
    labels = base.mark_text(align="left", dx=6, fontSize=12, color="#1f2328").encode(text="text:N")
    spec = _finish(
        alt.layer(bars, labels),
        width=_WIDTH - 140,
        height=len(OUTCOMES) * 34,
        description=description,
    )
    rows = [(str(v["outcome"]), str(v["text"])) for v in values]
    return Chart(_svg(spec, description), description, ("Outcome", "Count"), rows)


def log_chart(records: Sequence[Mapping[str, Any]], period: str) -> Chart | None:
    """The log's size at the end of each period, certificates and revocations stacked."""
    import altair as alt

    if not records:
        return None
    short, full = _period_names(records, period)
    values: list[dict[str, Any]] = []
    running = dict.fromkeys((key for key, _, _ in LOG_KINDS), 0)
    for name, record in zip(short, records, strict=True):
        for index, (key, kind_name, _) in enumerate(LOG_KINDS):
            running[key] += int(record[key])
            values.append({"period": name, "kind": kind_name, "entries": running[key], "o": index})
    size = int(records[-1]["log_size"])
    description = (
        f"The log's size at the end of each {period}, {_span(full)}: it grew to "
        f"{size:,} entries ({running['certificates']:,} certificates, "
        f"{running['revocations']:,} revocations)."
    )
    scale = alt.Scale(domain=[name for _, name, _ in LOG_KINDS], range=[c for _, _, c in LOG_KINDS])
    spec = _finish(
        alt.Chart(alt.InlineData(values=values))
        .mark_bar()
        .encode(
            x=_time_axis(short, period),
            y=alt.Y("entries:Q", title="Entries in the log", stack="zero", axis=_count_axis(size)),
            **_stacked("kind", scale),
        ),
        width=_WIDTH,
        height=220,
        description=description,
    )
    rows = [
        (name, _count(r["certificates"]), _count(r["revocations"]), _count(r["log_size"]))
        for name, r in zip(full, records, strict=True)
    ]
    columns = (
        PERIOD_TITLES.get(period, "Period"),
        "New certificates",
        "New revocations",
        "Log size at the end",
    )
    return Chart(_svg(spec, description), description, columns, rows)
