"""The security headers every answer carries, in one place.

The policy allows no inline script or style and nothing from other origins, so a title or a
text that slips a tag past escaping still cannot run (CSP Level 3; OWASP secure headers).
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders

#: The policy every page is served with: no inline script or style, nothing from elsewhere.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; "
    "base-uri 'self'; form-action 'self'"
)

#: Sent when the site is served over HTTPS only (secure cookies): browsers then refuse plain
#: HTTP to it for a year, so a network attacker cannot strip TLS (RFC 6797). Subdomains are
#: left out, as the instance may share its domain with other sites.
STRICT_TRANSPORT_SECURITY = "max-age=31536000"

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def add_security_headers(
    headers: MutableHeaders, policy: str = CONTENT_SECURITY_POLICY, *, https_only: bool = False
) -> None:
    """Add the policy and the other headers, keeping any a route has set more strictly."""
    headers.setdefault("Content-Security-Policy", policy)
    for name, value in SECURITY_HEADERS.items():
        headers.setdefault(name, value)
    if https_only:
        headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)
