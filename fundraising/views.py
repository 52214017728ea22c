"""Public pages: live drives, a drive's page, giving, the thank-you page and live progress."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    render_template,
    request,
    session,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import generate_csrf
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from extensions import db, limiter
from fundraising import (
    card_testing,
    drive_translations,
    drives,
    payment_methods,
    presentation,
    receipts,
    services,
    share_card,
    sharing,
    webhooks,
)
from fundraising.forms import DonationForm
from fundraising.models import Donation, DonationStatus, Drive, DriveStatus
from fundraising.money import InvalidAmount, parse_amount
from fundraising.presentation import drive_context, progress_payload
from fundraising.public_cache import public_cache
from fundraising.stripe_gateway import (
    GatewayRejected,
    GatewayUnavailable,
    InvalidSignature,
    OnlineMandate,
    PaymentDeclined,
    current_gateway,
)
from security import locales, metrics, transactions
from security.addresses import request_network
from security.errors import json_errors
from security.headers import allows_stripe, csp_nonce
from security.urls import external_url

log = logging.getLogger(__name__)
bp = Blueprint("fundraising", __name__)
bp.add_app_template_global(presentation.percent, "percent")
bp.add_app_template_global(presentation.bar_width, "bar_width")

# Where the cached drive page keeps the per-request CSRF token and CSP nonce (never in a page).
CSRF_HOLE = "\x00csrf-token\x00"
NONCE_HOLE = "\x00csp-nonce\x00"
VIA_HOLE = "\x00via-code\x00"  # and the ?via= channel code of this visit (sharing.py)
UNAVAILABLE = _l(
    "The payment service is unavailable right now. You have not been charged. "
    "Please try again in a few minutes."
)
DATABASE_BUSY = _l(
    "We could not record your gift just now, so it was not sent for payment: you have not "
    "been charged. Please try again in a minute."
)
DECLINED_TOO_OFTEN = _l(
    "Too many attempts: cards from your connection were declined several times on this drive. "
    "You have not been charged. Please wait a few minutes, or give from another connection."
)
REACHED_STRIPE = "donation_reached_stripe"
GIFTS_KEY = "gifts"
MAX_REMEMBERED_GIFTS = 20


def _drive_or_404(slug: str) -> Drive:
    drive = drives.get_drive(slug)
    if drive is None or drive.status is DriveStatus.DRAFT:
        abort(404)
    return drive


def _per_ip_limit() -> str:
    return str(current_app.config["DONATE_RATE_LIMIT_PER_IP"])


def _reached_stripe(_response: Response) -> bool:
    """The per-address limit counts only gifts that were sent to Stripe (card_testing.py)."""
    return bool(g.get(REACHED_STRIPE, False))


def _remember_gift(donation_id: str) -> None:
    gifts = [gift for gift in session.get(GIFTS_KEY, []) if gift != donation_id]
    session[GIFTS_KEY] = [*gifts, donation_id][-MAX_REMEMBERED_GIFTS:]


def _error(message: object, status: int, **extra: Any) -> ResponseReturnValue:
    """A JSON error for the page's script; `message` is shown to the donor as it is (already
    in their language: a gettext string, a lazy one, or a domain error's text)."""
    return jsonify(error=str(message), **extra), status


@bp.get("/")
def index() -> ResponseReturnValue:
    """Drives that are taking gifts now (their titles in the reader's language)."""
    live = drives.live_drives()
    titles = drive_translations.drive_titles(live, locales.current())
    return render_template("fundraising/index.html", drives=live, titles=titles)


@bp.get("/drives/<slug>")
@allows_stripe
def drive_page(slug: str) -> ResponseReturnValue:
    """A drive's story, progress, recent gifts and the donation form.

    Anonymous visitors get the page from the public cache, with this request's own CSRF token
    and CSP nonce put into the holes the cached copy keeps for them."""
    via_code = sharing.clean_via(request.args.get("via")) or ""
    if not _is_anonymous_visit():
        return _render_drive_page(slug, via_code)
    # One cached copy per language: the page is rendered in the reader's locale.
    page = public_cache().get_or_build(
        ("drive", slug, locales.current()), lambda: _drive_page_with_holes(slug)
    )
    if CSRF_HOLE in page:
        page = page.replace(CSRF_HOLE, generate_csrf())
    if NONCE_HOLE in page:
        page = page.replace(NONCE_HOLE, csp_nonce())
    return page.replace(VIA_HOLE, via_code)


