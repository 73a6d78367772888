"""``hallmark jobs`` and ``hallmark worker``: the analysis jobs and the Celery workers that run
them (issue #9, item 1).

``hallmark worker`` starts a Celery worker for the instance in ``--home`` (its settings name the
broker); ``hallmark jobs`` lists the newest jobs with their status, attempts, worker and times,
and with ``--sweep`` sends again the ones whose worker died, as the workers do on their own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from hallmark.errors import ConfigError, InputError

from .output import emit_json, plural, stdout
from .state import state_of

STATUSES = ("queued", "running", "done", "failed")
_STYLES = {"queued": "yellow", "running": "cyan", "done": "green", "failed": "bold red"}


def jobs(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option(help="Only jobs with this status: " + ", ".join(STATUSES) + ".")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many jobs, newest first.")] = 20,
    sweep: Annotated[
        bool,
        typer.Option(
            "--sweep",
            help="First queue again the jobs whose worker stopped (lease run out) and send "
            "them to the workers.",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """List the newest analysis jobs: status, attempts, worker and times."""
    from hallmark.services import analysis
    from hallmark.services import jobs as job_service

    if status is not None and status not in STATUSES:
        raise InputError(
            f"'{status[:20]}' is not a job status.", hint="Use one of: " + ", ".join(STATUSES)
        )
    with state_of(ctx).instance() as inst:
        swept = None
        if sweep:
            if not inst.settings.broker_url:
                raise InputError(
                    "--sweep sends lost jobs to Celery workers, and this instance has none.",
                    hint="Without broker_url, the web process sweeps its own jobs.",
                )
            swept = analysis.sweep_to_broker(inst)
        rows = job_service.recent(inst, limit=limit, status=status)
        counts = job_service.counts(inst)
        runner = "celery" if inst.settings.broker_url else "in-process"
    if as_json:
        document: dict[str, Any] = {"runner": runner, "counts": counts, "jobs": rows}
        if swept is not None:
            document["swept"] = swept
        emit_json(document)
        return
    _print_jobs(rows, counts, runner, swept)


def _short(moment: str | None) -> str:
    if not moment:
        return "-"
    return datetime.fromisoformat(moment).strftime("%m-%d %H:%M:%S")


def _print_jobs(
    rows: list[dict[str, Any]], counts: dict[str, int], runner: str, swept: int | None
) -> None:
    console = stdout()
    if swept is not None:
        console.print(f"Queued {plural(swept, 'lost job')} again.")
    summary = ", ".join(f"{counts.get(name, 0)} {name}" for name in STATUSES)
    console.print(Text(f"Analysis jobs ({runner} runner): {summary}.", style="bold"))
    if not rows:
        console.print("No jobs to show.")
        return
    table = Table(box=box.SIMPLE_HEAD, title_justify="left")
    for column in ("job", "work", "status", "attempts", "worker", "queued", "started", "ended"):
        table.add_column(column, no_wrap=column != "worker")
    for row in rows:
        table.add_row(
            row["analysis_id"],
            row["work_id"],
            Text(row["status"], style=_STYLES.get(row["status"], "")),
            str(row["attempts"]),
            Text(row["worker"] or "-"),
            _short(row["created_at"]),
            _short(row["started_at"]),
            _short(row["finished_at"]),
        )
    console.print(table)
    for row in rows:
        if row["status"] == "failed" and row["error"]:
            console.print(Text(f"{row['analysis_id']}: {row['error']}", style="red"))


def worker(
    ctx: typer.Context,
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, help="Jobs run at once, each in its own process (default: CPUs)."),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(help="The worker's name in 'hallmark jobs' (default: celery@HOST)."),
    ] = None,
    loglevel: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Run a Celery worker for this instance: analysis and Content Credentials jobs."""
    state = state_of(ctx)
    settings = state.settings()
    if not settings.broker_url:
        raise ConfigError(
            "This instance has no job queue, so there is nothing for a worker to do.",
            hint="Set broker_url (e.g. HALLMARK_BROKER_URL=redis://127.0.0.1:6379/1) for the "
            "web processes and the workers alike; without it, the web process runs jobs itself.",
        )
    try:
        from hallmark.workers.tasks import build_worker_app
    except ImportError as exc:
        raise ConfigError(
            f"The worker cannot be loaded ({exc}).",
            hint="Install the server extras: pip install 'hallmark[server]'.",
        ) from None
    app = build_worker_app(settings)
    argv = [
        "worker",
        f"--loglevel={loglevel.upper()}",
        # Hallmark's tasks need neither revocations shared between workers nor their events,
        # so workers do not talk to each other: less broker traffic, and a faster start.
        "--without-gossip",
        "--without-mingle",
    ]
    if concurrency is not None:
        argv.append(f"--concurrency={concurrency}")
    if name:
        argv.append(f"--hostname={name}")
    app.worker_main(argv)
