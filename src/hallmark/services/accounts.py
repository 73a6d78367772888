"""Accounts: creators, reviewers and admins; passwords, throttled logins, API tokens.

Passwords are hashed with argon2id (``argon2-cffi``'s defaults, RFC 9106). API tokens are
random, shown once, and stored only as a SHA-256, so a leaked database does not leak tokens.
The same message is given for an unknown handle and a wrong password.

Throttling logins without handing out lockouts. The OWASP Authentication Cheat Sheet ("Login
Throttling", "Account Lockout") weighs two harms: an account that can be guessed at without
limit, and a lockout that anyone can trigger to keep the owner out, which is a denial of
service in its own right. So a lock here never falls on the whole account:

- Failures are counted per (account, client address) pair (:class:`LoginClient`). After
  ``login_max_failures`` of them that pair is locked for ``login_lockout_seconds``: the
  address that guessed cannot go on, while the owner, from their own address, still can.
- Guessing spread over many addresses is caught by a per-account count of failures from
  everywhere, which drains away at ``login_account_max_failures`` per lockout period. Above
  that much higher ceiling the account is slowed, not locked: an attempt from an address
  the account has not signed in from lately waits until the count drains by one, so guesses
  from all addresses together reach it at most that often. Addresses it signed in from
  within :data:`FAMILIAR_FOR` are not slowed, so the owner keeps getting in at once.
- The web layer also limits attempts per address over all accounts
  (``login_attempts_per_minute``), which bounds one password tried against many accounts.

What this leaves: addresses are only as good as what the server is told. Behind a reverse
proxy that is not trusted for its forwarding headers every visitor shares the proxy's
address, and the pair lock falls back to an account lock; the same holds for an attacker
behind the owner's own NAT. The lock and slow-down messages say that the handle exists, as
the old lockout did; for an unknown handle nothing is counted.

The password check (slow on purpose) runs outside any transaction; the outcome is then
decided again and recorded in one write transaction (``inst.db.writer()``), so concurrent
logins neither lose a count nor fail on SQLite's write lock, and nothing is stored half-way.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import math
import re
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hallmark.errors import (
    AuthError,
    ConflictError,
    InputError,
    NotFoundError,
    RateLimitedError,
)
from hallmark.services.instance import Instance
from hallmark.settings import Settings
from hallmark.storage.models import ApiToken, LoginClient, User

ROLES = ("creator", "reviewer", "admin")
HANDLE_RULE = re.compile(r"^[a-z0-9][a-z0-9_-]{1,38}[a-z0-9]$")
MIN_PASSWORD = 10
TOKEN_PREFIX = "hm_"
#: The client address of logins that do not come over the network (the CLI, scripts).
LOCAL_CLIENT = "local"
#: How long an address the account signed in from stays exempt from the per-account slow-down.
FAMILIAR_FOR = timedelta(days=90)
#: How long an (account, address) pair remembers failures that did not lead to a lock.
FAILURES_KEPT = timedelta(days=1)

_hasher = PasswordHasher()
# A real hash to check against when the handle is unknown, so timing does not reveal handles.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def check_handle(handle: str) -> str:
    handle = handle.strip().lower()
    if not HANDLE_RULE.match(handle):
        raise InputError(
            f"'{handle[:50]}' is not a valid handle.",
            hint="Use 3-40 lowercase letters, digits, '-' or '_', starting and ending with a "
            "letter or digit.",
        )
    return handle


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InputError(f"The password must have at least {MIN_PASSWORD} characters.")
    if len(password) > 1024:
        raise InputError("The password is longer than 1,024 characters.")


def find_user(session: Session, handle: str) -> User | None:
    return session.scalar(select(User).where(User.handle == handle.strip().lower()))


def get_user(session: Session, handle: str) -> User:
    user = find_user(session, handle)
    if user is None:
        raise NotFoundError(f"There is no user '{handle[:50]}'.")
    return user


def create_user(
    inst: Instance,
    session: Session,
    handle: str,
    *,
    role: str = "creator",
    password: str | None = None,
    display_name: str | None = None,
) -> User:
    handle = check_handle(handle)
    if role not in ROLES:
        raise InputError(f"'{role}' is not a role.", hint=f"Use one of: {', '.join(ROLES)}.")
    if password is not None:
        check_password(password)
    if find_user(session, handle) is not None:
        raise ConflictError(f"The handle '{handle}' is taken.", hint="Choose another handle.")
    name = (display_name or handle).strip()[:120] or handle
    user = User(
        id=inst.new_id("u"),
        handle=handle,
        display_name=name,
        role=role,
        password_hash=_hasher.hash(password) if password is not None else None,
        created_at=inst.clock(),
    )
    session.add(user)
    session.flush()
    return user


def ensure_creator(inst: Instance, session: Session, handle: str) -> User:
    """The user with this handle, created as a password-less creator if new (CLI register)."""
    return find_user(session, handle) or create_user(inst, session, handle)


def _aware(moment: datetime | None, like: datetime) -> datetime | None:
    # SQLite hands back naive datetimes; they were stored as UTC.
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=like.tzinfo)
    return moment


def client_digest(settings: Settings, address: str) -> str:
    """How an address is stored: keyed with the secret key, so the digest cannot be reversed
    by hashing every IPv4 address, and a copy of the database does not say who logs in from
    where."""
    key = settings.secret_key.encode("utf-8")
    return hmac.new(key, address.encode("utf-8"), hashlib.sha256).hexdigest()


def _strain(user: User, now: datetime, settings: Settings) -> float:
    """The account's failed logins still counted at ``now``; each drains away over one
    lockout period."""
    since = _aware(user.login_strain_at, now)
    if since is None:
        return 0.0
    rate = settings.login_account_max_failures / settings.login_lockout_seconds
    return max(0.0, user.login_strain - max(0.0, (now - since).total_seconds()) * rate)


def _familiar(pair: LoginClient | None, now: datetime) -> bool:
    signed_in = None if pair is None else _aware(pair.signed_in_at, now)
    return signed_in is not None and now - signed_in <= FAMILIAR_FOR


def _refusal(
    user: User, pair: LoginClient | None, now: datetime, settings: Settings
) -> RateLimitedError | None:
    """Why a login to ``user`` from ``pair``'s address may not be tried now, or None."""
    locked = None if pair is None else _aware(pair.locked_until, now)
    if locked is not None and locked > now:
        return RateLimitedError(
            "Logins to this account from this address are locked after too many failed logins.",
            hint=f"Try again after {locked:%H:%M} UTC.",
            retry_after=max(1, math.ceil((locked - now).total_seconds())),
        )
    if _familiar(pair, now):
        return None
    ceiling = settings.login_account_max_failures
    strain = _strain(user, now, settings)
    if strain + 1 <= ceiling:
        return None
    rate = ceiling / settings.login_lockout_seconds
    wait = max(1, math.ceil((strain + 1 - ceiling) / rate))
    return RateLimitedError(
        "This account has had many failed logins lately, so logins to it are slowed down.",
        hint=f"Try again in {wait} seconds. Logins from where you signed in to it lately are "
        "not slowed.",
        retry_after=wait,
    )


