"""The authorship report page (issue #3, item 6): ``/works/{work_id}/authorship``.

It shows where the text of a work written in the editor came from (a composition chart), how
it grew over time by origin (a timeline), the figures of the writing, every suggestion of the
muse and whether it was used (issue #8), the human-ness flags with their explanations, and the
journal's root hash. Charts are drawn on the server as SVG
(:mod:`hallmark.web.charts`) and each is followed by its data as a table.

Who sees what (:func:`hallmark.services.drafts.authorship_report` decides): the creator (and
admins) always; others only when the creator made the report public and the work is visible to
them; everyone else is told "not found". The raw journal stays private even then: the replay
player (``report.js``) is only offered to the creator, and the public sees the root hash. So
are the muse's suggestions: the public sees what was asked and whether it was used, the
creator also what the muse said.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from hallmark.services import drafts, muse, registry
from hallmark.storage.models import User, Work
from hallmark.web import charts, sessions
from hallmark.web.deps import InstanceDep, SessionUser
from hallmark.web.pages.accounts import FormText, redirect
from hallmark.web.templating import render

router = APIRouter(include_in_schema=False)


def _duration(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def _stats(report: dict[str, Any]) -> list[tuple[str, str]]:
    length = int(report.get("length", 0))
    deleted = int(report.get("deleted_chars", 0))
    longest = int(report.get("longest_paste", 0))
    sessions_count = int(report.get("sessions", 0))
    revision = f" ({deleted / length:.1%} of the final length)" if length else ""
    return [
        ("Length", f"{length:,} characters"),
        ("Active writing time", _duration(int(report.get("active_seconds", 0)))),
        ("Writing sessions", f"{sessions_count:,}"),
        ("Keystrokes", f"{int(report.get('keystrokes', 0)):,}"),
        ("Characters deleted (revision)", f"{deleted:,}{revision}"),
        ("Longest paste", f"{longest:,} characters" if longest else "Nothing was pasted"),
        ("AI-generated share", f"{float(report.get('ai_share', 0.0)):g}%"),
        ("Journal events", f"{int(report.get('events', 0)):,}"),
    ]


def _is_owner(work: Work, viewer: User | None) -> bool:
    return viewer is not None and (viewer.id == work.creator_id or viewer.role == "admin")


@router.get("/works/{work_id}/authorship")
def authorship(request: Request, inst: InstanceDep, viewer: SessionUser, work_id: str) -> Response:
    # The service refuses first, so a private report is "not found" before anything is read.
    report = drafts.authorship_report(inst, work_id, viewer)
    with inst.db.session() as session:
        work = registry.get_work(session, work_id, viewer)
        context: dict[str, Any] = {
            "work": registry.work_json(work),
            "creator_name": work.creator.display_name,
            "sha256": work.sha256,
            "is_owner": _is_owner(work, viewer),
        }
    counts: dict[str, int] = report.get("counts", {})
    context.update(
        public=bool(report.get("public")),
        length=int(report.get("length", 0)),
        composition=charts.composition_chart(counts, report.get("shares", {})),
        timeline=charts.timeline_chart(report.get("timeline", [])),
        ai_pasted=int(counts.get("pasted_ai", 0)),
        stats=_stats(report),
        flags=report.get("flags", []),
        journal_root=str(report.get("journal_root", "")),
        muse=report.get("muse"),
        muse_texts=muse.texts_for_work(inst, work_id, viewer) if context["is_owner"] else {},
    )
    return render(request, "report.html", context)


@router.post("/works/{work_id}/authorship/visibility")
def set_visibility(
    request: Request,
    inst: InstanceDep,
    viewer: SessionUser,
    work_id: str,
    csrf_token: FormText = "",
    public: FormText = "0",
) -> Response:
    sessions.check_csrf(request, csrf_token)
    path = "/works/" + quote(work_id[:40], safe="") + "/authorship"
    if viewer is None:
        return redirect("/login?" + urlencode({"next": path}))
    made_public = public == "1"
    drafts.set_report_public(inst, work_id, viewer, made_public)
    sessions.set_notice(
        request,
        "The authorship report is now public; the raw journal stays private."
        if made_public
        else "The authorship report is now private.",
    )
    return redirect(path)
