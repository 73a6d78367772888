"""``hallmark jobs`` and ``hallmark worker`` (issue #9, item 1)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from hallmark.cli.main import app
from hallmark.services import analysis, jobs, registry
from hallmark.services.instance import Instance
from tests.analysis.keyword_plugin import HUMAN_TEXT
from tests.conftest import add_user, make_instance


def invoke(home: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["--home", str(home), *args], env={"COLUMNS": "160"})


@pytest.fixture
def inst(tmp_path: Path) -> Instance:
    found = make_instance(tmp_path / "home")
    creator = add_user(found, "alice")
    for n in range(3):
        work = registry.register_work(
            found,
            creator_id=creator,
            data=HUMAN_TEXT + f"Verse {n}.\n".encode(),
            title=f"Harbour {n}",
            declare="human-made",
        )
        analysis._new_row(found, work.work_id)
    return found


def test_jobs_json_lists_the_newest_with_counts(inst: Instance) -> None:
    first = jobs.recent(inst)[-1]["analysis_id"]
    assert jobs.claim(inst, first, "worker@test pid 1") is not None
    result = invoke(inst.settings.home, "jobs", "--json", "--limit", "2")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["runner"] == "in-process"
    assert document["counts"] == {"queued": 2, "running": 1}
    assert len(document["jobs"]) == 2
    running = invoke(inst.settings.home, "jobs", "--json", "--status", "running")
    [job] = json.loads(running.stdout)["jobs"]
    assert (job["analysis_id"], job["attempts"], job["worker"]) == (first, 1, "worker@test pid 1")
    assert job["started_at"] and job["lease_until"] and job["finished_at"] is None


def test_jobs_shows_a_table_for_people(inst: Instance) -> None:
    result = invoke(inst.settings.home, "jobs")
    assert result.exit_code == 0, result.output
    assert "Analysis jobs (in-process runner): 3 queued, 0 running, 0 done, 0 failed." in (
        result.stdout
    )
    assert "attempts" in result.stdout and "Harbour" not in result.stdout


def test_jobs_refuses_an_unknown_status(inst: Instance) -> None:
    result = invoke(inst.settings.home, "jobs", "--status", "lost")
    assert result.exit_code == 2
    assert "'lost' is not a job status" in result.stderr


def test_sweep_and_worker_need_a_broker(inst: Instance) -> None:
    sweep = invoke(inst.settings.home, "jobs", "--sweep")
    assert sweep.exit_code == 2 and "this instance has none" in sweep.stderr
    worker = invoke(inst.settings.home, "worker")
    assert worker.exit_code == 2
    assert "no job queue" in worker.stderr and "broker_url" in worker.stderr


def test_serve_with_workers_runs_uvicorn_processes_that_build_the_app_themselves(
    inst: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **options: served.append((app, options)))
    # Set, so that the value serve writes is undone after the test.
    monkeypatch.setenv("HALLMARK_HOME", "elsewhere")
    result = invoke(inst.settings.home, "serve", "--workers", "3", "--port", "8124")
    assert result.exit_code == 0, result.output
    assert "with 3 processes" in result.stdout
    [(target, options)] = served
    assert target == "hallmark.web.app:app_from_environment"
    assert options == {"factory": True, "host": "127.0.0.1", "port": 8124, "workers": 3}
    # Each process reads the instance from the environment it inherits.
    assert os.environ["HALLMARK_HOME"] == str(inst.settings.home.resolve())
