"""A case's documents: upload, download, view an image, delete. The case is fetched through
the same access rule as its page (views.case_route), so anyone else gets 404, audited: finance
too, which the rule answers rather than the role (a role refusal would be 403)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge

from accounts.forms import ConfirmForm
from accounts.guards import current_staff, staff_required
from cases import access, documents
from cases.document_models import CaseDocument, DocumentKind
from cases.forms import DocumentForm
from cases.models import Case
from cases.views import case_route, locked_down
from config import MIB
from extensions import db
from security import headers, shredding, uploads
from security.errors import render_error

bp = Blueprint("case_documents", __name__, url_prefix="/cases")
bp.register_error_handler(access.CasesLockedDown, locked_down)


@bp.errorhandler(RequestEntityTooLarge)
def too_large(_error: RequestEntityTooLarge) -> ResponseReturnValue:
    """An upload far over the limit is cut off before it is read: say what the limit is."""
    limit = documents.max_bytes() // MIB
    return render_error(
        413, _("The file is too large: documents can be up to %(limit)s MB.", limit=limit)
    )


def _document_or_404(case: Case, document_id: str) -> CaseDocument:
    try:
        return documents.get_document(case, document_id)
    except documents.DocumentNotFound:
        abort(404)


@bp.post("/<case_id>/documents")
@staff_required
@case_route("document_upload")
def upload(case: Case) -> ResponseReturnValue:
    """Add a document: its type decided by content; images saved again without metadata."""
    form = DocumentForm()
    if form.validate_on_submit():
        storage: FileStorage = form.file.data
        try:
            documents.add_document(
                case,
                current_staff(),
                kind=DocumentKind(form.kind.data),
                expires_on=form.expires_on.data,
                filename=storage.filename,
                declared_type=storage.mimetype,
                data=storage.read(),
            )
        except uploads.UploadRefused as error:
            db.session.rollback()
            form.file.errors = [str(error)]
        else:
            db.session.commit()
            flash(_("Document added."), "info")
            return redirect(url_for("cases.detail", case_id=case.id, _anchor="documents"))
    return render_template("cases/document_form.html", case=case, form=form), 400


def _file_response(case: Case, document: CaseDocument, data: bytes, *, inline: bool) -> Response:
    """The decrypted bytes: never cached, never sniffed, saved under a name without the
    person's (the case code and the document type), and nothing in them may run."""
    kind = uploads.BY_CONTENT_TYPE[document.content_type]
    name = f"{case.code}-{document.kind.value.replace('_', '-')}{kind.extension}"
    response = Response(data, mimetype=kind.content_type)
    disposition = "inline" if inline else "attachment"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    headers.serves_file()
    return response


@bp.get("/<case_id>/documents/<document_id>")
@staff_required
@case_route("document_read")
def download(case: Case, document_id: str) -> ResponseReturnValue:
    """Download a document (an audited read)."""
    document = _document_or_404(case, document_id)
    data = documents.read_document(case, document, current_staff(), "download")
    db.session.commit()
    return _file_response(case, document, data, inline=False)


@bp.get("/<case_id>/documents/<document_id>/view")
@staff_required
@case_route("document_read")
def view(case: Case, document_id: str) -> ResponseReturnValue:
    """Show an image in the browser (re-encoded pixels only; an audited read). A PDF is
    always downloaded: a browser's PDF viewer runs what the file holds."""
    document = _document_or_404(case, document_id)
    data = documents.read_document(case, document, current_staff(), "view")
    db.session.commit()
    return _file_response(case, document, data, inline=document.is_image)


@bp.route("/<case_id>/documents/<document_id>/delete", methods=["GET", "POST"])
@staff_required
@case_route("document_delete")
def delete(case: Case, document_id: str) -> ResponseReturnValue:
    """Confirm, then shred a document (its caseworkers, or an admin who opened the case)."""
    document = _document_or_404(case, document_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        documents.delete_document(case, document, current_staff())
        db.session.commit()
        shredding.scrub(documents.KEY_TABLES)
        flash(_("Document deleted. It cannot be recovered."), "info")
        return redirect(url_for("cases.detail", case_id=case.id, _anchor="documents"))
    entry = documents.entry_for(case, document)
    page = render_template("cases/document_delete.html", case=case, entry=entry, form=form)
    db.session.commit()  # the name's decryption is an audited opening of the case
    return page
