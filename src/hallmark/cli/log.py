"""``hallmark log``: the log's checkpoint, proofs and audit, for operators and monitors.

Proofs are RFC 9162 (sections 2.1.3 and 2.1.4), hashes in standard base64 as in C2SP
checkpoints. Every proof is checked against the instance's signed checkpoint at the same size
before it is printed, so the command never hands out a proof that does not verify.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from hallmark.errors import LedgerError, ProofError
from hallmark.ledger import merkle

from .output import emit_json, emit_text, plural, print_facts, stderr, stdout
from .state import state_of

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from hallmark.services.instance import Instance
    from hallmark.storage.log_store import LogStore

app = typer.Typer(help="The transparency log: checkpoint, proofs, audit.", no_args_is_help=True)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


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
        headline = f"The log does NOT check out: {len(report.problems)} problem(s)."
        console.print(Text(headline, style="bold red"))
        for problem in report.problems:
            console.print(Text(f"- {problem}"))
    if not report.ok:
        raise typer.Exit(1)


def _signed_root(inst: Instance, store: LogStore, size: int) -> tuple[bytes, str | None]:
    """The root at ``size`` from storage, checked against the signed checkpoint of that size.

    Returns the root and the checkpoint note (None when no checkpoint was published at that
    size, as for sizes passed over by a batch).
    """
    from hallmark.ledger.checkpoint import open_checkpoint

    root = store.root(size)
    row = store.checkpoint_at(size)
    if row is None:
        return root, None
    signed = open_checkpoint(row.note, inst.verifier)
    if signed.root_hash != root:
        raise ProofError(
            f"The stored tree at size {size} does not match the signed checkpoint of that size.",
            hint="Run 'hallmark log audit' to find what was changed.",
        )
    return root, row.note


def _leaf_hash(session: Session, index: int) -> bytes:
    """The leaf hash of entry ``index``, recomputed from its stored statement."""
    from sqlalchemy import select

    from hallmark.core.certificate import leaf_input
    from hallmark.services.log import statement_json
    from hallmark.storage.models import Certificate, LogEntry, Revocation

    entry = session.get(LogEntry, index)
    if entry is None:
        raise LedgerError(f"The log has no entry {index}.")
    table: Any = Revocation if entry.kind == "revocation" else Certificate
    body = session.scalar(
        select(table.body).where(table.statement_sha256 == entry.statement_sha256)
    )
    if body is None:
        raise ProofError(f"Log entry {index} names a statement that is not stored.")
    return merkle.leaf_hash(leaf_input(statement_json(body)))


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
    from hallmark.storage.log_store import LogStore

    with state_of(ctx).instance() as inst, inst.db.session() as session:
        store = LogStore(session)
        tree_size = size if size is not None else _latest_size(store)
        hashes = store.inclusion_proof(index, tree_size)
        root, note = _signed_root(inst, store, tree_size)
        leaf = _leaf_hash(session, index)
    merkle.verify_inclusion(leaf, index, tree_size, hashes, root)
    document: dict[str, Any] = {
        "log_index": index,
        "tree_size": tree_size,
        "leaf_hash": _b64(leaf),
        "hashes": [_b64(h) for h in hashes],
        "root_hash": _b64(root),
        "checkpoint": note,
    }
    if as_json:
        emit_json(document)
        return
    _print_proof(
        f"Entry {index} is in the log of {plural(tree_size, 'entry', 'entries')} (proof verified).",
        [("leaf hash", document["leaf_hash"]), ("root hash", document["root_hash"])],
        hashes,
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
    from hallmark.storage.log_store import LogStore

    with state_of(ctx).instance() as inst, inst.db.session() as session:
        store = LogStore(session)
        new_size = new if new is not None else _latest_size(store)
        hashes = store.consistency_proof(old, new_size)
        old_root, old_note = _signed_root(inst, store, old)
        new_root, new_note = _signed_root(inst, store, new_size)
    merkle.verify_consistency(old, new_size, old_root, new_root, hashes)
    document: dict[str, Any] = {
        "old_size": old,
        "new_size": new_size,
        "old_root": _b64(old_root),
        "new_root": _b64(new_root),
        "hashes": [_b64(h) for h in hashes],
        "old_checkpoint": old_note,
        "new_checkpoint": new_note,
    }
    if as_json:
        emit_json(document)
        return
    _print_proof(
        f"The log of {plural(new_size, 'entry', 'entries')} extends the log of "
        f"{plural(old, 'entry', 'entries')} (proof verified).",
        [("old root", document["old_root"]), ("new root", document["new_root"])],
        hashes,
    )


def _latest_size(store: LogStore) -> int:
    row = store.latest_checkpoint()
    if row is None or row.size == 0:
        raise LedgerError("The log is empty: there is nothing to prove yet.")
    return int(row.size)


def _print_proof(headline: str, roots: list[tuple[str, str]], hashes: list[bytes]) -> None:
    console = stdout()
    console.print(Text(headline, style="bold green"))
    rows = roots + [(f"proof {n}", _b64(h)) for n, h in enumerate(hashes, start=1)]
    if not hashes:
        rows.append(("proof", "(empty: nothing is needed at these sizes)"))
    print_facts(console, rows)
