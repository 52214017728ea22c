"""The reader's language: English, Spanish, French, Portuguese, Russian and Arabic.

Chosen by the language picker (`?lang=xx`, remembered in a cookie for a year), else the
browser's Accept-Language, else English. Arabic pages are right-to-left. Money and dates are
formatted in the chosen locale; every string goes through Flask-Babel's gettext, with the
catalogues under translations/ (compiled by `make install`; tests/test_translations.py fails
on a message a shipped catalogue does not translate)."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, Response, has_request_context, request
from flask_babel import get_locale

from extensions import babel

LANGUAGES = {
    "en": "English",
    "es": "Español",
    "fr": "Français",
    "pt": "Português",
    "ru": "Русский",
    "ar": "العربية",
}
RIGHT_TO_LEFT = frozenset({"ar"})
DEFAULT = "en"
COOKIE = "lang"
COOKIE_SECONDS = 365 * 24 * 3600
TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"


def _chosen() -> str | None:
    """A language the reader picked: this request's ?lang, else their cookie."""
    for value in (request.args.get("lang"), request.cookies.get(COOKIE)):
        if value in LANGUAGES:
            return value
    return None


def select_locale() -> str:
    if not has_request_context():
        return DEFAULT
    chosen = _chosen()
    if chosen is not None:
        return chosen
    return request.accept_languages.best_match(LANGUAGES.keys()) or DEFAULT


def current() -> str:
    """The locale of this request as a language code ("en", "ar")."""
    return str(get_locale() or DEFAULT)


def _remember_choice(response: Response) -> Response:
    if response.mimetype != "text/html":  # a picked language is remembered by pages only
        return response
    picked = request.args.get("lang")
    if picked in LANGUAGES and request.cookies.get(COOKIE) != picked:
        response.set_cookie(
            COOKIE,
            picked,
            max_age=COOKIE_SECONDS,
            secure=request.is_secure,
            httponly=True,
            samesite="Lax",
        )
    response.vary.add("Accept-Language")  # pages are in the reader's language; data is not
    response.vary.add("Cookie")
    return response


def _template_context() -> dict[str, object]:
    locale = current()
    return {
        "locale": locale,
        "text_direction": "rtl" if locale in RIGHT_TO_LEFT else "ltr",
        "languages": LANGUAGES,
    }


def init_app(app: Flask) -> None:
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(TRANSLATIONS),
    )
    app.after_request(_remember_choice)
    app.context_processor(_template_context)
