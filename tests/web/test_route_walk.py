"""Every route of the app, asked by everyone: who may do what (issue #7, item 6).

The walk lists the app's routes itself (``app.routes``), so a route added later is covered the
day it lands: :data:`ROUTES` must classify it, or :func:`test_every_route_is_classified` fails
and says how. Each case is asked as five people: nobody signed in, another creator, the owner
of the objects in the path, a reviewer and an admin. Pages are asked with the session cookie
of a real login and the form's CSRF token, the API with bearer tokens; the objects in paths are
real (works, drafts, a series, a dispute...) and owned by ``alice``.

Requests that change something and may succeed for more than one person build a fresh object
for each person (``fresh=True``), so every answer is the answer to a first try.

Besides the table, the walk checks what holds for whole groups of routes: every page form is
refused without its CSRF token or with a wrong one; the API never takes the session cookie as
a login (except the editor's routes, which then want the ``X-CSRF-Token`` header); ids that
do not exist are "not found" or a clear refusal; and nothing anywhere is answered with a 500.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount

from hallmark.ledger.cosignature import cosign
from hallmark.services import accounts, analysis, disputes, review
from hallmark.services.instance import Instance
from hallmark.storage.models import SimilarityMatch, User, Work
from hallmark.web.app import create_app
from tests.analysis.keyword_plugin import AI_TEXT, registered
from tests.conftest import add_token, add_user, make_instance, reset_postgres
from tests.core.test_journal import human_like
from tests.services.test_stages import DRAFT_1, FINAL, drawing
from tests.web.conftest import HTML, PASSWORD, TestClient, csrf_of, login

API = "/api/v1"
ROLES = ("anon", "other", "owner", "reviewer", "admin")
#: Who plays each role; ``mallory`` is the other side of alice's dispute and plays no role.
HANDLES = {"other": "bruno", "owner": "alice", "reviewer": "rita", "admin": "root"}
ACCOUNT_ROLES = {"other": "creator", "owner": "creator", "reviewer": "reviewer", "admin": "admin"}

#: The title of alice's private work: no list or search may show it to anyone else.
SECRET_TITLE = "Quiet cove zqxv"

#: A page sent a visitor who is not signed in to the login form (303 to ``/login?next=...``).
LOGIN = "login"
Expect = int | str


@dataclass(frozen=True)
class Access:
    """The answer each role gets: a status code, or :data:`LOGIN`."""

    anon: Expect
    other: Expect
    owner: Expect
    reviewer: Expect
    admin: Expect

    def of(self, role: str) -> Expect:
        expected: Expect = getattr(self, role)
        return expected


def everyone(status: int) -> Access:
    return Access(status, status, status, status, status)


def signed_in(status: int, anon: Expect = LOGIN) -> Access:
    """Anyone signed in; a visitor is asked to log in (pages) or refused (API: 401)."""
    return Access(anon, status, status, status, status)


#: Something private of alice's: she and admins see it; for anyone else it does not exist.
OWNER_AND_ADMIN = Access(404, 404, 200, 404, 200)
#: A draft or a series of alice's: hers alone, not even admins see it.
OWNER_ONLY_API = Access(401, 404, 200, 404, 404)
REVIEWERS_PAGE = Access(LOGIN, 403, 403, 200, 200)
REVIEWERS_API = Access(401, 403, 403, 200, 200)


@dataclass(frozen=True)
class Call:
    """One request; pages get the role's CSRF token added to ``data`` on POST."""

    method: str
    path: str
    data: dict[str, str] | None = None
    files: list[tuple[str, tuple[str, bytes, str]]] | None = None
    json: Any = None
    params: dict[str, str | int] | None = None
    content: bytes | None = None


@dataclass(frozen=True)
class Case:
    """One target of a route (a public work, a private one...) and who may do what to it.

    ``make`` builds the request from the world; with ``fresh`` it is built again for every
    role, since the request uses up its object (a revocation, a decision). ``own_session``
    sends page requests from a copy of the role's browser, for routes that replace the
    session (sign-up, login, logout). ``ends_sessions`` marks a request that ends every
    session of the role's user, the browser it was copied from included (logout), so the
    role signs in again afterwards.
    """

    name: str
    make: Callable[[World], Call]
    access: Access
    fresh: bool = False
    own_session: bool = False
    ends_sessions: bool = False


# The world: people, their browsers and tokens, and alice's things -----------------------------


