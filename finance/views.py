"""Finance pages: the ledger dashboard, payouts and reconciliation, disbursements, exports."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, time
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import select

import audit
from accounts.guards import current_staff, reauth_required, role_required
from accounts.models import Role, User
from extensions import db
from finance import charts, exports, free_text, offline_gifts, reconcile, services
from finance.forms import (
    DecisionForm,
    DonationsExportForm,
    OfflineGiftForm,
    PaidForm,
    ReconcileForm,
    ResendReceiptForm,
    ReversalForm,
)
from finance.models import BalanceTransaction, Disbursement, DisbursementStatus, OfflineGift, Payout
from fundraising import receipts
from fundraising.drives import maximum_minor
from fundraising.models import Drive, GiftMethod, Receipt
from fundraising.money import InvalidAmount, format_money, parse_amount
from fundraising.stripe_gateway import GatewayRejected, GatewayUnavailable, current_gateway
from security.clock import now
from security.transactions import committed

bp = Blueprint("finance", __name__, url_prefix="/finance")


@bp.get("/")
@role_required(Role.FINANCE)
def index() -> ResponseReturnValue:
    """Per-drive ledger, recent payouts, unmatched lines and requests awaiting a decision."""
    payouts = db.session.scalars(select(Payout).order_by(Payout.created_at.desc()).limit(20))
    return render_template(
        "finance/index.html",
        ledger=services.ledger_rows(),
        payouts=list(payouts),
        unmatched=reconcile.unmatched_lines(),
        waiting=services.disbursements(status=DisbursementStatus.REQUESTED),
        export_form=_export_form(),
    )


def _export_form() -> DonationsExportForm:
    form = DonationsExportForm()
    form.drive.choices = [(0, _("All drives"))] + [
        (drive.id, drive.title) for drive in db.session.scalars(select(Drive).order_by(Drive.title))
    ]
    return form


@bp.get("/drives/<int:drive_id>")
@role_required(Role.FINANCE)
def drive(drive_id: int) -> ResponseReturnValue:
    """One drive's ledger with its charts and its gifts outside Stripe."""
    return _drive_page(drive_id, OfflineGiftForm(formdata=None))


def _drive_page(drive_id: int, gift_form: OfflineGiftForm) -> str:
    try:
        row = services.ledger_for(drive_id)
    except services.FinanceError:
        abort(404)
    gifts = offline_gifts.gifts_for(drive_id)
    people = {line.gift.recorded_by_id for line in gifts} | {
        line.gift.reversed_by_id for line in gifts
    }
    people.discard(None)
    names = {
        user.id: user.name for user in db.session.scalars(select(User).where(User.id.in_(people)))
    }
    per_hour, cumulative = charts.gifts_per_hour(row.drive, row.gross)
    spending = {
        str(category.label): amount
        for category, amount in services.spending_by_category(drive_id).items()
    }
    return render_template(
        "finance/drive.html",
        row=row,
        per_hour=per_hour,
        cumulative=cumulative,
        spending=charts.by_category(
            spending,
            row.drive.currency,
            _("Money paid out from %(title)s, by category", title=row.drive.title),
        ),
        gifts=gifts,
        names=names,
        viewer_id=current_staff().id,
        gift_form=gift_form,
        reversal_form=ReversalForm(formdata=None),
        online_limit=maximum_minor(row.drive.currency),
    )


def _gift_entry(form: OfflineGiftForm, drive: Drive) -> offline_gifts.GiftEntry:
    """The form's fields as a gift entry; raises GiftEntryError naming the field."""
    try:
        amount_minor = parse_amount(form.amount.data, drive.currency)
    except InvalidAmount as error:
        raise offline_gifts.GiftEntryError(str(error), "amount") from error
    try:
        method = GiftMethod(form.method.data)
    except ValueError:
        method = GiftMethod.STRIPE  # refused by the service, with the choices named
    assert form.received_on.data is not None  # noqa: S101  (InputRequired ran)
    return offline_gifts.GiftEntry(
        amount_minor=amount_minor,
        method=method,
        received_on=form.received_on.data,
        reference=form.reference.data or "",
        donor_name=form.donor_name.data or "",
    )


@bp.post("/drives/<int:drive_id>/offline-gifts")
@role_required(Role.FINANCE)
def record_offline_gift(drive_id: int) -> ResponseReturnValue:
    """Record a bank transfer, cheque, cash or card-by-hand gift; it counts at once."""
    found = db.session.get(Drive, drive_id)
    if found is None:
        abort(404)
    form = OfflineGiftForm()
    if form.validate_on_submit():
        try:
            entry = _gift_entry(form, found)
            committed(lambda: offline_gifts.record_offline_gift(drive_id, entry, current_staff()))
        except offline_gifts.GiftEntryError as error:
            db.session.rollback()
            field = getattr(form, error.field, None) if error.field else None
            if field is not None:
                field.errors = [*field.errors, str(error)]
            else:
                flash(str(error), "error")
        except services.FinanceError as error:
            db.session.rollback()
            flash(str(error), "error")
        else:
            amount = format_money(entry.amount_minor, found.currency)
            method = str(entry.method.label).lower()
            flash(
                _("%(amount)s by %(method)s recorded and counted.", amount=amount, method=method),
                "info",
            )
            return redirect(url_for("finance.drive", drive_id=drive_id))
    if any(field.errors for field in form):
        flash(_("The gift was not recorded: see the form under “Gifts outside Stripe”."), "error")
    return _drive_page(drive_id, form)


