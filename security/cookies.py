"""The donor-side cookie session: Flask's signed cookie, with its serializer built once."""

from __future__ import annotations

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer


class SignedCookieSessions(SecureCookieSessionInterface):
    """Flask builds the signing serializer on every request, even one that never touches the
    session (every progress.json poll); the key does not change while the app runs, so each
    app keeps one."""

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        serializer: URLSafeTimedSerializer | None = app.extensions.get("session_serializer")
        if serializer is None:
            serializer = super().get_signing_serializer(app)
            if serializer is not None:
                app.extensions["session_serializer"] = serializer
        return serializer
