"""``hallmark similar PATH`` and ``hallmark reindex``: prior art on the local instance (issue #5).

``similar`` fingerprints a local text or image and lists the registered works near it, best
first, exactly as ``POST /api/v1/similar`` answers (with ``--json``, the same list of matches).
Run on the instance's own machine, it sees every work the operator may see, private ones
included. ``reindex`` rebuilds the in-memory index from the database and saves it, with a
progress bar; ``serve`` loads the saved index the same way before it starts. It then rebuilds
the full-text search index (issue #7) from the works and the blob store.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from .output import plural, stderr, stdout
from .state import read_input, state_of


def prepare_index(inst: Any) -> None:
    """Load the saved index, or rebuild it from the database, showing progress on stderr."""
    from hallmark.services import similarity

    if not similarity.enabled(inst):
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr(),
        transient=True,
    ) as progress:
        task = progress.add_task("Loading the similarity index", total=None)

        def report(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        similarity.index_for(inst, report)


def similar(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="The file: UTF-8 text or an image.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON list.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=100, help="At most this many matches.")] = 10,
) -> None:
    """List the registered works near a local text or image, best first."""
    from hallmark.services import similarity

    state = state_of(ctx)
    data = read_input(path, "file")
    with state.instance() as inst:
        prepare_index(inst)
        with stderr().status(f"Comparing {path.name}..."):
            # The operator on the instance's own machine sees every work, as an admin does.
            matches = similarity.find_similar(
                inst, data, filename=path.name, limit=limit, include_private=True
            )
    if as_json:
        typer.echo(json.dumps(matches, ensure_ascii=False, sort_keys=True))
        return
    _print(path, matches)


def reindex(ctx: typer.Context) -> None:
    """Rebuild the similarity index from the database and save it, then the search index."""
    from hallmark.services import search, similarity

    state = state_of(ctx)
    with (
        state.instance() as inst,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=stderr(),
        ) as progress,
    ):
        task = progress.add_task("Indexing fingerprints", total=None)
        count = similarity.rebuild(
            inst, lambda done, total: progress.update(task, completed=done, total=total)
        )
        words = progress.add_task("Indexing works for search", total=None)
        listed = search.reindex(
            inst, lambda done, total: progress.update(words, completed=done, total=total)
        )
    stdout().print(Text(f"The similarity index holds {plural(count, 'work')}.", style="bold"))
    stdout().print(Text(f"The search index holds {plural(listed, 'public work')}.", style="bold"))


def _print(path: Path, matches: list[dict[str, Any]]) -> None:
    console = stdout()
    if not matches:
        console.print(Text(f"No registered work resembles {path.name}."))
        return
    table = Table(title=f"Works resembling {path.name}", title_justify="left")
    for column in ("score", "kind", "work", "title", "creator", "log index", "logged"):
        table.add_column(column)
    for m in matches:
        table.add_row(
            f"{m['score']:.2f}",
            m["kind"],
            m["work_id"],
            Text(m["title"]),
            Text(m["creator"]),
            str(m["log_index"]),
            m["logged_at"] or "",
        )
    console.print(table)
