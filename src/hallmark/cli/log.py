"""``hallmark log``: the log's checkpoint, proofs and audit, for operators and monitors.

Proofs are RFC 9162 (sections 2.1.3 and 2.1.4), hashes in standard base64 as in C2SP
checkpoints. Every proof is checked against the instance's signed checkpoint at the same size
before it is printed, so the command never hands out a proof that does not verify.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from .output import emit_json, emit_text, plural, print_facts, stderr, stdout
from .state import state_of

app = typer.Typer(help="The transparency log: checkpoint, proofs, audit.", no_args_is_help=True)


@app.command()
def checkpoint(ctx: typer.Context) -> None:
    """Print the latest signed checkpoint (a C2SP signed note)."""
    from hallmark.services.log import latest_checkpoint

    with state_of(ctx).instance() as inst:
        emit_text(latest_checkpoint(inst).note)


@app.command()
def audit(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Recompute the whole tree from the stored leaves and check every checkpoint. Exit 1 on a
    mismatch."""
    from hallmark.services.log import audit as audit_log

    bar = Progress(
        TextColumn("Recomputing the log"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr(),
        transient=True,
    )
    with state_of(ctx).instance() as inst, bar:
        task = bar.add_task("audit", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        report = audit_log(inst, progress=advance)
    if as_json:
        emit_json(
            {
                "ok": report.ok,
                "size": report.size,
                "checkpoints": report.checkpoints,
                "problems": report.problems,
                "unlisted_problems": report.unlisted,
            }
        )
    elif report.ok:
        stdout().print(
            Text(
                f"The log is sound: {plural(report.size, 'entry', 'entries')} recomputed; "
                f"{plural(report.checkpoints, 'signed checkpoint')} consistent with them and "
                "with each other.",
                style="bold green",
            )
        )
    else:
        console = stdout()
        headline = f"The log does NOT check out: {report.count:,} problem(s)."
        console.print(Text(headline, style="bold red"))
        for problem in report.problems:
            console.print(Text(f"- {problem}"))
        if report.unlisted:
            console.print(Text(f"- and {report.unlisted:,} more, not listed"))
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def prove(
    ctx: typer.Context,
    index: Annotated[int, typer.Option(min=0, help="Log index of the entry.")],
    size: Annotated[
        int | None, typer.Option(min=1, help="Tree size (default: the latest checkpoint's).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Print the inclusion proof of entry INDEX in the tree of SIZE entries, verified."""
    from hallmark.services.log import inclusion_document

    with state_of(ctx).instance() as inst:
        document = inclusion_document(inst, index, size)
    tree_size = document["tree_size"]
    if as_json:
        emit_json(document)
        return
    _print_proof(
        f"Entry {index} is in the log of {plural(tree_size, 'entry', 'entries')} (proof verified).",
        [("leaf hash", document["leaf_hash"]), ("root hash", document["root_hash"])],
        document["hashes"],
    )


@app.command()
def consistency(
    ctx: typer.Context,
    old: Annotated[int, typer.Option(min=0, help="Older tree size.")],
    new: Annotated[
        int | None, typer.Option(min=0, help="Newer tree size (default: the latest checkpoint's).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Print the proof that the tree of NEW entries extends the tree of OLD entries, verified."""
    from hallmark.services.log import consistency_document

    with state_of(ctx).instance() as inst:
        document = consistency_document(inst, old, new)
    new_size = document["new_size"]
    if as_json:
        emit_json(document)
        return
    _print_proof(
        f"The log of {plural(new_size, 'entry', 'entries')} extends the log of "
        f"{plural(old, 'entry', 'entries')} (proof verified).",
        [("old root", document["old_root"]), ("new root", document["new_root"])],
        document["hashes"],
    )


def _print_proof(headline: str, roots: list[tuple[str, str]], hashes: list[str]) -> None:
    console = stdout()
    console.print(Text(headline, style="bold green"))
    rows = roots + [(f"proof {n}", h) for n, h in enumerate(hashes, start=1)]
    if not hashes:
        rows.append(("proof", "(empty: nothing is needed at these sizes)"))
    print_facts(console, rows)
