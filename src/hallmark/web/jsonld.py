"""schema.org ``CreativeWork`` JSON-LD for the work page (issue #6, item 5).

Search engines and crawlers read structured data from a ``<script type="application/ld+json">``
block (https://schema.org/CreativeWork). The block is data: browsers never run it, so the
site's CSP, which allows no inline script, does not stop it being read. What must not happen
is that text from a user (a title, a name) closes the element early; :func:`script_text`
escapes every character that could, so the block always ends where the template ends it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from markupsafe import Markup

from hallmark.services import consent as consent_rules
from hallmark.storage.models import Work

#: Characters escaped inside the script element. ``<`` and ``>`` could form ``</script>`` or
#: ``<!--``; ``&`` keeps the JSON identical however a parser treats character references; the
#: two Unicode line separators end JavaScript strings in older engines.
_UNSAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        # SQLite hands back naive datetimes; they were stored as UTC.
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _property(property_id: str, name: str, value: Any, url: str | None = None) -> dict[str, Any]:
    prop: dict[str, Any] = {
        "@type": "PropertyValue",
        "propertyID": property_id,
        "name": name,
        "value": value,
    }
    if url is not None:
        prop["url"] = url
    return prop


def creative_work(work: Work, *, base_url: str) -> dict[str, Any]:
    """The JSON-LD description of a work (``work`` attached to an open session).

    The origin label, AI share, assurance level, certificate and AI-training consent are given
    as ``additionalProperty`` values; ``usageInfo`` (and ``license`` for a constrained consent)
    points to where the consent is stated. Nothing is said about sources (no ``isBasedOn``):
    Hallmark does not know them.
    """
    base = base_url.rstrip("/")
    work_url = f"{base}/works/{work.id}"
    consent = consent_rules.of_work(work)
    creator = work.creator
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "CreativeWork",
        "@id": work_url,
        "url": work_url,
        "name": work.title,
        "creator": {
            "@type": "Person",
            "name": creator.display_name,
            "alternateName": f"@{creator.handle}",
            # There is no profile page; the creator's public works are the closest thing.
            "url": f"{base}/api/v1/works?creator={quote(creator.handle)}",
        },
        "dateCreated": _iso(work.created_at),
        "encodingFormat": work.media_type,
        "encoding": {
            "@type": "MediaObject",
            "contentUrl": f"{work_url}/file",
            "encodingFormat": work.media_type,
            "sha256": work.sha256,
        },
        "usageInfo": consent.policy_url or f"{work_url}#consent",
    }
    if consent.value == "constrained" and consent.policy_url:
        data["license"] = consent.policy_url
    properties = [
        _property("hallmark:label", "Origin label", work.label),
        _property("hallmark:ai-share", "AI-generated share (percent)", work.ai_share),
        _property("hallmark:level", "Assurance level", work.level),
        _property(
            "hallmark:ai-training",
            "AI training",
            consent.value,
            consent.policy_url or f"{work_url}#consent",
        ),
    ]
    cert = work.certificate
    if cert is not None:
        properties.append(
            _property(
                "hallmark:certificate",
                "Certificate",
                cert.id,
                f"{base}/api/v1/works/{work.id}/certificate",
            )
        )
        if cert.revocation is not None:
            properties.append(_property("hallmark:certificate-status", "Certificate", "revoked"))
    data["additionalProperty"] = properties
    return data


def script_text(data: dict[str, Any]) -> Markup:
    """``data`` as JSON that is safe to place between ``<script ...>`` and ``</script>``.

    Marked safe because HTML escaping would corrupt it: character references are not decoded
    inside a script element, so ``&quot;`` would reach the JSON parser as it is. Safety comes
    from :data:`_UNSAFE` instead.
    """
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=False)
    for char, escape in _UNSAFE.items():
        text = text.replace(char, escape)
    return Markup(text)
