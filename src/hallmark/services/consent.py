"""AI-training consent: the rules, where it is stored, and the forms crawlers read (issue #6,
item 3).

Each creator has a default (``users.consent_default``, ``not-allowed`` until they change it) and
each work a consent of its own (``works.consent``): the choice made at registration, else the
creator's default at that moment. A consent is one of

- ``allowed``: AI training and text and data mining are allowed;
- ``not-allowed``: they are reserved (the default: never grant what a creator did not);
- ``constrained``: reserved, but allowed on the conditions of a policy at an http(s) URL.

The certificate keeps the consent declared at registration (``consent.ai_training``, plus
``consent.policy_url`` when constrained); the creator may change the work's consent later,
which changes what the site publishes from then on but never the signed certificate.

Published forms, all generated from the stored consents of *public* works (unlisted and
private works are never listed; their pages and files still carry the headers):

- the W3C TDM Reservation Protocol (TDMRep, https://w3c.github.io/tdm-reservation-protocol/spec/):
  the ``tdm-reservation`` and ``tdm-policy`` HTTP headers, and the ``/.well-known/tdmrep.json``
  file of location rules;
- ``robots.txt`` (RFC 9309) and Spawning's ``ai.txt``: AI crawlers are kept off the pages and
  files of works whose consent reserves them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from hallmark.errors import InputError, NotFoundError, PermissionDeniedError
from hallmark.services import log as log_service
from hallmark.services.instance import Instance
from hallmark.storage.models import User, Work

logger = logging.getLogger(__name__)

CONSENT_CHOICES = ("allowed", "not-allowed", "constrained")
#: A work or creator that never chose keeps every right reserved.
DEFAULT_CONSENT = "not-allowed"
MAX_POLICY_URL = 2000

#: Each choice in plain words, for the pages.
CONSENT_WORDS: dict[str, tuple[str, str]] = {
    "allowed": ("Allowed", "The creator allows this work to be used to train AI models."),
    "not-allowed": (
        "Not allowed",
        "The creator does not allow this work to be used to train AI models, nor to be mined "
        "for text and data.",
    ),
    "constrained": (
        "Allowed with conditions",
        "The creator allows AI training only on the conditions of their policy.",
    ),
}

#: User agents of crawlers that gather training data for AI models, as their operators publish
#: them. General search crawlers are not listed: they do not train on what they index.
AI_CRAWLERS = (
    "GPTBot",
    "CCBot",
    "Google-Extended",
    "ClaudeBot",
    "anthropic-ai",
    "Applebot-Extended",
    "Bytespider",
    "meta-externalagent",
    "FacebookBot",
    "cohere-ai",
    "cohere-training-data-crawler",
    "Diffbot",
    "AI2Bot",
    "Amazonbot",
    "PerplexityBot",
    "Omgilibot",
    "ImagesiftBot",
    "Timpibot",
)


@dataclass(frozen=True)
class Consent:
    """A consent choice and, for ``constrained``, the URL of the policy."""

    value: str
    policy_url: str | None = None

    @property
    def reserved(self) -> bool:
        """TDMRep's ``tdm-reservation``: true unless training is simply allowed."""
        return self.value != "allowed"

    @property
    def closed_to_ai_crawlers(self) -> bool:
        """Whether robots.txt and ai.txt keep AI crawlers away.

        A constrained work stays open: a crawler may fetch it, then finds the reservation and
        the policy in the TDMRep headers. One without a policy URL (registered before policies
        were required) gives a crawler no conditions to follow, so it is closed like
        ``not-allowed``.
        """
        return self.value == "not-allowed" or (self.value == "constrained" and not self.policy_url)

    def tdm_headers(self) -> dict[str, str]:
        """The TDMRep HTTP headers for a resource with this consent."""
        headers = {"tdm-reservation": "1" if self.reserved else "0"}
        if self.value == "constrained" and self.policy_url:
            headers["tdm-policy"] = self.policy_url
        return headers

    def to_json(self) -> dict[str, Any]:
        return {"consent": self.value, "consent_policy_url": self.policy_url}

    def certificate_json(self) -> dict[str, Any]:
        """The certificate's ``consent`` object: what was declared at registration."""
        body: dict[str, Any] = {"ai_training": self.value}
        if self.value == "constrained" and self.policy_url:
            body["policy_url"] = self.policy_url
        return body


# The rules -----------------------------------------------------------------------------------


