"""Optional email (invitation and reset links, security events, drive updates and receipts to
donors), when SMTP settings are given. Every message the app sends goes through `deliver`."""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from email.message import EmailMessage

from flask import current_app, g, has_request_context
from flask_babel import force_locale

from security import locales

log = logging.getLogger(__name__)

# How the connection to SMTP_HOST is protected: STARTTLS (port 587), TLS from the start
# (port 465), or nothing, which config.py allows only for a relay on this machine.
SMTP_SECURITY_CHOICES = ("starttls", "ssl", "none")


def _connect() -> smtplib.SMTP:
    config = current_app.config
    host, port, security = config["SMTP_HOST"], config["SMTP_PORT"], config["SMTP_SECURITY"]
    context = ssl.create_default_context()
    if security == "ssl":
        return smtplib.SMTP_SSL(host, port, timeout=10, context=context)
    smtp = smtplib.SMTP(host, port, timeout=10)
    if security == "starttls":
        smtp.starttls(context=context)
    return smtp


class MailNotSent(RuntimeError):
    """SMTP is not configured, or the server could not be reached or refused a message. The
    text names the error's type only: an SMTP server's answer can quote the recipient."""


def is_configured() -> bool:
    """Whether the app can send email at all (SMTP_HOST and SMTP_FROM are set)."""
    config = current_app.config
    return bool(config.get("SMTP_HOST") and config.get("SMTP_FROM"))


def new_message(recipient: str, subject: str, body: str) -> EmailMessage:
    """A plain-text message from SMTP_FROM to one recipient."""
    message = EmailMessage()
    message["From"] = current_app.config["SMTP_FROM"]
    message["To"] = recipient
    message["Subject"] = subject
    message.set_content(body)
    return message


def deliver(messages: Sequence[EmailMessage]) -> None:
    """Send prepared messages over one SMTP connection; raise MailNotSent when any is not."""
    if not is_configured():
        raise MailNotSent("SMTP is not configured")
    config = current_app.config
    try:
        with _connect() as smtp:
            if config.get("SMTP_USERNAME"):
                smtp.login(config["SMTP_USERNAME"], config["SMTP_PASSWORD"] or "")
            for message in messages:
                smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        raise MailNotSent(type(error).__name__) from None


def send_mail(recipients: list[str], subject: str, body: str) -> bool:
    """Send a plain-text message to each recipient (one message each, so nobody sees the
    others' addresses) if SMTP is configured; return whether they were all sent."""
    if not is_configured() or not recipients:
        return False
    try:
        deliver([new_message(recipient, subject, body) for recipient in recipients])
    except MailNotSent as error:
        log.warning("email not sent: %s", error)
        return False
    return True


@contextmanager
def in_staff_language() -> Iterator[None]:
    """Mail to staff is written in the language of the signed-in staff member whose action
    sends it (as their pages are); otherwise (a sign-in attempt, a donor's request, the command
    line) in English, so nobody outside the staff picks the language admins are alerted in."""
    if has_request_context() and g.get("staff_session") is not None:  # set by guards' loader
        yield
        return
    with force_locale(locales.DEFAULT):
        yield


def send_link(email: str, subject: str, body: str) -> bool:
    """Send an invitation or reset link to the person it is for."""
    return send_mail([email], subject, body)
