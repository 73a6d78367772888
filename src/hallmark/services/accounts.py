"""Accounts: creators, reviewers and admins; passwords, logins with lockout, API tokens.

Passwords are hashed with argon2id (``argon2-cffi``'s defaults, RFC 9106). API tokens are
random, shown once, and stored only as a SHA-256, so a leaked database does not leak tokens.
Login failures lock an account for a while after ``login_max_failures`` attempts, and the
same message is given for an unknown handle and a wrong password.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import re
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hallmark.errors import (
    AuthError,
    ConflictError,
    InputError,
    NotFoundError,
    RateLimitedError,
)
from hallmark.services.instance import Instance
from hallmark.storage.models import ApiToken, User

ROLES = ("creator", "reviewer", "admin")
HANDLE_RULE = re.compile(r"^[a-z0-9][a-z0-9_-]{1,38}[a-z0-9]$")
MIN_PASSWORD = 10
TOKEN_PREFIX = "hm_"

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
        failed_logins=0,
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


def authenticate(inst: Instance, handle: str, password: str) -> User:
    """The user with this handle and password; raises AuthError or RateLimitedError otherwise.

    It runs its own transaction, committed even when the login fails: the failure count that
    drives the lockout must survive the error that reports it.
    """
    now = inst.clock()
    wrong = AuthError("The handle or password is wrong.")
    accepted = False
    with inst.db.session() as session:
        user = find_user(session, handle)
        if user is None or user.password_hash is None:
            # Spend the same time as a real check, so timing does not reveal handles.
            with contextlib.suppress(VerificationError):
                _hasher.verify(_DUMMY_HASH, password)
            raise wrong
        locked = _aware(user.locked_until, now)
        if locked is not None and locked > now:
            raise RateLimitedError(
                "This account is locked after too many failed logins.",
                hint=f"Try again after {locked:%H:%M} UTC.",
                retry_after=max(1, math.ceil((locked - now).total_seconds())),
            )
        try:
            _hasher.verify(user.password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            user.failed_logins += 1
            if user.failed_logins >= inst.settings.login_max_failures:
                user.locked_until = now + timedelta(seconds=inst.settings.login_lockout_seconds)
                user.failed_logins = 0
        else:
            user.failed_logins = 0
            user.locked_until = None
            if _hasher.check_needs_rehash(user.password_hash):
                user.password_hash = _hasher.hash(password)
            accepted = True
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