@dataclass
class World:
    """The app, a signed-in browser per role, tokens, and the ids of alice's things."""

    inst: Instance
    app: FastAPI
    api: TestClient
    pages: dict[str, TestClient]
    tokens: dict[str, str]
    ids: dict[str, str] = field(default_factory=dict)
    _serial: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _csrf: dict[str, str] = field(default_factory=dict)

    def serial(self) -> int:
        return next(self._serial)

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"} if role in self.tokens else {}

    def sign_in_again(self, role: str) -> None:
        self.pages[role] = _browser(self.app, HANDLES.get(role))
        self._csrf.pop(role, None)

    def csrf(self, role: str) -> str:
        if role not in self._csrf:
            self._csrf[role] = csrf_of(self.pages[role].get("/login", headers=HTML))
        return self._csrf[role]

    def user(self, handle: str) -> User:
        with self.inst.db.session() as session:
            found = accounts.get_user(session, handle)
            session.expunge(found)
            return found

    def register(
        self, role: str = "owner", data: bytes | None = None, **fields: str
    ) -> dict[str, Any]:
        """A new work through the API, analysed before this returns."""
        if data is None:
            data = f"The gulls came back, {self.serial()} of them, to the harbour wall.\n".encode()
        answer = self.api.post(
            f"{API}/works",
            headers=self.auth(role),
            files={"file": ("poem.txt", data, "application/octet-stream")},
            data={"title": "Harbour", "declare": "human-made", **fields},
        )
        assert answer.status_code == 201, answer.text
        analysis.wait_idle(self.inst)
        result: dict[str, Any] = answer.json()
        return result

    def work(self, **fields: str) -> str:
        return str(self.register(**fields)["work_id"])

    def pending(self, **fields: str) -> str:
        """A work of alice's in the review queue: the keyword detector contradicts it."""
        data = AI_TEXT + f"Verse {self.serial()}.\n".encode()
        work_id = str(self.register(data=data, **fields)["work_id"])
        with self.inst.db.session() as session:
            assert session.get_one(Work, work_id).review_status == "pending"
        return work_id

    def rejected(self) -> str:
        work_id = self.pending()
        review.decide(
            self.inst, work_id, self.user("rita"), decision="rejected", reason="Show drafts."
        )
        return work_id

    def match(self, visibility: str = "public") -> str:
        """A recorded near-copy: mallory's later work resembles alice's earlier one."""
        first = self.work(visibility=visibility)
        later = self.register("mallory")["work_id"]
        with self.inst.db.session() as session:
            match = SimilarityMatch(
                id=self.inst.new_id("m"),
                work_id=later,
                matched_work_id=first,
                score=0.93,
                kind="near-copy",
                first_work_id=first,
                created_at=datetime.now(UTC),
            )
            session.add(match)
            self.ids.setdefault("match_work", first)
            return match.id

    def dispute(self, visibility: str = "public") -> str:
        match_id = self.match(visibility)
        opened = disputes.open_dispute(
            self.inst, self.user("alice"), match_id=match_id, statement="Mine came first."
        )
        return str(opened["dispute_id"])

    def draft(self, seed: int = 5) -> tuple[str, str]:
        """An open draft of alice's with a short journal in it, and its text."""
        answer = self.api.post(f"{API}/drafts", json={"title": "Tide"}, headers=self.auth("owner"))
        draft_id = str(answer.json()["draft_id"])
        writer = human_like(seed, 60)
        sent = self.api.post(
            f"{API}/drafts/{draft_id}/events",
            json={"events": writer.events},
            headers=self.auth("owner"),
        )
        assert sent.status_code == 200, sent.text
        return draft_id, writer.text


def _browser(app: FastAPI, handle: str | None) -> TestClient:
    client = TestClient(app)
    if handle is not None:
        assert login(client, handle).status_code == 303
    return client


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """The furnished instance, walked on SQLite and then on PostgreSQL."""
    home = tmp_path_factory.mktemp("walk") / "home"
    if request.param == "sqlite":
        inst = make_instance(home)
    else:
        url = request.getfixturevalue("postgres_url")
        reset_postgres(url)
        inst = make_instance(home, database_url=url)
    with registered():
        inst.settings = inst.settings.model_copy(
            # The keyword detector sends a telltale text to review; the walk logs in more
            # often than a person would in a minute; the muse's language model stays unloaded.
            update={
                "detectors": ["keyword"],
                "login_attempts_per_minute": 1_000,
                "muse_backend": "",
            }
        )
        tokens: dict[str, str] = {}
        for role, handle in HANDLES.items():
            add_user(inst, handle, ACCOUNT_ROLES[role], password=PASSWORD)
            tokens[role] = add_token(inst, handle)
        add_user(inst, "mallory")
        tokens["mallory"] = add_token(inst, "mallory")
        app = create_app(inst.settings, instance=inst)
        with TestClient(app) as api:
            pages = {role: _browser(app, HANDLES.get(role)) for role in ROLES}
            w = World(inst, app, api, pages, tokens)
            _furnish(w)
            yield w
            analysis.wait_idle(inst)
    inst.close()


def _furnish(w: World) -> None:
    owner = w.auth("owner")
    public = w.register()
    w.ids["public"] = public["work_id"]
    w.ids["public_sha256"] = public["sha256"]
    w.ids["private"] = w.work(visibility="private", title=SECRET_TITLE)
    w.ids["image"] = w.register(data=drawing(0.3, size=64))["work_id"]
    w.ids["private_image"] = w.register(data=drawing(0.7, size=64), visibility="private")["work_id"]
    w.ids["pending"] = w.pending()
    w.ids["private_pending"] = w.pending(visibility="private")
    w.ids["draft"], _ = w.draft()
    # A work written in the editor: it has an authorship report (private) and a raw journal.
    draft_id, text = w.draft(seed=w.serial())
    submitted = w.api.post(
        f"{API}/drafts/{draft_id}/submit",
        json={"title": "Tide", "declare": "human-made", "text": text, "report_public": False},
        headers=owner,
    )
    assert submitted.status_code == 201, submitted.text
    w.ids["editor"] = submitted.json()["work_id"]
    series = w.api.post(f"{API}/series", headers=owner).json()["series_id"]
    stage = w.api.post(
        f"{API}/series/{series}/stages",
        headers=owner,
        files={"file": ("a.txt", DRAFT_1.encode(), "text/plain")},
    )
    assert stage.status_code == 201, stage.text
    w.ids["series"] = series
    staged = w.api.post(
        f"{API}/works",
        headers=owner,
        files=[
            ("file", ("final.txt", FINAL.encode(), "text/plain")),
            ("stage", ("a.txt", DRAFT_1.encode(), "text/plain")),
        ],
        data={"title": "Stages", "declare": "human-made"},
    )
    assert staged.status_code == 201, staged.text
    w.ids["staged"] = staged.json()["work_id"]
    w.ids["dispute"] = w.dispute()
    # Reviewers see both works of a dispute, even a private one that never went to review.
    w.ids["private_dispute"] = w.dispute(visibility="private")
    analysis.wait_idle(w.inst)


