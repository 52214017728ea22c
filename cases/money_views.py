"""A case's money: disbursement requests made by its caseworkers, and their state."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from accounts.guards import current_staff, role_required
from cases import access, services
from cases.models import Case
from cases.views import STAFF, case_route, locked_down
from extensions import db
from finance.forms import DisbursementRequestForm
from finance.free_text import texts_for
from finance.models import Category, DisbursementStatus
from finance.services import FinanceError
from fundraising.models import Drive, DriveStatus
from fundraising.money import InvalidAmount, parse_amount

bp = Blueprint("case_money", __name__, url_prefix="/cases")
bp.register_error_handler(access.CasesLockedDown, locked_down)
# A request's state as its caseworkers read it.
STATUS_LABELS = {
    DisbursementStatus.REQUESTED: _l("Requested"),
    DisbursementStatus.APPROVED: _l("Approved"),
    DisbursementStatus.REJECTED: _l("Rejected"),
    DisbursementStatus.PAID: _l("Paid"),
    DisbursementStatus.VOIDED: _l("Voided"),
}


def _form() -> DisbursementRequestForm:
    form = DisbursementRequestForm()
    drives = db.session.scalars(
        select(Drive).where(Drive.status != DriveStatus.DRAFT).order_by(Drive.title)
    )
    form.drive_id.choices = [
        (drive.id, f"{drive.title} ({drive.currency.upper()})") for drive in drives
    ]
    return form


@bp.route("/<case_id>/money", methods=["GET", "POST"])
@role_required(*STAFF)
@case_route("money")
def money(case: Case) -> ResponseReturnValue:
    """Request money for this case and follow the requests."""
    form = _form()
    if form.validate_on_submit():
        drive = db.session.get(Drive, form.drive_id.data)
        try:
            if drive is None:
                raise FinanceError(_("Choose the drive to charge."))
            services.request_money(
                case,
                current_staff(),
                drive_id=drive.id,
                category=Category(form.category.data),
                amount_minor=parse_amount(form.amount.data, drive.currency),
                payee=form.payee.data or "",
                note=form.note.data or "",
            )
        except InvalidAmount as error:
            form.amount.errors = [str(error)]
        except FinanceError as error:
            form.drive_id.errors = [str(error)]
        else:
            db.session.commit()
            flash(_("Request sent to finance."), "info")
            return redirect(url_for("case_money.money", case_id=case.id))
    items = services.money_for(case)
    texts = texts_for(item for item, _, _ in items)
    page = render_template(
        "cases/money.html",
        case=case,
        form=form,
        items=items,
        texts=texts,
        statuses=STATUS_LABELS,
    )
    db.session.commit()
    return page
