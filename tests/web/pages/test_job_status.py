"""The work page shows how its analysis job goes (issue #9, item 1): queued, running since
when and on which attempt, queued again after a worker stopped; the API says the same."""

from __future__ import annotations

from datetime import timedelta

from hallmark.services import analysis, jobs
from tests.conftest import FixedClock
from tests.web.conftest import HTML, Web


def test_the_work_page_follows_the_job(web: Web, fixed_clock: FixedClock) -> None:
    web.inst.clock = fixed_clock
    work_id = web.register("alice")["work_id"]
    # The in-process runner took the job at once; start the story again from a fresh row.
    analysis.wait_idle(web.inst)
    fixed_clock.now += timedelta(seconds=1)
    analysis_id = analysis._new_row(web.inst, work_id)

    page = web.client.get(f"/works/{work_id}", headers=HTML)
    assert "Analysis is queued." in " ".join(page.text.split())

    assert isinstance(jobs.claim(web.inst, analysis_id, "w1"), jobs.Claim)
    fixed_clock.now += timedelta(seconds=web.inst.settings.job_lease_seconds + 1)
    assert isinstance(jobs.claim(web.inst, analysis_id, "w2"), jobs.Claim)
    text = " ".join(web.client.get(f"/works/{work_id}", headers=HTML).text.split())
    assert "Analysis is running (since" in text
    assert "attempt 2: the first stopped before it finished)." in text
    # The worker's name is for the operator, not for every visitor.
    assert "w2" not in text

    record = web.client.get(f"/api/v1/works/{work_id}/analysis").json()["analysis"]
    assert record["status"] == "running" and record["attempts"] == 2
    assert record["started_at"] is not None and "worker" not in record

    fixed_clock.now += timedelta(seconds=web.inst.settings.job_lease_seconds + 1)
    assert jobs.sweep(web.inst, lambda _id: None) == 1
    text = " ".join(web.client.get(f"/works/{work_id}", headers=HTML).text.split())
    assert "Analysis is queued again, after 2 attempts." in text