# What to send ---------------------------------------------------------------------------------


def get(path: str, **params: str | int) -> Callable[[World], Call]:
    """A GET of ``path`` with ``{name}`` filled from the world's ids."""
    return lambda w: Call("GET", path.format(**w.ids), params=params or None)


def fresh_text(w: World) -> bytes:
    return f"A new poem, number {w.serial()}, about the ferry.\n".encode()


def page_upload(w: World) -> Call:
    return Call(
        "POST",
        "/upload",
        data={"title": "Ferry", "declare": "human-made", "visibility": "public"},
        files=[("file", ("ferry.txt", fresh_text(w), "text/plain"))],
    )


def api_upload(w: World) -> Call:
    return Call(
        "POST",
        f"{API}/works",
        data={"title": "Ferry", "declare": "human-made"},
        files=[("file", ("ferry.txt", fresh_text(w), "text/plain"))],
    )


def verify_file(path: str) -> Callable[[World], Call]:
    def make(w: World) -> Call:
        data = w.api.get(f"{API}/works/{w.ids['public']}/file").content
        return Call("POST", path, files=[("file", ("poem.txt", data, "text/plain"))])

    return make


def revoke_page(visibility: str) -> Callable[[World], Call]:
    def make(w: World) -> Call:
        work_id = w.work(visibility=visibility)
        return Call("POST", f"/works/{work_id}/revoke", data={"reason": "Withdrawn."})

    return make


def revoke_api(w: World) -> Call:
    # Analysis reissues the certificate at level "analyzed": revoke the current one.
    work_id = w.work()
    certificate_id = w.api.get(f"{API}/works/{work_id}/certificate").json()["certificate_id"]
    return Call("POST", f"{API}/certificates/{certificate_id}/revoke", json={"reason": "Gone."})


def submit_draft(w: World) -> Call:
    draft_id, text = w.draft(seed=w.serial())
    body = {"title": "Tide", "declare": "human-made", "text": text}
    return Call("POST", f"{API}/drafts/{draft_id}/submit", json=body)


def cosigned_by_a_stranger(w: World) -> Call:
    """The latest checkpoint with the cosignature of a witness the instance does not list."""
    note = w.api.get(f"{API}/log/checkpoint").text
    signed = cosign(note, "stranger.example/witness", Ed25519PrivateKey.generate(), 1_700_000_000)
    return Call("POST", f"{API}/log/cosignatures", content=signed.encode())


def post(path: str, **data: str) -> Callable[[World], Call]:
    return lambda w: Call("POST", path.format(**w.ids), data=dict(data))


def post_json(path: str, body: Any = None, method: str = "POST") -> Callable[[World], Call]:
    return lambda w: Call(method, path.format(**w.ids), json=body)


