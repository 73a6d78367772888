"""API routes for AI-training consent (issue #6, items 3 and 4): a creator's default, one work's
consent, and the lookup AI developers and crawlers use to find the consent of what they hold.

The rules live in :mod:`hallmark.services.consent` and :mod:`hallmark.services.consent_lookup`;
these routes translate, and charge each lookup to the caller's rate limit
(:mod:`hallmark.web.ratelimit`) before any work is done.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from hallmark.errors import InputError
from hallmark.services import consent as consent_rules
from hallmark.services import consent_lookup, similarity
from hallmark.web.deps import ApiViewer, CurrentUser, InstanceDep
from hallmark.web.ratelimit import app_buckets, charge, client_key

router = APIRouter(tags=["consent"])

_AUTH: dict[int | str, dict[str, Any]] = {401: {"description": "No or a wrong API token."}}


class ConsentIn(BaseModel):
    consent: str = Field(description="allowed, not-allowed or constrained.")
    consent_policy_url: str | None = Field(
        default=None,
        max_length=consent_rules.MAX_POLICY_URL,
        description="Required with constrained, refused otherwise: the http(s) URL of the "
        "conditions.",
    )


class ConsentOut(BaseModel):
    consent: str = Field(description="allowed, not-allowed or constrained.")
    consent_policy_url: str | None


class WorkConsentOut(ConsentOut):
    work_id: str
    declared: ConsentOut | None = Field(
        description="The consent the certificate declares (at registration); it never changes."
    )


class LookupIn(BaseModel):
    items: list[Any] = Field(
        description=f"At most {consent_lookup.MAX_ITEMS:,} items, each an object with exactly "
        'one of {"sha256": HEX}, {"text": STR}, {"image_b64": STR} or {"pdq": HEX}.'
    )


class LookupMatchOut(BaseModel):
    work_id: str
    consent: str = Field(description="allowed, not-allowed or constrained.")
    consent_policy_url: str | None = Field(description="The conditions of a constrained consent.")
    score: float = Field(description="1 for an exact match; else the similarity in [0, 1].")
    kind: str = Field(description="exact, near-copy, paraphrase or contains-passage.")
    title: str
    creator: str = Field(description="The creator's handle.")
    url: str = Field(description="The work's page.")


class LookupResultOut(BaseModel):
    matches: list[LookupMatchOut] = Field(description="Public works only, best first.")


class LookupOut(BaseModel):
    results: list[LookupResultOut] = Field(description="One per item, in the items' order.")
    near_copies_searched: bool = Field(
        description="False when this instance turned near-copy search off: only exact digests "
        "were matched."
    )


@router.get(
    "/me/consent",
    response_model=ConsentOut,
    summary="Your default AI-training consent for new works",
    responses=_AUTH,
)
def get_my_consent(inst: InstanceDep, user: CurrentUser) -> dict[str, Any]:
    return consent_rules.default_of(inst, user.id).to_json()


@router.put(
    "/me/consent",
    response_model=ConsentOut,
    summary="Set your default AI-training consent for the works you register from now on",
    responses=_AUTH,
)
def put_my_consent(inst: InstanceDep, user: CurrentUser, body: ConsentIn) -> dict[str, Any]:
    return consent_rules.set_default(inst, user.id, body.consent, body.consent_policy_url).to_json()


@router.put(
    "/works/{work_id}/consent",
    response_model=WorkConsentOut,
    summary="Change a work's AI-training consent (its creator); the certificate keeps the "
    "declared one",
    responses={**_AUTH, 403: {"description": "Not the work's creator."}},
)
def put_work_consent(
    inst: InstanceDep, user: CurrentUser, work_id: str, body: ConsentIn
) -> dict[str, Any]:
    return consent_rules.change_work_consent(
        inst, work_id, user, body.consent, body.consent_policy_url
    )


@router.post(
    "/consent/lookup",
    response_model=LookupOut,
    summary="The AI-training consent of registered works matching digests, texts or images",
    responses={
        401: {"description": "A wrong API token (a token is optional)."},
        429: {"description": "Over the rate limit; Retry-After says when to try again."},
    },
)
def lookup(
    request: Request, inst: InstanceDep, viewer: ApiViewer, body: LookupIn
) -> dict[str, Any]:
    settings = inst.settings
    budgets = {
        "requests": settings.consent_lookup_per_minute,
        "items": settings.consent_lookup_items_per_minute,
    }
    buckets = app_buckets(request, "consent_lookup", budgets)
    client = client_key(request, viewer)
    charge(buckets, client, {"requests": 1}, "consent lookups")
    queries = consent_lookup.parse_items(
        body.items,
        max_text_chars=settings.max_text_chars,
        max_image_bytes=settings.max_upload_bytes,
    )
    items = consent_lookup.cost(queries, near_copies=similarity.enabled(inst))
    if not buckets.fits({"items": items}):
        raise InputError(
            f"This lookup counts {items:,} items, more than the {buckets.per_minute['items']:,} "
            "this instance accepts from a client in a minute.",
            hint="Send fewer items per request (texts and images count more than digests).",
        )
    charge(buckets, client, {"items": items}, "consent lookup items")
    return consent_lookup.lookup(inst, queries)
