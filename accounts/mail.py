"""Optional email for invitation links, when SMTP settings are given."""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage

from flask import current_app

log = logging.getLogger(__name__)


def send_link(email: str, subject: str, body: str) -> bool:
    """Send a plain-text message if SMTP is configured; return whether it was sent."""
    config = current_app.config
    if not config.get("SMTP_HOST") or not config.get("SMTP_FROM"):
        return False
    message = EmailMessage()
    message["From"] = config["SMTP_FROM"]
    message["To"] = email
    message["Subject"] = subject
    message.set_content(body)
    try:
        with smtplib.SMTP(config["SMTP_HOST"], config["SMTP_PORT"], timeout=10) as smtp:
            smtp.starttls(context=ssl.create_default_context())
            if config.get("SMTP_USERNAME"):
                smtp.login(config["SMTP_USERNAME"], config["SMTP_PASSWORD"] or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        log.warning("invitation email not sent: %s", type(error).__name__)
        return False
    return True
