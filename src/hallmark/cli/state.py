"""What every ``hallmark`` command shares: the instance folder, and reading files safely.

The instance folder comes from ``--home``, else ``HALLMARK_HOME``, else ``./.hallmark`` (the
same order :meth:`hallmark.settings.Settings.load` uses). Modules that need the server extras
(pydantic, SQLAlchemy) are imported only inside the functions that open an instance, so
``hallmark verify --key`` works with the base install alone (DESIGN.md, Architecture).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from hallmark.errors import ConfigError

# Re-exported: the commands read the files they are given the same way the library does.
from hallmark.library import read_input as read_input

if TYPE_CHECKING:
    from hallmark.services.instance import Instance
    from hallmark.settings import Settings

DEFAULT_HOME = Path(".hallmark")
#: The file whose presence marks a complete instance; the same name as
#: ``hallmark.settings.CONFIG_FILE``, repeated so that checking for an instance needs no
#: server extras (a test pins the two together).
CONFIG_FILE = "hallmark.toml"
#: Refuse to read inputs larger than this into memory; far above any upload limit.


@dataclass(frozen=True)
class CliState:
    home: Path

    @property
    def has_instance(self) -> bool:
        return (self.home / CONFIG_FILE).is_file()

    def settings(self) -> Settings:
        """Settings of the existing instance in ``home``; a clear error when there is none."""
        if not self.has_instance:
            raise ConfigError(
                f"There is no Hallmark instance in {self.home}.",
                hint=f"Create one with 'hallmark --home {self.home} init', or point --home "
                "(or HALLMARK_HOME) at an existing instance.",
            )
        try:
            from hallmark.settings import Settings
        except ImportError as exc:
            raise _missing_extras(exc) from None
        return Settings.load(self.home)

    @contextmanager
    def instance(self, settings: Settings | None = None) -> Iterator[Instance]:
        """The open instance in ``home``, closed again when the block ends."""
        settings = settings or self.settings()
        from hallmark.services.instance import open_instance

        inst = open_instance(settings)
        try:
            yield inst
        finally:
            inst.close()


def _missing_extras(exc: ImportError) -> ConfigError:
    return ConfigError(
        f"Opening a Hallmark instance needs the server extras ({exc.name or exc} is missing).",
        hint="Install them with: pip install 'hallmark[server]'. Verifying with --key does not "
        "need them.",
    )


def state_of(ctx: typer.Context) -> CliState:
    state = ctx.find_object(CliState)
    # The root callback always sets it; only a command invoked outside the app would miss it.
    return state if state is not None else CliState(DEFAULT_HOME)
