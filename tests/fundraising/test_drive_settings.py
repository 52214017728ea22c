"""A drive's settings obey one set of rules, whether the drive is being created or changed."""

from __future__ import annotations

from dataclasses import replace

import pytest

from accounts.models import Role, User
from extensions import db
from fundraising import drives
from fundraising.models import Drive
from tests.factories import make_drive, make_user


def _settings(drive: Drive) -> drives.DriveSettings:
    return drives.DriveSettings(
        slug=drive.slug,
        title=drive.title,
        goal_minor=drive.goal_minor,
        currency=drive.currency,
        starts_at=drive.starts_at,
        ends_at=drive.ends_at,
        story=drive.story,
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"slug": "Not A Slug"}, "lower-case letters"),
        ({"title": "   "}, "needs a title"),
        ({"goal_minor": 0}, "more than zero"),
        ({"currency": "xyz"}, "not supported"),
        ({"slug": "taken"}, "already exists"),
    ],
)
def test_a_change_that_breaks_a_rule_is_refused_and_changes_nothing(app, change, message):
    drive_id = make_drive(app)
    make_drive(app, slug="taken")
    admin_id = make_user(app, Role.ADMIN)
    with app.app_context():
        drive = db.session.get(Drive, drive_id)
        before = _settings(drive)
        with pytest.raises(drives.FundraisingError, match=message):
            drives.update_drive(
                drive, replace(before, **change), actor=db.session.get(User, admin_id)
            )
        db.session.rollback()
        assert _settings(db.session.get(Drive, drive_id)) == before


def test_a_change_keeps_the_minimum_and_suggestions_it_does_not_give(app):
    drive_id = make_drive(app)
    admin_id = make_user(app, Role.ADMIN)
    with app.app_context():
        drive = db.session.get(Drive, drive_id)
        minimum, suggested = drive.minimum_minor, drive.suggested_minor
        changed = replace(_settings(drive), title="  Relocate six people ", goal_minor=7_000_000)
        drives.update_drive(drive, changed, actor=db.session.get(User, admin_id))
        db.session.commit()
        drive = db.session.get(Drive, drive_id)
        assert (drive.title, drive.goal_minor) == ("Relocate six people", 7_000_000)
        assert (drive.minimum_minor, drive.suggested_minor) == (minimum, suggested)
