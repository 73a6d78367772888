"""How the ``hallmark`` command line speaks: Rich for people, plain JSON and text for scripts.

Anything a script might parse (``--json`` objects, the verifier key, a checkpoint note, a new
API token) is written as plain text to stdout, never through Rich, whose line wrapping and
markup would change it. Messages for people go through Rich; errors and progress go to stderr so
that stdout stays clean for pipes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import typer
from rich.console import Console
from rich.text import Text


def stdout() -> Console:
    # Built per use rather than at import time, so a console always writes to the current
    # sys.stdout (CliRunner swaps it) and detects colour for the stream it actually has.
    # soft_wrap: lines are never broken by Rich, so paths, ids and hashes copy out whole and
    # messages can be grepped; the terminal wraps them for the eye.
    return Console(highlight=False, soft_wrap=True)


def stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def emit_json(document: dict[str, Any]) -> None:
    """Write exactly one JSON object, on one line, to stdout."""
    typer.echo(json.dumps(document, ensure_ascii=False, sort_keys=True))


def emit_text(text: str) -> None:
    """Write machine-readable text to stdout as is, ending with exactly one newline."""
    typer.echo(text.rstrip("\n"))


def report_error(detail: str, hint: str | None = None) -> None:
    """The one shape of every error message: ``Error: ...`` and, when known, ``Hint: ...``."""
    console = stderr()
    console.print(Text.assemble(("Error: ", "bold red"), detail))
    if hint:
        console.print(Text.assemble(("Hint: ", "bold"), hint))


def plural(count: int, one: str, many: str | None = None) -> str:
    """``1 entry``, ``2 entries``: counts in words people read without stumbling."""
    return f"{count} {one}" if count == 1 else f"{count} {many or one + 's'}"


def print_facts(console: Console, rows: Iterable[tuple[str, str]]) -> None:
    """Labelled facts, one per line, as every summary the CLI prints shows them."""
    rows = list(rows)
    width = max((len(name) for name, _ in rows), default=0)
    for name, value in rows:
        # Values are user data (titles, handles): Text keeps Rich from reading them as markup.
        console.print(Text.assemble((name.ljust(width), "bold"), "  ", value))
