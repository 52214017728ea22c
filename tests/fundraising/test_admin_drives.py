"""Admins create, preview, open, extend and close drives; covers lose their metadata."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlalchemy import select

from accounts.models import Role
from extensions import db
from fundraising.models import Drive, DriveStatus
from tests.factories import make_drive, make_user, user_email

FORM = {
    "title": "Visas for three families",
    "slug": "visas",
    "story": "Three families need visas.",
    "currency": "eur",
    "goal": "15000",
    "minimum": "5",
    "suggested": "20, 50, 150",
    "starts_at": "2026-11-22T08:00",
    "ends_at": "2026-11-29T08:00",
}


@pytest.fixture
def admin_client(app, client, auth):
    auth.login(user_email(app, make_user(app, Role.ADMIN)))
    return client


def jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (2400, 1200), (120, 40, 160))
    exif = Image.Exif()
    exif[0x010F] = "SecretCameraMaker"  # Make
    exif[0x8825] = {2: (51.0, 30.0, 0.0)}  # GPS latitude
    output = io.BytesIO()
    image.save(output, format="JPEG", exif=exif)
    return output.getvalue()


def drive_by_slug(app, slug):
    with app.app_context():
        return db.session.scalar(select(Drive).where(Drive.slug == slug))


def test_admin_creates_a_draft_previews_and_opens_it(app, admin_client, client):
    response = admin_client.post("/admin/drives/new", data=FORM)
    assert response.status_code == 302
    drive = drive_by_slug(app, "visas")
    assert drive.status is DriveStatus.DRAFT
    assert (drive.goal_minor, drive.currency, drive.suggested_minor) == (
        1_500_000,
        "eur",
        [2000, 5000, 15000],
    )
    assert client.get("/drives/visas").status_code == 404  # drafts are not public
    preview = admin_client.get(f"/admin/drives/{drive.id}/preview")
    assert "Preview" in preview.get_data(as_text=True)
    admin_client.post(f"/admin/drives/{drive.id}/open")
    assert drive_by_slug(app, "visas").status is DriveStatus.LIVE
    assert client.get("/drives/visas").status_code == 200


def test_bad_goal_is_shown_next_to_its_field_and_nothing_is_created(app, admin_client):
    response = admin_client.post("/admin/drives/new", data={**FORM, "goal": "15,000"})
    assert response.status_code == 400
    assert "without separators" in response.get_data(as_text=True)
    assert drive_by_slug(app, "visas") is None


def test_cover_is_reencoded_without_metadata(app, admin_client, client):
    drive_id = make_drive(app, slug="visas")
    data = {**FORM, "cover": (io.BytesIO(jpeg_with_gps()), "photo.jpg"), "cover_alt": "A road"}
    response = admin_client.post(
        f"/admin/drives/{drive_id}", data=data, content_type="multipart/form-data"
    )
    assert response.status_code == 302
    stored = client.get("/drives/visas/cover.jpg").data
    assert b"SecretCameraMaker" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "JPEG"
        assert image.width == 1600
        assert not image.getexif()


def test_a_file_that_is_not_an_image_is_refused(app, admin_client):
    drive_id = make_drive(app, slug="visas")
    data = {**FORM, "cover": (io.BytesIO(b"%PDF-1.7 not an image"), "x.jpg")}
    response = admin_client.post(
        f"/admin/drives/{drive_id}", data=data, content_type="multipart/form-data"
    )
    assert "not a readable image" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Drive).where(Drive.slug == "visas")).cover is None


def test_extend_and_close(app, admin_client, clock):
    drive_id = make_drive(app, slug="visas")
    admin_client.post(f"/admin/drives/{drive_id}/extend", data={"ends_at": "2026-12-31T12:00"})
    assert drive_by_slug(app, "visas").ends_at.isoformat() == "2026-12-31T12:00:00+00:00"
    admin_client.post(f"/admin/drives/{drive_id}/close")
    assert drive_by_slug(app, "visas").status is DriveStatus.CLOSED


@pytest.mark.parametrize("role", [Role.CASEWORKER, Role.FINANCE])
def test_other_staff_cannot_manage_drives(app, client, auth, role):
    auth.login(user_email(app, make_user(app, role)))
    assert client.get("/admin/drives/").status_code == 403
    assert client.post("/admin/drives/new", data=FORM).status_code == 403
