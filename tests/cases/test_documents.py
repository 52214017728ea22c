"""Documents per case: uploaded, listed and downloaded by the case's caseworkers only, type
decided by content, images stripped of metadata, ciphertext at rest, shredded with the case."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest
from PIL import ExifTags, Image, PngImagePlugin
from sqlalchemy import delete, func, select, update
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from accounts.models import Role, User
from audit.models import AuditRecord
from cases import access, documents
from cases.document_models import CHUNK_BYTES, CaseDocument, CaseDocumentChunk
from cases.models import Case
from config import ConfigError, load_config
from extensions import db
from security.fields import DecryptionError
from tests.cases.test_encryption import database_bytes
from tests.factories import audit_actions

PDF_MARKER = b"Hollowbrook-Saoirse-travel-letter-5521"
FILENAME = "Saoirse Hollowbrook passport scan.pdf"


def _pdf(marker: bytes = PDF_MARKER, padding: int = 0) -> bytes:
    """A small PDF with a marker in it (and padding to make it big)."""
    body = b"1 0 obj << /Type /Catalog >> endobj\n% " + marker + b"\n"
    return b"%PDF-1.7\n" + body + b"%" + b"x" * padding + b"\n%%EOF\n"


def _image(fmt: str, size: tuple[int, int] = (64, 48), **save: object) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (180, 40, 60)).save(out, fmt, **save)
    return out.getvalue()


def _gps_jpeg() -> bytes:
    """A phone photo: GPS position, camera model, orientation 6 (turn 90° to view), ICC."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Model] = "Marker Camera 9000"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (36.0, 11.0, 27.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (44.0, 0.0, 33.0)
    return _image("JPEG", exif=exif, icc_profile=b"icc-profile-bytes" * 8, comment=b"Erbil")


