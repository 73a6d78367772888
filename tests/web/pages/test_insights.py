"""The insight page, its CSV files and its JSON (issue #7, item 4)."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import httpx
import pytest

from hallmark.services import accounts, insights, registry, review
from hallmark.services.registry import Evidence
from tests.conftest import get_user
from tests.web.conftest import HTML, Web

_TABLE = re.compile(r'<table class="data-table">(.*?)</table>', re.S)
_CELL = re.compile(r"<t[hd][^>]*>([^<]*)</t[hd]>")


def populate(web: Web) -> None:
    """Works of every label, a private one, a revoked one, and two review decisions."""
    inst = web.inst
    with inst.db.session() as session:
        alice = accounts.get_user(session, "alice")
    rita = get_user(inst, "rita", "reviewer")

    def add(n: int, label: str, **fields: Any) -> str:
        return registry.register_work(
            inst,
            creator_id=alice.id,
            data=f"Poem {n}\nits line {n}\n".encode(),
            title=f"Poem {n}",
            declare=label,
            **fields,
        ).work_id

    flag = Evidence(review_reasons=[{"code": "large-paste", "explanation": "Pasted."}])
    approved = add(1, "human-made", evidence=flag)
    add(2, "ai-assisted", ai_share=25)
    rejected = add(
        3, "ai-assisted", ai_share=70, evidence=Evidence(review_reasons=flag.review_reasons)
    )
    add(4, "ai-generated")
    add(5, "human-made", visibility="private")
    gone = registry.register_work(
        inst, creator_id=alice.id, data=b"Withdrawn\n", title="Gone", declare="human-made"
    )
    registry.revoke(inst, certificate_id=gone.certificate_id, reason="withdrawn", actor=None)
    review.decide(inst, approved, rita, decision="approved", reason="Fine.")
    review.decide(inst, rejected, rita, decision="rejected", reason="Show the draft.")


def tables(page: str) -> list[list[list[str]]]:
    """Every data table of a page, as rows of cell texts (the header row first)."""
    out = []
    for body in _TABLE.findall(page):
        rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
        out.append([_CELL.findall(row) for row in rows])
    return out


def read_csv(response: httpx.Response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.text)))


def test_an_empty_instance_says_there_is_nothing_yet(web: Web) -> None:
    page = web.client.get("/insights", headers=HTML)
    assert page.status_code == 200
    assert "There is nothing to show yet" in page.text
    assert "<svg" not in page.text and "data-table" not in page.text
    assert '<a href="/insights" aria-current="page">Insights</a>' in page.text
    listed = read_csv(web.client.get("/insights/registrations.csv"))
    assert listed == [["period_start", "human-made", "ai-assisted", "ai-generated", "total"]]
    assert web.client.get("/api/v1/insights").json()["works"] == 0


def test_the_page_draws_every_chart_with_a_table_and_no_inline_style_or_script(
    any_web: Web,
) -> None:
    populate(any_web)
    page = any_web.client.get("/insights", headers=HTML)
    assert page.status_code == 200
    text = page.text
    assert text.count('<svg role="img" aria-label="') == len(insights.CHARTS)
    assert text.count("<figcaption>") == len(insights.CHARTS)
    assert len(tables(text)) == len(insights.CHARTS)
    for chart in insights.CHARTS:
        assert f'href="/insights/{chart}.csv"' in text
    # The strict CSP holds: no style attribute or element, no inline script.
    assert "style=" not in text and "<style" not in text
    assert not re.search(r"<script(?![^>]*\bsrc=)", text)
    # Four public works count: the private and the revoked one do not.
    assert "<dt>Works counted</dt><dd>4</dd>" in text
    assert "Works per assurance level, by origin label: Declared 3, Analyzed 0" in text


def test_csv_files_match_the_json_and_the_page_tables(web: Web) -> None:
    populate(web)
    doc = web.client.get("/api/v1/insights").json()
    page_tables = tables(web.client.get("/insights", headers=HTML).text)
    for index, chart in enumerate(insights.CHARTS):
        response = web.client.get(f"/insights/{chart}.csv")
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        disposition = response.headers["content-disposition"]
        assert re.fullmatch(
            rf'attachment; filename="hallmark-{chart}-\d{{4}}-\d\d-\d\d\.csv"', disposition
        )
        header, *rows = read_csv(response)
        records = doc[chart.replace("-", "_")]
        assert rows, chart
        assert [dict(zip(header, row, strict=True)) for row in rows] == [
            {key: str(value) for key, value in record.items()} for record in records
        ]
        # The page's table shows the same counts, after the row's name (the bounds, for the
        # AI share), with thousands separators.
        names = 2 if chart == "ai-share" else 1
        shown = [[cell.replace(",", "") for cell in row[1:]] for row in page_tables[index][1:]]
        assert shown == [row[names:] for row in rows], chart


def test_the_json_answers_the_documented_shape(web: Web) -> None:
    populate(web)
    doc = web.client.get("/api/v1/insights").json()
    assert doc["works"] == 4
    # Six registrations, one revocation, and the approval's new certificate and revocation.
    assert doc["log_size"] == 9
    assert {r["outcome"]: r["count"] for r in doc["reviews"]} == {
        "approved": 1,
        "rejected": 1,
        "pending": 0,
        "appealed": 0,
    }
    assert {r["from_percent"]: r["works"] for r in doc["ai_share"]}[20] == 1
    schema = web.client.get("/api/v1/openapi.json").json()
    assert "/api/v1/insights" in schema["paths"]


@pytest.mark.parametrize("name", ["nope", "registrations.json", "..%2Fetc"])
def test_an_unknown_chart_is_not_found(web: Web, name: str) -> None:
    response = web.client.get(f"/insights/{name}.csv", headers=HTML)
    assert response.status_code == 404
    assert "text/csv" not in response.headers["content-type"]


def test_the_charts_are_drawn_once_for_the_same_numbers(web: Web) -> None:
    from hallmark.web.pages import insights as page

    populate(web)
    page.draw.cache_clear()
    web.client.get("/insights", headers=HTML)
    web.client.get("/insights", headers=HTML)
    assert page.draw.cache_info().hits == 1 and page.draw.cache_info().misses == 1
