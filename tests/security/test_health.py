"""The health check."""


def test_healthz_answers_ok_when_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_healthz_answers_503_when_the_database_does_not(make_app, tmp_path):
    make_app()  # the first app built sets up the test database; this one points elsewhere
    app = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'missing' / 'no.db'}")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["status"] != "ok"


def test_robots_keeps_search_engines_out_of_staff_and_one_person_pages(client):
    response = client.get("/robots.txt")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    lines = response.get_data(as_text=True).splitlines()
    for path in ("/admin/", "/cases/", "/finance/", "/login", "/drives/*/thanks", "/updates/"):
        assert f"Disallow: {path}" in lines
    assert "Allow: /" in lines


def test_only_public_drive_pages_ask_to_be_indexed(app, client):
    from tests.factories import make_drive

    make_drive(app)
    for path in ("/", "/drives/relocation"):
        assert '<meta name="robots" content="index, follow">' in client.get(path).text
    for path in ("/login", "/drives/no-such-drive"):
        assert '<meta name="robots" content="noindex, nofollow">' in client.get(path).text
