"""A caseworker signs in with TOTP, opens a case, writes a note and records the verification
checks; a second caseworker confirms them. Every page is checked with axe."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from accounts.models import Role, User
from cases import services
from cases.models import Case
from extensions import db
from tests.e2e.helpers import assert_accessible, screenshot, sign_in
from tests.factories import make_user, user_email

pytestmark = pytest.mark.browser


def test_case_from_intake_to_verified_by_two_people(live_server, browser):
    app = live_server.app
    first_id = make_user(app, Role.CASEWORKER, "first.worker@example.org")
    second_id = make_user(app, Role.CASEWORKER, "second.worker@example.org")

    first = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    sign_in(first, live_server, user_email(app, first_id))
    first.goto(live_server("/cases/new"))
    assert_accessible(first)
    first.get_by_label("Legal name").fill("Yusuf Testcase")
    first.get_by_label("Names known by").fill("Yu")
    first.get_by_label("Contact handles").fill("Signal +964 555 0101")
    first.get_by_label("Current location").fill("A friend's flat")
    first.get_by_label("Coarse region (shown in lists)").fill("Kurdistan Region")
    first.get_by_label("Risk level").select_option("critical")
    first.get_by_label("Household size").fill("2")
    first.get_by_label("Risk narrative").fill("Threatened after a raid on a private party.")
    first.get_by_role("button", name="Save case").click()
    first.wait_for_url(re.compile(r".*/cases/[0-9a-f-]{36}$"))
    case_url = first.url
    expect(first.locator("main")).to_contain_text("Yusuf Testcase")
    assert_accessible(first)

    first.get_by_label("Note", exact=True).fill("Spoke on Signal; safe for two nights.")
    first.get_by_role("button", name="Add note").click()
    expect(first.locator(".notes")).to_contain_text("safe for two nights")
    first.get_by_label("Move to").select_option("screening")
    first.get_by_label("Reason", exact=True).fill("Referral confirmed by partner")
    first.get_by_role("button", name="Change stage").click()
    expect(first.locator("h1")).to_contain_text("Screening")
    first.get_by_label("Identity documents seen").check()
    first.get_by_label("References contacted").check()
    first.get_by_label("Risk assessed").check()
    first.get_by_label("Notes on the checks").fill("Passport seen on video call")
    first.get_by_role("button", name="Record checks").click()
    expect(first.locator("main")).to_contain_text("Not yet confirmed")
    assert first.get_by_role("button", name="Confirm these checks").count() == 0
    assert_accessible(first)
    screenshot(first, "case")

    with app.app_context():
        case = db.session.scalar(db.select(Case))
        services.assign(case, db.session.get(User, second_id), db.session.get(User, first_id))
        db.session.commit()

    second = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    sign_in(second, live_server, user_email(app, second_id))
    second.goto(live_server("/cases/"))
    assert_accessible(second)
    # The case list's link (the tasks panel above it links the same case to its tasks).
    cases = second.get_by_role("table", name="Cases assigned to you")
    cases.get_by_role("link", name=re.compile(r"RC-")).click()
    assert second.url == case_url
    history = second.get_by_role("region", name="Who has had access")
    expect(history).to_contain_text("opened the case")
    expect(history).to_contain_text("assigned")
    second.get_by_role("button", name="Confirm these checks").click()
    expect(second.locator("main")).to_contain_text("Confirmed by")
    second.get_by_label("Move to").select_option("verified")
    second.get_by_label("Reason", exact=True).fill("Checks confirmed by a second caseworker")
    second.get_by_role("button", name="Change stage").click()
    expect(second.locator("h1")).to_contain_text("Verified")
    assert_accessible(second)


def test_a_caseworker_uploads_views_and_downloads_a_document(live_server, browser, tmp_path):
    """A phone photo of a passport goes up, shows in the list, opens re-encoded, downloads."""
    import io

    from PIL import ExifTags, Image

    from cases.models import RiskLevel

    app = live_server.app
    worker_id = make_user(app, Role.CASEWORKER, "documents.worker@example.org")
    with app.app_context():
        worker = db.session.get(User, worker_id)
        case = services.create_case(
            worker,
            {"legal_name": "Amira Documentcase", "contact": "Signal +964 555 0199"},
            services.ClearFields(risk_level=RiskLevel.HIGH, region="Nineveh"),
        )
        db.session.commit()
        case_id = case.id
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitude] = (36.0, 11.0, 27.0)
    photo = tmp_path / "passport photo.jpg"
    buffer = io.BytesIO()
    Image.new("RGB", (320, 200), (40, 90, 160)).save(buffer, "JPEG", exif=exif)
    photo.write_bytes(buffer.getvalue())

    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    sign_in(page, live_server, user_email(app, worker_id))
    page.goto(live_server(f"/cases/{case_id}"))
    documents = page.get_by_role("region", name="Documents")
    expect(documents).to_contain_text("No documents yet.")
    documents.get_by_label("Type of document").select_option("passport")
    documents.get_by_label("Expiry date (if it has one)").fill("2031-03-01")
    documents.get_by_label("File").set_input_files(str(photo))
    documents.get_by_role("button", name="Upload document").click()
    page.wait_for_url(re.compile(r".*/cases/[0-9a-f-]{36}#documents$"))
    expect(page.locator(".flashes")).to_contain_text("Document added.")
    row = documents.get_by_role("row", name=re.compile("passport photo.jpg"))
    expect(row).to_contain_text("Passport")
    expect(row).to_contain_text("1 Mar 2031")
    assert_accessible(page)
    screenshot(page, "case-documents")

    with page.expect_popup() as opened:
        row.get_by_role("link", name=re.compile("^View")).click()
    image_tab = opened.value
    image_tab.wait_for_load_state()
    width = image_tab.evaluate("document.images[0].naturalWidth")
    assert width == 320  # the browser decoded the re-encoded image
    image_tab.close()

    with page.expect_download() as downloaded:
        row.get_by_role("link", name=re.compile("^Download")).click()
    with Image.open(downloaded.value.path()) as saved:
        assert saved.format == "JPEG"
        assert saved.getexif().get_ifd(ExifTags.IFD.GPSInfo) == {}
    assert "passport" in downloaded.value.suggested_filename

    fake = tmp_path / "notes.jpg"
    fake.write_text("not a photo at all")
    documents.get_by_label("File").set_input_files(str(fake))
    documents.get_by_role("button", name="Upload document").click()
    expect(page.locator("main")).to_contain_text("This file is not a PDF, JPEG, PNG or WebP file")
    assert_accessible(page)
    context.close()
