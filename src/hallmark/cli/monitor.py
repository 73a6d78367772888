"""``hallmark monitor`` and ``hallmark keys witness``: follow another instance's log, co-sign it.

The monitor needs no instance of its own, only a folder for what it remembers (``--dir``, else
``HALLMARK_MONITOR_DIR``, else ``./.hallmark-monitor``): the instance's pinned key and the last
checkpoint it verified. Exit codes follow the rest of the CLI: 0 the log checks out, 1 it was
rewritten or forked (or no longer signs with its key), 2 the instance could not be asked.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from hallmark.errors import InputError, UnavailableError
from hallmark.ledger.note import Verifier, parse_verifier_key
from hallmark.services.monitor import (
    HttpLogClient,
    InstanceRefused,
    Monitor,
    Observation,
    WitnessIdentity,
)

from .output import emit_text, print_facts, report_error, stderr, stdout
from .state import read_input

DEFAULT_MONITOR_DIR = Path(".hallmark-monitor")
_STYLES = {"first-contact": "bold", "unchanged": "", "grown": "green", "alert": "bold red"}


def monitor(
    url: Annotated[str, typer.Argument(help="Base URL of the instance, e.g. https://example.org")],
    once: Annotated[
        bool, typer.Option("--once", help="Check once and exit: 0 sound, 1 rewritten.")
    ] = False,
    interval: Annotated[
        float, typer.Option(min=1, help="Seconds between checks when polling.")
    ] = 60,
    key: Annotated[
        Path | None,
        typer.Option(
            help="File holding the instance's verifier key; default: fetched and pinned on "
            "first contact.",
            dir_okay=False,
        ),
    ] = None,
    folder: Annotated[
        Path,
        typer.Option(
            "--dir",
            envvar="HALLMARK_MONITOR_DIR",
            help="Where the monitor keeps pinned keys and the checkpoints it saw.",
            file_okay=False,
        ),
    ] = DEFAULT_MONITOR_DIR,
    witness_key: Annotated[
        Path | None,
        typer.Option(
            help="Co-sign each checkpoint found consistent with this Ed25519 key (from "
            "'hallmark keys witness') and post it to the instance.",
            dir_okay=False,
        ),
    ] = None,
    witness_name: Annotated[
        str | None, typer.Option(help="The witness's name, as the instance lists it.")
    ] = None,
) -> None:
    """Follow an instance's log: verify each new checkpoint and that the log only grew."""
    if (witness_key is None) != (witness_name is None):
        raise InputError(
            "--witness-key and --witness-name go together.",
            hint="Give both to co-sign, or neither to only monitor.",
        )
    watcher = Monitor(
        HttpLogClient(url),
        folder,
        key=_read_verifier(key) if key is not None else None,
        witness=_read_witness(witness_key, witness_name) if witness_key and witness_name else None,
    )
    console = stdout()
    if not once:
        console.print(Text(f"Following {watcher.client.url} every {interval:g} s (Ctrl+C stops)."))
    try:
        while True:
            try:
                observation = watcher.check()
            except (UnavailableError, InstanceRefused) as exc:
                if once:
                    raise
                # An instance that is down or failing for a while is not one that rewrote its
                # log: what it signs is checked at the next answer.
                report_error(exc.detail, "Trying again at the next check.")
            else:
                _show(observation)
                if observation.alert:
                    raise typer.Exit(1)
                if once:
                    if observation.witness_problem:
                        raise typer.Exit(2)
                    return
            time.sleep(interval)
    except KeyboardInterrupt:
        console.print("Stopped.")


def _show(observation: Observation) -> None:
    stamp = datetime.now().strftime("%H:%M:%S")
    style = _STYLES[observation.status]
    if observation.alert:
        console = stderr()
        console.print(Text.assemble((f"{stamp} ALERT: ", "bold red"), (observation.message, style)))
        if observation.evidence is not None:
            console.print(
                Text(
                    f"Both signed checkpoints are saved in {observation.evidence}: together "
                    "they prove it to anyone who holds the instance's key."
                )
            )
        return
    console = stdout()
    console.print(Text.assemble((f"{stamp} ", "dim"), (observation.message, style)))
    if observation.pinned_key is not None:
        console.print(
            Text(
                "Pinned the instance's key on first contact; compare it with the one its "
                f"operator publishes: {observation.pinned_key}",
                style="yellow",
            )
        )
    for note in observation.notes:
        console.print(Text(note, style="dim"))
    if observation.cosigned:
        console.print(Text("Co-signed and posted to the instance.", style="green"))
    if observation.witness_problem:
        report_error(observation.witness_problem)


def _read_text(path: Path, what: str) -> str:
    try:
        return read_input(path, what).decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"The {what} {path} is not UTF-8 text.") from None


def _read_verifier(path: Path) -> Verifier:
    return parse_verifier_key(_read_text(path, "key file"))


def _read_witness(path: Path, name: str) -> WitnessIdentity:
    from hallmark.crypto.keys import load_private_key

    if not path.is_file():
        raise InputError(
            f"The witness key {path} does not exist.",
            hint="Make one with 'hallmark keys witness NAME --out FILE'.",
        )
    identity = WitnessIdentity(name, load_private_key(path))
    identity.cosigner  # noqa: B018 - checks the name now, not at the first cosignature
    return identity


def witness_key(
    name: Annotated[str, typer.Argument(help="The witness's name, e.g. 'witness.example.org/w1'.")],
    out: Annotated[
        Path,
        typer.Option(help="Where to write the private key (PEM, owner-only).", dir_okay=False),
    ] = Path("witness.pem"),
) -> None:
    """Make a witness key pair; print the verifier key the instance lists in 'witnesses'."""
    from hallmark.crypto.keys import generate_private_key, save_private_key
    from hallmark.ledger.cosignature import CosignerKey

    if out.exists():
        raise InputError(
            f"{out} already exists; a witness key is never overwritten.",
            hint="Choose another --out, or keep using the key you have.",
        )
    key = generate_private_key()
    cosigner = CosignerKey.from_public_key(name, key.public_key())
    save_private_key(key, out)
    print_facts(
        stderr(),
        [
            ("private key", f"{out.resolve()} (secret: it signs as this witness)"),
            ("next", "give the instance operator the line below, for its 'witnesses' setting"),
        ],
    )
    emit_text(cosigner.vkey())