def _pair_for_update(session: Session, dialect: str, user_id: str, client: str) -> LoginClient:
    """The (account, address) row, made if new and locked for this transaction.

    An upsert, so two first logins from one address at once do not both insert it.
    """
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(LoginClient)
        .values(user_id=user_id, client=client, failures=0)
        .on_conflict_do_nothing()
    )
    query = select(LoginClient).where(LoginClient.user_id == user_id, LoginClient.client == client)
    return session.scalars(query.with_for_update()).one()


def _count_failure(
    session: Session, user: User, pair: LoginClient, now: datetime, settings: Settings
) -> None:
    failed = _aware(pair.failed_at, now)
    if failed is None or now - failed > FAILURES_KEPT:
        pair.failures = 0
    pair.failures += 1
    pair.failed_at = now
    if pair.failures >= settings.login_max_failures:
        pair.locked_until = now + timedelta(seconds=settings.login_lockout_seconds)
        pair.failures = 0
    user.login_strain = _strain(user, now, settings) + 1
    user.login_strain_at = now
    # Forget the account's other pairs that no longer hold anything: guesses from ever new
    # addresses must not grow the table without end (the ceiling bounds how fast they come).
    session.execute(
        delete(LoginClient).where(
            LoginClient.user_id == user.id,
            LoginClient.client != pair.client,
            or_(LoginClient.failed_at.is_(None), LoginClient.failed_at < now - FAILURES_KEPT),
            or_(LoginClient.locked_until.is_(None), LoginClient.locked_until <= now),
            or_(
                LoginClient.signed_in_at.is_(None),
                LoginClient.signed_in_at < now - FAMILIAR_FOR,
            ),
        )
    )


