"""Error pages and JSON errors show no stack trace and no personal data."""

from __future__ import annotations

import logging

import pytest

SECRET_DETAIL = "Amina Hassan, safe house on 12 Example Street"


def _assert_no_trace(text):
    assert "Traceback" not in text
    assert 'File "' not in text
    assert SECRET_DETAIL not in text


@pytest.mark.parametrize(
    ("method", "path", "code"),
    [("get", "/no-such-page", 404), ("get", "/account/sessions/end-all", 405)],
)
def test_http_errors_render_a_plain_page_and_json_for_json_clients(client, method, path, code):
    response = getattr(client, method)(path)
    assert response.status_code == code
    assert response.mimetype == "text/html"
    _assert_no_trace(response.get_data(as_text=True))
    as_json = getattr(client, method)(path, headers={"Accept": "application/json"})
    assert as_json.status_code == code
    assert as_json.mimetype == "application/json"
    assert set(as_json.get_json()) == {"error"}


@pytest.fixture
def failing_app(make_app):
    app = make_app(PROPAGATE_UNEXPECTED=False)

    def explode():
        raise RuntimeError(SECRET_DETAIL)

    app.add_url_rule("/explode", "explode", explode)
    return app


def test_an_unexpected_error_is_a_500_page_without_a_trace(failing_app, caplog):
    with caplog.at_level(logging.ERROR):
        response = failing_app.test_client().get("/explode")
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "Something went wrong" in page
    _assert_no_trace(page)
    assert "RuntimeError" in caplog.text  # the log says what kind of failure ...
    assert SECRET_DETAIL not in caplog.text  # ... but never what it held


def test_a_database_that_is_down_or_locked_is_a_503_to_come_back_to(make_app, caplog):
    """Not "something went wrong": the request was fine, the database was not there (a
    restart, SQLite's lock held past its timeout), so the answer says to try again."""
    import psycopg
    from sqlalchemy.exc import OperationalError

    app = make_app(PROPAGATE_UNEXPECTED=False)

    def locked():
        raise OperationalError("SELECT 1", {}, psycopg.errors.AdminShutdown(SECRET_DETAIL))

    app.add_url_rule("/locked", "locked", locked)
    with caplog.at_level(logging.ERROR):
        response = app.test_client().get("/locked")
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert "briefly unavailable" in response.get_data(as_text=True)
    _assert_no_trace(response.get_data(as_text=True))
    assert SECRET_DETAIL not in caplog.text


def test_an_unexpected_error_answers_json_to_json_clients(failing_app):
    response = failing_app.test_client().get("/explode", headers={"Accept": "application/json"})
    assert response.status_code == 500
    body = response.get_json()
    assert set(body) == {"error"}
    _assert_no_trace(response.get_data(as_text=True))


def test_error_pages_still_carry_the_security_headers(client):
    response = client.get("/no-such-page")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
