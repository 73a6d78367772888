"""``hallmark bench``: measure the detectors on labelled data (issue #4, item 6).

``hallmark bench detect --data FILE.jsonl`` scores every line's ``text`` with the shipped
AI-text detector and compares the scores with its ``label`` (``human`` or ``ai``): AUROC, the
share of AI texts caught at 1% and 5% false positives, the false-positive rate on human text at
the shipped threshold, and documents per second (model loading excluded). Optional ``domain``
and ``generator`` fields give per-domain and per-generator breakdowns.

The bench scores every text, short ones included; the detector's rule that texts under 150
words are ``inconclusive`` is a verdict rule and is not applied here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from hallmark.errors import InputError

from .output import emit_json, print_facts, stderr, stdout

if TYPE_CHECKING:
    import numpy as np

app = typer.Typer(help="Measure the detectors on labelled data.", no_args_is_help=True)

LABELS = ("human", "ai")


def read_labelled(path: Path, limit: int | None = None) -> list[dict[str, Any]]:
    """The records of a JSON-lines file, each with a non-empty ``text`` and a valid ``label``."""
    if not path.is_file():
        raise InputError(
            f"The data file {path} does not exist or is not a file.",
            hint='Give a JSON-lines file with one {"text": ..., "label": "human"|"ai"} per line.',
        )
    records: list[dict[str, Any]] = []
    try:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                records.append(_record(line, number, path))
                if limit is not None and len(records) >= limit:
                    break
    except UnicodeDecodeError:
        raise InputError(f"The data file {path} is not UTF-8 text.") from None
    if not records:
        raise InputError(f"The data file {path} has no records.")
    return records


def _record(line: str, number: int, path: Path) -> dict[str, Any]:
    where = f"Line {number} of {path}"
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where} is not valid JSON ({exc.msg}).") from None
    if not isinstance(record, dict):
        raise InputError(f"{where} is not a JSON object.")
    text, label = record.get("text"), record.get("label")
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"{where} has no 'text' (a non-empty string is required).")
    if label not in LABELS:
        raise InputError(f"{where} has label {label!r}; it must be 'human' or 'ai'.")
    return record


def metrics(labels: np.ndarray, scores: np.ndarray, flagged: np.ndarray) -> dict[str, Any]:
    """The headline figures for one set of documents (``flagged``: at or over the threshold)."""
    from hallmark.analysis.train_text import auroc, tpr_at_fpr

    human = ~labels
    both = bool(labels.any() and human.any())
    return {
        "auroc": round(auroc(labels, scores), 4) if both else None,
        "tpr_at_1pct_fpr": round(tpr_at_fpr(labels, scores, 0.01), 4) if both else None,
        "tpr_at_5pct_fpr": round(tpr_at_fpr(labels, scores, 0.05), 4) if both else None,
        "fpr_at_threshold": round(float(flagged[human].mean()), 4) if human.any() else None,
        "tpr_at_threshold": round(float(flagged[labels].mean()), 4) if labels.any() else None,
        "n": int(labels.size),
    }


def breakdown(
    records: Sequence[dict[str, Any]],
    field: str,
    labels: np.ndarray,
    scores: np.ndarray,
    flagged: np.ndarray,
) -> dict[str, dict[str, Any]]:
    """Figures per value of ``field`` (e.g. per domain)."""
    import numpy as np

    values = np.array([str(r.get(field) or "unknown") for r in records])
    result = {}
    for value in sorted(set(values)):
        pick = values == value
        result[value] = metrics(labels[pick], scores[pick], flagged[pick])
    return result


@app.command()
def detect(
    data: Annotated[Path, typer.Option("--data", help="JSON lines with 'text' and 'label'.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Only the first N records of the file.")
    ] = None,
) -> None:
    """Score labelled texts with the AI-text detector and report how well it separates them."""
    import numpy as np

    from hallmark.analysis.text_detector import load_classifier
    from hallmark.analysis.text_features import shared_model

    records = read_labelled(data, limit)
    classifier = load_classifier()
    err = stderr()
    with err.status("Loading the language model (about 15 s)..."):
        model = shared_model()
    scores = np.zeros(len(records))
    bar = Progress(
        TextColumn("Scoring texts"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )
    started = time.perf_counter()
    with bar:
        task = bar.add_task("score", total=len(records))
        for i, record in enumerate(records):
            scores[i] = classifier.score_text(model.score(record["text"]), record["text"])
            bar.advance(task)
    elapsed = time.perf_counter() - started
    labels = np.array([r["label"] == "ai" for r in records])
    probabilities = np.array([classifier.probability(s) for s in scores])
    flagged = probabilities >= classifier.threshold
    overall = metrics(labels, scores, flagged)
    report: dict[str, Any] = {
        **overall,
        "docs_per_s": round(len(records) / elapsed, 3) if elapsed > 0 else None,
        "threshold": classifier.threshold,
        "by_domain": breakdown(records, "domain", labels, scores, flagged),
        "by_generator": {},
    }
    # Each generator's AI texts are set against all the human texts (AUROC needs both).
    ai_gens = {str(r.get("generator") or "unknown") for r in records if r["label"] == "ai"}
    for gen in sorted(ai_gens):
        pick = np.array(
            [r["label"] == "human" or str(r.get("generator") or "unknown") == gen for r in records]
        )
        report["by_generator"][gen] = metrics(labels[pick], scores[pick], flagged[pick])
        report["by_generator"][gen].pop("fpr_at_threshold")
    if as_json:
        emit_json(report)
        return
    _print_report(report)


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def _print_report(report: dict[str, Any]) -> None:
    console = stdout()
    print_facts(
        console,
        [
            ("documents", str(report["n"])),
            ("AUROC", _fmt(report["auroc"])),
            ("TPR at 1% FPR", _fmt(report["tpr_at_1pct_fpr"])),
            ("TPR at 5% FPR", _fmt(report["tpr_at_5pct_fpr"])),
            ("threshold", f"P(AI) >= {report['threshold']}"),
            ("FPR at threshold", _fmt(report["fpr_at_threshold"])),
            ("TPR at threshold", _fmt(report["tpr_at_threshold"])),
            ("docs per second", _fmt(report["docs_per_s"])),
        ],
    )
    for key, title in (("by_domain", "domain"), ("by_generator", "generator")):
        table = Table(title=f"By {title}")
        for column in (title, "n", "AUROC", "TPR@1%", "TPR@5%", "FPR@thr", "TPR@thr"):
            table.add_column(column, justify="left" if column == title else "right")
        for name, row in report[key].items():
            table.add_row(
                name,
                str(row["n"]),
                *(
                    _fmt(row.get(k))
                    for k in (
                        "auroc",
                        "tpr_at_1pct_fpr",
                        "tpr_at_5pct_fpr",
                        "fpr_at_threshold",
                        "tpr_at_threshold",
                    )
                ),
            )
        console.print(table)
