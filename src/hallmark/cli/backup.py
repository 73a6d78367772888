"""``hallmark backup`` and ``hallmark restore``: the instance to two folders and back, checked.

The data and the keys go to separate folders (``--keys``, default ``DIR-keys`` beside ``DIR``)
so the data can be handed on without the power to sign as the instance (docs/operations.md).
``restore`` checks both backups before writing anything, restores, then audits the log and
hashes every blob; it exits 1 when the restored instance does not check out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from .output import plural, print_facts, stderr, stdout
from .state import state_of

_STAGES = {
    "check": "Checking the backup's files",
    "database": "Copying the database",
    "blobs": "Copying the blobs",
    "audit": "Recomputing the log",
    "verify blobs": "Hashing every blob",
}


@contextmanager
def _progress() -> Iterator[Callable[[str, int, int | None], None]]:
    """A progress callback for the services, drawing one Rich bar per stage."""
    console = stderr()
    bars = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        # Bars are for a person at a terminal; a log file or a pipe gets the summary only.
        disable=not console.is_terminal,
    )
    tasks: dict[str, TaskID] = {}

    def advance(stage: str, done: int, total: int | None) -> None:
        if stage not in tasks:
            tasks[stage] = bars.add_task(_STAGES.get(stage, stage), total=total)
        bars.update(tasks[stage], completed=done, total=total)

    with bars:
        yield advance


def backup(
    ctx: typer.Context,
    folder: Annotated[
        Path, typer.Argument(help="A new or empty folder for the data backup.", file_okay=False)
    ],
    keys: Annotated[
        Path | None,
        typer.Option(
            help="A new or empty folder for the keys backup, apart from the data (default: "
            "DIR-keys beside DIR).",
            file_okay=False,
        ),
    ] = None,
) -> None:
    """Back up the database, every blob and the settings to DIR, and the keys apart from them."""
    from hallmark.services import backup as backup_service

    with state_of(ctx).instance() as inst, _progress() as progress:
        result = backup_service.backup(inst, folder, keys, progress=progress)
    console = stdout()
    console.print(Text(f"Backed up the instance to {result.folder}.", style="bold green"))
    print_facts(
        console,
        [
            ("database", f"{result.method}, {plural(result.log_size, 'log entry', 'log entries')}"),
            ("blobs", f"{plural(result.blobs, 'blob')}, {result.blob_bytes:,} bytes"),
            ("keys", f"{result.keys_folder} (secret: store it apart from the data)"),
        ],
    )
    if result.missing_blobs:
        console.print(
            Text(
                f"The instance is missing {plural(len(result.missing_blobs), 'blob')} that its "
                f"database names, e.g. {result.missing_blobs[0]}; the backup lacks them too.",
                style="bold red",
            )
        )
        raise typer.Exit(1)


def restore(
    ctx: typer.Context,
    folder: Annotated[
        Path, typer.Argument(help="The data backup 'hallmark backup' wrote.", file_okay=False)
    ],
    keys: Annotated[
        Path | None,
        typer.Option(help="The keys backup (default: DIR-keys beside DIR).", file_okay=False),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            help="An empty database to restore into (default: a SQLite file in --home for a "
            "SQLite backup, the backed-up URL for PostgreSQL)."
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace the instance, keys and database that are there."),
    ] = False,
) -> None:
    """Restore a backup into --home, then audit the log and hash every blob. Exit 1 on any
    mismatch."""
    from hallmark.services import backup as backup_service

    home = state_of(ctx).home
    with _progress() as progress:
        report = backup_service.restore(
            folder, home, keys, database_url=database_url, force=force, progress=progress
        )
    console = stdout()
    if not report.ok:
        console.print(
            Text(
                f"The restored instance in {report.home} does NOT check out: "
                f"{plural(len(report.problems), 'problem')}.",
                style="bold red",
            )
        )
        for problem in report.problems:
            console.print(Text(f"- {problem}"))
        raise typer.Exit(1)
    console.print(Text(f"Restored the instance into {report.home.resolve()}.", style="bold green"))
    print_facts(
        console,
        [
            ("database", report.method),
            (
                "log",
                f"sound: {plural(report.log_size, 'entry', 'entries')} recomputed, "
                f"{plural(report.checkpoints, 'signed checkpoint')} consistent",
            ),
            (
                "blobs",
                f"{plural(report.blobs_checked, 'blob')} read back, each matching its digest",
            ),
        ],
    )