def upload(worker, case_id, data, filename=FILENAME, content_type="application/pdf", **fields):
    """Post the upload form as a browser does (the body encoded in memory: the test client
    would spool a large one to a temporary file it never closes)."""
    form = {"kind": "passport", "expires_on": "", **fields}
    form["file"] = FileStorage(io.BytesIO(data), filename, content_type=content_type)
    boundary, body = encode_multipart(form)
    return worker.client.post(
        f"/cases/{case_id}/documents",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def _documents(app, case_id=None) -> list[CaseDocument]:
    with app.app_context():
        query = select(CaseDocument).order_by(CaseDocument.created_at)
        if case_id is not None:
            query = query.where(CaseDocument.case_id == case_id)
        found = db.session.scalars(query).all()
        for document in found:
            db.session.expunge(document)
        return list(found)


def _row_counts(app) -> tuple[int, int]:
    with app.app_context():
        return (
            db.session.scalar(select(func.count()).select_from(CaseDocument)),
            db.session.scalar(select(func.count()).select_from(CaseDocumentChunk)),
        )


def _uploaded(app, worker, data=None, **kwargs) -> tuple[str, str]:
    """Create a case, upload one document (a PDF unless told); the case and document ids."""
    case_id = worker.create_case()
    response = upload(worker, case_id, _pdf() if data is None else data, **kwargs)
    assert response.status_code == 302, response.get_data(as_text=True)
    return case_id, _documents(app, case_id)[-1].id


def test_a_pdf_is_uploaded_listed_and_downloaded_by_its_caseworker(app, person):
    worker = person()
    case_id = worker.create_case()
    response = upload(worker, case_id, _pdf(), expires_on="2031-03-01")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/cases/{case_id}#documents")

    page = worker.client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Document added." in page
    section = page[page.index('id="documents"') :]
    for shown in ("Passport", FILENAME, "1 Mar 2031", "1 KB", "Download"):
        assert shown in section
    (document,) = _documents(app, case_id)
    link = f"/cases/{case_id}/documents/{document.id}"
    assert f'href="{link}"' in section
    assert document.content_type == "application/pdf"

    download = worker.client.get(link)
    assert download.status_code == 200
    assert download.data == _pdf()  # a PDF is kept exactly as given
    assert download.mimetype == "application/pdf"
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "Hollowbrook" not in disposition  # saved under the case code, not the person's name
    with app.app_context():
        code = db.session.get(Case, case_id).code
    assert f'filename="{code}-passport.pdf"' in disposition
    assert download.headers["Cache-Control"] == "no-store"
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    policy = download.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "sandbox" in policy
    # A PDF never opens inline, even through the view link.
    viewed = worker.client.get(link + "/view")
    assert viewed.headers["Content-Disposition"].startswith("attachment;")


def test_a_jpeg_is_reencoded_upright_without_gps_or_any_metadata(app, person):
    worker = person()
    original = _gps_jpeg()
    assert b"Marker Camera" in original
    case_id, document_id = _uploaded(
        app, worker, original, filename="IMG_2041.JPG", content_type="image/jpeg"
    )
    link = f"/cases/{case_id}/documents/{document_id}"
    page = worker.client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert f'href="{link}/view"' in page  # images may be viewed in the browser

    for url, disposition in ((link, "attachment;"), (link + "/view", "inline;")):
        response = worker.client.get(url)
        assert response.status_code == 200
        assert response.mimetype == "image/jpeg"
        assert response.headers["Content-Disposition"].startswith(disposition)
        assert response.headers["Cache-Control"] == "no-store"
        assert "sandbox" in response.headers["Content-Security-Policy"]
        image = Image.open(io.BytesIO(response.data))
        image.load()
        assert image.format == "JPEG"
        assert image.size == (48, 64)  # turned by its orientation before the EXIF went
        assert dict(image.getexif()) == {}
        assert image.getexif().get_ifd(ExifTags.IFD.GPSInfo) == {}
        assert not {"exif", "icc_profile", "xmp", "comment"} & set(image.info)
        for trace in (b"Marker Camera", b"Exif", b"icc-profile", b"Erbil"):
            assert trace not in response.data
        pixel = image.getpixel((24, 32))
        assert isinstance(pixel, tuple)
        assert pixel[0] > 150  # the pixels survive


@pytest.mark.parametrize(
    ("fmt", "filename", "content_type"),
    [("PNG", "scan.png", "image/png"), ("WEBP", "scan.webp", "image/webp")],
)
def test_png_and_webp_are_reencoded_without_their_metadata(
    app, person, fmt, filename, content_type
):
    worker = person()
    save: dict[str, Any] = {"exif": _exif_with_gps()}
    if fmt == "PNG":
        text = PngImagePlugin.PngInfo()
        text.add_text("Author", "Saoirse Hollowbrook")
        save["pnginfo"] = text
    else:
        save["xmp"] = b"<x:xmpmeta>Saoirse Hollowbrook</x:xmpmeta>"
    original = _image(fmt, **save)
    assert b"Hollowbrook" in original
    case_id, document_id = _uploaded(
        app, worker, original, filename=filename, content_type=content_type
    )
    response = worker.client.get(f"/cases/{case_id}/documents/{document_id}")
    assert response.mimetype == content_type
    image = Image.open(io.BytesIO(response.data))
    image.load()
    assert image.format == fmt
    assert dict(image.getexif()) == {}
    assert b"Hollowbrook" not in response.data
    assert b"Exif" not in response.data


def _exif_with_gps() -> Image.Exif:
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitude] = (36.0, 11.0, 27.0)
    return exif


def test_a_large_file_is_chunked_and_comes_back_whole(app, person):
    worker = person()
    big = _pdf(padding=CHUNK_BYTES * 2 + 1000)
    case_id, document_id = _uploaded(app, worker, big)
    with app.app_context():
        indexes = db.session.scalars(
            select(CaseDocumentChunk.chunk_index)
            .where(CaseDocumentChunk.document_id == document_id)
            .order_by(CaseDocumentChunk.chunk_index)
        ).all()
    assert indexes == [0, 1, 2]
    assert worker.client.get(f"/cases/{case_id}/documents/{document_id}").data == big