#: Every route of the app, keyed by (method, path template), and its cases. Routes marked in
#: :data:`OPTIONAL` belong to work in progress elsewhere and are skipped while absent.
ROUTES: dict[tuple[str, str], list[Case]] = {
    # Pages anyone may read.
    ("GET", "/"): [Case("home", get("/"), everyone(200))],
    ("GET", "/log"): [Case("log", get("/log"), everyone(200))],
    ("GET", "/problems/{slug}"): [Case("problem", get("/problems/not-found"), everyone(200))],
    ("GET", "/verify"): [Case("form", get("/verify"), everyone(200))],
    ("POST", "/verify"): [Case("a work", verify_file("/verify"), everyone(200))],
    ("GET", "/signup"): [Case("form", get("/signup"), everyone(200))],
    ("POST", "/signup"): [
        Case(
            "new account",
            lambda w: Call(
                "POST",
                "/signup",
                data={
                    "handle": f"newcomer{w.serial()}",
                    "password": PASSWORD,
                    "password_again": PASSWORD,
                },
            ),
            everyone(303),
            fresh=True,
            own_session=True,
        )
    ],
    ("GET", "/login"): [Case("form", get("/login"), everyone(200))],
    ("POST", "/login"): [
        Case(
            "alice's password",
            post("/login", handle="alice", password=PASSWORD),
            everyone(303),
            own_session=True,
        )
    ],
    ("POST", "/logout"): [
        Case("logout", post("/logout"), everyone(303), own_session=True, ends_sessions=True)
    ],
    ("GET", "/robots.txt"): [Case("robots", get("/robots.txt"), everyone(200))],
    ("GET", "/ai.txt"): [Case("ai.txt", get("/ai.txt"), everyone(200))],
    ("GET", "/.well-known/tdmrep.json"): [
        Case("tdmrep", get("/.well-known/tdmrep.json"), everyone(200))
    ],
    ("GET", "/static/{path}"): [Case("css", get("/static/hallmark.css"), everyone(200))],
    ("GET", f"{API}/openapi.json"): [Case("openapi", get(f"{API}/openapi.json"), everyone(200))],
    # Works on their pages: public ones for all, private ones for alice and admins.
    ("GET", "/works/{work_id}"): [
        Case("public", get("/works/{public}"), everyone(200)),
        Case("private", get("/works/{private}"), OWNER_AND_ADMIN),
    ],
    ("GET", "/works/{work_id}/file"): [
        Case("public", get("/works/{public}/file"), everyone(200)),
        Case("private", get("/works/{private}/file"), OWNER_AND_ADMIN),
    ],
    ("GET", "/works/{work_id}/bundle"): [
        Case("public", get("/works/{public}/bundle"), everyone(200)),
        Case("private", get("/works/{private}/bundle"), OWNER_AND_ADMIN),
    ],
    ("GET", "/badge/{work_id}.svg"): [
        Case("public", get("/badge/{public}.svg"), everyone(200)),
        Case("private", get("/badge/{private}.svg"), OWNER_AND_ADMIN),
    ],
    ("GET", "/works/{work_id}/stages/{position}/file"): [
        Case("draft of a public work", get("/works/{staged}/stages/1/file"), OWNER_AND_ADMIN)
    ],
    ("GET", "/works/{work_id}/authorship"): [
        Case("private report", get("/works/{editor}/authorship"), OWNER_AND_ADMIN)
    ],
    ("POST", "/works/{work_id}/authorship/visibility"): [
        Case(
            "keep private",
            post("/works/{editor}/authorship/visibility", public="0"),
            Access(LOGIN, 404, 303, 404, 303),
        )
    ],
    ("GET", "/upload"): [Case("form", get("/upload"), signed_in(200))],
    ("POST", "/upload"): [Case("a new work", page_upload, signed_in(303), fresh=True)],
    ("POST", "/works/{work_id}/revoke"): [
        Case("public", revoke_page("public"), Access(LOGIN, 403, 303, 403, 303), fresh=True),
        Case("private", revoke_page("private"), Access(LOGIN, 404, 303, 404, 303), fresh=True),
    ],
    ("POST", "/works/{work_id}/consent"): [
        Case(
            "public",
            post("/works/{public}/consent", consent="allowed"),
            Access(LOGIN, 403, 303, 403, 403),
        ),
        Case(
            "private",
            post("/works/{private}/consent", consent="allowed"),
            Access(LOGIN, 404, 303, 404, 403),
        ),
    ],
    ("GET", "/works/{work_id}/thumbnail"): [
        Case("public image", get("/works/{image}/thumbnail"), everyone(200)),
        Case("private image", get("/works/{private_image}/thumbnail"), OWNER_AND_ADMIN),
        # A text has no picture: "not found" for everyone, as for a missing work.
        Case("public text", get("/works/{public}/thumbnail"), everyone(404)),
    ],
    # Visibility: the creator or an admin; the same value again changes nothing.
    ("POST", "/works/{work_id}/visibility"): [
        Case(
            "public",
            post("/works/{public}/visibility", visibility="public"),
            Access(LOGIN, 403, 303, 403, 303),
        ),
        Case(
            "private",
            post("/works/{private}/visibility", visibility="private"),
            Access(LOGIN, 404, 303, 404, 303),
        ),
    ],
    ("PUT", f"{API}/works/{{work_id}}/visibility"): [
        Case(
            "public",
            post_json(f"{API}/works/{{public}}/visibility", {"visibility": "public"}, "PUT"),
            Access(401, 403, 200, 403, 200),
        ),
        Case(
            "private",
            post_json(f"{API}/works/{{private}}/visibility", {"visibility": "private"}, "PUT"),
            Access(401, 404, 200, 404, 200),
        ),
    ],
    ("GET", "/settings/consent"): [Case("form", get("/settings/consent"), signed_in(200))],
    ("POST", "/settings/consent"): [
        Case("default", post("/settings/consent", consent="not-allowed"), signed_in(303))
    ],
    # The editor: drafts are their creator's alone.
    ("GET", "/write"): [Case("new text", get("/write"), signed_in(200))],
    ("GET", "/write/{draft_id}"): [
        Case("alice's draft", get("/write/{draft}"), Access(LOGIN, 404, 200, 404, 404))
    ],
    # Review: reviewers and admins; nobody decides on their own work.
    ("GET", "/review"): [Case("queue", get("/review"), REVIEWERS_PAGE)],
    ("GET", "/review/{work_id}"): [
        Case("in the queue", get("/review/{pending}"), REVIEWERS_PAGE),
        Case("private, in the queue", get("/review/{private_pending}"), REVIEWERS_PAGE),
        # A private work that never went to review is its creator's (and admins') alone.
        Case("private, not in review", get("/review/{private}"), Access(LOGIN, 403, 403, 404, 200)),
    ],
    ("POST", "/review/{work_id}"): [
        Case(
            "approve",
            lambda w: Call(
                "POST", f"/review/{w.pending()}", data={"decision": "approved", "reason": "Fine."}
            ),
            Access(LOGIN, 403, 403, 303, 303),
            fresh=True,
        )
    ],
    ("POST", "/works/{work_id}/appeal"): [
        Case(
            "a rejection",
            lambda w: Call(
                "POST", f"/works/{w.rejected()}/appeal", data={"message": "Look at my drafts."}
            ),
            Access(LOGIN, 403, 303, 403, 403),
            fresh=True,
        )
    ],
    # Prior art: the two creators of a dispute, and reviewers.
    ("POST", "/works/{work_id}/disputes"): [
        Case(
            "a match",
            lambda w: Call(
                "POST",
                f"/works/{w.ids['public']}/disputes",
                data={"match_id": w.match(), "statement": "Mine came first."},
            ),
            Access(LOGIN, 404, 303, 404, 404),
            fresh=True,
        )
    ],
    ("GET", "/disputes/{dispute_id}"): [
        Case("alice's dispute", get("/disputes/{dispute}"), Access(LOGIN, 404, 200, 200, 200)),
        Case(
            "about a private work",
            get("/disputes/{private_dispute}"),
            Access(LOGIN, 404, 200, 200, 200),
        ),
    ],
    ("POST", "/disputes/{dispute_id}"): [
        Case(
            "dismiss",
            lambda w: Call(
                "POST",
                f"/disputes/{w.dispute()}",
                data={"decision": "dismissed", "reason": "Different poems."},
            ),
            Access(LOGIN, 403, 403, 303, 303),
            fresh=True,
        )
    ],
    ("GET", "/dashboard"): [Case("dashboard", get("/dashboard"), signed_in(200))],
    ("POST", "/dashboard/read"): [Case("mark read", post("/dashboard/read"), signed_in(303))],
    # The API: reads of works follow the pages.
    ("POST", f"{API}/works"): [Case("a new work", api_upload, signed_in(201, 401), fresh=True)],
    ("GET", f"{API}/works"): [
        Case("all", get(f"{API}/works"), everyone(200)),
        Case("alice's", get(f"{API}/works", creator="alice"), everyone(200)),
    ],
    ("GET", f"{API}/works/{{work_id}}"): [
        Case("public", get(f"{API}/works/{{public}}"), everyone(200)),
        Case("private", get(f"{API}/works/{{private}}"), OWNER_AND_ADMIN),
    ],
    ("GET", f"{API}/works/{{work_id}}/certificate"): [
        Case("public", get(f"{API}/works/{{public}}/certificate"), everyone(200)),
        Case("private", get(f"{API}/works/{{private}}/certificate"), OWNER_AND_ADMIN),
    ],
    ("GET", f"{API}/works/{{work_id}}/bundle"): [
        Case("public", get(f"{API}/works/{{public}}/bundle"), everyone(200)),
        Case("private", get(f"{API}/works/{{private}}/bundle"), OWNER_AND_ADMIN),
    ],
    ("GET", f"{API}/works/{{work_id}}/file"): [
        Case("public", get(f"{API}/works/{{public}}/file"), everyone(200)),
        Case("private", get(f"{API}/works/{{private}}/file"), OWNER_AND_ADMIN),
    ],
    ("GET", f"{API}/works/{{work_id}}/analysis"): [
        Case("public", get(f"{API}/works/{{public}}/analysis"), everyone(200)),
        Case("private", get(f"{API}/works/{{private}}/analysis"), OWNER_AND_ADMIN),
    ],
    ("GET", f"{API}/works/{{work_id}}/stages"): [
        Case("public", get(f"{API}/works/{{staged}}/stages"), everyone(200)),
        Case("private", get(f"{API}/works/{{private}}/stages"), OWNER_AND_ADMIN),
    ],
    ("GET", f"{API}/works/{{work_id}}/matches"): [
        # Everyone may ask; only the creator and reviewers get the matches (checked below).
        Case("public", get(f"{API}/works/{{match_work}}/matches"), everyone(200)),
        Case("private", get(f"{API}/works/{{private}}/matches"), OWNER_AND_ADMIN),
    ],
    ("POST", f"{API}/certificates/{{certificate_id}}/revoke"): [
        Case("public", revoke_api, Access(401, 403, 200, 403, 200), fresh=True)
    ],
    ("PUT", f"{API}/works/{{work_id}}/consent"): [
        Case(
            "public",
            post_json(f"{API}/works/{{public}}/consent", {"consent": "allowed"}, "PUT"),
            Access(401, 403, 200, 403, 403),
        ),
        Case(
            "private",
            post_json(f"{API}/works/{{private}}/consent", {"consent": "allowed"}, "PUT"),
            Access(401, 404, 200, 404, 403),
        ),
    ],
    ("GET", f"{API}/me/consent"): [Case("mine", get(f"{API}/me/consent"), signed_in(200, 401))],
    ("PUT", f"{API}/me/consent"): [
        Case(
            "mine",
            post_json(f"{API}/me/consent", {"consent": "not-allowed"}, "PUT"),
            signed_in(200, 401),
        )
    ],
    ("POST", f"{API}/consent/lookup"): [
        Case(
            "a digest",
            lambda w: Call(
                "POST",
                f"{API}/consent/lookup",
                json={"items": [{"sha256": w.ids["public_sha256"]}]},
            ),
            everyone(200),
        )
    ],
    # Drafts of works made elsewhere: a series is its creator's alone.
    ("POST", f"{API}/series"): [Case("new", post_json(f"{API}/series"), signed_in(201, 401))],
    ("GET", f"{API}/series/{{series_id}}"): [
        Case("alice's", get(f"{API}/series/{{series}}"), OWNER_ONLY_API)
    ],
    ("POST", f"{API}/series/{{series_id}}/stages"): [
        Case(
            "alice's",
            lambda w: Call(
                "POST",
                f"{API}/series/{w.ids['series']}/stages",
                files=[("file", ("b.txt", fresh_text(w), "text/plain"))],
            ),
            Access(401, 404, 201, 404, 404),
        )
    ],
    # The editor's API: drafts and raw journals are their creator's alone.
    ("POST", f"{API}/drafts"): [
        Case("new", post_json(f"{API}/drafts", {"title": "Tide"}), signed_in(201, 401))
    ],
    ("GET", f"{API}/drafts"): [Case("mine", get(f"{API}/drafts"), signed_in(200, 401))],
    ("GET", f"{API}/drafts/{{draft_id}}"): [
        Case("alice's", get(f"{API}/drafts/{{draft}}"), OWNER_ONLY_API)
    ],
    ("POST", f"{API}/drafts/{{draft_id}}/events"): [
        # The first event again: accepted as already recorded, so the draft stays as it is.
        Case(
            "alice's",
            lambda w: Call(
                "POST",
                f"{API}/drafts/{w.ids['draft']}/events",
                json={"events": human_like(5, 60).events[:1]},
            ),
            OWNER_ONLY_API,
        )
    ],
    ("POST", f"{API}/drafts/{{draft_id}}/submit"): [
        Case("alice's", submit_draft, Access(401, 404, 201, 404, 404), fresh=True)
    ],
    # The muse (issue #8) works on drafts: their creator's alone. It is turned off in the walk,
    # so the creator's question is answered 503 once it has passed the ownership check.
    ("POST", f"{API}/drafts/{{draft_id}}/muse"): [
        Case(
            "alice's draft",
            post_json(f"{API}/drafts/{{draft}}/muse", {"mode": "questions"}),
            Access(401, 404, 503, 404, 404),
        )
    ],
    ("GET", f"{API}/drafts/{{draft_id}}/muse"): [
        Case("alice's draft", get(f"{API}/drafts/{{draft}}/muse"), OWNER_ONLY_API)
    ],
    ("POST", f"{API}/drafts/{{draft_id}}/muse/settings"): [
        Case(
            "alice's draft",
            post_json(f"{API}/drafts/{{draft}}/muse/settings", {"personal": False}),
            OWNER_ONLY_API,
        )
    ],
    ("POST", f"{API}/drafts/{{draft_id}}/muse/{{suggestion_id}}/copied"): [
        # With the muse off there is no suggestion to copy: past the draft's owner check,
        # alice is told so too.
        Case(
            "alice's draft",
            post_json(f"{API}/drafts/{{draft}}/muse/m_none/copied"),
            Access(401, 404, 404, 404, 404),
        )
    ],
    ("GET", f"{API}/works/{{work_id}}/authorship"): [
        Case("private report", get(f"{API}/works/{{editor}}/authorship"), OWNER_AND_ADMIN)
    ],
    ("GET", f"{API}/works/{{work_id}}/journal"): [
        Case("alice's", get(f"{API}/works/{{editor}}/journal"), Access(401, 404, 200, 404, 200))
    ],
    ("POST", f"{API}/works/{{work_id}}/authorship/visibility"): [
        Case(
            "keep private",
            post_json(f"{API}/works/{{editor}}/authorship/visibility", {"public": False}),
            Access(401, 404, 200, 404, 200),
        )
    ],
    # Verification, the log and the key: public.
    ("POST", f"{API}/verify"): [Case("a work", verify_file(f"{API}/verify"), everyone(200))],
    ("GET", f"{API}/log/checkpoint"): [Case("latest", get(f"{API}/log/checkpoint"), everyone(200))],
    ("GET", f"{API}/log/proof/inclusion"): [
        Case("first entry", get(f"{API}/log/proof/inclusion", index=0), everyone(200))
    ],
    ("GET", f"{API}/log/proof/consistency"): [
        Case("from size 1", get(f"{API}/log/proof/consistency", old=1), everyone(200))
    ],
    ("GET", f"{API}/keys/public"): [Case("key", get(f"{API}/keys/public"), everyone(200))],
    # Witnesses prove who they are by their signature, not by an account: no role lets an
    # unlisted witness in.
    ("POST", f"{API}/log/cosignatures"): [
        Case("an unlisted witness", cosigned_by_a_stranger, everyone(403))
    ],
    # Near-copy search is off in the walk (it would load the sentence embedder): a clear 503
    # for everyone, as the route takes an optional token only to widen what is shown.
    ("POST", f"{API}/similar"): [
        Case(
            "turned off",
            lambda w: Call(
                "POST", f"{API}/similar", files=[("file", ("a.txt", fresh_text(w), "text/plain"))]
            ),
            everyone(503),
        )
    ],
    # Review and disputes in the API.
    ("GET", f"{API}/review/queue"): [Case("queue", get(f"{API}/review/queue"), REVIEWERS_API)],
    ("GET", f"{API}/review/{{work_id}}"): [
        Case("in the queue", get(f"{API}/review/{{pending}}"), REVIEWERS_API),
        Case("private, in the queue", get(f"{API}/review/{{private_pending}}"), REVIEWERS_API),
        Case(
            "private, not in review",
            get(f"{API}/review/{{private}}"),
            Access(401, 403, 403, 404, 200),
        ),
    ],
    ("POST", f"{API}/review/{{work_id}}"): [
        Case(
            "approve",
            lambda w: Call(
                "POST",
                f"{API}/review/{w.pending()}",
                json={"decision": "approved", "reason": "Fine."},
            ),
            REVIEWERS_API,
            fresh=True,
        )
    ],
    ("POST", f"{API}/works/{{work_id}}/appeal"): [
        Case(
            "a rejection",
            lambda w: Call(
                "POST", f"{API}/works/{w.rejected()}/appeal", json={"message": "Look again."}
            ),
            Access(401, 403, 201, 403, 403),
            fresh=True,
        )
    ],
    ("POST", f"{API}/disputes"): [
        Case(
            "a match",
            lambda w: Call(
                "POST",
                f"{API}/disputes",
                json={"match_id": w.match(), "statement": "Mine came first."},
            ),
            Access(401, 404, 201, 404, 404),
            fresh=True,
        )
    ],
    ("GET", f"{API}/disputes"): [Case("open ones", get(f"{API}/disputes"), REVIEWERS_API)],
    ("GET", f"{API}/disputes/{{dispute_id}}"): [
        Case("alice's", get(f"{API}/disputes/{{dispute}}"), Access(401, 404, 200, 200, 200)),
        Case(
            "about a private work",
            get(f"{API}/disputes/{{private_dispute}}"),
            Access(401, 404, 200, 200, 200),
        ),
    ],
    ("POST", f"{API}/disputes/{{dispute_id}}/decision"): [
        Case(
            "dismiss",
            lambda w: Call(
                "POST",
                f"{API}/disputes/{w.dispute()}/decision",
                json={"decision": "dismissed", "reason": "Different poems."},
            ),
            REVIEWERS_API,
            fresh=True,
        )
    ],
    ("GET", f"{API}/notifications"): [
        Case("mine", get(f"{API}/notifications"), signed_in(200, 401))
    ],
    ("POST", f"{API}/notifications/read"): [
        Case("mine", post_json(f"{API}/notifications/read"), signed_in(200, 401))
    ],
    # Announced in issue #7 and built in parallel: public pages and search. Skipped while the
    # app does not have them; classified here so they are walked the day they land.
    ("GET", "/gallery"): [Case("gallery", get("/gallery"), everyone(200))],
    ("GET", "/search"): [Case("search", get("/search", q="harbour"), everyone(200))],
    ("GET", "/creators/{handle}"): [Case("alice", get("/creators/alice"), everyone(200))],
    ("GET", f"{API}/search"): [Case("search", get(f"{API}/search", q="harbour"), everyone(200))],
    # Insights (issue #7, item 4): figures over public works only, for everyone.
    ("GET", "/insights"): [Case("page", get("/insights"), everyone(200))],
    ("GET", "/insights/{chart}.csv"): [
        Case("a chart's data", get("/insights/registrations.csv"), everyone(200))
    ],
    ("GET", f"{API}/insights"): [Case("figures", get(f"{API}/insights"), everyone(200))],
}

