"""Absolute links (invitations, resets, security-event emails, Stripe's return URL).

A link that leaves the app is built from PUBLIC_URL when it is set (production requires it),
never from the Host header: whoever sends the request would otherwise choose where an
invitation or a donor's 3-D Secure return points.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, has_request_context, url_for


def external_url(endpoint: str, **values: Any) -> str:
    """The absolute URL of `endpoint`: on PUBLIC_URL when set, else on this request's host
    (with neither, as on a development command line, the path alone)."""
    base = current_app.config.get("PUBLIC_URL")
    if base:
        return str(base).rstrip("/") + _path(endpoint, values)
    if has_request_context() or current_app.config.get("SERVER_NAME"):
        return url_for(endpoint, _external=True, **values)
    return _path(endpoint, values)


def _path(endpoint: str, values: dict[str, Any]) -> str:
    """The path of `endpoint` under the app's root, also where no request is being served."""
    if has_request_context() or current_app.config.get("SERVER_NAME"):
        return url_for(endpoint, _external=False, **values)
    root = current_app.config.get("APPLICATION_ROOT") or "/"
    return current_app.url_map.bind("localhost", script_name=root).build(endpoint, values)
