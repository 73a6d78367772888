"""The editor pages (issue #3, item 1): ``/write`` to start a text, ``/write/{draft_id}`` to
resume one.

The page itself only draws the writing surface, the muse's panel (issue #8) when the instance
has a muse, and the creator's open drafts; ``editor.js`` records the journal and talks to the
drafts API (:mod:`hallmark.web.api.drafts`), and ``muse.js`` to the muse's
(:mod:`hallmark.web.api.muse`), with the browser session and the CSRF token, which the page
hands over in a ``data-*`` attribute because the site's Content-Security-Policy allows no
inline script. Drafts are private: another person's draft is "not found", exactly like one
that does not exist.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.responses import Response

from hallmark.services import drafts, muse
from hallmark.services.drafts import DraftView
from hallmark.storage.models import User
from hallmark.web.deps import InstanceDep, SessionUser
from hallmark.web.pages.accounts import login_first, redirect
from hallmark.web.templating import render

router = APIRouter(include_in_schema=False)


def _opening(text: str, words: int = 6) -> str:
    """An untitled draft is named by its first words, as a list of files would."""
    first = text.split(maxsplit=words)[:words]
    if not first:
        return ""
    return " ".join(first) + ("…" if len(text.split(maxsplit=words)) > words else "")


def _editor(request: Request, inst: InstanceDep, viewer: User, draft: DraftView | None) -> Response:
    switches = muse.switches(inst, draft.draft_id, viewer) if draft else muse.Switches(True, True)
    if muse.enabled(inst):
        # The model loads in the background while the writer reads the page.
        muse.warm_up(inst, viewer.id)
    context = {
        "draft_id": draft.draft_id if draft else None,
        "draft_title": draft.title if draft else "",
        "drafts": [
            {
                "id": d.draft_id,
                "title": d.title or _opening(d.text),
                "length": len(d.text),
                "updated_at": d.updated_at,
            }
            for d in drafts.list_drafts(inst, viewer)
        ],
        "muse": {
            "enabled": muse.enabled(inst),
            "allow_continue": switches.allow_continue,
            "personal": switches.personal,
        },
    }
    return render(request, "editor.html", context)


@router.get("/write")
def new_text(request: Request, inst: InstanceDep, viewer: SessionUser) -> Response:
    if viewer is None:
        return login_first("/write")
    return _editor(request, inst, viewer, None)


@router.get("/write/{draft_id}")
def resume(request: Request, inst: InstanceDep, viewer: SessionUser, draft_id: str) -> Response:
    if viewer is None:
        return login_first("/write/" + quote(draft_id[:40], safe=""))
    draft = drafts.get_draft(inst, draft_id, viewer, stats=False)
    if draft.status != "open" and draft.work_id:
        return redirect(f"/works/{draft.work_id}")
    return _editor(request, inst, viewer, draft)