def _password_matches(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def authenticate(inst: Instance, handle: str, password: str, *, client: str = LOCAL_CLIENT) -> User:
    """The user with this handle and password; raises AuthError or RateLimitedError otherwise.

    ``client`` is the address the attempt comes from; see the module docstring for how
    failures are counted. The failure counts are committed even when the login fails: they
    must survive the error that reports them.
    """
    settings = inst.settings
    now = inst.clock()
    wrong = AuthError("The handle or password is wrong.")
    key = client_digest(settings, client)
    with inst.db.session() as session:
        user = find_user(session, handle)
        stored = None if user is None else user.password_hash
        refusal = None
        if user is not None and stored is not None:
            refusal = _refusal(user, session.get(LoginClient, (user.id, key)), now, settings)
    if user is None or stored is None:
        # Spend the same time as a real check, so timing does not reveal handles.
        with contextlib.suppress(VerificationError):
            _hasher.verify(_DUMMY_HASH, password)
        raise wrong
    if refusal is not None:
        raise refusal
    # The slow check runs outside any transaction, so it holds no lock.
    accepted = _password_matches(stored, password)
    rehashed = _hasher.hash(password) if accepted and _hasher.check_needs_rehash(stored) else None
    with inst.db.writer() as session:
        found = session.scalars(select(User).where(User.id == user.id).with_for_update()).first()
        if found is None:
            raise wrong
        user = found
        pair = _pair_for_update(session, inst.db.dialect, user.id, key)
        # Decided again under the lock: while the password was being checked, other attempts
        # may have locked this address out or pushed the account over its ceiling.
        refusal = _refusal(user, pair, now, settings)
        accepted = accepted and user.password_hash == stored
        if refusal is None and accepted:
            pair.failures = 0
            pair.failed_at = None
            pair.locked_until = None
            pair.signed_in_at = now
            if rehashed is not None:
                user.password_hash = rehashed
        elif refusal is None:
            _count_failure(session, user, pair, now, settings)
    if refusal is not None:
        raise refusal
    if not accepted:
        raise wrong
    return user


def end_sessions(session: Session, user_id: str) -> None:
    """End every browser session of this user, including copies of its cookie kept elsewhere.

    Sessions are signed cookies that carry the user's ``session_epoch`` from login; raising it
    here makes every one of them stale. The increment happens in the database, so two logouts
    at once both count and neither reads a value the other is about to change.
    """
    session.execute(
        update(User).where(User.id == user_id).values(session_epoch=User.session_epoch + 1)
    )


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(inst: Instance, session: Session, user: User, name: str = "") -> str:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            id=inst.new_id("t"),
            user_id=user.id,
            token_sha256=_token_digest(token),
            name=name[:80],
            created_at=inst.clock(),
        )
    )
    session.flush()
    return token


def user_for_token(session: Session, token: str) -> User:
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise AuthError(
            "The API token is not valid.", hint="Create one with 'hallmark token create'."
        )
    row = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == _token_digest(token)))
    if row is None:
        raise AuthError(
            "The API token is not valid.", hint="Create one with 'hallmark token create'."
        )
    return row.user