def test_chunks_are_bound_to_their_place_and_document(app, person):
    """A chunk swapped, cut from the end, or moved to another document fails to decrypt."""
    worker = person()
    case_id, first = _uploaded(app, worker, _pdf(padding=CHUNK_BYTES + 10))
    assert upload(worker, case_id, _pdf(b"other", padding=CHUNK_BYTES + 10)).status_code == 302
    second = _documents(app, case_id)[-1].id

    def read(document_id):
        with app.app_context():
            case = db.session.get(Case, case_id)
            document = documents.get_document(case, document_id)
            return documents.read_document(case, document, None, "download")

    def chunk(document_id, index):
        return select(CaseDocumentChunk.data).where(
            CaseDocumentChunk.document_id == document_id, CaseDocumentChunk.chunk_index == index
        )

    def set_chunk(document_id, index, data):
        db.session.execute(
            update(CaseDocumentChunk)
            .where(
                CaseDocumentChunk.document_id == document_id,
                CaseDocumentChunk.chunk_index == index,
            )
            .values(data=data)
        )

    assert read(first).startswith(b"%PDF-")
    with app.app_context():
        zero, one = db.session.scalar(chunk(first, 0)), db.session.scalar(chunk(first, 1))
        other = db.session.scalar(chunk(second, 0))
        set_chunk(first, 0, one)
        set_chunk(first, 1, zero)
        db.session.commit()
    with pytest.raises(DecryptionError, match="chunk:0/2"):
        read(first)
    with app.app_context():
        set_chunk(first, 0, other)  # right place, wrong document
        set_chunk(first, 1, one)
        db.session.commit()
    with pytest.raises(DecryptionError, match="chunk:0/2"):
        read(first)
    with app.app_context():
        set_chunk(first, 0, zero)
        db.session.commit()
    assert read(first).startswith(b"%PDF-")
    with app.app_context():
        db.session.execute(
            delete(CaseDocumentChunk).where(
                CaseDocumentChunk.document_id == first, CaseDocumentChunk.chunk_index == 1
            )
        )
        db.session.commit()
    with pytest.raises(DecryptionError, match="chunk:0/1"):
        read(first)


@pytest.mark.parametrize("who", ["another caseworker", "finance", "admin without break-glass"])
def test_nobody_else_gets_the_document(app, person, who):
    worker = person()
    case_id, document_id = _uploaded(app, worker)
    role = {"finance": Role.FINANCE, "admin without break-glass": Role.ADMIN}
    other = person(role.get(who, Role.CASEWORKER))
    link = f"/cases/{case_id}/documents/{document_id}"
    before = len(audit_actions(app, "case.access_denied"))
    for response in (
        other.client.get(link),
        other.client.get(link + "/view"),
        other.client.get(link + "/delete"),
        other.client.post(link + "/delete"),
        upload(other, case_id, _pdf(b"intruder")),
    ):
        assert response.status_code == 404
        assert PDF_MARKER not in response.data
    assert len(audit_actions(app, "case.access_denied")) == before + 5
    assert "case.document_read" not in audit_actions(app)
    assert [document.id for document in _documents(app)] == [document_id]


def test_a_document_id_from_another_case_is_404(app, person):
    worker = person()
    case_id, document_id = _uploaded(app, worker)
    other_case = worker.create_case(legal_name="Another Person", known_as="", contact="+1555")
    assert worker.client.get(f"/cases/{other_case}/documents/{document_id}").status_code == 404
    assert worker.client.get(f"/cases/{case_id}/documents/not-a-document").status_code == 404


def test_the_document_and_its_name_never_reach_the_database_in_clear(request, app, person):
    worker = person()
    _case_id, document_id = _uploaded(app, worker, _pdf(padding=CHUNK_BYTES))
    raw = database_bytes(request, app)
    assert document_id.encode() in raw  # we are looking at the right data
    for needle in (PDF_MARKER, FILENAME.encode(), b"Hollowbrook", b"Saoirse"):
        assert needle not in raw, needle
        assert needle.hex().encode() not in raw, needle  # pg_dump writes bytea in hex


@pytest.mark.parametrize(
    ("data", "filename", "content_type", "message"),
    [
        (
            _image("PNG"),
            "scan.pdf",
            "application/pdf",
            "This file is a PNG image, but its name or type says it is a PDF",
        ),
        (
            b"Just some text pretending to be a photo",
            "photo.jpg",
            "image/jpeg",
            "This file is not a PDF, JPEG, PNG or WebP file",
        ),
        (
            _pdf(),
            "letter.pdf",
            "image/png",
            "This file is a PDF, but its name or type says it is a PNG image",
        ),
        (
            _image("JPEG"),
            "photo.jpg",
            "text/html",
            "This file is a JPEG image, but its name or type says it is text/html",
        ),
        (
            _image("JPEG")[:200],
            "photo.jpg",
            "image/jpeg",
            "This file looks like a JPEG image but cannot be read as one",
        ),
        (b"", "empty.pdf", "application/pdf", "The file is empty"),
    ],
    ids=["png-named-pdf", "text-as-jpeg", "pdf-as-png", "jpeg-as-html", "truncated", "empty"],
)
def test_a_file_that_is_not_what_it_claims_is_refused_and_nothing_stored(
    app, person, data, filename, content_type, message
):
    worker = person()
    case_id = worker.create_case()
    response = upload(worker, case_id, data, filename=filename, content_type=content_type)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    assert "The document was not saved" in page
    assert _row_counts(app) == (0, 0)
    assert "case.document_added" not in audit_actions(app)


