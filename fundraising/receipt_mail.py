"""The receipt email, in a background job (security/jobs.py), never from a request.

The job gets the receipt's id and whether it is a copy; it opens the donor's address at sending
time, so the queue holds no personal data, and a failed send is retried. The mail is written
in the language the donor gave in, with the amount and date in that locale's format.

What it says is the organisation's legal details (RECEIPT_LEGAL_NAME, else ORGANISATION_NAME;
RECEIPT_REGISTRATION_NUMBER; RECEIPT_ADDRESS), the receipt number, the date and amount of the
gift, and what it was for in the same neutral words Stripe's receipt and the card statement
use (the drive's receipt text, else RECEIPT_DESCRIPTION): never the drive's title, which can
name a cause, nor the donor's message, nor anything about anyone else. The subject and the
sender's name are neutral too, as a notification on a locked phone shows them to anyone near:
"Receipt SP-000042: Donation", from "Receipts"."""

from __future__ import annotations

import logging
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import parseaddr

from babel.dates import format_date
from flask import Flask, current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from accounts import mail
from extensions import db
from fundraising import receipts, services
from fundraising.models import Receipt
from fundraising.money import format_money
from security import jobs, locales
from security.clock import now

log = logging.getLogger(__name__)
DEFAULT_DESCRIPTION = "Donation"  # config.py's RECEIPT_DESCRIPTION default, translated


def send_receipt(receipt_id: int, is_copy: int) -> None:
    """Mail a receipt (or a copy of it) to the donor's address; raises MailNotSent (so the
    job is retried) when the mail server does not take it."""
    receipt = db.session.get(Receipt, receipt_id)
    if receipt is None:
        return
    if not mail.is_configured():
        log.info("receipt %s not emailed: SMTP is not configured", receipt_id)
        return
    address = services.donor_details(receipt.donation)["email"]
    if not address:
        return
    mail.deliver([receipt_message(receipt, address, is_copy=bool(is_copy))])
    receipt.sent_at = now()


def _description(receipt: Receipt) -> str:
    configured = receipt.donation.drive.receipt_description or str(
        current_app.config["RECEIPT_DESCRIPTION"]
    )
    return _("Donation") if configured == DEFAULT_DESCRIPTION else configured


def receipt_text(receipt: Receipt, *, is_copy: bool = False) -> tuple[str, str]:
    """The subject and body of a receipt, in the current locale."""
    config = current_app.config
    donation = receipt.donation
    locale = locales.current()
    number = receipts.formatted_number(receipt.number)
    description = _description(receipt)
    named = {"number": number, "description": description}
    amount = donation.amount_minor
    given_on = format_date(donation.succeeded_at or receipt.issued_at, "long", locale=locale)
    lines = [str(config.get("RECEIPT_LEGAL_NAME") or config["ORGANISATION_NAME"])]
    if config.get("RECEIPT_ADDRESS"):
        lines.append(str(config["RECEIPT_ADDRESS"]))
    if config.get("RECEIPT_REGISTRATION_NUMBER"):
        lines.append(
            _("Registration number: %(number)s", number=config["RECEIPT_REGISTRATION_NUMBER"])
        )
    lines.append("")
    if is_copy:
        issued_on = format_date(receipt.issued_at, "long", locale=locale)
        lines += [
            _(
                "COPY: sent again at your request. The receipt was first issued on %(date)s.",
                date=issued_on,
            ),
            "",
        ]
    lines += [
        _("Receipt number: %(number)s", number=number),
        _("Date of gift: %(date)s", date=given_on),
        _("Amount: %(amount)s", amount=format_money(amount, donation.currency, locale)),
        _("For: %(description)s", description=description),
        "",
        _("Thank you for your gift. Please keep this receipt for your records."),
    ]
    if is_copy:
        subject = _("Copy of receipt %(number)s: %(description)s", **named)
    else:
        subject = _("Receipt %(number)s: %(description)s", **named)
    return subject, "\n".join(lines) + "\n"


def receipt_message(receipt: Receipt, address: str, *, is_copy: bool = False) -> EmailMessage:
    """The mail, in the donor's language, from a neutral sender name."""
    with force_locale(receipt.donation.locale or locales.DEFAULT):
        subject, body = receipt_text(receipt, is_copy=is_copy)
        sender = _("Receipts")
    message = mail.new_message(address, subject, body)
    _name, sender_address = parseaddr(str(current_app.config["SMTP_FROM"]))
    if sender_address:
        # SMTP_FROM's own display name may name the organisation: replaced by a neutral one.
        del message["From"]
        message["From"] = Address(display_name=sender, addr_spec=sender_address)
    message["Auto-Submitted"] = "auto-generated"  # no out-of-office replies
    return message


def init_app(app: Flask) -> None:
    """Register the sending job."""
    jobs.add_task(app, receipts.SEND_TASK, send_receipt)
