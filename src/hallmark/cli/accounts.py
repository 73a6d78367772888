"""``hallmark user`` and ``hallmark token``: accounts and API tokens, from the operator's shell.

A password is read from stdin only (``--password-stdin``), never from an argument, so it does
not end up in shell history or the process list.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.text import Text

from hallmark.errors import InputError

from .output import emit_text, stdout
from .state import state_of

user_app = typer.Typer(help="Accounts: creators, reviewers and admins.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens (Authorization: Bearer).", no_args_is_help=True)


def _password_from_stdin() -> str:
    # Only the line ending is dropped: spaces inside or around a passphrase are the user's.
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise InputError(
            "--password-stdin was given but stdin held no password.",
            hint="Pipe it in, e.g. printf '%s' \"$PASSWORD\" | hallmark user add ... "
            "--password-stdin",
        )
    return password


@user_app.command("add")
def add(
    ctx: typer.Context,
    handle: Annotated[str, typer.Argument(help="3-40 lowercase letters, digits, '-' or '_'.")],
    role: Annotated[str, typer.Option(help="creator, reviewer or admin.")] = "creator",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
) -> None:
    """Create an account. Without a password it can use API tokens but not the web login."""
    from hallmark.services.accounts import create_user

    password = _password_from_stdin() if password_stdin else None
    with state_of(ctx).instance() as inst, inst.db.session() as session:
        user = create_user(inst, session, handle, role=role, password=password)
        created = (user.role, user.handle)
    console = stdout()
    console.print(Text(f"Created {created[0]} '{created[1]}'.", style="bold green"))
    if password is None:
        console.print(
            Text(f"No password set: create an API token with 'hallmark token create {created[1]}'.")
        )


@token_app.command("create")
def create(
    ctx: typer.Context,
    handle: Annotated[str, typer.Argument(help="Whose token.")],
    name: Annotated[str, typer.Option(help="A note to tell tokens apart.")] = "",
) -> None:
    """Create an API token and print it (only it, on stdout). It is shown once."""
    from hallmark.services.accounts import create_token, get_user

    with state_of(ctx).instance() as inst, inst.db.session() as session:
        token = create_token(inst, session, get_user(session, handle), name=name)
    emit_text(token)
