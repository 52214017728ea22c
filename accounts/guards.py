"""Who is signed in, role guards, and the re-authentication guard."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import abort, current_app, g, redirect, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

import audit
from accounts.models import Role, SessionStage, StaffSession, User
from accounts.services import is_recently_reauthenticated
from accounts.sessions import find_session, touch
from extensions import db

F = TypeVar("F", bound=Callable[..., Any])


def session_token() -> str | None:
    """The staff session token from this request's cookie."""
    return request.cookies.get(current_app.config["STAFF_COOKIE_NAME"])


def load_staff_user(_request: Any) -> User | None:
    """Flask-Login's request loader (accounts' init_app registers it): the user of the live
    server-side session named by the cookie."""
    session_row = find_session(session_token(), SessionStage.ACTIVE)
    if session_row is None:
        return None
    if touch(session_row):
        db.session.commit()
    g.staff_session = session_row
    return session_row.user


def current_staff() -> User:
    """The signed-in staff member as a User (only valid behind a guard)."""
    user: User = current_user._get_current_object()
    return user


def current_session() -> StaffSession:
    """The signed-in user's session row (only valid behind a guard)."""
    session_row: StaffSession = g.staff_session
    return session_row


def safe_next(target: str | None) -> str | None:
    """A local path to return to, or None: never another site."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target:
        return None
    return target


def role_required(*roles: Role | str) -> Callable[[F], F]:
    """Signed-in staff with one of these roles; others are sent to sign in or refused (403)."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
            if roles and not current_user.has_role(*roles):
                # Someone trying pages above their role is worth seeing: recorded, then refused.
                audit.record(
                    current_user,
                    "access.role_denied",
                    "route",
                    request.endpoint,
                    method=request.method,
                )
                db.session.commit()
                abort(403)
            return view(*args, **kwargs)

        return cast(F, wrapped)

    return decorator


staff_required = role_required()


def reauth_redirect() -> BaseResponse | None:
    """Where to send someone who has not given password and code in the last few minutes
    (the re-authentication page, then back to where they were), or None to go on."""
    if is_recently_reauthenticated(current_session()):
        return None
    target = request.full_path.rstrip("?") if request.method == "GET" else request.referrer
    return redirect(url_for("accounts.reauthenticate", next=safe_next(target) or None))


def reauth_required(view: F) -> F:
    """Ask for password and code again unless given in the last few minutes."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return redirect(url_for("accounts.login"))
        return reauth_redirect() or view(*args, **kwargs)

    return cast(F, wrapped)
