"""Drive updates: admins post, edit and delete them (audited); donors who asked get each new
one by email (fundraising/update_mail.py) until they unsubscribe."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select

import audit
from accounts.models import User
from extensions import db
from fundraising import services
from fundraising.drives import FundraisingError
from fundraising.models import Donation, DonationStatus, Drive, DriveUpdate
from security import jobs
from security.clock import now

MAIL_TASK = "drive_update.mail"
SEND_TASK = "drive_update.send"
MAX_TITLE = 160
MAX_BODY = 20000
SHOWN_ON_PAGE = 50


class UpdateError(FundraisingError):
    """An update that cannot be saved; the message says why."""


@dataclass(frozen=True)
class UpdateText:
    """What an admin writes: an optional title and a Markdown body."""

    title: str
    body: str


def check_text(text: UpdateText) -> UpdateText:
    """The update's title and text trimmed, or UpdateError saying what is wrong."""
    title, body = text.title.strip(), text.body.strip()
    if not body:
        raise UpdateError(_("Write the update: its text cannot be empty."))
    if len(body) > MAX_BODY:
        raise UpdateError(_("Keep the update under %(count)d characters.", count=MAX_BODY))
    if len(title) > MAX_TITLE:
        raise UpdateError(_("Keep the title under %(count)d characters.", count=MAX_TITLE))
    return UpdateText(title, body)


def post_update(drive: Drive, text: UpdateText, *, is_emailed: bool, actor: User) -> DriveUpdate:
    """Publish an update on the drive's page and feed (audited); with `is_emailed`, mail it to
    the donors who asked, in a job started once the caller commits."""
    checked = check_text(text)
    update = DriveUpdate(
        drive_id=drive.id,
        drive=drive,
        title=checked.title,
        body=checked.body,
        posted_at=now(),
        is_emailed=is_emailed,
    )
    db.session.add(update)
    db.session.flush()
    audit.record(
        actor,
        "drive_update.posted",
        "drive_update",
        update.id,
        drive=drive.id,
        method="page_and_email" if is_emailed else "page",
    )
    if is_emailed:
        jobs.enqueue(MAIL_TASK, update.id)
    return update


def edit_update(update: DriveUpdate, text: UpdateText, *, actor: User) -> None:
    """Change an update's title and text (audited); it is not mailed again."""
    checked = check_text(text)
    update.title, update.body = checked.title, checked.body
    update.edited_at = now()
    audit.record(actor, "drive_update.edited", "drive_update", update.id, drive=update.drive_id)


def delete_update(update: DriveUpdate, *, actor: User) -> None:
    """Take an update off the page and the feed for good (audited)."""
    audit.record(actor, "drive_update.deleted", "drive_update", update.id, drive=update.drive_id)
    db.session.delete(update)


def updates_for(drive_id: int, limit: int = SHOWN_ON_PAGE) -> list[DriveUpdate]:
    """A drive's updates, newest first."""
    return list(
        db.session.scalars(
            select(DriveUpdate)
            .where(DriveUpdate.drive_id == drive_id)
            .order_by(DriveUpdate.posted_at.desc(), DriveUpdate.id.desc())
            .limit(limit)
        )
    )


def get_update(drive_id: int, update_id: int) -> DriveUpdate | None:
    """One of a drive's updates (None when it is another drive's, or gone)."""
    update = db.session.get(DriveUpdate, update_id)
    return update if update is not None and update.drive_id == drive_id else None


# --- Who gets them --------------------------------------------------------------------------


def _address(donation: Donation) -> str | None:
    email = services.donor_details(donation)["email"]
    return email.strip() if email else None


def _same_address(address: str) -> str:
    return address.casefold()


def _subscribed(drive_id: int, *, only_succeeded: bool = True) -> list[Donation]:
    """The drive's gifts with consent to updates, not withdrawn, oldest first (those that
    succeeded, unless told otherwise)."""
    query = select(Donation).where(
        Donation.drive_id == drive_id,
        Donation.updates_consented_at.is_not(None),
        Donation.updates_withdrawn_at.is_(None),
        Donation.email_sealed.is_not(None),
    )
    if only_succeeded:
        query = query.where(Donation.status == DonationStatus.SUCCEEDED)
    return list(db.session.scalars(query.order_by(Donation.created_at, Donation.id)))


def recipients(drive_id: int) -> list[str]:
    """One donation id per address that asked for the drive's updates (an address that gave
    three times gets one mail)."""
    chosen: dict[str, str] = {}
    for donation in _subscribed(drive_id):
        address = _address(donation)
        if address:
            chosen.setdefault(_same_address(address), donation.id)
    return list(chosen.values())


def subscribed_address(donation_id: str) -> tuple[Donation, str] | None:
    """The donation and its address, if it is still subscribed (checked when each mail goes)."""
    donation = db.session.get(Donation, donation_id)
    if (
        donation is None
        or donation.status is not DonationStatus.SUCCEEDED
        or donation.updates_consented_at is None
        or donation.updates_withdrawn_at is not None
    ):
        return None
    address = _address(donation)
    return (donation, address) if address else None


def unsubscribe(donation_id: str) -> Drive | None:
    """Stop the drive's updates to this donation's address, for every gift it made to the
    drive; the drive, or None when there is no such donation. Saying it twice is harmless."""
    donation = db.session.get(Donation, donation_id)
    if donation is None:
        return None
    address = _address(donation)
    moment = now()
    if donation.updates_withdrawn_at is None:
        donation.updates_withdrawn_at = moment
    if address:
        # A gift still being paid counts too: it must not start the mails again later.
        for other in _subscribed(donation.drive_id, only_succeeded=False):
            other_address = _address(other)
            if other_address and _same_address(other_address) == _same_address(address):
                other.updates_withdrawn_at = moment
    return donation.drive
