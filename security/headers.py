"""Security headers on every response, with a per-request CSP nonce."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g

F = TypeVar("F", bound=Callable[..., Any])

# Served over plain http on the developer's or the test machine: HSTS there would only make a
# browser refuse http://localhost later. Every other environment sits behind TLS.
PLAIN_HTTP_ENVIRONMENTS = ("development", "testing")
# Stripe.js and its Elements (the Payment and Express Checkout Elements load from subdomains).
STRIPE_ORIGINS = (
    "https://js.stripe.com",
    "https://*.js.stripe.com",
    "https://api.stripe.com",
    "https://hooks.stripe.com",
)


def csp_nonce() -> str:
    """The nonce for inline scripts on this response (one per request)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return str(g.csp_nonce)


def allows_stripe(view: F) -> F:
    """Mark a donor-facing view whose page may load Stripe.js; staff pages never do."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        g.csp_allows_stripe = True
        return view(*args, **kwargs)

    return cast(F, wrapped)


# A file served from the database (a case document): nothing in it may run, load or be framed,
# even if a browser shows it rather than saving it.
FILE_POLICY = (
    "default-src 'none'; img-src 'self'; sandbox; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


def serves_file() -> None:
    """Mark this response as a stored file: it gets FILE_POLICY instead of the page CSP."""
    g.csp_serves_file = True


def _origin(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def stripe_origins() -> list[str]:
    """Stripe's origins plus wherever STRIPE_JS_URL and STRIPE_API_BASE point (localstripe)."""
    origins = list(STRIPE_ORIGINS)
    for setting in ("STRIPE_JS_URL", "STRIPE_API_BASE"):
        origin = _origin(current_app.config.get(setting))
        if origin and origin not in origins:
            origins.append(origin)
    return origins


def _policy_template(allow_stripe: bool) -> str:
    """The CSP with `{nonce}` left to fill: self only, plus Stripe where allowed."""
    extra = " ".join(stripe_origins()) if allow_stripe else ""
    directives = {
        "default-src": "'self'",
        "script-src": f"'self' 'nonce-{{nonce}}' {extra}",
        "style-src": "'self'",
        "img-src": "'self' data:",
        "font-src": "'self'",
        "connect-src": f"'self' {extra}",
        "frame-src": extra or "'none'",
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value.strip()}" for name, value in directives.items())


def content_security_policy() -> str:
    """The CSP for this response: self only, plus Stripe where the view allows it.

    The two templates depend only on settings, so each app builds them once."""
    allow_stripe = bool(g.get("csp_allows_stripe"))
    templates: dict[bool, str] = current_app.extensions.setdefault("csp_templates", {})
    if allow_stripe not in templates:
        templates[allow_stripe] = _policy_template(allow_stripe)
    return templates[allow_stripe].replace("{nonce}", csp_nonce())


FIXED_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}
HSTS = "max-age=63072000; includeSubDomains"


def set_security_headers(response: Response) -> Response:
    """Add the headers every response carries."""
    headers = response.headers
    is_file = bool(g.get("csp_serves_file"))
    headers["Content-Security-Policy"] = FILE_POLICY if is_file else content_security_policy()
    headers.update(FIXED_HEADERS)
    if current_app.config["APP_ENV"] not in PLAIN_HTTP_ENVIRONMENTS:
        headers["Strict-Transport-Security"] = HSTS
    if "Cache-Control" not in headers:
        # Anything not explicitly public (a drive page, its progress, static files) is private.
        headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    """Install the nonce helper and the header hook."""
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.after_request(set_security_headers)