def check_choice(value: str) -> str:
    choice = value.strip().lower()
    if choice not in CONSENT_CHOICES:
        raise InputError(
            f"'{value[:30]}' is not a consent choice.",
            hint=f"Use one of: {', '.join(CONSENT_CHOICES)}.",
        )
    return choice


def check_policy_url(url: str) -> str:
    """An absolute http(s) URL that can go into an HTTP header as it is."""
    url = url.strip()
    hint = (
        "Give the full address of the page that states your conditions, such as "
        "https://example.org/ai-terms."
    )
    if len(url) > MAX_POLICY_URL:
        raise InputError(f"The policy URL is longer than {MAX_POLICY_URL} characters.", hint=hint)
    # It is sent as the tdm-policy header: only printable ASCII without spaces survives that
    # unchanged (RFC 9110, section 5.5), so other characters must be percent-encoded.
    if not url.isascii() or any(ch <= " " or ch == "\x7f" for ch in url):
        raise InputError(
            "The policy URL contains spaces or characters that are not plain ASCII.",
            hint="Percent-encode them, as a browser's address bar does when you copy the URL.",
        )
    try:
        parts = urlsplit(url)
    except ValueError:
        raise InputError(f"'{url[:80]}' is not a URL.", hint=hint) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InputError(f"'{url[:80]}' is not an http or https URL.", hint=hint)
    return url


def parse(consent: str | None, policy_url: str | None) -> Consent | None:
    """The consent a caller chose, checked; None when they chose none (use the default).

    ``constrained`` needs a policy URL; the others take none, so that a URL is never silently
    dropped.
    """
    url = (policy_url or "").strip() or None
    if consent is None or not consent.strip():
        if url is not None:
            raise InputError(
                "A policy URL was given without a consent choice.",
                hint="Send consent=constrained with the policy URL.",
            )
        return None
    choice = check_choice(consent)
    if choice == "constrained":
        if url is None:
            raise InputError(
                "'constrained' needs the URL of a policy that states the conditions.",
                hint="Send consent_policy_url with an http or https address.",
            )
        return Consent(choice, check_policy_url(url))
    if url is not None:
        raise InputError(
            f"A policy URL goes only with 'constrained', not with '{choice}'.",
            hint="Leave consent_policy_url out, or choose constrained.",
        )
    return Consent(choice)


def of_user(user: User) -> Consent:
    """The creator's default for new works."""
    value = user.consent_default if user.consent_default in CONSENT_CHOICES else DEFAULT_CONSENT
    return Consent(value, user.consent_policy_url if value == "constrained" else None)


def of_work(work: Work) -> Consent:
    """The work's consent as it is now."""
    value = work.consent if work.consent in CONSENT_CHOICES else DEFAULT_CONSENT
    return Consent(value, work.consent_policy_url if value == "constrained" else None)


def for_new_work(chosen: Consent | None, creator: User) -> Consent:
    """A new work's consent: its own choice if it has one, else its creator's default."""
    return chosen if chosen is not None else of_user(creator)


def declared(work: Work) -> Consent | None:
    """What the work's current certificate declares (``work`` attached to a session)."""
    if work.certificate is None:
        return None
    found = log_service.statement_json(work.certificate.body).get("consent")
    if not isinstance(found, dict) or found.get("ai_training") not in CONSENT_CHOICES:
        return None
    policy = found.get("policy_url")
    return Consent(str(found["ai_training"]), str(policy) if policy else None)


# Changing it ---------------------------------------------------------------------------------


def set_default(
    inst: Instance, user_id: str, consent: str | None, policy_url: str | None
) -> Consent:
    """Set a creator's default for the works they register from now on."""
    chosen = parse(consent, policy_url)
    if chosen is None:
        raise InputError("Choose allowed, not-allowed or constrained.")
    # Reads, then writes: a writer session, so a concurrent commit (an analysis finishing) makes
    # it wait its turn on SQLite rather than fail on a stale snapshot.
    with inst.db.writer() as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFoundError("The account does not exist.")
        user.consent_default = chosen.value
        user.consent_policy_url = chosen.policy_url
    logger.info("user %s set their consent default to %s", user_id, chosen.value)
    return chosen


def default_of(inst: Instance, user_id: str) -> Consent:
    with inst.db.session() as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFoundError("The account does not exist.")
        return of_user(user)


