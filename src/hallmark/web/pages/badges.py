"""Badges: ``/badge/{work_id}.svg`` and the HTML snippet that embeds one (issue #6, item 5).

A badge is a small SVG that shows "Hallmark", the certificate's origin label and its assurance
level, or "Revoked" once the certificate is revoked, and links to the work page, where the
certificate, its log entry and its bundle are shown. The work page is the work's verify view:
the ``/verify`` page needs the file in hand, which a reader of another site does not have.

The SVG is drawn from the ``badge.svg`` template with autoescaping, with no fonts, styles or
scripts from anywhere, so it renders the same inside an ``<img>`` on any site. Visibility
follows the work page (:func:`hallmark.services.registry.get_work`): a private work has no
badge except for its creator and admins, and an unknown or hidden work gets a "not found"
badge with status 404, so an embedding page shows a clear picture instead of a broken one.
"""

from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass

import jinja2
from fastapi import APIRouter, Request
from starlette.responses import Response

from hallmark.errors import NotFoundError
from hallmark.services import registry
from hallmark.storage.models import Work
from hallmark.web.deps import InstanceDep, SessionUser
from hallmark.web.templating import LABELS, LEVELS

router = APIRouter(include_in_schema=False)

SVG_MEDIA_TYPE = "image/svg+xml"
#: Part of every ETag, so that a change to the drawing reaches caches that hold the old one.
BADGE_VERSION = "1"
#: Short, so a revocation shows on other sites within minutes; the ETag makes revalidation cheap.
PUBLIC_CACHE = "public, max-age=300"
#: The badge is a document of its own when opened directly; it needs nothing from anywhere.
BADGE_POLICY = "default-src 'none'; frame-ancestors 'none'"

#: Segment colours, each under white text at a contrast of at least 4.5:1 (WCAG 2.2, 1.4.3);
#: a test checks the ratio. The label colours echo the work page's label badges.
BRAND_FILL = "#333333"
LABEL_FILLS = {"human-made": "#116329", "ai-assisted": "#8a4600", "ai-generated": "#5a32a3"}
LEVEL_FILL = "#1f4e79"
REVOKED_FILL = "#b42318"
#: A revoked certificate vouches for nothing, so its label loses its colour.
MUTED_FILL = "#5d6778"
TEXT_FILL = "#ffffff"

HEIGHT = 20
PADDING = 6
#: Width of one character of 11px Verdana, rounded up; each text is also given exactly its
#: box's width (``textLength``), so a fallback font with wider letters still fits.
CHAR_WIDTH = 7


@dataclass(frozen=True)
class Segment:
    text: str
    fill: str
    x: int
    width: int

    @property
    def text_x(self) -> int:
        return self.x + PADDING

    @property
    def text_length(self) -> int:
        return self.width - 2 * PADDING


@dataclass(frozen=True)
class Badge:
    """What a badge says, where it links, and the words a screen reader reads instead."""

    segments: tuple[Segment, ...]
    title: str
    link: str | None

    @property
    def width(self) -> int:
        return sum(segment.width for segment in self.segments)


def _segments(parts: list[tuple[str, str]]) -> tuple[Segment, ...]:
    segments, x = [], 0
    for text, fill in parts:
        width = len(text) * CHAR_WIDTH + 2 * PADDING
        segments.append(Segment(text, fill, x, width))
        x += width
    return tuple(segments)


def certificate_badge(label: str, level: str, *, revoked: bool, link: str) -> Badge:
    """The badge of a certificate with this label and level."""
    label_name = LABELS.get(label, (label, ""))[0]
    level_name = LEVELS.get(level, (level, ""))[0]
    if revoked:
        parts = [("Hallmark", BRAND_FILL), (label_name, MUTED_FILL), ("Revoked", REVOKED_FILL)]
        title = f"Hallmark certificate: {label_name}, revoked"
    else:
        label_fill = LABEL_FILLS.get(label, MUTED_FILL)
        parts = [("Hallmark", BRAND_FILL), (label_name, label_fill), (level_name, LEVEL_FILL)]
        title = f"Hallmark certificate: {label_name}, assurance level {level_name}"
    return Badge(_segments(parts), title, link)


