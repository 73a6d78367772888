"""The one error tree of Hallmark.

Every error that Hallmark raises on purpose derives from :class:`HallmarkError`. Only the faces
turn them into something a person sees: ``web/`` into RFC 9457 problem documents or an HTML page,
``cli/`` into a message and an exit code. Domain code never raises HTTP errors.

Each error carries a short ``title`` (stable, for machines), a ``detail`` written for a person,
and an optional ``hint`` saying what to do next.
"""

from __future__ import annotations


class HallmarkError(Exception):
    """Root of every error Hallmark raises on purpose."""

    title = "Hallmark error"
    #: The HTTP status the web face uses for this error; the domain never looks at it.
    status = 400

    def __init__(self, detail: str, *, hint: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.hint = hint

    def diagnostics(self) -> str:
        """A plain-language explanation, with the hint on its own line when there is one."""
        if self.hint:
            return f"{self.detail}\nHint: {self.hint}"
        return self.detail


class InputError(HallmarkError):
    """The caller sent something Hallmark cannot accept (bad file, bad field, bad bundle)."""

    title = "Invalid input"
    status = 400


class TooLargeError(InputError):
    """An upload or field is over a configured size limit."""

    title = "Too large"
    status = 413


class UnsupportedMediaError(InputError):
    """The file is of a type Hallmark does not register."""

    title = "Unsupported media type"
    status = 415


class NotFoundError(HallmarkError):
    """The thing asked for does not exist, or the caller may not know it exists."""

    title = "Not found"
    status = 404


class AuthError(HallmarkError):
    """The caller is not signed in, or their credentials are wrong."""

    title = "Not authenticated"
    status = 401


class PermissionDeniedError(HallmarkError):
    """The caller is signed in but may not do this."""

    title = "Forbidden"
    status = 403


class ConflictError(HallmarkError):
    """The request clashes with the current state (a taken handle, a revoked certificate)."""

    title = "Conflict"
    status = 409


class RateLimitedError(HallmarkError):
    """Too many attempts; try again later (``retry_after`` seconds, when known)."""

    title = "Too many requests"
    status = 429

    def __init__(
        self, detail: str, *, hint: str | None = None, retry_after: int | None = None
    ) -> None:
        super().__init__(detail, hint=hint)
        self.retry_after = retry_after


class UnavailableError(HallmarkError):
    """A feature this instance has turned off, or a service it needs is down for now
    (``retry_after`` seconds, when a retry soon is likely to work)."""

    title = "Service unavailable"
    status = 503

    def __init__(
        self, detail: str, *, hint: str | None = None, retry_after: int | None = None
    ) -> None:
        super().__init__(detail, hint=hint)
        self.retry_after = retry_after


class ConfigError(HallmarkError):
    """Settings are missing, unsafe, or inconsistent."""

    title = "Configuration error"
    status = 500


class LedgerError(HallmarkError):
    """The transparency log is inconsistent, or a proof cannot be built or checked."""

    title = "Log error"
    status = 400


class ProofError(LedgerError):
    """An inclusion or consistency proof does not check out."""

    title = "Proof does not verify"


class VerificationError(HallmarkError):
    """A work, certificate or bundle is not valid.

    ``reason`` is one of a small fixed set of codes (see :mod:`hallmark.core.verify`); ``detail``
    says the same in plain words. Deliberately vague about cryptographic internals: a forger
    learns only that the signature is bad, not why.
    """

    title = "Not valid"
    status = 422

    def __init__(self, reason: str, detail: str, *, hint: str | None = None) -> None:
        super().__init__(detail, hint=hint)
        self.reason = reason
