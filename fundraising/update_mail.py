"""Drive updates by email, in background jobs (security/jobs.py), never from a request.

Posting an update starts one job that picks the recipients (the drive's donors who ticked
"Email me updates", whose gift succeeded, one per address) and starts one job per address; each
of those opens the address at sending time, so the queue holds ids only, and a failed send is
retried alone. Every mail carries a one-click unsubscribe link, in its text and in its
List-Unsubscribe header: a signed token naming the donation, never the address.

Each mail is written in the language its donor gave in (`donations.locale`; English for gifts
from before languages were recorded), never in the language of the admin whose request ran
the job when jobs run at once."""

from __future__ import annotations

import logging
from email.message import EmailMessage

from babel.dates import format_date
from flask import Flask, current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer

from accounts import mail
from extensions import db
from fundraising import drive_translations, updates
from fundraising.models import DriveUpdate
from security import jobs, locales
from security.urls import external_url

log = logging.getLogger(__name__)
UNSUBSCRIBE_SALT = "drive-updates-unsubscribe"  # what the signature is for (not a secret)


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=UNSUBSCRIBE_SALT)


def unsubscribe_token(donation_id: str) -> str:
    """The signed token in an unsubscribe link (it does not expire: old mails keep working)."""
    return str(_serializer().dumps(donation_id))


def donation_for_token(token: str) -> str | None:
    """The donation id a token was signed for, or None for a forged or damaged one."""
    try:
        value = _serializer().loads(token)
    except BadSignature:
        return None
    return value if isinstance(value, str) and len(value) <= 36 else None


def unsubscribe_url(donation_id: str) -> str:
    return external_url("drive_updates_public.unsubscribe", token=unsubscribe_token(donation_id))


def mail_update(update_id: int) -> None:
    """The job started when an update is posted: one sending job per subscribed address."""
    update = db.session.get(DriveUpdate, update_id)
    if update is None:  # deleted before the job ran
        return
    if not mail.is_configured():
        log.info("drive update %s not emailed: SMTP is not configured", update_id)
        return
    for donation_id in updates.recipients(update.drive_id):
        jobs.enqueue(updates.SEND_TASK, update_id, donation_id)


def send_update(update_id: int, donation_id: str) -> None:
    """Mail one update to one address, if it is still subscribed; raises MailNotSent (so the
    job is retried) when the mail server does not take it."""
    update = db.session.get(DriveUpdate, update_id)
    subscriber = updates.subscribed_address(donation_id)
    if update is None or subscriber is None:  # deleted, or unsubscribed since
        return
    donation, address = subscriber
    mail.deliver([update_message(update, donation_id, address, donation.locale)])


def update_message(
    update: DriveUpdate, donation_id: str, address: str, locale: str | None = None
) -> EmailMessage:
    """The mail: the update's text, a link to it, and the unsubscribe link (also as headers),
    in `locale` (the donor's language when known; English otherwise)."""
    language = locale if locale in locales.LANGUAGES else locales.DEFAULT
    leave = unsubscribe_url(donation_id)
    with force_locale(language):
        subject, body = _update_text(update, leave, language)
    message = mail.new_message(address, subject, body)
    message["List-Unsubscribe"] = f"<{leave}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"  # RFC 8058
    message["Auto-Submitted"] = "auto-generated"  # no out-of-office replies
    return message


def _update_text(update: DriveUpdate, leave: str, language: str) -> tuple[str, str]:
    """The subject and the text, in the language forced around the call (the update and the
    drive's title in their translation to it, where an admin wrote one by sending time)."""
    drive = update.drive
    text = drive_translations.update_texts([update], language)[update.id]
    organisation = current_app.config["ORGANISATION_NAME"]
    link = external_url("fundraising.drive_page", slug=drive.slug) + f"#update-{update.id}"
    heading = text.title or _("An update")
    posted = format_date(update.posted_at, "dd MMMM yyyy", locale=language)
    read_it = _("Read it on the drive's page:")
    why = _(
        "You get this because you asked for updates when you gave to %(title)s.",
        title=drive_translations.drive_text(drive, language).title,
    )
    stop = _("To stop them, open this link (one click, nothing to fill in):")
    body = f"{heading}\n{posted}\n\n{text.body}\n\n{read_it}\n{link}\n\n{why}\n{stop}\n{leave}\n"
    # A neutral subject: a notification on a locked phone shows it to anyone nearby.
    return _("An update from %(organisation)s", organisation=organisation), body


def init_app(app: Flask) -> None:
    """Register the two jobs."""
    jobs.add_task(app, updates.MAIL_TASK, mail_update)
    jobs.add_task(app, updates.SEND_TASK, send_update)