def _is_anonymous_visit() -> bool:
    """No staff cookie and nothing flashed: the page is the same as everyone else's."""
    if request.cookies.get(current_app.config["STAFF_COOKIE_NAME"]):
        return False
    return "_flashes" not in session


def _render_drive_page(slug: str, via_code: str) -> str:
    drive = _drive_or_404(slug)
    return render_template(
        "fundraising/drive.html", form=DonationForm(), via_code=via_code, **drive_context(drive)
    )


def _drive_page_with_holes(slug: str) -> str:
    """The page for anyone, with the per-request CSRF token, nonce and channel code cut out."""
    page = _render_drive_page(slug, VIA_HOLE)
    if current_app.config.get("WTF_CSRF_ENABLED", True):
        page = page.replace(generate_csrf(), CSRF_HOLE)
    if "csp_nonce" in g:
        page = page.replace(csp_nonce(), NONCE_HOLE)
    return page


@bp.post("/drives/<slug>/donate")
@json_errors
@limiter.limit(_per_ip_limit, deduct_when=_reached_stripe)
def donate(slug: str) -> ResponseReturnValue:
    """Create and confirm the payment; answer JSON for the page's script."""
    try:
        prepared = _prepare_gift(slug)
    except OperationalError:
        # The database was unreachable or stayed locked (SQLite under a burst of writers)
        # before anything reached Stripe: say so plainly, and that nobody was charged.
        db.session.rollback()
        log.warning("database unavailable before a gift reached Stripe")
        return jsonify(error=str(DATABASE_BUSY)), 503, {"Retry-After": "10"}
    if not isinstance(prepared, PreparedGift):
        return prepared
    _remember_gift(prepared.donation_id)
    return _charge(
        prepared.drive_id, prepared.donation_id, prepared.payment, prepared.payment_method
    )


@dataclass(frozen=True)
class PreparedGift:
    """A gift checked and written as pending, with what the Stripe call needs (plain values:
    no transaction stays open, nor a connection checked out, while Stripe answers)."""

    drive_id: int
    donation_id: str
    payment: dict[str, Any]
    payment_method: str


def _prepare_gift(slug: str) -> PreparedGift | ResponseReturnValue:
    """Check the drive and the form and write the pending donation (committed); or the
    answer that refuses the gift."""
    drive = drives.get_drive(slug)
    if drive is None or drive.status is DriveStatus.DRAFT:
        return _error(_("There is no such drive."), 404)
    if not drives.is_open(drive):
        return _error(_("This drive has ended and is no longer taking gifts."), 410)
    form = DonationForm()
    if not form.validate_on_submit():
        field, errors = next(iter(form.errors.items()))
        return _error(errors[0] if errors else _("Check the form."), 400, field=field)
    if form.currency.data and form.currency.data.lower() != drive.currency:
        return _error(
            _("This drive takes gifts in %(currency)s only.", currency=drive.currency.upper()),
            400,
            field="currency",
        )
    try:
        amount_minor = parse_amount(form.amount.data, drive.currency)
    except InvalidAmount as error:
        return _error(str(error), 400, field="amount")
    gift = services.GiftRequest(
        amount_minor=amount_minor,
        cover_fees=bool(form.cover_fees.data),
        name=form.name.data or "",
        email=form.email.data or "",
        is_anonymous=bool(form.anonymous.data),
        message=form.message.data or "",
        via_code=sharing.clean_via(form.via.data),
        wants_updates=bool(form.wants_updates.data),
        locale=locales.current(),
    )
    if card_testing.is_refused(drive.id, request_network()):
        wait = str(card_testing.retry_after_seconds())
        return jsonify(error=str(DECLINED_TOO_OFTEN)), 429, {"Retry-After": wait}
    try:
        donation = services.start_donation(drive, gift)
    except services.DriveNotOpen as error:
        return _error(str(error), 410)
    except drives.FundraisingError as error:
        return _error(str(error), 400, field="amount")
    prepared = PreparedGift(
        drive.id,
        donation.id,
        _payment_request(drive, donation, gift),
        form.payment_method.data or "",
    )
    db.session.commit()  # the pending row exists before Stripe is asked for anything
    return prepared


