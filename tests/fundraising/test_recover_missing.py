"""`flask stripe recover-missing`: after a restore from backup, the gifts Stripe took since
that backup have no row; the backward pass writes them back from Stripe, counted once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, select, update

from audit.models import AuditRecord
from extensions import db
from fundraising import services
from fundraising.models import Donation, DonationStatus, DriveTotals
from tests.conftest import create_payment_method, start_localstripe, stripe_settings
from tests.factories import make_drive
from tests.fundraising.support import count_donations, recount, totals

AMOUNT = 2500


@pytest.fixture
def own_stripe(tmp_path):
    """A Stripe stand-in of this test's own: the backward pass lists every intent there is."""
    process, base = start_localstripe(tmp_path)
    yield base
    process.terminate()
    process.wait()


@pytest.fixture
def restored(make_app, own_stripe, clock):
    """Three gifts (one with a receipt email) charged through /donate, then the database
    restored from a backup taken before them: the rows and their share of the totals gone."""
    clock.current = datetime.now(UTC)  # localstripe stamps intents with the real time
    app = make_app(**stripe_settings(own_stripe))
    drive_id = make_drive(app)
    client = app.test_client()
    for number in range(3):
        data = {"amount": "25.00", "payment_method": create_payment_method(own_stripe)}
        if number == 0:
            data["email"] = "dana@example.org"
            data["name"] = "Dana Donor"
        answer = client.post("/drives/relocation/donate", data=data)
        assert answer.get_json()["status"] == "succeeded", answer.get_json()
    assert totals(app, drive_id) == (3 * AMOUNT, 3)
    with app.app_context():
        db.session.execute(delete(Donation))
        db.session.execute(
            update(DriveTotals).values(raised_minor=0, donors=0, gross_minor=0, version=0)
        )
        db.session.commit()
    return app, drive_id


def _recover(app, since="1h"):
    return app.test_cli_runner().invoke(args=["stripe", "recover-missing", "--since", since])


def test_gifts_charged_after_the_backup_come_back_counted_once(restored):
    app, drive_id = restored
    result = _recover(app)
    assert result.exit_code == 0, result.output
    assert "3 missing gifts recovered" in result.output
    assert totals(app, drive_id) == recount(app, drive_id) == (3 * AMOUNT, 3)
    with app.app_context():
        gifts = db.session.scalars(select(Donation)).all()
        assert {gift.status for gift in gifts} == {DonationStatus.SUCCEEDED}
        assert all(gift.is_anonymous and gift.public_name is None for gift in gifts)
        emails = {services.donor_details(gift)["email"] for gift in gifts}
        assert emails == {"dana@example.org", None}  # what Stripe kept; the name is gone
        actions = db.session.scalars(select(AuditRecord.action)).all()
        assert actions.count("donation.recovered_from_stripe") == 3

    again = _recover(app)
    assert again.exit_code == 0, again.output
    assert "0 missing gifts recovered" in again.output
    assert totals(app, drive_id) == (3 * AMOUNT, 3)
    assert count_donations(app) == 3


def test_a_bad_age_or_a_silent_stripe_changes_nothing(restored, make_app):
    app, drive_id = restored
    for bad in ("", "yesterday", "2", "-1d"):
        result = _recover(app, bad)
        assert result.exit_code == 2
        assert "is not an age" in result.output
    down = make_app(
        STRIPE_SECRET_KEY="sk_test_x",
        STRIPE_API_BASE="http://127.0.0.1:9",
        STRIPE_TIMEOUT_SECONDS=1,
    )
    result = _recover(down)
    assert result.exit_code == 1
    assert "nothing was changed" in result.output
    assert count_donations(app) == 0
    assert totals(app, drive_id) == (0, 0)
