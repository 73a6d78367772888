"""Turning errors into HTTP responses: the web face's one error handler.

Every failure a request can meet ends here: Hallmark's own errors (:class:`HallmarkError`),
FastAPI's request validation errors, Starlette's routing errors (404, 405, 413 from the upload
limit) and, as a last resort, any other exception. Each becomes a :class:`Problem`, which is
answered as an RFC 9457 ``application/problem+json`` document for the API and for clients that do
not ask for HTML, and as an HTML error page for browsers.

The problem ``type`` is a relative URI reference, ``/problems/<slug>``, which the site serves as
a short human-readable page (RFC 9457, section 3.1.1). Unexpected errors are logged with a short
reference that the answer repeats, and never show a traceback.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from hallmark.errors import (
    AuthError,
    HallmarkError,
    RateLimitedError,
    UnavailableError,
    VerificationError,
)
from hallmark.storage.database import is_unavailable, unavailable
from hallmark.web.headers import add_security_headers

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_PATH = "/problems/"

#: Each problem type the site answers with, and the sentence its ``/problems/<slug>`` page shows.
PROBLEM_TYPES: dict[str, tuple[str, str]] = {
    "hallmark-error": (
        "Hallmark error",
        "The request could not be carried out; the detail says why.",
    ),
    "invalid-input": (
        "Invalid input",
        "The request had a missing, malformed or unacceptable field or file. The detail says "
        "which one and what to change.",
    ),
    "too-large": (
        "Too large",
        "The upload is over this instance's size limit. Send a smaller file, or ask the "
        "operator to raise the limit.",
    ),
    "unsupported-media-type": (
        "Unsupported media type",
        "Hallmark registers UTF-8 text and PNG, JPEG, WebP or GIF images; the file is "
        "something else, or cannot be read as what it claims to be.",
    ),
    "not-found": (
        "Not found",
        "There is nothing at this address, or it is private and you may not see it.",
    ),
    "not-authenticated": (
        "Not authenticated",
        "This needs you to be signed in. API clients send 'Authorization: Bearer <token>'.",
    ),
    "forbidden": ("Forbidden", "You are signed in, but you may not do this."),
    "conflict": (
        "Conflict",
        "The request clashes with what is already there, such as a taken handle, a work that "
        "is already registered, or a certificate already revoked.",
    ),
    "too-many-requests": ("Too many requests", "Too many attempts in a short time; wait a while."),
    "log-error": (
        "Log error",
        "The transparency log cannot answer this, usually because a size or index is out of "
        "range for the log as it is now.",
    ),
    "proof-does-not-verify": ("Proof does not verify", "A log proof does not check out."),
    "not-valid": ("Not valid", "The work, certificate or bundle did not verify."),
    "method-not-allowed": ("Method not allowed", "This address does not accept that method."),
    "form-expired": (
        "Form expired",
        "The form was sent without the security token from this site, or with an old one. "
        "Reload the page and send the form again.",
    ),
    "service-unavailable": (
        "Service unavailable",
        "This feature is turned off on this instance, or a service it needs (the database, "
        "the job queue, the blob store) is down for a moment. Try again later; when a "
        "Retry-After header is sent, it says how many seconds to wait.",
    ),
    "server-error": (
        "Server error",
        "Something went wrong on the server. It has been logged; try again later.",
    ),
}


class CsrfError(HallmarkError):
    """A form came without this session's CSRF token, so it may come from another site."""

    title = "Form expired"
    status = 403


class BodyTooLargeError(StarletteHTTPException):
    """Raised while reading a request body that grows past the limit.

    It is a Starlette ``HTTPException`` on purpose: FastAPI lets those through its body parsing
    unchanged, where any other exception would become a vague 400.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=too_large_detail(limit))
        self.limit = limit


def too_large_detail(limit: int) -> str:
    return f"The request is larger than this instance's limit of {limit:,} bytes."


@dataclass
class Problem:
    """An RFC 9457 problem: what both the JSON and the HTML answer are made from."""

    slug: str
    title: str
    status: int
    detail: str
    hint: str | None = None
    extensions: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def type(self) -> str:
        return PROBLEM_PATH + self.slug

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.hint:
            doc["hint"] = self.hint
        doc.update(self.extensions)
        return doc


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def _server_error(exc: BaseException, request: Request) -> Problem:
    reference = secrets.token_hex(4)
    logger.error(
        "unexpected error %s on %s %s",
        reference,
        request.method,
        request.url.path,
        exc_info=(type(exc), exc, exc.__traceback__),
    )
    return Problem(
        "server-error",
        "Server error",
        500,
        f"Something went wrong on the server (reference {reference}).",
        hint="Try again later; if it keeps happening, tell the operator the reference.",
    )


def _plain(message: str) -> str:
    """Pydantic's message, reworded to follow a field name: "'limit' should be ..."."""
    message = message.rstrip(".")
    for prefix in ("Value error, ", "Input "):
        message = message.removeprefix(prefix)
    if not message:
        return "is not valid"
    return message[0].lower() + message[1:]


