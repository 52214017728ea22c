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
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlalchemy import select

import audit
from accounts.guards import current_staff, reauth_required, role_required
from accounts.models import Role, User
from extensions import db
from finance import charts, exports, free_text, reconcile, services
from finance.forms import DecisionForm, DonationsExportForm, PaidForm, ReconcileForm
from finance.models import BalanceTransaction, Disbursement, DisbursementStatus, Payout
from fundraising.models import Drive
from fundraising.stripe_gateway import GatewayRejected, GatewayUnavailable, current_gateway
from security.clock import now

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
    form.drive.choices = [(0, "All drives")] + [
        (drive.id, drive.title) for drive in db.session.scalars(select(Drive).order_by(Drive.title))
    ]
    return form


@bp.get("/drives/<int:drive_id>")
@role_required(Role.FINANCE)
def drive(drive_id: int) -> ResponseReturnValue:
    """One drive's ledger with its charts."""
    try:
        row = services.ledger_for(drive_id)
    except services.FinanceError:
        abort(404)
    per_hour, cumulative = charts.gifts_per_hour(row.drive, row.gross)
    spending = {
        category.label: amount
        for category, amount in services.spending_by_category(drive_id).items()
    }
    return render_template(
        "finance/drive.html",
        row=row,
        per_hour=per_hour,
        cumulative=cumulative,
        spending=charts.by_category(
            spending, row.drive.currency, f"Money paid out from {row.drive.title}, by category"
        ),
    )


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
            flash("Payout reconciled.", "info")
    else:
        flash("Give the bank statement reference.", "error")
    return redirect(url_for("finance.payout", payout_id=found.id))


@bp.post("/payouts/<payout_id>/sync")
@role_required(Role.FINANCE)
def sync_payout(payout_id: str) -> ResponseReturnValue:
    """Fetch the payout's lines from Stripe again."""
    try:
        reconcile.sync_payout(current_gateway(), payout_id)
    except (GatewayUnavailable, GatewayRejected) as error:
        db.session.rollback()
        flash(f"Stripe: {error}", "error")
    else:
        db.session.commit()
        flash("Synced from Stripe.", "info")
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
                raise services.FinanceError("Give the payment reference.")
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
        flash("Saved.", "info")
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
