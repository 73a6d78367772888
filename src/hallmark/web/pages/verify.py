"""The verify page: drop a file and optionally its bundle, get a clear verdict (issue #2, item 8).

The verdict page says "Valid" or "Not valid" in large type, the reason in plain words, and
which digest matched, so a reader needs no knowledge of hashes to act on it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile
from starlette.responses import Response

from hallmark.errors import InputError
from hallmark.services.verify import verify
from hallmark.web import sessions
from hallmark.web.deps import InstanceDep
from hallmark.web.pages.accounts import FormText
from hallmark.web.templating import render
from hallmark.web.uploads import read_bundle, receive_upload

router = APIRouter(include_in_schema=False)


@router.get("/verify")
def verify_form(request: Request) -> Response:
    return render(request, "verify.html", {"error": None})


@router.post("/verify")
def verify_page(
    request: Request,
    inst: InstanceDep,
    file: Annotated[UploadFile | None, File()] = None,
    bundle: Annotated[UploadFile | None, File()] = None,
    csrf_token: FormText = "",
) -> Response:
    sessions.check_csrf(request, csrf_token)
    content = None
    try:
        content = receive_upload(file, limit=inst.settings.max_upload_bytes)
        bundle_data = read_bundle(bundle)
        if content is None and bundle_data is None:
            raise InputError("Choose a file to check, its bundle, or both.")
        result = verify(inst, content, bundle_data)
    except InputError as exc:
        return render(request, "verify.html", {"error": exc}, status_code=exc.status)
    finally:
        if content is not None:
            content.close()
    return render(request, "verdict.html", {"result": result.to_json()})