OPTIONAL = {
    ("GET", "/gallery"),
    ("GET", "/search"),
    ("GET", "/creators/{handle}"),
    ("GET", f"{API}/search"),
}

#: The editor's API routes, which its page calls with the browser session; every write must
#: then carry the session's CSRF token in ``X-CSRF-Token`` (:mod:`hallmark.web.deps`).
EDITOR_ROUTES = {
    ("POST", f"{API}/drafts"),
    ("GET", f"{API}/drafts"),
    ("GET", f"{API}/drafts/{{draft_id}}"),
    ("POST", f"{API}/drafts/{{draft_id}}/events"),
    ("POST", f"{API}/drafts/{{draft_id}}/submit"),
    ("GET", f"{API}/works/{{work_id}}/authorship"),
    ("GET", f"{API}/works/{{work_id}}/journal"),
    ("POST", f"{API}/works/{{work_id}}/authorship/visibility"),
    ("POST", f"{API}/drafts/{{draft_id}}/muse"),
    ("GET", f"{API}/drafts/{{draft_id}}/muse"),
    ("POST", f"{API}/drafts/{{draft_id}}/muse/settings"),
    ("POST", f"{API}/drafts/{{draft_id}}/muse/{{suggestion_id}}/copied"),
}


# Listing the app's routes ---------------------------------------------------------------------


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path template) of every route the app answers, HEAD aside; a mounted app
    (the static files) counts as ``GET <prefix>/{path}``."""
    found: set[tuple[str, str]] = set()
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, Mount):
            found.add(("GET", f"{context.path}/{{path}}"))
            continue
        for method in context.methods or ():
            if method != "HEAD":
                found.add((method, str(context.path)))
    return found


def test_every_route_is_classified(world: World) -> None:
    routes = app_routes(world.app)
    unknown = sorted(routes - set(ROUTES))
    assert not unknown, (
        f"These routes are not in ROUTES of {Path(__file__).name}: {unknown}. Add each with "
        "the request to send and the status every role must get (anonymous, another creator, "
        "the owner, a reviewer, an admin), so the walk checks who may use it."
    )
    stale = sorted(set(ROUTES) - routes - OPTIONAL)
    assert not stale, f"ROUTES lists routes the app no longer has: {stale}; remove them."


# Asking ---------------------------------------------------------------------------------------


def is_page(path: str) -> bool:
    return not path.startswith(f"{API}/")


def send(
    w: World,
    client: TestClient,
    call: Call,
    *,
    headers: dict[str, str] | None = None,
    csrf: str | None = None,
) -> httpx.Response:
    data = dict(call.data or {})
    if csrf is not None:
        data["csrf_token"] = csrf
    return client.request(
        call.method,
        call.path,
        headers={**(HTML if is_page(call.path) else {}), **(headers or {})},
        data=data or None,
        files=call.files,
        json=call.json,
        params=call.params,
        content=call.content,
        follow_redirects=False,
    )


def ask(w: World, case: Case, role: str, call: Call) -> httpx.Response:
    if not is_page(call.path):
        return send(w, w.api, call, headers=w.auth(role))
    client = w.pages[role]
    if case.own_session:
        client = TestClient(w.app)
        client.cookies.update(w.pages[role].cookies)
    csrf = w.csrf(role) if call.method != "GET" else None
    response = send(w, client, call, csrf=csrf)
    if case.ends_sessions:
        w.sign_in_again(role)
    return response


def verdict(response: httpx.Response, expected: Expect) -> str | None:
    """What is wrong with ``response``, or None."""
    status = response.status_code
    if status >= 500 and status != expected:
        return f"a {status}: {response.text[:300]}"
    # Every answer, error or file, carries a policy (a route may set a stricter one).
    if "default-src" not in response.headers.get("content-security-policy", ""):
        return "no Content-Security-Policy"
    if response.headers.get("x-content-type-options") != "nosniff":
        return "no X-Content-Type-Options: nosniff"
    location = response.headers.get("location", "")
    if expected == LOGIN:
        if status != 303 or not location.startswith("/login?"):
            return f"expected a redirect to log in, got {status} {location}"
        return None
    if status != expected:
        return f"expected {expected}, got {status}: {response.text[:200]}"
    if status == 303 and location.startswith("/login"):
        return f"expected the request to be carried out, was sent to {location}"
    if status >= 400 and not is_page(str(response.request.url.path)):
        kind = response.headers.get("content-type", "")
        if kind != "application/problem+json":
            return f"an API error answered as {kind}"
    return None


@pytest.mark.parametrize("route", sorted(ROUTES), ids=" ".join)
def test_who_may_use_the_route(world: World, route: tuple[str, str]) -> None:
    if route in OPTIONAL and route not in app_routes(world.app):
        pytest.skip(f"{' '.join(route)} is not in the app yet")
    problems = []
    for case in ROUTES[route]:
        shared = None if case.fresh else case.make(world)
        for role in ROLES:
            call = case.make(world) if shared is None else shared
            response = ask(world, case, role, call)
            wrong = verdict(response, case.access.of(role))
            if wrong:
                problems.append(f"{case.name}, as {role}: {call.method} {call.path}: {wrong}")
    assert not problems, "\n".join(problems)


def test_matches_are_shown_only_to_the_creator_and_reviewers(world: World) -> None:
    path = f"{API}/works/{world.ids['match_work']}/matches"
    shown = {
        role: bool(world.api.get(path, headers=world.auth(role)).json()["matches"])
        for role in ROLES
    }
    assert shown == {"anon": False, "other": False, "owner": True, "reviewer": True, "admin": True}


#: Every place that lists or searches works, and what crawlers read.
LISTINGS = [
    "/",
    "/gallery",
    "/search?q=zqxv",
    "/creators/alice",
    "/robots.txt",
    "/ai.txt",
    "/.well-known/tdmrep.json",
    f"{API}/works?limit=200",
    f"{API}/works?creator=alice&limit=200",
    f"{API}/search?q=zqxv",
]


@pytest.mark.parametrize("role", ["anon", "other", "reviewer"])
def test_private_works_are_listed_nowhere_for_others(world: World, role: str) -> None:
    routes = app_routes(world.app)
    private = world.ids["private"]
    for path in LISTINGS:
        if ("GET", path.split("?")[0]) not in routes:
            continue
        if is_page(path):
            answer = world.pages[role].get(path, headers=HTML)
        else:
            answer = world.api.get(path, headers=world.auth(role))
        assert answer.status_code == 200, (path, answer.status_code)
        assert private not in answer.text and SECRET_TITLE not in answer.text, (role, path)


def test_the_owner_finds_her_private_work_in_her_list(world: World) -> None:
    """The check above can fail: the private work is there to be found by its owner."""
    answer = world.api.get(f"{API}/works?creator=alice&limit=200", headers=world.auth("owner"))
    assert world.ids["private"] in answer.text and SECRET_TITLE in answer.text


# Whole groups of routes -----------------------------------------------------------------------

PAGE_FORMS = sorted(route for route in ROUTES if route[0] != "GET" and is_page(route[1]))


@pytest.mark.parametrize("route", PAGE_FORMS, ids=" ".join)
@pytest.mark.parametrize("token", ["missing", "wrong"])
def test_every_page_form_needs_its_csrf_token(
    world: World, route: tuple[str, str], token: str
) -> None:
    case = ROUTES[route][0]
    call = case.make(world)
    client = TestClient(world.app)
    client.cookies.update(world.pages["owner"].cookies)
    sent = None if token == "missing" else "x" * 43
    response = send(world, client, call, csrf=sent)
    assert response.status_code == 403, response.text[:300]
    assert "without a valid security token" in response.text


API_ROUTES = sorted(route for route in ROUTES if not is_page(route[1]) and route not in OPTIONAL)


@pytest.mark.parametrize("route", API_ROUTES, ids=" ".join)
def test_the_api_does_not_take_the_session_cookie_as_a_login(
    world: World, route: tuple[str, str]
) -> None:
    """A page on another site can make a browser send its cookies; the API ignores them,
    save the editor's routes, which then want the CSRF header on every write."""
    case = ROUTES[route][0]
    call = case.make(world)
    client = TestClient(world.app)
    client.cookies.update(world.pages["owner"].cookies)
    response = send(world, client, call)
    if route not in EDITOR_ROUTES:
        expected = case.access.anon
    elif route[0] == "GET":
        expected = case.access.owner
    else:
        expected = 403
    assert verdict(response, expected) is None, (route, response.status_code, response.text[:300])


def _junk(path: str, value: str) -> str:
    return re.sub(r"\{[a-z_]+\}", value, path)


ROUTES_WITH_IDS = sorted(route for route in ROUTES if "{" in route[1] and route not in OPTIONAL)


@pytest.mark.parametrize("route", ROUTES_WITH_IDS, ids=" ".join)
@pytest.mark.parametrize("value", ["w_nothere", "x" * 300, "%2e%2e", "0"])
def test_ids_that_do_not_exist_are_refused_clearly(
    world: World, route: tuple[str, str], value: str
) -> None:
    """As an admin, who may see the most: nothing found, never a 500 nor a success."""
    method, path = route
    if path.startswith("/static/"):
        pytest.skip("the static files are not ids")
    target = _junk(path, value)
    if is_page(path):
        client = world.pages["admin"]
        data = {"csrf_token": world.csrf("admin")} if method != "GET" else None
        response = client.request(method, target, headers=HTML, data=data, follow_redirects=False)
    else:
        response = world.api.request(
            method, target, headers=world.auth("admin"), json={} if method != "GET" else None
        )
    assert response.status_code < 500, response.text[:300]
    assert response.status_code not in (200, 201), (target, response.text[:300])
