"""Optional email (invitation and reset links, security events), when SMTP settings are given."""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage

from flask import current_app

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


def send_mail(recipients: list[str], subject: str, body: str) -> bool:
    """Send a plain-text message to each recipient (one message each, so nobody sees the
    others' addresses) if SMTP is configured; return whether they were all sent."""
    config = current_app.config
    if not config.get("SMTP_HOST") or not config.get("SMTP_FROM") or not recipients:
        return False
    try:
        with _connect() as smtp:
            if config.get("SMTP_USERNAME"):
                smtp.login(config["SMTP_USERNAME"], config["SMTP_PASSWORD"] or "")
            for recipient in recipients:
                message = EmailMessage()
                message["From"] = config["SMTP_FROM"]
                message["To"] = recipient
                message["Subject"] = subject
                message.set_content(body)
                smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        log.warning("email not sent: %s", type(error).__name__)
        return False
    return True


def send_link(email: str, subject: str, body: str) -> bool:
    """Send an invitation or reset link to the person it is for."""
    return send_mail([email], subject, body)
