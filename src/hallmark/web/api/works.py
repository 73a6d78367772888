"""API routes for works: register one, list them, and fetch a work, its certificate, its bundle
and its bytes (issue #2, item 7).

Reads follow the visibility rules of :func:`hallmark.services.registry.get_work`: a private
work is "not found" for anyone but its creator and admins, so its existence does not leak.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile

from hallmark.core.certificate import b64
from hallmark.errors import NotFoundError
from hallmark.services import accounts, analysis, registry, stages
from hallmark.services import log as log_service
from hallmark.web import downloads
from hallmark.web.api.schemas import CertificateOut, RegistrationOut, VisibilityIn, WorkOut
from hallmark.web.deps import ApiViewer, CurrentUser, InstanceDep
from hallmark.web.filters import AnyLabelListing
from hallmark.web.uploads import parse_ai_share, receive_file

router = APIRouter(tags=["works"])


@router.post(
    "/works",
    status_code=201,
    response_model=RegistrationOut,
    summary="Register a work and issue its certificate",
    responses={401: {"description": "No or a wrong API token."}},
)
def create_work(
    inst: InstanceDep,
    user: CurrentUser,
    response: Response,
    file: Annotated[UploadFile, File(description="The work: UTF-8 text or an image.")],
    title: Annotated[str, Form(description="The work's title.")],
    declare: Annotated[str, Form(description="human-made, ai-assisted or ai-generated.")],
    ai_share: Annotated[
        str | None, Form(description="Percent AI-generated; required for ai-assisted.")
    ] = None,
    visibility: Annotated[str, Form(description="public, unlisted or private.")] = "public",
    statement: Annotated[str | None, Form(description="How the work was made.")] = None,
    consent: Annotated[
        str | None,
        Form(
            description="AI training: allowed, not-allowed or constrained; default: the "
            "creator's default (GET /me/consent)."
        ),
    ] = None,
    consent_policy_url: Annotated[
        str | None, Form(description="With constrained: the http(s) URL of the conditions.")
    ] = None,
    series_id: Annotated[
        str | None, Form(description="A series of drafts (POST /series) to attach.")
    ] = None,
    stage: Annotated[
        list[UploadFile] | None,
        File(description="Drafts sent with the work, oldest first; repeat the part."),
    ] = None,
) -> dict[str, Any]:
    limit = inst.settings.max_upload_bytes
    with ExitStack() as spools:
        content = spools.enter_context(receive_file(file, limit=limit))
        drafts = [
            stages.StageUpload(
                spools.enter_context(receive_file(part, limit=limit)),
                part.filename,
            )
            for part in stage or []
        ]
        registration = stages.register_with_stages(
            inst,
            series_id=series_id or None,
            stages=drafts,
            creator_id=user.id,
            data=content,
            title=title,
            declare=declare,
            ai_share=parse_ai_share(ai_share),
            visibility=visibility,
            filename=file.filename,
            statement=statement,
            consent=consent,
            consent_policy_url=consent_policy_url,
            analyse=True,
        )
    analysis.dispatch_registered(inst, registration)
    response.headers["Location"] = f"/api/v1/works/{registration.work_id}"
    return {**registration.to_json(), "bundle": registration.bundle}


@router.get(
    "/works",
    response_model=list[WorkOut],
    summary="List works, newest first",
    description="Public works (and the caller's own, when listing their own), revoked ones "
    "included and marked. The filters are the gallery's; when there are more works, a "
    "'Link' header (RFC 8288) with rel=\"next\" gives the next page's address.",
)
def list_works(
    request: Request,
    response: Response,
    inst: InstanceDep,
    viewer: ApiViewer,
    wanted: AnyLabelListing,
    creator: Annotated[str | None, Query(description="Only this creator's works.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[dict[str, Any]]:
    with inst.db.session() as session:
        owner = None
        if creator is not None:
            owner = accounts.find_user(session, creator)
            if owner is None:
                raise NotFoundError(f"There is no creator '{creator[:40]}'.")
        page = registry.page_works(
            session,
            viewer,
            creator=owner,
            limit=limit,
            filters=wanted.filters,
            after=wanted.after,
        )
        works = [registry.work_json(work) for work in page.works]
    if page.next_cursor is not None:
        params = {k: v for k, v in request.query_params.items() if k != "cursor"}
        query = urlencode({**params, "cursor": page.next_cursor})
        response.headers["Link"] = f'<{request.url.path}?{query}>; rel="next"'
    return works


@router.get("/works/{work_id}", response_model=WorkOut, summary="A work's record")
def get_work(inst: InstanceDep, viewer: ApiViewer, work_id: str) -> dict[str, Any]:
    with inst.db.session() as session:
        return registry.work_json(registry.get_work(session, work_id, viewer))


@router.put(
    "/works/{work_id}/visibility",
    response_model=WorkOut,
    summary="Make a work public, unlisted or private (its creator)",
    description="Visibility is not part of the certificate: nothing is signed or logged. The "
    "gallery and search show public works only, from the moment this returns.",
    responses={
        401: {"description": "No or a wrong API token."},
        403: {"description": "Not the work's creator."},
    },
)
def put_visibility(
    inst: InstanceDep, user: CurrentUser, work_id: str, body: VisibilityIn
) -> dict[str, Any]:
    return registry.change_visibility(inst, work_id, user, body.visibility)


@router.get(
    "/works/{work_id}/certificate",
    response_model=CertificateOut,
    summary="A work's certificate and its signature",
)
def get_certificate(inst: InstanceDep, viewer: ApiViewer, work_id: str) -> dict[str, Any]:
    with inst.db.session() as session:
        work = registry.get_work(session, work_id, viewer)
        cert = work.certificate
        if cert is None:
            raise NotFoundError(f"The work '{work.id}' has no certificate.")
        return {
            "certificate_id": cert.id,
            "work_id": work.id,
            "log_index": cert.log_index,
            "certificate": log_service.statement_json(cert.body),
            "signature": b64(bytes(cert.signature)),
            "revoked": cert.revocation is not None,
        }


@router.get(
    "/works/{work_id}/bundle",
    summary="A work's bundle (*.hallmark.json) for offline verification",
    response_class=Response,
    responses={200: {"content": {"application/vnd.hallmark.bundle+json": {}}}},
)
def get_bundle(inst: InstanceDep, viewer: ApiViewer, work_id: str) -> Response:
    with inst.db.session() as session:
        return downloads.bundle_response(session, registry.get_work(session, work_id, viewer))


@router.get(
    "/works/{work_id}/file",
    summary="A work's bytes, exactly as certified, or with Content Credentials embedded",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {}}},
        400: {"description": "Content Credentials were asked for a work that is not an image."},
        409: {"description": "Content Credentials were asked for a revoked work."},
    },
)
def get_file(
    inst: InstanceDep,
    viewer: ApiViewer,
    work_id: str,
    credentials: Annotated[
        str | None,
        Query(
            description="'c2pa': the certified image with a signed C2PA manifest embedded "
            "(label, certificate, AI-training consent); its bytes differ from the certified "
            "ones."
        ),
    ] = None,
) -> Response:
    with inst.db.session() as session:
        work = registry.get_work(session, work_id, viewer)
        return downloads.work_file_response(inst, work, credentials)
