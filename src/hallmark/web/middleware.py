"""ASGI middleware: security headers on every answer, and the request body size limit.

Both are plain ASGI middleware rather than ``BaseHTTPMiddleware``, so they do not buffer bodies
and they see every response, including static files and errors.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hallmark.web.errors import BodyTooLargeError, problem_response, to_problem
from hallmark.web.headers import CONTENT_SECURITY_POLICY, add_security_headers

# Room for multipart framing, form fields and a bundle (which has its own 1 MB cap) on top of
# the largest accepted file.
BODY_OVERHEAD_BYTES = 1_100_000


class SecurityHeadersMiddleware:
    """Adds the CSP and related headers, unless a route has set its own stricter policy;
    with ``https_only``, also HSTS."""

    def __init__(self, app: ASGIApp, *, https_only: bool = False) -> None:
        self.app = app
        self.https_only = https_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = CONTENT_SECURITY_POLICY

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                add_security_headers(
                    MutableHeaders(scope=message), policy, https_only=self.https_only
                )
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimitMiddleware:
    """Refuses request bodies over ``limit`` bytes before they are read whole.

    A declared ``Content-Length`` over the limit is refused at once, without reading anything.
    A body without one (chunked) is counted as it arrives, and reading stops with a 413 as soon
    as it passes the limit.
    """

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            request = Request(scope, receive)
            response = problem_response(request, to_problem(BodyTooLargeError(self.limit), request))
            # Tell the client not to keep the connection for the rest of a body never read.
            response.headers["Connection"] = "close"
            await response(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLargeError(self.limit)
            return message

        await self.app(scope, counting_receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
