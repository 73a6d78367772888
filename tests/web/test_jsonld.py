"""The work page's schema.org JSON-LD: its content, and escaping that keeps it inside its
script element whatever a title says."""

from __future__ import annotations

import json
import re

from hallmark.services import consent, registry
from hallmark.services.instance import Instance
from hallmark.storage.models import Work
from hallmark.web import jsonld
from tests.conftest import add_user

POLICY = "https://ines.example/ai-terms"


def test_script_text_cannot_end_the_script_element() -> None:
    data = {"name": "</script><script>alert(1)</script> & <!-- \u2028"}
    text = str(jsonld.script_text(data))
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == data


def test_the_description_of_a_work(instance: Instance) -> None:
    creator = add_user(instance, "ines")
    registration = registry.register_work(
        instance,
        creator_id=creator,
        data=b"Lanterns on the pier blink out one by one.",
        title='Pier </script> "night"',
        declare="ai-assisted",
        ai_share=20,
        consent="constrained",
        consent_policy_url=POLICY,
    )
    base = "https://hallmark.example"
    work_url = f"{base}/works/{registration.work_id}"
    with instance.db.session() as session:
        work = session.get(Work, registration.work_id)
        assert work is not None
        data = jsonld.creative_work(work, base_url=base + "/")
        created = work.created_at
    assert data["@context"] == "https://schema.org" and data["@type"] == "CreativeWork"
    assert data["@id"] == data["url"] == work_url
    assert data["name"] == 'Pier </script> "night"'
    assert data["creator"] == {
        "@type": "Person",
        "name": "ines",
        "alternateName": "@ines",
        "url": f"{base}/api/v1/works?creator=ines",
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", data["dateCreated"])
    assert data["dateCreated"].startswith(f"{created:%Y-%m-%d}")
    assert data["encoding"]["sha256"] == registration.sha256
    assert data["usageInfo"] == data["license"] == POLICY
    assert "isBasedOn" not in data
    properties = {p["propertyID"]: p for p in data["additionalProperty"]}
    assert properties["hallmark:label"]["value"] == "ai-assisted"
    assert properties["hallmark:ai-share"]["value"] == 20
    assert properties["hallmark:level"]["value"] == "declared"
    assert properties["hallmark:ai-training"]["value"] == "constrained"
    certificate = properties["hallmark:certificate"]
    assert certificate["value"] == registration.certificate_id
    assert certificate["url"] == f"{base}/api/v1/works/{registration.work_id}/certificate"


def test_a_reserved_work_points_to_its_page_for_usage(instance: Instance) -> None:
    creator = add_user(instance, "ines")
    registration = registry.register_work(
        instance, creator_id=creator, data=b"Nets drying.", title="Nets", declare="human-made"
    )
    with instance.db.session() as session:
        work = session.get(Work, registration.work_id)
        assert work is not None
        assert consent.of_work(work).value == "not-allowed"
        data = jsonld.creative_work(work, base_url="https://h.example")
    assert data["usageInfo"] == f"https://h.example/works/{registration.work_id}#consent"
    assert "license" not in data
