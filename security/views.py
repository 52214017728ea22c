"""Health check for load balancers and uptime monitors; robots.txt for search engines."""

from flask import Blueprint, Response, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from extensions import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """Answer 200 when the database answers, 503 when it does not."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        return jsonify(status="database unavailable"), 503
    return jsonify(status="ok")


# Staff areas and one-person pages (a donor's thank-you, an unsubscribe link) are nobody's
# search result; the drives are meant to be found.
ROBOTS = """User-agent: *
Disallow: /admin/
Disallow: /cases/
Disallow: /finance/
Disallow: /account
Disallow: /login
Disallow: /updates/
Disallow: /drives/*/thanks
Disallow: /drives/*/donate
Allow: /
"""


@bp.get("/robots.txt")
def robots() -> ResponseReturnValue:
    response = Response(ROBOTS, mimetype="text/plain")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response
