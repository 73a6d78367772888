"""A database that cannot be reached is "unavailable for now" (503), not a bug (issue #9).

A mistake in a query or a schema that does not fit stays an error of its own, so it is not
hidden behind "try again later".
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from hallmark.errors import UnavailableError
from hallmark.storage.database import Database, is_unavailable


def test_a_database_that_refuses_connections_is_unavailable() -> None:
    # Nothing listens on port 1 of this machine.
    db = Database("postgresql://postgres@127.0.0.1:1/nothing")
    try:
        for open_session in (db.session, db.log_writer):
            with pytest.raises(UnavailableError) as caught, open_session() as session:
                session.execute(text("SELECT 1"))
            assert caught.value.status == 503 and caught.value.retry_after == 5
            assert is_unavailable(caught.value.__cause__)  # type: ignore[arg-type]
    finally:
        db.dispose()


def test_a_mistake_in_a_query_is_not_called_unavailable(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with pytest.raises(Exception) as caught, db.session() as session:
            session.execute(text("SELECT * FROM no_such_table"))
        assert not isinstance(caught.value, UnavailableError)
        assert not is_unavailable(caught.value)
    finally:
        db.dispose()
