"""The creator's dashboard (``/dashboard``, in :mod:`hallmark.web.pages.disputes`), issue #7,
item 3: notifications, open drafts and works under review with the reasons why."""

from __future__ import annotations

from hallmark.services import accounts, drafts, registry, review
from tests.web.conftest import HTML, PASSWORD, Web, login


def test_the_dashboard_shows_drafts_works_under_review_and_decisions(any_web: Web) -> None:
    any_web.add_person("pam", password=PASSWORD)
    any_web.add_person("rita", role="reviewer")
    with any_web.inst.db.session() as session:
        pam = accounts.get_user(session, "pam")
        rita = accounts.get_user(session, "rita")
    drafts.start_draft(any_web.inst, pam.id, "Notes <on> gulls")
    waiting = registry.register_work(
        any_web.inst,
        creator_id=pam.id,
        data=b"Mostly pasted in one go.\n",
        title="Pasted",
        declare="human-made",
        evidence=registry.Evidence(
            review_reasons=[
                {"code": "large-paste", "explanation": "Most of the <text> was pasted."}
            ]
        ),
    ).work_id
    decided = registry.register_work(
        any_web.inst,
        creator_id=pam.id,
        data=b"Also pasted.\n",
        title="Decided",
        declare="human-made",
        evidence=registry.Evidence(
            review_reasons=[{"code": "large-paste", "explanation": "Pasted too."}]
        ),
    ).work_id
    review.decide(any_web.inst, decided, rita, decision="rejected", reason="Need drafts.")

    assert login(any_web.client, "pam").status_code == 303
    page = any_web.client.get("/dashboard", headers=HTML)
    assert page.status_code == 200
    text = page.text
    assert "Notes &lt;on&gt; gulls" in text and 'href="/write/' in text
    assert f'<a href="/works/{waiting}">Pasted</a>' in text
    assert "Most of the &lt;text&gt; was pasted." in text
    # A decided work is no longer under review; its decision is a notification.
    assert f'<a href="/works/{decided}">Decided</a>' not in text
    assert "review-decided" in text and "Need drafts." in text
    assert 'href="/creators/pam"' in text


def test_an_empty_dashboard_says_so(web: Web) -> None:
    web.add_person("pam", password=PASSWORD)
    assert login(web.client, "pam").status_code == 303
    text = web.client.get("/dashboard", headers=HTML).text
    assert "None of your works is waiting for a reviewer." in text
    assert "No open drafts." in text and "Nothing new." in text