def change_work_consent(
    inst: Instance, work_id: str, viewer: User, consent: str | None, policy_url: str | None
) -> dict[str, Any]:
    """Change a work's consent (its creator only); the certificate keeps the declared one."""
    # Imported here because registry imports this module for the registration rules.
    from hallmark.services.registry import get_work

    chosen = parse(consent, policy_url)
    if chosen is None:
        raise InputError("Choose allowed, not-allowed or constrained.")
    with inst.db.writer() as session:  # reads, then writes: see set_default
        work = get_work(session, work_id, viewer)
        if work.creator_id != viewer.id:
            raise PermissionDeniedError("Only the work's creator may change its consent.")
        work.consent = chosen.value
        work.consent_policy_url = chosen.policy_url
        before = declared(work)
        logger.info("work %s consent changed to %s", work.id, chosen.value)
        return work_consent_json(work, chosen, before)


def work_consent_json(work: Work, now: Consent, at_registration: Consent | None) -> dict[str, Any]:
    return {
        "work_id": work.id,
        **now.to_json(),
        "declared": at_registration.to_json() if at_registration else None,
    }


# Published forms -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Listed:
    """A public work as the published files name it."""

    work_id: str
    consent: Consent


def public_consents(session: Session) -> Iterator[Listed]:
    """Every public work's consent, oldest first; only the columns needed, streamed."""
    query = (
        select(Work.id, Work.consent, Work.consent_policy_url)
        .where(Work.visibility == "public")
        .order_by(Work.created_at, Work.id)
        .execution_options(yield_per=2000)
    )
    for work_id, value, url in session.execute(query):
        choice = value if value in CONSENT_CHOICES else DEFAULT_CONSENT
        yield Listed(work_id, Consent(choice, url if choice == "constrained" else None))


def work_paths(work_id: str) -> tuple[str, ...]:
    """The paths that serve a work: its page, its file, and its file over the API."""
    return (f"/works/{work_id}", f"/works/{work_id}/file", f"/api/v1/works/{work_id}/file")


def tdmrep_rules(session: Session) -> list[dict[str, Any]]:
    """``/.well-known/tdmrep.json``: one rule per path of every public work."""
    rules: list[dict[str, Any]] = []
    for listed in public_consents(session):
        headers = listed.consent.tdm_headers()
        for path in work_paths(listed.work_id):
            rule: dict[str, Any] = {
                "location": path,
                "tdm-reservation": int(headers["tdm-reservation"]),
            }
            if "tdm-policy" in headers:
                rule["tdm-policy"] = headers["tdm-policy"]
            rules.append(rule)
    return rules


def _closed_prefixes(session: Session) -> list[str]:
    # Work ids have a fixed length, so the prefix of one work's paths never covers another's;
    # ``/works/<id>`` covers the page, its file, bundle and stages alike.
    return [
        prefix
        for listed in public_consents(session)
        if listed.consent.closed_to_ai_crawlers
        for prefix in (f"/works/{listed.work_id}", f"/api/v1/works/{listed.work_id}")
    ]


def robots_txt(session: Session, public_url: str) -> str:
    """``/robots.txt``: everyone may crawl, but AI crawlers not the works that reserve it."""
    closed = _closed_prefixes(session)
    lines = [
        f"# robots.txt for {public_url}",
        "# Generated from the creators' AI-training consents. Works whose creators do not allow",
        "# AI training are closed to AI crawlers; every work page and file also carries W3C",
        "# TDMRep headers, and /.well-known/tdmrep.json lists them for every crawler.",
        "",
        "User-agent: *",
        "Allow: /",
        "",
        *(f"User-agent: {agent}" for agent in AI_CRAWLERS),
        *(f"Disallow: {prefix}" for prefix in closed),
        "Allow: /",
        "",
    ]
    return "\n".join(lines)


def ai_txt(session: Session, public_url: str) -> str:
    """``/ai.txt`` (Spawning's format): the same rules, for every AI agent."""
    closed = _closed_prefixes(session)
    lines = [
        f"# ai.txt for {public_url}",
        "# Generated from the creators' AI-training consents: the works below are not to be",
        "# used to train AI models. See also /.well-known/tdmrep.json.",
        "",
        "User-Agent: *",
        *(f"Disallow: {prefix}" for prefix in closed),
        "Allow: /",
        "",
    ]
    return "\n".join(lines)


__all__ = [
    "AI_CRAWLERS",
    "CONSENT_CHOICES",
    "CONSENT_WORDS",
    "DEFAULT_CONSENT",
    "Consent",
    "Listed",
    "ai_txt",
    "change_work_consent",
    "check_choice",
    "check_policy_url",
    "declared",
    "default_of",
    "for_new_work",
    "of_user",
    "of_work",
    "parse",
    "public_consents",
    "robots_txt",
    "set_default",
    "tdmrep_rules",
    "work_consent_json",
    "work_paths",
]
