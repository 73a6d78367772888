"""Accounts: argon2id hashes, lockout that survives the failed login, tokens stored hashed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from hallmark.errors import AuthError, ConflictError, InputError, RateLimitedError
from hallmark.services import accounts
from hallmark.services.instance import Instance
from hallmark.storage.models import ApiToken, User
from tests.conftest import FixedClock, add_token, add_user

PASSWORD = "a sturdy passphrase"


def test_passwords_are_stored_as_argon2id(instance: Instance) -> None:
    add_user(instance, "wren", password=PASSWORD)
    with instance.db.session() as session:
        stored = session.scalar(select(User.password_hash).where(User.handle == "wren"))
    assert stored is not None and stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_lockout_after_repeated_failures_then_unlock(
    instance: Instance, fixed_clock: FixedClock
) -> None:
    instance.clock = fixed_clock
    add_user(instance, "yara", password=PASSWORD)
    for _ in range(instance.settings.login_max_failures):
        with pytest.raises(AuthError):
            accounts.authenticate(instance, "yara", "wrong password!")
    # Locked now: even the right password is refused, with a different, honest message.
    with pytest.raises(RateLimitedError, match="locked"):
        accounts.authenticate(instance, "yara", PASSWORD)
    fixed_clock.now += timedelta(seconds=instance.settings.login_lockout_seconds + 1)
    assert accounts.authenticate(instance, "yara", PASSWORD).handle == "yara"


def test_unknown_handle_and_wrong_password_read_the_same(instance: Instance) -> None:
    add_user(instance, "zed", password=PASSWORD)
    with pytest.raises(AuthError) as unknown:
        accounts.authenticate(instance, "nobody", PASSWORD)
    with pytest.raises(AuthError) as wrong:
        accounts.authenticate(instance, "zed", "not the password")
    assert unknown.value.detail == wrong.value.detail


def test_tokens_are_stored_only_as_digests(instance: Instance) -> None:
    add_user(instance, "abe")
    token = add_token(instance, "abe")
    with instance.db.session() as session:
        stored = list(session.scalars(select(ApiToken.token_sha256)))
        assert token not in stored and len(stored) == 1
        assert accounts.user_for_token(session, token).handle == "abe"
        with pytest.raises(AuthError):
            accounts.user_for_token(session, token + "x")
        with pytest.raises(AuthError):
            accounts.user_for_token(session, "not-a-token")


@pytest.mark.parametrize(
    ("handle", "password", "error"),
    [("A B", None, InputError), ("ok-handle", "short", InputError), ("x", None, InputError)],
)
def test_bad_sign_ups_are_refused(
    instance: Instance, handle: str, password: str | None, error: type
) -> None:
    with pytest.raises(error), instance.db.session() as session:
        accounts.create_user(instance, session, handle, password=password)


def test_handles_are_unique_case_insensitively(instance: Instance) -> None:
    add_user(instance, "bea")
    with pytest.raises(ConflictError), instance.db.session() as session:
        accounts.create_user(instance, session, "BEA")


def test_ending_sessions_raises_the_epoch_once_per_call(any_instance: Instance) -> None:
    user_id = add_user(any_instance, "wren")
    with any_instance.db.session() as session:
        assert session.get_one(User, user_id).session_epoch == 0
    for _ in range(2):
        with any_instance.db.session() as session:
            accounts.end_sessions(session, user_id)
    with any_instance.db.session() as session:
        assert session.get_one(User, user_id).session_epoch == 2
