"""Error pages and JSON errors that show no stack trace and no personal data."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

from extensions import db

log = logging.getLogger(__name__)

MESSAGES = {
    400: _l("The request could not be understood. Please go back and try again."),
    403: _l("You do not have access to this page."),
    404: _l("There is nothing here."),
    405: _l("That action is not allowed here."),
    410: _l("This is no longer available."),
    413: _l("The upload is too large."),
    429: _l("Too many attempts. Please wait a minute and try again."),
    500: _l("Something went wrong on our side. Nothing you did caused it; please try again."),
    503: _l("The service is briefly unavailable. Please try again in a minute."),
}


JSON_ERRORS = "json_errors"
View = TypeVar("View", bound=Callable[..., Any])


def json_errors(view: View) -> View:
    """Mark a route whose errors are JSON (a script or Stripe calls it, not a person). Put it
    directly under the route decorator, so the function registered is the marked one."""
    setattr(view, JSON_ERRORS, True)
    return view


def wants_json() -> bool:
    """Routes marked `json_errors`, and clients asking for JSON, get JSON errors."""
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, JSON_ERRORS, False):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and not request.accept_mimetypes.accept_html


def render_error(code: int, message: str | None = None) -> tuple[Response | str, int]:
    """A consistent error response for HTML and JSON callers."""
    text = message or str(MESSAGES.get(code) or _("Something went wrong."))
    if wants_json():
        return jsonify(error=text), code
    return render_template("errors/error.html", code=code, message=text), code


def handle_http_error(error: HTTPException) -> tuple[Response | str, int]:
    """Render an HTTP error; CSRF failures explain themselves without detail."""
    code = error.code or 500
    message = None
    if code == 429:  # card testing or password guessing shows up here; never with the address
        log.info("rate limit reached on %s %s", request.method, request.endpoint)
    if code == 400 and getattr(error, "description", "").lower().startswith("the csrf"):
        message = _("This form expired or was sent from elsewhere. Reload the page and try again.")
    return render_error(code, message)


def handle_unexpected(error: Exception) -> ResponseReturnValue:
    """Roll back, log the type only (never values that may hold personal data), render 500;
    or 503 with Retry-After when the database was unreachable or stayed locked, which is
    not a fault in the request and passes."""
    db.session.rollback()
    if current_app.config.get("PROPAGATE_UNEXPECTED"):
        raise error
    if isinstance(error, OperationalError):
        log.error("database unavailable on %s %s", request.method, request.endpoint)
        body, code = render_error(503)
        return body, code, {"Retry-After": "10"}
    log.error("unhandled %s on %s %s", type(error).__name__, request.method, request.endpoint)
    return render_error(500)


def init_app(app: Flask) -> None:
    """Register the handlers."""
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(InternalServerError, handle_unexpected)
    app.register_error_handler(Exception, handle_unexpected)