@bp.post("/offline-gifts/<donation_id>/reverse")
@role_required(Role.FINANCE)
def reverse_offline_gift(donation_id: str) -> ResponseReturnValue:
    """Reverse a gift outside Stripe another finance user recorded, with a reason."""
    gift = db.session.get(OfflineGift, donation_id)
    if gift is None:
        abort(404)
    drive_id = gift.drive_id
    form = ReversalForm()
    try:
        if not form.validate_on_submit():
            errors = form.reason.errors or [_("Give a reason for the reversal.")]
            raise services.FinanceError(" ".join(str(error) for error in errors))
        reason = form.reason.data or ""
        committed(lambda: offline_gifts.reverse_offline_gift(donation_id, current_staff(), reason))
    except services.FinanceError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        flash(_("Reversed: the gift no longer counts in the drive's totals."), "info")
        if services.ledger_for(drive_id).available < 0:
            flash(
                _(
                    "The drive's available balance is now below zero: money already approved or "
                    "paid out was counted on this gift."
                ),
                "error",
            )
    return redirect(url_for("finance.drive", drive_id=drive_id))


@bp.get("/drives/<int:drive_id>/receipts")
@role_required(Role.FINANCE)
def drive_receipts(drive_id: int) -> ResponseReturnValue:
    """The receipts emailed for a drive's gifts, newest first, each with a button to send the
    donor a copy."""
    found = db.session.get(Drive, drive_id)
    if found is None:
        abort(404)
    return render_template(
        "finance/receipts.html",
        drive=found,
        listing=receipts.receipts_for(drive_id, request.args.get("page", 1, type=int) or 1),
        number=receipts.formatted_number,
        are_sent=receipts.are_sent(),
        form=ResendReceiptForm(formdata=None),
    )


@bp.post("/receipts/<int:receipt_id>/resend")
@role_required(Role.FINANCE)
def resend_receipt(receipt_id: int) -> ResponseReturnValue:
    """Email the donor a copy of their receipt: the same number, marked as a copy."""
    found = db.session.get(Receipt, receipt_id)
    if found is None:
        abort(404)
    drive_id = found.donation.drive_id  # the form's token was checked by CSRFProtect
    try:
        committed(lambda: receipts.resend_receipt(receipt_id, current_staff()))
    except receipts.ReceiptError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        number = receipts.formatted_number(found.number)
        flash(_("A copy of receipt %(number)s is on its way to the donor.", number=number), "info")
    return redirect(url_for("finance.drive_receipts", drive_id=drive_id))


@bp.get("/payouts/<payout_id>")
@role_required(Role.FINANCE)
def payout(payout_id: str) -> ResponseReturnValue:
    """A payout's lines grouped by type, their totals, and the reconcile form."""
    found = db.session.get(Payout, payout_id)
    if found is None:
        abort(404)
    lines = db.session.scalars(
        select(BalanceTransaction)
        .where(BalanceTransaction.payout_id == found.id)
        .order_by(BalanceTransaction.type, BalanceTransaction.created_at)
    ).all()
    groups: dict[str, list[BalanceTransaction]] = {}
    for line in lines:
        groups.setdefault(line.type, []).append(line)
    drives = {d.id: d for d in db.session.scalars(select(Drive))}
    return render_template(
        "finance/payout.html",
        payout=found,
        bank_reference=free_text.bank_reference(found),
        groups=groups,
        drives=drives,
        form=ReconcileForm(),
    )


@bp.post("/payouts/<payout_id>/reconcile")
@role_required(Role.FINANCE)
def reconcile_payout(payout_id: str) -> ResponseReturnValue:
    """Mark a balanced, paid payout reconciled against the bank statement."""
    found = db.session.get(Payout, payout_id)
    if found is None:
        abort(404)
    form = ReconcileForm()
    if form.validate_on_submit():
        try:
            reconcile.mark_reconciled(found, current_staff(), form.bank_reference.data or "")
        except services.FinanceError as error:
            flash(str(error), "error")
        else:
            db.session.commit()
            flash(_("Payout reconciled."), "info")
    else:
        flash(_("Give the bank statement reference."), "error")
    return redirect(url_for("finance.payout", payout_id=found.id))


@bp.post("/payouts/<payout_id>/sync")
@role_required(Role.FINANCE)
def sync_payout(payout_id: str) -> ResponseReturnValue:
    """Fetch the payout's lines from Stripe again."""
    try:
        reconcile.sync_payout(current_gateway(), payout_id)
    except (GatewayUnavailable, GatewayRejected) as error:
        db.session.rollback()
        flash(_("Stripe: %(error)s", error=str(error)), "error")
    else:
        db.session.commit()
        flash(_("Synced from Stripe."), "info")
    return redirect(url_for("finance.payout", payout_id=payout_id))