def _payment_request(
    drive: Drive, donation: Donation, gift: services.GiftRequest
) -> dict[str, Any]:
    """The PaymentIntent to create, as plain values (read before the pending row commits)."""
    config = current_app.config
    types = payment_methods.offered_for(donation.currency)
    return {
        "amount_minor": donation.amount_minor,
        "currency": donation.currency,
        "idempotency_key": f"donation-{donation.id}",
        "metadata": {"drive_id": str(drive.id), "donation_id": donation.id},
        # Stripe emails its own receipt to this address in live mode; when the app sends
        # its own (receipts.py), one receipt is enough, and Stripe keeps one copy fewer.
        "receipt_email": None if receipts.are_sent() else gift.email.strip() or None,
        "description": drive.receipt_description or config["RECEIPT_DESCRIPTION"],
        "statement_descriptor_suffix": drive.statement_descriptor_suffix
        or config["STATEMENT_DESCRIPTOR_SUFFIX"],
        "return_url": external_url("fundraising.thanks", slug=drive.slug),
        "payment_method_types": types,
        # A bank debit needs the donor's mandate, accepted in this request (given to Stripe
        # only, as Stripe's server-side confirmation asks; never stored or logged here).
        "mandate": OnlineMandate(request.remote_addr or "", request.user_agent.string[:500])
        if payment_methods.needs_mandate(types)
        else None,
    }


def _settle(work: Callable[[], object]) -> None:
    """Write Stripe's answer under the donation's lock, retrying a lost race. If the database
    still fails, the donor is answered with Stripe's result all the same: the webhook and
    `stripe reconcile-pending` write it later through the same path."""
    try:
        transactions.committed(work)
    except SQLAlchemyError as error:
        db.session.rollback()
        log.error("payment result not recorded now (%s); left to the webhook", type(error).__name__)


def _charge(
    drive_id: int, donation_id: str, payment: dict[str, Any], payment_method: str
) -> ResponseReturnValue:
    failed = DonationStatus.FAILED
    g.setdefault(REACHED_STRIPE, True)
    card_testing.record_attempt(drive_id)
    try:
        result = current_gateway().create_payment(payment_method=payment_method, **payment)
    except PaymentDeclined as error:
        card_testing.record_decline(drive_id, request_network())
        _settle(
            partial(
                services.record_payment_failure,
                donation_id,
                failed,
                str(error),
                error.payment_intent_id,
            )
        )
        message = presentation.decline_message(error.code, str(error))
        metrics.count_gift("failed")
        return _error(message, 400, donation_id=donation_id, field="card")
    except GatewayUnavailable:
        unreachable = DonationStatus.UNREACHABLE
        _settle(partial(services.record_payment_failure, donation_id, unreachable))
        log.warning("Stripe unreachable while creating a payment for drive %s", drive_id)
        metrics.count_gift("error")
        return _error(UNAVAILABLE, 503, donation_id=donation_id)
    except GatewayRejected as error:
        _settle(partial(services.record_payment_failure, donation_id, failed, str(error)))
        message = presentation.decline_message(None, str(error), presentation.REFUSED)
        metrics.count_gift("error")  # Stripe refused the request itself: ours to look into
        return _error(message, 400, donation_id=donation_id)
    _settle(partial(services.record_payment, result, donation_id))
    if services.STRIPE_STATUS.get(result.status) is failed:
        card_testing.record_decline(drive_id, request_network())
        metrics.count_gift("failed")
        return _error(
            result.error_message or _("Your card was declined."),
            400,
            donation_id=donation_id,
            field="card",
        )
    status = result.status if result.status in ("succeeded", "requires_action") else "processing"
    metrics.count_gift(status)
    return jsonify(donation_id=donation_id, status=status, client_secret=result.client_secret)


@bp.get("/drives/<slug>/thanks")
def thanks(slug: str) -> ResponseReturnValue:
    """Thank the donor; confirm the payment with Stripe so a late webhook loses nothing."""
    drive = _drive_or_404(slug)
    intent_id = request.args.get("payment_intent", "")
    donation = None
    if intent_id.startswith("pi_") and len(intent_id) < 255:
        donation = services.find_donation_for_intent(intent_id)
    if donation is not None and donation.drive_id != drive.id:
        donation = None
    if donation is not None:
        donation_id = donation.id
        db.session.commit()  # no transaction stays open while Stripe answers
        try:
            result = current_gateway().retrieve_payment(intent_id)
        except (GatewayUnavailable, GatewayRejected):
            result = None
        if result is not None:
            _settle(partial(services.record_payment, result, donation_id))
    is_own = donation is not None and donation.id in session.get(GIFTS_KEY, [])
    title = drive_translations.drive_text(drive, locales.current()).title
    return render_template(
        "fundraising/thanks.html",
        drive=drive,
        drive_title=title,
        donation=donation if is_own else None,
        donor=services.donor_details(donation) if is_own and donation else {},
        share=sharing.share_panel(drive, title),
    )


