"""Engines, sessions and the log's write lock, for SQLite and PostgreSQL alike.

Writers that touch the log must be serialized across threads and processes (issue #2):

- SQLite: write sessions open with ``BEGIN IMMEDIATE``, which takes the database's single
  write lock at once rather than at the first write, so two writers never both read the same
  log size. WAL mode lets readers go on meanwhile.
- PostgreSQL: write sessions take a transaction-scoped advisory lock
  (``pg_advisory_xact_lock``), released by commit or rollback, even if the process dies.
  Every web process and worker takes the same lock, so the log keeps one sequencer however
  many processes write to it (issue #9, item 2).

A database that is down, restarting or too busy for now is not a bug: the sessions below raise
:class:`~hallmark.errors.UnavailableError` for it (503, "try again"), and the pool checks each
connection before use (``pool_pre_ping``), so the next request after the database is back
works without a restart.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from hallmark.errors import ConfigError, UnavailableError

logger = logging.getLogger(__name__)

#: Arbitrary fixed key for the log's PostgreSQL advisory lock ("HLMK" in ASCII).
LOG_LOCK_KEY = 0x484C4D4B
_WRITE_OPTION = "hallmark_write"
#: Seconds to wait for a PostgreSQL connection before the request fails as unavailable.
CONNECT_TIMEOUT = 10
#: Seconds a client is told to wait (Retry-After) when the database cannot be reached.
RETRY_AFTER = 5
#: SQLite result codes that mean "busy or not there for now" rather than a mistake in a query.
_SQLITE_TRANSIENT = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_IOERR", "SQLITE_CANTOPEN")


def make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"'{url}' is not a database URL.") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 60})
        _configure_sqlite(engine)
        return engine
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(
            parsed, pool_pre_ping=True, connect_args={"connect_timeout": CONNECT_TIMEOUT}
        )
    raise ConfigError(
        f"Database '{parsed.get_backend_name()}' is not supported.",
        hint="Use a sqlite:/// or postgresql:// URL.",
    )


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get(_WRITE_OPTION):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def is_unavailable(error: BaseException) -> bool:
    """Whether a database error means the database is down or busy for now (worth a retry
    later), as opposed to a mistake in a query or a schema that does not fit."""
    if isinstance(error, sa_exc.TimeoutError | sa_exc.DisconnectionError):
        return True
    if not isinstance(error, sa_exc.DBAPIError):
        return False
    if error.connection_invalidated or isinstance(error, sa_exc.InterfaceError):
        return True
    if not isinstance(error, sa_exc.OperationalError):
        return False
    # psycopg's OperationalError is "not under the programmer's control" (a lost connection,
    # a server shutting down, a serialization failure); SQLite's also covers "no such table".
    name = getattr(error.orig, "sqlite_errorname", None)
    return name is None or str(name).startswith(_SQLITE_TRANSIENT)


def unavailable(error: BaseException) -> UnavailableError:
    """The error a request or a job meets while the database cannot be reached."""
    logger.warning("database unavailable: %s", str(error).splitlines()[0][:300])
    return UnavailableError(
        "The database cannot be reached just now.",
        hint="Try again in a few seconds.",
        retry_after=RETRY_AFTER,
    )


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except (sa_exc.DBAPIError, sa_exc.TimeoutError, sa_exc.DisconnectionError) as error:
        if is_unavailable(error):
            raise unavailable(error) from error
        raise


class Database:
    """One engine plus two session factories: plain reads, and serialized log writes."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.dialect = self.engine.dialect.name
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(
            self.engine.execution_options(**{_WRITE_OPTION: True}), expire_on_commit=False
        )
        # SQLite's read transactions see one snapshot already (WAL); PostgreSQL's default
        # (READ COMMITTED) lets each statement see what committed since the last one.
        frozen = self.engine
        if self.dialect == "postgresql":
            frozen = frozen.execution_options(isolation_level="REPEATABLE READ")
        self._snapshot = sessionmaker(frozen, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session for reads and for writes that do not touch the log; commits on success."""
        with _translated(), self._read() as session, session.begin():
            yield session

    @contextmanager
    def snapshot(self) -> Iterator[Session]:
        """A session for many reads that must agree with each other (the log audit, read in
        batches): every statement sees the database as it was at the first one."""
        with _translated(), self._snapshot() as session, session.begin():
            yield session

    @contextmanager
    def writer(self) -> Iterator[Session]:
        """A session that reads and then writes, away from the log; commits on success.

        On SQLite it begins with ``BEGIN IMMEDIATE``. In WAL mode a transaction that has read
        and then writes fails at once with "database is locked", without waiting, when another
        connection committed in between (its snapshot is stale); taking the write lock first
        makes it wait its turn instead. On PostgreSQL it is an ordinary transaction.
        """
        with _translated(), self._write() as session, session.begin():
            yield session

    @contextmanager
    def log_writer(self) -> Iterator[Session]:
        """A session holding the log's write lock until it commits or rolls back."""
        with _translated(), self._write() as session, session.begin():
            if self.dialect == "postgresql":
                session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOG_LOCK_KEY})
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