def _from_validation(exc: RequestValidationError) -> Problem:
    fields: list[dict[str, str]] = []
    for error in exc.errors():
        loc = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path")]
        name = ".".join(loc) or "body"
        if error.get("type") == "missing":
            message = "is required"
        elif error.get("type") == "json_invalid":
            name, message = "body", "is not valid JSON"
        elif "Expected UploadFile" in str(error.get("msg", "")):
            message = "must be sent as a file (a multipart part with a filename)"
        else:
            message = _plain(str(error.get("msg", "")))
        fields.append({"field": name, "message": message})
    detail = "; ".join(f"'{item['field']}' {item['message']}" for item in fields) + "."
    return Problem(
        "invalid-input",
        "Invalid input",
        400,
        detail[0].upper() + detail[1:] if detail else "The request is not valid.",
        extensions={"errors": fields},
    )


def _from_http(exc: StarletteHTTPException, request: Request) -> Problem:
    headers = dict(exc.headers or {})
    status = exc.status_code
    if status == 404:
        return Problem(
            "not-found", "Not found", 404, f"There is nothing at {request.url.path[:200]}."
        )
    if status == 405:
        allowed = headers.get("Allow") or headers.get("allow")
        detail = f"{request.method} is not allowed here" + (f"; use {allowed}." if allowed else ".")
        return Problem("method-not-allowed", "Method not allowed", 405, detail, headers=headers)
    if status == 413:
        detail = exc.detail if isinstance(exc, BodyTooLargeError) else "The request is too large."
        return Problem(
            "too-large",
            "Too large",
            413,
            detail,
            hint="Send a smaller file, or ask the operator to raise max_upload_bytes.",
        )
    if status == 400:
        # FastAPI's own message for a body it could not parse as a form or JSON.
        return Problem(
            "invalid-input",
            "Invalid input",
            400,
            "The request body could not be read.",
            hint="Send uploads as multipart/form-data and revocations as JSON.",
        )
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return Problem(_slug(phrase), phrase, status, str(exc.detail or phrase), headers=headers)


def to_problem(exc: BaseException, request: Request) -> Problem:
    """Describe any exception as a problem, hiding internals of unexpected ones."""
    if isinstance(exc, HallmarkError):
        # A 503 (a feature turned off, a service down for now) says so plainly; other
        # server-side errors are logged and shown without internals.
        if exc.status >= 500 and not isinstance(exc, UnavailableError):
            return _server_error(exc, request)
        problem = Problem(_slug(exc.title), exc.title, exc.status, exc.detail, exc.hint)
        if isinstance(exc, VerificationError):
            problem.extensions["reason"] = exc.reason
        if isinstance(exc, AuthError):
            problem.headers["WWW-Authenticate"] = 'Bearer realm="hallmark"'
        if isinstance(exc, RateLimitedError | UnavailableError) and exc.retry_after is not None:
            # RFC 9110, section 10.2.3: the client may try again after this many seconds.
            problem.headers["Retry-After"] = str(exc.retry_after)
            problem.extensions["retry_after"] = exc.retry_after
        return problem
    if is_unavailable(exc):
        # A database error that escaped the sessions' own translation is still "down for
        # now", not a bug.
        return to_problem(unavailable(exc), request)
    if isinstance(exc, RequestValidationError):
        return _from_validation(exc)
    if isinstance(exc, StarletteHTTPException):
        return _from_http(exc, request)
    return _server_error(exc, request)


def wants_html(request: Request) -> bool:
    """Browsers get an HTML page; the API and other clients get problem+json."""
    if request.url.path.startswith("/api/"):
        return False
    return "text/html" in request.headers.get("accept", "")


def problem_response(request: Request, problem: Problem) -> Response:
    if wants_html(request):
        templates = request.app.state.templates
        response: Response = templates.TemplateResponse(
            request, "error.html", {"problem": problem}, status_code=problem.status
        )
    else:
        response = JSONResponse(
            problem.to_json(), status_code=problem.status, media_type=PROBLEM_MEDIA_TYPE
        )
    response.headers.update(problem.headers)
    # Server errors are answered outside the security-headers middleware, so add them here.
    add_security_headers(response.headers)
    return response


async def handle_error(request: Request, exc: Exception) -> Response:
    """The one exception handler, registered for every kind of error the app can meet."""
    return problem_response(request, to_problem(exc, request))


def install_error_handlers(app: FastAPI) -> None:
    for kind in (HallmarkError, RequestValidationError, StarletteHTTPException, Exception):
        app.add_exception_handler(kind, handle_error)
