"""The insight page (issue #7, item 4): ``/insights`` and each chart's numbers as CSV.

Five charts of what the registry holds (:mod:`hallmark.services.insights` counts, and says
which works count): registrations over time by label, the AI share of AI-assisted works, the
assurance levels, review outcomes and the log's growth. Each is drawn on the server as SVG
(:mod:`hallmark.web.charts`), followed by its data as a table, and offered as a CSV file at
``/insights/<chart>.csv`` with the same numbers as ``GET /api/v1/insights``.

Drawing is the slow part: ``vl-convert`` takes about 150 ms a chart here (0.7 to 1 s for the
five, 2 s for the first page a process draws, as the renderer starts), and building and
validating the Vega-Lite specifications about 60 ms more. The charts are therefore kept per set
of numbers, and :func:`hallmark.services.insights.current` reuses the numbers for a while, so a
page view mostly costs one look at the log's size (about 10 ms in all, measured on the demo).
"""

from __future__ import annotations

import csv
import functools
import io
from dataclasses import dataclass

from fastapi import APIRouter, Request
from starlette.responses import Response

from hallmark.errors import NotFoundError
from hallmark.services import insights
from hallmark.web import charts
from hallmark.web.deps import InstanceDep
from hallmark.web.templating import render

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Drawn:
    """The insight charts, each None when there is nothing to draw."""

    registrations: charts.Chart | None
    ai_share: charts.Chart | None
    levels: charts.Chart | None
    reviews: charts.Chart | None
    log: charts.Chart | None


@functools.lru_cache(maxsize=8)
def draw(found: insights.Insights) -> Drawn:
    """The charts for a set of numbers; the same numbers are drawn once."""
    return Drawn(
        registrations=charts.registrations_chart(found.registrations.records(), found.period),
        ai_share=charts.ai_share_chart(found.ai_share.records()),
        levels=charts.levels_chart(found.levels.records()),
        reviews=charts.reviews_chart(found.reviews.records()),
        log=charts.log_chart(found.log.records(), found.period),
    )


@router.get("/insights")
def insights_page(request: Request, inst: InstanceDep) -> Response:
    found = insights.current(inst)
    context = {
        "insights": found,
        "charts": None if found.empty else draw(found),
        "period_name": charts.PERIOD_TITLES.get(found.period, "Period").lower(),
    }
    return render(request, "insights.html", context)


def csv_text(table: insights.Table) -> str:
    """A table as CSV (RFC 4180). Cells are numbers, dates and fixed names, never user text,
    so no cell can start a spreadsheet formula."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(table.columns)
    writer.writerows(table.rows)
    return buffer.getvalue()


@router.get("/insights/{chart}.csv")
def insights_csv(inst: InstanceDep, chart: str) -> Response:
    if chart not in insights.CHARTS:
        raise NotFoundError(
            f"There is no chart '{chart[:40]}'.",
            hint=f"The charts are: {', '.join(insights.CHARTS)}.",
        )
    found = insights.current(inst)
    return Response(
        csv_text(found.table(chart)),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": (
                f'attachment; filename="hallmark-{chart}-{found.as_of.isoformat()}.csv"'
            ),
            "Cache-Control": "no-cache",
        },
    )
