"""Accounts: argon2id hashes, login throttling per (account, address) that cannot lock the owner
out, tokens stored hashed."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import select

from hallmark.errors import AuthError, ConflictError, InputError, RateLimitedError
from hallmark.services import accounts
from hallmark.services.instance import Instance
from hallmark.storage.models import ApiToken, LoginClient, User
from tests.conftest import FixedClock, add_token, add_user

PASSWORD = "a sturdy passphrase"


def test_passwords_are_stored_as_argon2id(instance: Instance) -> None:
    add_user(instance, "wren", password=PASSWORD)
    with instance.db.session() as session:
        stored = session.scalar(select(User.password_hash).where(User.handle == "wren"))
    assert stored is not None and stored.startswith("$argon2id$")
    assert PASSWORD not in stored


ATTACKER = "203.0.113.9"
OWNER = "198.51.100.4"


def fail(inst: Instance, handle: str, client: str, times: int) -> None:
    for _ in range(times):
        with pytest.raises(AuthError):
            accounts.authenticate(inst, handle, "wrong password!", client=client)


def test_failures_lock_the_guessing_address_until_the_lockout_ends(
    any_instance: Instance, fixed_clock: FixedClock
) -> None:
    instance = any_instance
    instance.clock = fixed_clock
    add_user(instance, "yara", password=PASSWORD)
    fail(instance, "yara", ATTACKER, instance.settings.login_max_failures)
    # Locked now: even the right password is refused from that address, with an honest message.
    with pytest.raises(RateLimitedError, match="locked") as locked:
        accounts.authenticate(instance, "yara", PASSWORD, client=ATTACKER)
    assert locked.value.retry_after == instance.settings.login_lockout_seconds
    fixed_clock.now += timedelta(seconds=instance.settings.login_lockout_seconds - 1)
    with pytest.raises(RateLimitedError, match="locked"):
        accounts.authenticate(instance, "yara", "wrong password!", client=ATTACKER)
    fixed_clock.now += timedelta(seconds=2)
    assert accounts.authenticate(instance, "yara", PASSWORD, client=ATTACKER).handle == "yara"


def test_the_owner_still_signs_in_from_another_address_while_a_guesser_is_locked(
    any_instance: Instance, fixed_clock: FixedClock
) -> None:
    instance = any_instance
    instance.clock = fixed_clock
    add_user(instance, "yara", password=PASSWORD)
    fail(instance, "yara", ATTACKER, instance.settings.login_max_failures)
    assert accounts.authenticate(instance, "yara", PASSWORD, client=OWNER).handle == "yara"
    # The owner's own mistakes are counted for their address alone and cleared by a success.
    fail(instance, "yara", OWNER, instance.settings.login_max_failures - 1)
    assert accounts.authenticate(instance, "yara", PASSWORD, client=OWNER).handle == "yara"
    fail(instance, "yara", OWNER, instance.settings.login_max_failures - 1)
    assert accounts.authenticate(instance, "yara", PASSWORD, client=OWNER).handle == "yara"
    # The owner signing in does not unlock the guesser.
    with pytest.raises(RateLimitedError, match="locked"):
        accounts.authenticate(instance, "yara", PASSWORD, client=ATTACKER)


def test_guessing_from_many_addresses_is_slowed_but_not_for_familiar_ones(
    any_instance: Instance, fixed_clock: FixedClock
) -> None:
    instance = any_instance
    instance.clock = fixed_clock
    instance.settings = instance.settings.model_copy(
        update={"login_account_max_failures": 6, "login_lockout_seconds": 600}
    )
    add_user(instance, "yara", password=PASSWORD)
    accounts.authenticate(instance, "yara", PASSWORD, client=OWNER)
    # Two failures from each of three addresses: no address is locked, the ceiling is reached.
    for n in range(3):
        fail(instance, "yara", f"192.0.2.{n}", 2)
    # Any further address now waits for the count to drain by one: 600 s / 6 = 100 s.
    with pytest.raises(RateLimitedError, match="slowed down") as slowed:
        accounts.authenticate(instance, "yara", PASSWORD, client="192.0.2.77")
    assert slowed.value.retry_after == 100
    # The owner, from where they signed in before, is not slowed.
    assert accounts.authenticate(instance, "yara", PASSWORD, client=OWNER).handle == "yara"
    fixed_clock.now += timedelta(seconds=100)
    fail(instance, "yara", "192.0.2.78", 1)
    # One guess per drained failure: the next address waits again.
    with pytest.raises(RateLimitedError, match="slowed down"):
        accounts.authenticate(instance, "yara", "wrong password!", client="192.0.2.79")


def test_concurrent_failures_are_all_counted(any_instance: Instance) -> None:
    instance = any_instance
    instance.settings = instance.settings.model_copy(update={"login_max_failures": 50})
    user_id = add_user(instance, "yara", password=PASSWORD)
    attempts = 6
    with ThreadPoolExecutor(max_workers=attempts) as pool:
        outcomes = list(
            pool.map(
                lambda _: _outcome(instance, ATTACKER),
                range(attempts),
            )
        )
    # "database is locked" would surface as an UnavailableError or an OperationalError.
    assert outcomes == ["wrong"] * attempts
    digest = accounts.client_digest(instance.settings, ATTACKER)
    with instance.db.session() as session:
        assert session.get_one(LoginClient, (user_id, digest)).failures == attempts
        assert session.get_one(User, user_id).login_strain == pytest.approx(attempts, abs=0.1)


def _outcome(instance: Instance, client: str) -> str:
    try:
        accounts.authenticate(instance, "yara", "wrong password!", client=client)
    except AuthError:
        return "wrong"
    return "accepted"


def test_pairs_that_hold_nothing_any_more_are_forgotten(
    any_instance: Instance, fixed_clock: FixedClock
) -> None:
    instance = any_instance
    instance.clock = fixed_clock
    add_user(instance, "yara", password=PASSWORD)
    accounts.authenticate(instance, "yara", PASSWORD, client=OWNER)
    fail(instance, "yara", "192.0.2.1", 1)
    fail(instance, "yara", "192.0.2.2", instance.settings.login_max_failures)
    fixed_clock.now += accounts.FAILURES_KEPT + timedelta(seconds=1)
    fail(instance, "yara", ATTACKER, 1)
    with instance.db.session() as session:
        kept = set(session.scalars(select(LoginClient.client)))
    # The old failure and the ended lock are gone; the familiar address and the new one stay.
    assert kept == {accounts.client_digest(instance.settings, a) for a in (OWNER, ATTACKER)}


def test_addresses_are_stored_only_as_keyed_digests(instance: Instance) -> None:
    add_user(instance, "yara", password=PASSWORD)
    fail(instance, "yara", ATTACKER, 1)
    with instance.db.session() as session:
        stored = list(session.scalars(select(LoginClient.client)))
    assert stored == [accounts.client_digest(instance.settings, ATTACKER)]
    assert ATTACKER not in stored[0]


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
