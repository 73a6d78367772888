"""``hallmark credentials`` and ``hallmark keys c2pa-root`` (issue #6, item 6).

``credentials`` writes a certified image with signed Content Credentials (C2PA) embedded;
``keys c2pa-root`` prints the instance root certificate that anchors trust in them, as plain
PEM on stdout so it can be redirected into a file for ``c2pa-python`` or ``c2patool``. Both
run on the instance's own machine, as its operator: like ``revoke``, they see private works.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from hallmark.errors import InputError, NotFoundError

from .output import emit_text, print_facts, stdout
from .state import state_of


def credentials(
    ctx: typer.Context,
    work_id: Annotated[str, typer.Argument(help="The certified image work, e.g. w_8kq3...")],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="File to write (a folder: the copy is written into it as WORK_ID.c2pa.EXT).",
        ),
    ],
) -> None:
    """Write a certified image with its Content Credentials (C2PA manifest) embedded."""
    from hallmark.services.credentials import consent_of, credentialed_copy
    from hallmark.storage.models import Work

    state = state_of(ctx)
    with state.instance() as inst, inst.db.session() as session:
        work = session.get(Work, work_id) if len(work_id) <= 40 else None
        if work is None:
            raise NotFoundError(
                f"There is no work '{work_id[:40]}' on this instance.",
                hint="Work ids start with 'w_'; 'hallmark register --json' prints them.",
            )
        copy = credentialed_copy(inst, work)
        consent, _ = consent_of(work)
        label = work.label
    target = out / copy.filename if out.is_dir() else out
    _write_bytes(target, copy.data)
    console = stdout()
    console.print(Text(f"Wrote {target} with Content Credentials.", style="bold green"))
    print_facts(
        console,
        [
            ("certificate", copy.certificate_id),
            ("label", label),
            ("AI training", consent),
            *([("ingredient", "the upload's own Content Credentials")] if copy.has_parent else []),
            ("trust anchor", "hallmark keys c2pa-root > c2pa-root.pem"),
        ],
    )


def _write_bytes(path: Path, data: bytes) -> None:
    # Write to a temporary file and rename, so an interrupted run never leaves half an image.
    if not path.parent.is_dir() or not os.access(path.parent, os.W_OK):
        raise InputError(
            f"Cannot write into {path.parent}.",
            hint="Give --out a path in a folder that exists and you can write to.",
        )
    fd, tmp = tempfile.mkstemp(prefix=".hallmark-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def c2pa_root(ctx: typer.Context) -> None:
    """Print the root certificate (PEM) of the instance's Content Credentials: the trust
    anchor for checking its credentialed copies."""
    from hallmark.services.credentials import root_certificate

    with state_of(ctx).instance() as inst:
        emit_text(root_certificate(inst))