def test_a_file_over_the_size_limit_is_refused_with_the_limit_named(app, person):
    worker = person()
    case_id = worker.create_case()
    limit = app.config["CASE_DOCUMENT_MAX_MB"]
    assert limit == 10
    just_over = _pdf(padding=limit * 1024 * 1024)
    response = upload(worker, case_id, just_over)
    assert response.status_code == 400
    assert "documents can be up to 10 MB. Nothing was saved." in response.get_data(as_text=True)
    assert _row_counts(app) == (0, 0)

    far_over = _pdf(padding=app.config["MAX_CONTENT_LENGTH"])  # cut off before it is read
    response = upload(worker, case_id, far_over)
    assert response.status_code == 413
    assert "documents can be up to 10 MB" in response.get_data(as_text=True)
    assert _row_counts(app) == (0, 0)


def test_a_bad_form_is_refused_with_a_message(app, person):
    worker = person()
    case_id = worker.create_case()
    no_file = worker.client.post(
        f"/cases/{case_id}/documents", data={"kind": "visa"}, content_type="multipart/form-data"
    )
    assert no_file.status_code == 400
    assert "Choose the file to upload." in no_file.get_data(as_text=True)
    bad_kind = upload(worker, case_id, _pdf(), kind="diary")
    assert bad_kind.status_code == 400
    assert "Not a valid choice" in bad_kind.get_data(as_text=True)
    bad_date = upload(worker, case_id, _pdf(), expires_on="next spring")
    assert bad_date.status_code == 400
    assert "Not a valid date value" in bad_date.get_data(as_text=True)
    assert _row_counts(app) == (0, 0)


def test_the_limit_comes_from_configuration(monkeypatch, tmp_path):
    monkeypatch.setenv("APP_ENV", "development")
    monkeypatch.setenv("CASE_DOCUMENT_MAX_MB", "25")
    settings = load_config(tmp_path)
    assert settings["CASE_DOCUMENT_MAX_MB"] == 25
    assert settings["MAX_CONTENT_LENGTH"] == 26 * 1024 * 1024  # the form fits around the file
    monkeypatch.setenv("CASE_DOCUMENT_MAX_MB", "0")
    with pytest.raises(ConfigError, match="CASE_DOCUMENT_MAX_MB must be at least 1"):
        load_config(tmp_path)
    monkeypatch.setenv("CASE_DOCUMENT_MAX_MB", "ten")
    with pytest.raises(ConfigError, match="CASE_DOCUMENT_MAX_MB must be a whole number"):
        load_config(tmp_path)


def _reads(app, case_id) -> list[dict[str, str]]:
    with app.app_context():
        records = db.session.scalars(
            select(AuditRecord)
            .where(AuditRecord.action == "case.document_read", AuditRecord.object_id == case_id)
            .order_by(AuditRecord.id)
        ).all()
        return [json.loads(record.details) for record in records]


def test_every_view_and_download_is_an_audited_read(app, person):
    worker = person()
    case_id, document_id = _uploaded(
        app, worker, _gps_jpeg(), filename=FILENAME.replace(".pdf", ".jpg"), content_type=""
    )
    link = f"/cases/{case_id}/documents/{document_id}"
    opened_before = len(audit_actions(app, "case.decrypted"))
    worker.client.get(link)
    worker.client.get(link + "/view")
    worker.client.get(link)
    assert _reads(app, case_id) == [
        {"document": document_id, "method": "download"},
        {"document": document_id, "method": "view"},
        {"document": document_id, "method": "download"},
    ]
    # Each request opened the case's key, audited where decryption happens.
    assert len(audit_actions(app, "case.decrypted")) == opened_before + 3
    with app.app_context():
        details = " ".join(
            record.details or "" for record in db.session.scalars(select(AuditRecord))
        )
    assert "Hollowbrook" not in details
    assert "passport" not in details.lower()