def not_found_badge() -> Badge:
    parts = [("Hallmark", BRAND_FILL), ("not found", MUTED_FILL)]
    return Badge(_segments(parts), "Hallmark: no such certificate", None)


def render_badge(env: jinja2.Environment, badge: Badge) -> str:
    """The SVG text of ``badge``; every value is escaped by the template's autoescaping."""
    return env.get_template("badge.svg").render(badge=badge, height=HEIGHT, text_fill=TEXT_FILL)


def work_url(public_url: str, work_id: str) -> str:
    """The work page on this instance's public address: where a badge leads."""
    return f"{public_url.rstrip('/')}/works/{work_id}"


def badge_url(public_url: str, work_id: str) -> str:
    return f"{public_url.rstrip('/')}/badge/{work_id}.svg"


def embed_snippet(public_url: str, work: Work) -> str | None:
    """The HTML a creator pastes into their own site: the badge, linked to the work page.

    The alt text names the label but not the level, which rises as evidence is added, so a
    snippet pasted once stays true. None when the work has no certificate to show.
    """
    if work.certificate is None:
        return None
    label_name = LABELS.get(work.label, (work.label, ""))[0]
    href = html.escape(work_url(public_url, work.id))
    src = html.escape(badge_url(public_url, work.id))
    alt = html.escape(f"Hallmark certificate: {label_name}")
    return f'<a href="{href}"><img src="{src}" alt="{alt}" height="{HEIGHT}"></a>'


def _etag(*parts: str) -> str:
    digest = hashlib.sha256("\n".join((BADGE_VERSION, *parts)).encode("utf-8")).hexdigest()
    return f'"{digest[:32]}"'


def _matches(request: Request, etag: str) -> bool:
    sent = request.headers.get("if-none-match")
    if not sent:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in sent.split(",")}
    return etag in tags or "*" in tags


def _svg_response(
    request: Request, badge: Badge, *, status: int, headers: dict[str, str]
) -> Response:
    headers = {**headers, "Content-Security-Policy": BADGE_POLICY}
    etag = headers.get("ETag")
    if etag is not None and status == 200 and _matches(request, etag):
        return Response(status_code=304, headers=headers)
    env: jinja2.Environment = request.app.state.templates.env
    return Response(
        render_badge(env, badge), status_code=status, media_type=SVG_MEDIA_TYPE, headers=headers
    )


@router.get("/badge/{work_id}.svg")
def badge(request: Request, inst: InstanceDep, viewer: SessionUser, work_id: str) -> Response:
    with inst.db.session() as session:
        try:
            work = registry.get_work(session, work_id, viewer)
            cert = work.certificate
            if cert is None:
                raise NotFoundError(f"The work '{work_id[:40]}' has no certificate yet.")
        except NotFoundError:
            # Not cached: a work that is private now may be made public a minute later.
            return _svg_response(
                request, not_found_badge(), status=404, headers={"Cache-Control": "no-store"}
            )
        revoked = cert.revocation is not None
        link = work_url(inst.settings.public_url, work.id)
        drawn = certificate_badge(work.label, work.level, revoked=revoked, link=link)
        # The certificate id changes with every reissue (a new level), and the revocation is
        # the only other thing a badge shows, so the two pin the picture.
        etag = _etag(cert.id, "revoked" if revoked else "valid", link)
        # A private work's badge is drawn only for its creator and admins; no shared cache
        # may keep it.
        cache = PUBLIC_CACHE if work.visibility != "private" else "private, no-store"
    return _svg_response(request, drawn, status=200, headers={"Cache-Control": cache, "ETag": etag})
