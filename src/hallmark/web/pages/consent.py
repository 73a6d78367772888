"""AI-training consent on the site (issue #6, item 3): the creator's settings page, changing a
work's consent from its page, and the files crawlers read.

- ``/settings/consent``: the default a creator's new works get (a form with a CSRF token);
- ``POST /works/{id}/consent``: the creator changes one work's consent (the certificate keeps
  what was declared at registration);
- ``/robots.txt``, ``/ai.txt`` and ``/.well-known/tdmrep.json``: generated from the consents
  of public works by :mod:`hallmark.services.consent`.

The helpers at the end give the work page and the upload form what they show of consent.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import PlainTextResponse, Response

from hallmark.errors import HallmarkError
from hallmark.services import consent as consent_rules
from hallmark.services.instance import Instance
from hallmark.storage.models import User, Work
from hallmark.web import jsonld, sessions
from hallmark.web.deps import InstanceDep, SessionUser
from hallmark.web.pages.accounts import FormText, login_first, redirect
from hallmark.web.templating import render

router = APIRouter(include_in_schema=False)

#: The published files change whenever a consent does; crawlers may keep them this long.
PUBLISHED_CACHE = "public, max-age=300"
TDMREP_MEDIA_TYPE = "application/json"
_WORDS = consent_rules.CONSENT_WORDS


def _choice_json(value: consent_rules.Consent) -> dict[str, Any]:
    name, meaning = consent_rules.CONSENT_WORDS[value.value]
    return {"value": value.value, "name": name, "meaning": meaning, "policy_url": value.policy_url}


# The creator's default -----------------------------------------------------------------------


@router.get("/settings/consent")
def consent_settings(request: Request, inst: InstanceDep, viewer: SessionUser) -> Response:
    if viewer is None:
        return login_first("/settings/consent")
    current = consent_rules.default_of(inst, viewer.id)
    form = {"consent": current.value, "consent_policy_url": current.policy_url or ""}
    context = {"form": form, "current": _choice_json(current), "error": None}
    return render(request, "settings_consent.html", {**context, "consents": _WORDS})


@router.post("/settings/consent")
def save_consent_settings(
    request: Request,
    inst: InstanceDep,
    viewer: SessionUser,
    csrf_token: FormText = "",
    consent: FormText = "",
    consent_policy_url: FormText = "",
) -> Response:
    sessions.check_csrf(request, csrf_token)
    if viewer is None:
        return login_first("/settings/consent")
    # The policy field stays on the form whatever is chosen; it counts only with constrained.
    url = consent_policy_url if consent == "constrained" else None
    try:
        chosen = consent_rules.set_default(inst, viewer.id, consent, url)
    except HallmarkError as exc:
        if exc.status >= 500:
            raise
        current = consent_rules.default_of(inst, viewer.id)
        form = {"consent": consent[:20], "consent_policy_url": consent_policy_url[:2000]}
        context = {"form": form, "current": _choice_json(current), "error": exc, "consents": _WORDS}
        return render(request, "settings_consent.html", context, status_code=exc.status)
    name = consent_rules.CONSENT_WORDS[chosen.value][0]
    sessions.set_notice(request, f"Your new works will be registered with AI training: {name}.")
    return redirect("/settings/consent")


# One work's consent --------------------------------------------------------------------------


@router.post("/works/{work_id}/consent")
def change_work_consent(
    request: Request,
    inst: InstanceDep,
    viewer: SessionUser,
    work_id: str,
    csrf_token: FormText = "",
    consent: FormText = "",
    consent_policy_url: FormText = "",
) -> Response:
    sessions.check_csrf(request, csrf_token)
    if viewer is None:
        return login_first(f"/works/{work_id}")
    url = consent_policy_url if consent == "constrained" else None
    result = consent_rules.change_work_consent(inst, work_id, viewer, consent, url)
    name = consent_rules.CONSENT_WORDS[result["consent"]][0]
    sessions.set_notice(
        request, f"AI training for this work is now: {name}. The certificate is unchanged."
    )
    return redirect(f"/works/{work_id}#consent")


# What crawlers read --------------------------------------------------------------------------


@router.get("/robots.txt")
def robots(inst: InstanceDep) -> Response:
    with inst.db.session() as session:
        body = consent_rules.robots_txt(session, inst.settings.public_url)
    return PlainTextResponse(body, headers={"Cache-Control": PUBLISHED_CACHE})


@router.get("/ai.txt")
def ai_txt(inst: InstanceDep) -> Response:
    with inst.db.session() as session:
        body = consent_rules.ai_txt(session, inst.settings.public_url)
    return PlainTextResponse(body, headers={"Cache-Control": PUBLISHED_CACHE})


@router.get("/.well-known/tdmrep.json")
def tdmrep(inst: InstanceDep) -> Response:
    with inst.db.session() as session:
        rules = consent_rules.tdmrep_rules(session)
    return Response(
        json.dumps(rules, separators=(",", ":")),
        media_type=TDMREP_MEDIA_TYPE,
        headers={"Cache-Control": PUBLISHED_CACHE},
    )


# For the other pages -------------------------------------------------------------------------


def work_context(inst: Instance, work: Work, viewer: User | None) -> dict[str, Any]:
    """What the work page shows of consent, its JSON-LD and its TDMRep headers (``work``
    attached to an open session)."""
    now = consent_rules.of_work(work)
    at_registration = consent_rules.declared(work)
    return {
        **_choice_json(now),
        "declared": _choice_json(at_registration) if at_registration else None,
        "changed": at_registration is not None and at_registration != now,
        "may_change": viewer is not None and viewer.id == work.creator_id,
        "json_ld": jsonld.script_text(
            jsonld.creative_work(work, base_url=inst.settings.public_url)
        ),
        "headers": now.tdm_headers(),
        "choices": {code: words[0] for code, words in _WORDS.items()},
    }


def upload_context(inst: Instance, viewer: User) -> dict[str, Any]:
    """The creator's default, which the upload form offers as its first choice."""
    return _choice_json(consent_rules.default_of(inst, viewer.id))
