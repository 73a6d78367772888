"""``hallmark analyze PATH``: run the detectors on a local file (issue #4, item 6).

Nothing is registered and no instance is needed: the detectors are the ones named in the
instance's settings when there is one (``--home``), otherwise the defaults, or those given with
``--detector``. Every detector that takes the file's kind (text or image) runs, and the findings
are printed; with ``--json``, one JSON array of objects with at least ``detector``, ``verdict``,
``score`` and ``explanation``. A default detector whose optional dependencies are missing is
skipped with a warning; one named with ``--detector`` must exist.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from .output import stderr, stdout
from .state import read_input, state_of


def analyze(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="The file: UTF-8 text or an image.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array.")] = False,
    detector: Annotated[
        list[str] | None,
        typer.Option("--detector", metavar="NAME", help="Run only this detector; repeat for more."),
    ] = None,
    declare: Annotated[
        str,
        typer.Option(help="The declaration to check against: human-made, ai-assisted, ..."),
    ] = "human-made",
) -> None:
    """Run every applicable detector on a local file and print the findings."""
    from hallmark.analysis.base import WorkInput
    from hallmark.analysis.runner import DetectorSet, findings_json
    from hallmark.core.labels import OriginLabel
    from hallmark.errors import ConfigError
    from hallmark.services.media import inspect
    from hallmark.settings import Settings

    state = state_of(ctx)
    data = read_input(path, "file")
    label = OriginLabel.parse(declare)
    settings = Settings.load(state.home)
    media = inspect(
        data,
        filename=path.name,
        max_bytes=settings.max_upload_bytes,
        max_pixels=settings.max_image_pixels,
        max_text_chars=settings.max_text_chars,
    )
    detectors = DetectorSet(detector or settings.detectors, settings)
    chosen = []
    for name in detectors.names:
        try:
            found = detectors.get(name)
        except ConfigError as exc:
            if detector:
                raise
            stderr().print(Text.assemble(("Warning: ", "bold yellow"), f"skipped: {exc.detail}"))
            continue
        if media.kind in found.kinds:
            chosen.append(found)
    work = WorkInput(
        kind=media.kind,
        media_type=media.media_type,
        data=data,
        declared=label,
        text=data.decode("utf-8") if media.kind == "text" else None,
        filename=path.name,
    )
    from hallmark.analysis.runner import run_detectors

    findings: list[dict[str, Any]] = []
    # The AI-text detector loads its language model on first use (about 15 s): show that work
    # is happening, on stderr so --json output stays clean.
    with stderr().status(f"Analysing {path.name}..."):
        for one in chosen:
            findings.extend(findings_json(run_detectors([one], work)))
    if as_json:
        typer.echo(json.dumps(findings, ensure_ascii=False, sort_keys=True))
        return
    _print(path, media.kind, findings)


def _print(path: Path, kind: str, findings: list[dict[str, Any]]) -> None:
    console = stdout()
    if not findings:
        console.print(Text(f"No detector applies to {path.name} ({kind})."))
        return
    console.print(Text(f"{path.name} ({kind}):", style="bold"))
    for finding in findings:
        score = finding.get("score")
        line = Text.assemble(
            (f"{finding['detector']} {finding['version']}", "bold"),
            ": ",
            (finding["verdict"], _STYLE.get(finding["verdict"], "")),
            f" (score {score:.3f})" if isinstance(score, int | float) else "",
        )
        console.print(line)
        console.print(Text("  " + finding["explanation"]))


_STYLE = {"consistent": "green", "contradicts": "bold red", "inconclusive": "yellow"}