def test_the_caseworker_deletes_a_document_after_confirming(app, person):
    worker = person()
    case_id, document_id = _uploaded(app, worker)
    link = f"/cases/{case_id}/documents/{document_id}"
    page = worker.client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert f'href="{link}/delete"' in page
    confirm = worker.client.get(link + "/delete")
    assert confirm.status_code == 200
    text = confirm.get_data(as_text=True)
    assert FILENAME in text
    assert "cannot be opened from it again" in text
    assert _row_counts(app) == (1, 1)  # asking changes nothing

    response = worker.client.post(link + "/delete")
    assert response.status_code == 302
    assert _row_counts(app) == (0, 0)
    assert "case.document_deleted" in audit_actions(app)
    page = worker.client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Document deleted. It cannot be recovered." in page
    assert "No documents yet." in page
    assert worker.client.get(link).status_code == 404


def test_an_admin_who_opened_the_case_by_break_glass_reads_and_deletes(app, person):
    worker = person()
    case_id, document_id = _uploaded(app, worker)
    admin = person(Role.ADMIN)
    link = f"/cases/{case_id}/documents/{document_id}"
    assert admin.client.get(link).status_code == 404
    reason = {"reason": "The caseworker is unreachable and a visa is due"}
    assert admin.client.post(f"/cases/{case_id}/break-glass", data=reason).status_code == 302
    assert admin.client.get(link).data == _pdf()
    assert admin.client.post(link + "/delete").status_code == 302
    assert _row_counts(app) == (0, 0)


def test_a_purge_shreds_every_document_of_the_case(request, app, person):
    worker = person()
    case_id, document_id = _uploaded(app, worker, _pdf(padding=CHUNK_BYTES))
    upload(worker, case_id, _gps_jpeg(), filename="photo.jpg", content_type="image/jpeg")
    kept_case, kept_document = _uploaded(
        app, worker, _pdf(b"kept"), filename="kept.pdf", content_type="application/pdf"
    )
    with app.app_context():
        ciphertexts = db.session.scalars(
            select(CaseDocumentChunk.data).where(CaseDocumentChunk.document_id == document_id)
        ).all()
    assert _row_counts(app) == (3, 4)
    admin = person(Role.ADMIN)
    admin.reauthenticate()
    with app.app_context():
        code = db.session.get(Case, case_id).code
    response = admin.client.post(f"/cases/{case_id}/purge", data={"confirm_code": code})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Case, case_id).purged_at is not None

    assert [document.id for document in _documents(app)] == [kept_document]
    assert _row_counts(app) == (1, 1)
    assert worker.client.get(f"/cases/{case_id}/documents/{document_id}").status_code == 404
    assert worker.client.get(f"/cases/{kept_case}/documents/{kept_document}").status_code == 200
    raw = database_bytes(request, app)
    assert PDF_MARKER not in raw
    assert PDF_MARKER.hex().encode() not in raw
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        for blob in ciphertexts:  # not even the ciphertext lingers (secure_delete, checkpoint)
            assert blob[-64:] not in raw


def test_a_lockdown_closes_documents_too(app, person):
    worker = person()
    case_id, document_id = _uploaded(app, worker)
    admin = person(Role.ADMIN)
    with app.app_context():
        access.start_lockdown(db.session.get(User, admin.id))
        db.session.commit()
    worker.auth.login(worker.email)
    response = worker.client.get(f"/cases/{case_id}/documents/{document_id}")
    assert response.status_code == 403
    assert "locked down" in response.get_data(as_text=True)
    assert PDF_MARKER not in response.data
    assert upload(worker, case_id, _pdf(b"during lockdown")).status_code == 403
    assert _row_counts(app) == (1, 1)


def test_documents_are_not_in_the_export(app, person):
    worker = person()
    case_id, _document_id = _uploaded(app, worker)
    worker.reauthenticate()
    page = worker.client.get(f"/cases/{case_id}/export").get_data(as_text=True)
    assert "Hollowbrook" not in page
    assert not re.search(r"/documents/", page)