@bp.get("/disbursements")
@role_required(Role.FINANCE)
def disbursement_list() -> ResponseReturnValue:
    """Every disbursement, with the actions its state allows and its text opened."""
    drives = {d.id: d for d in db.session.scalars(select(Drive))}
    names = {u.id: u.name for u in db.session.scalars(select(User))}
    items = services.disbursements()
    page = render_template(
        "finance/disbursements.html",
        items=items,
        texts=free_text.texts_for(items),
        drives=drives,
        names=names,
        decision_form=DecisionForm(),
        paid_form=PaidForm(),
    )
    db.session.commit()  # the audit records of the cases whose text was opened
    return page


@bp.get("/disbursements/<disbursement_id>/pay")
@role_required(Role.FINANCE)
def pay(disbursement_id: str) -> ResponseReturnValue:
    """Paying an approved disbursement: whom to pay, decrypted for this view (an audited read
    of the payee only, never the case's identity). Nothing is shown for any other status."""
    item = db.session.get(Disbursement, disbursement_id)
    if item is None:
        abort(404)
    if item.status is not DisbursementStatus.APPROVED:
        flash(_("Payee details are shown only for an approved disbursement being paid."), "error")
        return redirect(url_for("finance.disbursement_list"))
    payee = free_text.open_payee(item)
    audit.record(current_staff(), "disbursement.payee_viewed", "disbursement", item.id)
    page = render_template(
        "finance/pay.html",
        item=item,
        payee=payee,
        drive=db.session.get(Drive, item.drive_id),
        paid_form=PaidForm(),
        decision_form=DecisionForm(),
    )
    db.session.commit()  # the audited reads
    response = make_response(page)
    response.headers["Cache-Control"] = "no-store"
    return response


def _decide(disbursement_id: str, action: str) -> ResponseReturnValue:
    user = current_staff()
    decision = DecisionForm()
    try:
        if action == "approve" and decision.validate_on_submit():
            services.approve_disbursement(disbursement_id, user)
        elif action == "reject" and decision.validate_on_submit():
            services.reject_disbursement(disbursement_id, user, decision.reason.data or "")
        elif action == "void" and decision.validate_on_submit():
            services.void_disbursement(disbursement_id, user, decision.reason.data or "")
        elif action == "pay":
            paid = PaidForm()
            if not paid.validate_on_submit():
                raise services.FinanceError(_("Give the payment reference."))
            paid_at = (
                datetime.combine(paid.paid_on.data, time(12), tzinfo=UTC)
                if paid.paid_on.data
                else None
            )
            services.mark_paid(disbursement_id, user, paid.reference.data or "", paid_at)
        else:
            abort(400)
    except services.FinanceError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        db.session.commit()
        flash(_("Saved."), "info")
    return redirect(url_for("finance.disbursement_list"))


@bp.post("/disbursements/<disbursement_id>/<action>")
@role_required(Role.FINANCE)
def decide(disbursement_id: str, action: str) -> ResponseReturnValue:
    """Approve, reject, mark paid or void."""
    if action not in ("approve", "reject", "pay", "void"):
        abort(404)
    if db.session.get(Disbursement, disbursement_id) is None:
        abort(404)
    return _decide(disbursement_id, action)


EXPORTS = {
    "payouts": (exports.PAYOUTS_HEADER, exports.payouts_rows),
    "disbursements": (exports.DISBURSEMENTS_HEADER, exports.disbursements_rows),
    "ledger": (exports.LEDGER_HEADER, exports.ledger_csv_rows),
}
# Exports that open a case's text: each opening audits a read of the case by the signed-in
# user, so their rows are read in the view's transaction rather than while the body streams.
OPENS_CASES = {"disbursements"}


def _csv(name: str, header: list[str], rows: Iterable[list[Any]]) -> Response:
    # The rows are read from the database while the body streams: keep the context open.
    body = stream_with_context(exports.write_csv(header, rows))
    response = Response(body, mimetype="text/csv")
    stamp = now().strftime("%Y%m%d-%H%M")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.csv"'
    return response


@bp.get("/exports/<kind>.csv")
@role_required(Role.FINANCE)
@reauth_required
def export(kind: str) -> ResponseReturnValue:
    """CSV exports, behind re-authentication; audited."""
    if kind == "donations":
        form = DonationsExportForm(request.args)
        start = datetime.combine(form.start.data, time(0), tzinfo=UTC) if form.start.data else None
        end = datetime.combine(form.end.data, time(0), tzinfo=UTC) if form.end.data else None
        drive_id = form.drive.data or None
        audit.record(
            current_staff(), "export.created", "export", kind, drive=str(drive_id or "all")
        )
        db.session.commit()
        return _csv(kind, exports.DONATIONS_HEADER, exports.donations_rows(drive_id, start, end))
    if kind not in EXPORTS:
        abort(404)
    header, rows = EXPORTS[kind]
    audit.record(current_staff(), "export.created", "export", kind)
    body = list(rows()) if kind in OPENS_CASES else rows()
    db.session.commit()
    return _csv(kind, header, body)
