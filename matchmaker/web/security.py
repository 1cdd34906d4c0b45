"""Response headers every page and API answer carries (OWASP ASVS 5.0 level 2, chapter 3).

The policy allows only this site's own scripts, styles and images: every page works with no
inline script, style attribute or handler (tests/test_web_accounts.py keeps the templates so),
and the browser tests run under this very policy.
"""

from __future__ import annotations

from flask import Flask

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'")

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # for browsers that predate frame-ancestors
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# Production only: over plain HTTP on a laptop it would lock the browser out of the site.
HSTS = "max-age=31536000; includeSubDomains"


def register(app: Flask) -> None:
    production = app.config.get("ENV_NAME") == "production"

    @app.after_request
    def security_headers(response):
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if production:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response