@bp.get("/drives/<slug>/progress.json")
@json_errors
def progress(slug: str) -> ResponseReturnValue:
    """Raised, goal, donors and the window: polled by every open drive page, so it is cheap
    (the aggregate row, kept in the public cache for a few seconds; 304 when unchanged)."""
    body, etag = public_cache().get_or_build(("progress", slug), lambda: _progress_answer(slug))
    response = Response(body, mimetype="application/json")
    response.set_etag(etag)
    response.headers["Cache-Control"] = "public, max-age=5"
    return response.make_conditional(request)


# Never rate limited: every open drive page polls progress.json (served from the public
# cache), and Stripe's webhook deliveries are verified by signature and must never be refused.
UNLIMITED_ENDPOINTS = frozenset({"fundraising.progress", "webhooks.stripe_webhook"})


@limiter.request_filter
def _is_unlimited() -> bool:
    """A filter (not @limiter.exempt) skips the limiter's work entirely, which on these two
    paths is a fifth of the cost of a request."""
    return request.endpoint in UNLIMITED_ENDPOINTS


def _progress_answer(slug: str) -> tuple[str, str]:
    drive = _drive_or_404(slug)
    payload = progress_payload(drive)
    etag = f"{drive.id}-{drive.totals.version}-{int(payload['open'])}-{drive.status.value}"
    return current_app.json.dumps(payload), etag


@bp.get("/drives/<slug>/cover.jpg")
def cover(slug: str) -> ResponseReturnValue:
    """The drive's cover image (re-encoded, without metadata)."""
    drive = _drive_or_404(slug)
    if drive.cover is None:
        abort(404)
    response = Response(drive.cover.image, mimetype="image/jpeg")
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.set_etag(f"cover-{drive.id}-{drive.cover.version}")
    return response.make_conditional(request)


@bp.get("/drives/<slug>/share.png", endpoint="share_card")
def share_card_image(slug: str) -> ResponseReturnValue:
    """The link-preview image for a drive without a cover: title, progress, raised of goal.

    Drawn at most once per SHARE_CARD_SECONDS per worker and language (share_card.py), whoever
    asks: its words are in the reader's language (the page's og:image names it with ?lang=)."""
    seconds = float(current_app.config["SHARE_CARD_SECONDS"])
    key = ("share-card", slug, locales.current(), share_card.time_bucket(seconds))
    image, etag = public_cache().get_or_build(key, lambda: _share_card(slug), seconds=seconds)
    response = Response(image, mimetype="image/png")
    response.headers["Cache-Control"] = f"public, max-age={int(seconds)}"
    response.vary.update(("Accept-Language", "Cookie"))  # without ?lang=, the language varies
    response.set_etag(etag)
    return response.make_conditional(request)


def _share_card(slug: str) -> tuple[bytes, str]:
    image = share_card.render_card(share_card.card_figures(_drive_or_404(slug)))
    return image, "share-" + hashlib.sha256(image).hexdigest()[:24]


webhook_bp = Blueprint("webhooks", __name__)


@webhook_bp.post("/stripe/webhook")
@json_errors
def stripe_webhook() -> ResponseReturnValue:
    """Stripe's events: verified, stored once, applied; 500 on a handler error so it retries."""
    payload = request.get_data(cache=False)
    try:
        event = current_gateway().verify_webhook(payload, request.headers.get("Stripe-Signature"))
    except InvalidSignature:
        metrics.count_webhook("", "invalid_signature", ())
        return _error("The signature is missing, wrong or too old.", 400)
    event_type, handled = str(event.get("type") or ""), webhooks.handled_types()
    try:
        outcome = transactions.committed(partial(webhooks.receive_event, event))
    except ValueError:
        db.session.rollback()
        metrics.count_webhook(event_type, "not_an_event", handled)
        return _error("Not a Stripe event.", 400)
    except Exception as error:  # any failure: undo all, let Stripe retry
        db.session.rollback()
        log.error("webhook %s failed: %s", event.get("type"), type(error).__name__)
        metrics.count_webhook(event_type, "error", handled)
        return _error("The event could not be applied; it will be retried.", 500)
    metrics.count_webhook(event_type, outcome, handled)
    return jsonify(received=True, outcome=outcome)
