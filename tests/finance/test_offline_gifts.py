"""Gifts outside Stripe: finance records a bank transfer, cheque, cash or a card payment arranged
by hand against a drive. It counts at once, and by exactly its amount, everywhere a total is
shown (progress.json, the ledger, the charts, the CSV exports); a bad entry changes nothing; the
reference and the donor's name are sealed, in the tables and in the audit log; and only a second
finance user can reverse it, which takes it out of every total again."""

from __future__ import annotations

import csv
import html
import io
import json
import re
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from accounts.models import Role, User
from audit.models import AuditRecord
from extensions import db
from finance import charts, offline_gifts, services
from finance.models import OfflineGift
from fundraising import offline_gifts as counting
from fundraising.models import Donation, DonationStatus, Drive, DriveStatus, GiftMethod
from fundraising.services import recount
from security.transactions import committed
from tests.factories import StaffMember, audit_actions, count_rows, make_drive
from tests.finance.conftest import donate
from tests.fundraising.stripe_objects import deliver
from tests.fundraising.support import make_gift

REFERENCE = "BARCLAYS FPS 21NOV J OKONKWO-HALE 88431"
DONOR = "Jamila Okonkwo-Hale"


@pytest.fixture
def finance(staff: Any) -> StaffMember:
    return staff(Role.FINANCE)


@pytest.fixture
def second(staff: Any) -> StaffMember:
    return staff(Role.FINANCE)


def entry(clock: Any, **fields: str) -> dict[str, str]:
    """The recording form as finance fills it in (a bank transfer received yesterday)."""
    form = {
        "amount": "1250.50",
        "received_on": (clock() - timedelta(days=1)).date().isoformat(),
        "method": "bank_transfer",
        "reference": REFERENCE,
        "donor_name": DONOR,
    }
    form.update(fields)
    return form


def record(member: StaffMember, drive_id: int, form: dict[str, str]) -> Any:
    return member.client.post(
        f"/finance/drives/{drive_id}/offline-gifts", data=form, follow_redirects=True
    )


def gift_id(app: Any) -> str:
    with app.app_context():
        found = db.session.scalars(select(OfflineGift.donation_id)).all()
    assert len(found) == 1
    return found[0]


def reverse(member: StaffMember, donation_id: str, reason: str = "Entered twice") -> Any:
    return member.client.post(
        f"/finance/offline-gifts/{donation_id}/reverse",
        data={"reason": reason},
        follow_redirects=True,
    )


def _csv(member: StaffMember, kind: str) -> list[dict[str, str]]:
    response = member.client.get(f"/finance/exports/{kind}.csv")
    assert response.status_code == 200, response.headers.get("Location")
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def _chart(app: Any, drive_id: int) -> tuple[int, str]:
    """Gifts drawn in the per-hour bars, and the cumulative chart's "in all" label."""
    with app.app_context():
        drive = db.session.get(Drive, drive_id)
        assert drive is not None
        per_hour, cumulative = charts.gifts_per_hour(drive, services.ledger_for(drive_id).gross)
    gifts = sum(int(count) for count in re.findall(r"<title>(\d+) gifts?</title>", per_hour))
    in_all = re.search(r">([^<>]+) in all<", cumulative)
    assert in_all is not None
    return gifts, in_all.group(1)


def seen(app: Any, member: StaffMember, drive_id: int) -> dict[str, Any]:
    """Every total a person can see for the drive: the public progress.json, the finance
    ledger (page and CSV), the charts and the donations CSV; and the recount from the rows."""
    member.reauthenticate()  # exports ask for it
    with app.app_context():
        drive = db.session.get(Drive, drive_id)
        assert drive is not None
        slug, currency = drive.slug, drive.currency
        row = services.ledger_for(drive_id)
        ledger = (row.gross, row.net, row.available, row.outside_stripe)
        counted = recount(drive_id)
    progress = app.test_client().get(f"/drives/{slug}/progress.json").get_json()
    donations = [line for line in _csv(member, "donations") if line["drive"] == slug]
    ledger_csv = next(line for line in _csv(member, "ledger") if line["drive"] == slug)
    return {
        "progress": (progress["raised_minor"], progress["donors"]),
        "recount": counted,
        "ledger": ledger,
        "ledger_csv": (ledger_csv["gross"], ledger_csv["net"], ledger_csv["outside_stripe"]),
        "chart": _chart(app, drive_id),
        "succeeded_in_csv": sorted(
            line["amount"] for line in donations if line["status"] == "succeeded"
        ),
        "currency": currency,
    }


# --- Recording ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "method", "typed", "minor", "shown"),
    [
        ("usd", "bank_transfer", "1250.50", 125_050, "$1,250.50"),
        ("usd", "cheque", "80", 8_000, "$80.00"),
        ("jpy", "cash", "30000", 30_000, "¥30,000"),
        # Above the online limit (DONATION_MAX_MAJOR, 10,000): taken by card by hand.
        ("usd", "card_by_hand", "25000.00", 2_500_000, "$25,000.00"),
    ],
)
def test_a_recorded_gift_moves_every_total_by_exactly_its_amount(
    app, clock, finance, currency, method, typed, minor, shown
):
    drive_id = make_drive(app, currency=currency)
    donate(app, drive_id, 5_000, intent_id="pi_card_first")
    before = seen(app, finance, drive_id)

    page = record(finance, drive_id, entry(clock, amount=typed, method=method))
    assert page.status_code == 200
    assert f"{shown} by {GiftMethod(method).label.lower()} recorded and counted." in page.text
    after = seen(app, finance, drive_id)

    assert after["progress"] == (before["progress"][0] + minor, before["progress"][1] + 1)
    assert after["recount"] == after["progress"]
    gross, net, available, outside = before["ledger"]
    assert after["ledger"] == (gross + minor, net + minor, available + minor, outside + minor)
    assert after["chart"][0] == before["chart"][0] + 1
    assert after["chart"][1] == _money(app, gross + minor, currency)
    added = sorted(set(after["succeeded_in_csv"]) - set(before["succeeded_in_csv"]))
    assert added == [typed if "." in typed or currency == "jpy" else f"{typed}.00"]
    assert after["ledger_csv"][2] == added[0]
    assert audit_actions(app, "offline_gift.") == ["offline_gift.recorded"]

    # The export says how and when it came, and its reference; the ledger page lists it.
    exported = next(line for line in _csv(finance, "donations") if line["method"] == method)
    assert exported["received_on"] == entry(clock)["received_on"]
    assert exported["reference"] == REFERENCE
    assert exported["donor_name"] == DONOR
    listed = finance.client.get(f"/finance/drives/{drive_id}").text
    assert [REFERENCE in listed, DONOR in listed, shown in listed] == [True] * 3


def _money(app: Any, amount_minor: int, currency: str) -> str:
    from fundraising.money import format_money

    return format_money(amount_minor, currency)


def test_the_gift_shows_on_the_public_page_as_anonymous(app, clock, client, finance):
    drive_id = make_drive(app)
    record(finance, drive_id, entry(clock))
    public = client.get("/drives/relocation").text
    assert "$1,250.50" in public
    assert [secret in public for secret in (DONOR, "Jamila", REFERENCE)] == [False] * 3


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"amount": "0"}, "The amount must be more than zero."),
        ({"amount": "0.00"}, "The amount must be more than zero."),
        ({"amount": "-50"}, "The amount must be more than zero."),
        ({"amount": "fifty"}, "Enter the amount as a number, e.g. 25 or 25.50."),
        ({"amount": "1,250.50"}, "Enter the amount as digits only"),
        ({"amount": ""}, "Enter the amount received."),
        ({"amount": "12.345"}, "Use at most 2 digits after the decimal point."),
        ({"amount": "99999999999"}, "That amount is too large."),
        ({"received_on": "tomorrow"}, "The date received cannot be in the future."),
        ({"received_on": ""}, "Give the date the money was received."),
        ({"received_on": "21/11/2026"}, "Enter the date received as a date, e.g. 2026-11-20."),
        ({"method": "wire"}, "Choose how the gift was made: bank transfer, cheque, cash or card"),
        ({"method": "stripe"}, "Choose how the gift was made: bank transfer, cheque, cash or card"),
        ({"method": ""}, "Choose how the gift was made: bank transfer, cheque, cash or card"),
        ({"reference": ""}, "Give a reference (the bank line, cheque number or receipt number)."),
        ({"reference": "   "}, "Give a reference (the bank line, cheque number or receipt"),
        ({"reference": "x" * 121}, "Keep the reference to 120 characters."),
        ({"donor_name": "x" * 121}, "Keep the name to 120 characters."),
    ],
)
def test_each_bad_entry_is_refused_with_a_clear_message_and_changes_nothing(
    app, clock, finance, fields, message
):
    drive_id = make_drive(app)
    before = seen(app, finance, drive_id)
    if fields.get("received_on") == "tomorrow":
        fields = {"received_on": (clock() + timedelta(days=1)).date().isoformat()}
    page = record(finance, drive_id, entry(clock, **fields))
    assert page.status_code == 200
    assert message in page.text
    assert 'aria-invalid="true"' in page.text  # next to the field it is about
    assert "The gift was not recorded: see the form" in page.text  # and said at the top
    assert seen(app, finance, drive_id) == before
    assert count_rows(app, OfflineGift) == 0
    assert count_rows(app, Donation) == 0
    assert audit_actions(app, "offline_gift.") == []


def test_a_currency_without_minor_units_takes_whole_amounts_only(app, clock, finance):
    drive_id = make_drive(app, currency="jpy")
    page = record(finance, drive_id, entry(clock, amount="3000.5"))
    assert "JPY has no minor unit: enter a whole amount." in page.text
    assert count_rows(app, OfflineGift) == 0


def test_today_is_accepted_wherever_finance_sits(app, clock, staff):
    """The date is checked against the latest date anywhere on earth (UTC+14), so an entry
    made in the Pacific's morning is not called "in the future"."""
    drive_id = make_drive(app)
    clock.advance(hours=14)  # 23:00 UTC: already tomorrow in Auckland
    finance = staff(Role.FINANCE)
    tomorrow = (clock() + timedelta(days=1)).date().isoformat()
    record(finance, drive_id, entry(clock, received_on=tomorrow))
    assert count_rows(app, OfflineGift) == 1


def test_a_missing_drive_is_not_found_and_nothing_changes(app, clock, finance):
    response = finance.client.post("/finance/drives/9999/offline-gifts", data=entry(clock))
    assert response.status_code == 404
    assert count_rows(app, OfflineGift) == 0
    assert count_rows(app, Donation) == 0


def test_a_draft_drive_takes_no_gift(app, clock, finance):
    drive_id = make_drive(app, status=DriveStatus.DRAFT)
    assert "This drive is a draft" in finance.client.get(f"/finance/drives/{drive_id}").text
    page = record(finance, drive_id, entry(clock))
    assert "This drive is a draft: open it before recording gifts to it." in page.text
    assert count_rows(app, OfflineGift) == 0
    assert count_rows(app, Donation) == 0


@pytest.mark.parametrize("ended", ["window-over", "closed"])
def test_an_ended_drive_still_takes_money_that_arrives_late(app, clock, finance, ended):
    """Decided: a cheque for a drive often arrives after it ends, and the restricted fund must
    hold it; the public page shows the final total, now including it."""
    if ended == "closed":
        drive_id = make_drive(app)
        with app.app_context():
            drive = db.session.get(Drive, drive_id)
            assert drive is not None
            drive.status = DriveStatus.CLOSED
            db.session.commit()
    else:
        drive_id = make_drive(
            app, starts_at=clock() - timedelta(days=5), ends_at=clock() - timedelta(hours=1)
        )
    record(finance, drive_id, entry(clock, received_on=clock().date().isoformat()))
    progress = app.test_client().get("/drives/relocation/progress.json").get_json()
    assert (progress["raised_minor"], progress["open"]) == (125_050, False)


@pytest.mark.parametrize("role", [Role.ADMIN, Role.CASEWORKER])
def test_only_finance_records_a_gift(app, clock, staff, role):
    """Decided by the finance area's rule: admins run drives but do not keep the books."""
    drive_id = make_drive(app)
    other = staff(role)
    response = other.client.post(f"/finance/drives/{drive_id}/offline-gifts", data=entry(clock))
    assert response.status_code == 403
    assert other.client.get(f"/finance/drives/{drive_id}").status_code == 403
    assert count_rows(app, OfflineGift) == 0
    assert count_rows(app, Donation) == 0
    assert audit_actions(app, "offline_gift.") == []


def test_signed_out_the_form_asks_to_sign_in(app, clock, client):
    drive_id = make_drive(app)
    response = client.post(f"/finance/drives/{drive_id}/offline-gifts", data=entry(clock))
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
    assert count_rows(app, OfflineGift) == 0


def test_the_service_refuses_anyone_but_finance(app, clock):
    drive_id = make_drive(app)
    admin = StaffMember(app, clock, Role.ADMIN)
    with app.app_context():
        user = db.session.get(User, admin.id)
        assert user is not None
        gift = offline_gifts.GiftEntry(125_050, GiftMethod.CASH, clock().date(), REFERENCE)
        with pytest.raises(services.NotAllowed, match="Only finance staff record"):
            offline_gifts.record_offline_gift(drive_id, gift, user)


# --- Sealed text --------------------------------------------------------------------------------


def _every_stored_value(app: Any) -> str:
    """Every column of every row of every table, as text (bytes read as Latin-1)."""
    parts = []
    with app.app_context():
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(table.select()):
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        parts.append(bytes(value).decode("latin-1"))
                    else:
                        parts.append(str(value))
    return "\n".join(parts)


def test_the_reference_name_and_reason_are_never_stored_in_clear(app, clock, finance, second):
    drive_id = make_drive(app)
    record(finance, drive_id, entry(clock))
    reason = "Bounced: Okonkwo-Hale's bank recalled it"
    reverse(second, gift_id(app), reason)

    stored = _every_stored_value(app)
    for secret in (REFERENCE, DONOR, "Okonkwo", "88431", reason):
        assert secret not in stored
        assert secret.lower() not in stored.lower()
    with app.app_context():
        database_file = db.engine.url.database if db.engine.dialect.name == "sqlite" else None
    for path in [database_file, f"{database_file}-wal"] if database_file else []:
        if Path(path).exists():  # the file's bytes, free pages and journal included
            assert b"Okonkwo" not in Path(path).read_bytes()
    with app.app_context():
        details = " ".join(db.session.scalars(select(AuditRecord.details)))
        sealed = db.session.scalars(select(OfflineGift.reference_sealed)).one()
    assert [secret in details for secret in ("Okonkwo", "88431", "Bounced")] == [False] * 3
    assert sealed.startswith("s1:")  # sealed under the master key, like donors' details
    # ... and finance reads them opened on the drive's page.
    page = html.unescape(finance.client.get(f"/finance/drives/{drive_id}").text)
    assert [REFERENCE in page, DONOR in page, reason in page] == [True] * 3


def test_the_audit_records_say_how_much_and_how_but_not_who(app, clock, finance, second):
    drive_id = make_drive(app)
    record(finance, drive_id, entry(clock))
    reverse(second, gift_id(app))
    with app.app_context():
        records = db.session.scalars(
            select(AuditRecord).where(AuditRecord.action.like("offline_gift.%"))
        ).all()
        found = [(r.action, r.actor_id, r.object_id, json.loads(r.details)) for r in records]
    expected_details = {"amount_minor": 125_050, "currency": "usd", "method": "bank_transfer"}
    assert found == [
        ("offline_gift.recorded", finance.id, gift_id(app), expected_details),
        ("offline_gift.reversed", second.id, gift_id(app), expected_details),
    ]


def test_a_master_key_rotation_reseals_the_gifts_text(make_app, app, clock, finance, second):
    import base64

    drive_id = make_drive(app)
    record(finance, drive_id, entry(clock))
    reverse(second, gift_id(app), "Entered against the wrong drive")
    old = app.config["CASE_MASTER_KEY"]
    new = base64.b64encode(b"n" * 32).decode()
    rotated = make_app(CASE_MASTER_KEY=new)
    result = rotated.test_cli_runner().invoke(args=["keys", "rotate-master"], input=old + "\n")
    assert result.exit_code == 0, result.output
    with rotated.app_context():
        line = offline_gifts.gifts_for(drive_id)[0]
        assert (line.reference, line.reversal_reason) == (
            REFERENCE,
            "Entered against the wrong drive",
        )


# --- Reversal -----------------------------------------------------------------------------------


def test_a_second_finance_user_reverses_it_out_of_every_total(app, clock, finance, second):
    drive_id = make_drive(app)
    donate(app, drive_id, 5_000, intent_id="pi_card_before")
    before = seen(app, finance, drive_id)
    record(finance, drive_id, entry(clock))
    assert seen(app, finance, drive_id) != before

    page = reverse(second, gift_id(app), "The transfer was recalled by the bank")
    assert "Reversed: the gift no longer counts in the drive's totals." in html.unescape(page.text)
    after = seen(app, finance, drive_id)
    assert after["progress"] == before["progress"]
    assert after["recount"] == before["recount"]
    assert after["ledger"] == before["ledger"]
    assert after["ledger_csv"] == before["ledger_csv"]
    assert after["chart"] == before["chart"]
    assert after["succeeded_in_csv"] == before["succeeded_in_csv"]
    exported = next(line for line in _csv(finance, "donations") if line["method"] != "stripe")
    assert exported["status"] == "canceled"
    listed = finance.client.get(f"/finance/drives/{drive_id}").text
    assert "Reversed" in listed
    assert "The transfer was recalled by the bank" in listed
    assert audit_actions(app, "offline_gift.") == ["offline_gift.recorded", "offline_gift.reversed"]


def test_the_recorder_cannot_reverse_their_own_gift(app, clock, finance):
    drive_id = make_drive(app)
    record(finance, drive_id, entry(clock))
    page = finance.client.get(f"/finance/drives/{drive_id}").text
    assert "You recorded it: another finance user can reverse it." in page
    assert "Reason for reversing" not in page
    before = seen(app, finance, drive_id)

    refused = reverse(finance, gift_id(app))  # posted anyway, past the page
    assert "You recorded this gift, so another finance user must reverse it." in refused.text
    assert seen(app, finance, drive_id) == before
    assert audit_actions(app, "offline_gift.") == ["offline_gift.recorded"]
    with app.app_context():
        gift = db.session.get(OfflineGift, gift_id(app))
        assert gift is not None
        assert (gift.reversed_at, gift.reversed_by_id, gift.reversal_reason_sealed) == (
            None,
            None,
            None,
        )


def test_a_gift_is_reversed_once(app, clock, staff, finance, second):
    drive_id = make_drive(app)
    record(finance, drive_id, entry(clock))
    reverse(second, gift_id(app))
    before = seen(app, finance, drive_id)
    third = staff(Role.FINANCE)
    for member in (second, third):
        again = reverse(member, gift_id(app), "Again")
        assert "This gift has already been reversed; nothing was changed." in again.text
    assert seen(app, finance, drive_id) == before
    assert audit_actions(app, "offline_gift.") == ["offline_gift.recorded", "offline_gift.reversed"]


def test_reversing_money_already_committed_says_the_drive_is_overdrawn(
    app, clock, staff, finance, second
):
    """Decided: the reversal still goes through (the money never came), and finance is told
    at once that what was approved against it is no longer covered."""
    from finance.models import Category

    drive_id = make_drive(app)
    record(finance, drive_id, entry(clock, amount="600"))
    requester = staff(Role.CASEWORKER)
    with app.app_context():
        item = services.request_disbursement(
            case_id="c0ffee00-0000-4000-8000-000000000000",
            case_code="RC-7K3Q",
            drive_id=drive_id,
            category=Category.FLIGHT,
            amount_minor=50_000,
            payee_enc=None,
            note_enc=None,
            requester=db.session.get(User, requester.id),
        )
        services.approve_disbursement(item.id, db.session.get(User, second.id))
        db.session.commit()
    page = html.unescape(reverse(second, gift_id(app), "Cheque bounced").text)
    assert "Reversed: the gift no longer counts" in page
    assert "The drive's available balance is now below zero" in page
    with app.app_context():
        assert services.ledger_for(drive_id).available == -50_000


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("", "Give a reason for the reversal."),
        ("   ", "Give a reason for the reversal."),
        ("x" * 501, "Keep the reason to 500 characters."),
    ],
)
def test_a_reversal_needs_a_reason(app, clock, finance, second, reason, message):
    drive_id = make_drive(app)
    record(finance, drive_id, entry(clock))
    before = seen(app, finance, drive_id)
    assert message in reverse(second, gift_id(app), reason).text
    assert seen(app, finance, drive_id) == before
    assert audit_actions(app, "offline_gift.") == ["offline_gift.recorded"]


@pytest.mark.parametrize("role", [Role.ADMIN, Role.CASEWORKER])
def test_only_finance_reverses(app, clock, staff, finance, role):
    drive_id = make_drive(app)
    record(finance, drive_id, entry(clock))
    other = staff(role)
    response = other.client.post(
        f"/finance/offline-gifts/{gift_id(app)}/reverse", data={"reason": "Mine now"}
    )
    assert response.status_code == 403
    assert audit_actions(app, "offline_gift.") == ["offline_gift.recorded"]


def test_a_card_gift_cannot_be_reversed_here(app, second):
    drive_id = make_drive(app)
    card = donate(app, drive_id, 5_000, intent_id="pi_card_only")
    assert second.client.post(f"/finance/offline-gifts/{card}/reverse").status_code == 404
    with app.app_context():
        with pytest.raises(counting.NotReversible, match="refunded in Stripe"):
            counting.reverse_offline_gift(card)
        db.session.rollback()
        assert recount(drive_id) == (5_000, 1)


# --- Races --------------------------------------------------------------------------------------


def _reversal(app: Any, donation_id: str, reverser_id: int, barrier: threading.Barrier) -> str:
    """A reversal as the page makes it (retried if the database aborts it for a lost race)."""
    with app.app_context():
        barrier.wait()
        try:
            reverser = db.session.get(User, reverser_id)
            assert reverser is not None
            committed(lambda: offline_gifts.reverse_offline_gift(donation_id, reverser, "Raced"))
        except services.FinanceError as error:
            db.session.rollback()
            return str(error)
        except Exception as error:  # reported by the assertions
            db.session.rollback()
            return repr(error)
        return "reversed"


def _recorded(app: Any, drive_id: int, recorder_id: int, amount_minor: int, clock: Any) -> str:
    with app.app_context():
        recorder = db.session.get(User, recorder_id)
        assert recorder is not None
        gift = offline_gifts.record_offline_gift(
            drive_id,
            offline_gifts.GiftEntry(amount_minor, GiftMethod.CHEQUE, clock().date(), "CHQ 1"),
            recorder,
        )
        db.session.commit()
        return gift.donation_id


def _drive_totals(app: Any, drive_id: int) -> tuple[int, int]:
    with app.app_context():
        drive = db.session.get(Drive, drive_id)
        assert drive is not None
        return drive.totals.raised_minor, drive.totals.donors


@pytest.mark.parametrize("round_number", range(3))
def test_a_reversal_racing_a_card_gifts_webhook_leaves_totals_equal_to_a_recount(
    app, clock, finance, second, round_number
):
    """The reversal and the webhook lock different donation rows and meet only at the drive's
    totals row, which each moves by a difference: neither loses the other's change. (On
    SQLite, BEGIN IMMEDIATE serialises them: the same end, by another road.)"""
    drive_id = make_drive(app)
    offline = [_recorded(app, drive_id, finance.id, 10_000 + n, clock) for n in range(4)]
    cards = [make_gift(app, drive_id, 2_500 + n) for n in range(4)]
    barrier = threading.Barrier(8, timeout=20)
    outcomes: list[str] = []
    lock = threading.Lock()

    def reversal(donation_id: str) -> None:
        outcome = _reversal(app, donation_id, second.id, barrier)
        with lock:
            outcomes.append(outcome)

    def webhook(card: Any) -> None:
        client = app.test_client()
        barrier.wait()
        status = deliver(client, card.succeeded()).status_code
        with lock:
            outcomes.append(f"webhook {status}")

    threads = [threading.Thread(target=reversal, args=(gift,)) for gift in offline] + [
        threading.Thread(target=webhook, args=(card,)) for card in cards
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["reversed"] * 4 + ["webhook 200"] * 4
    expected = (sum(card.amount for card in cards), len(cards))
    assert _drive_totals(app, drive_id) == expected
    with app.app_context():
        assert recount(drive_id) == expected
        assert services.ledger_for(drive_id).outside_stripe == 0


def test_two_reversals_of_one_gift_at_once_apply_once(app, clock, staff, finance, second):
    """Both check the gift before either locks it; the second finds it reversed under the
    lock and changes nothing (on SQLite the two are serialised by BEGIN IMMEDIATE instead)."""
    drive_id = make_drive(app)
    donation_id = _recorded(app, drive_id, finance.id, 10_000, clock)
    third = staff(Role.FINANCE)
    barrier = threading.Barrier(2, timeout=20)
    outcomes: list[str] = []

    def run(reverser_id: int) -> None:
        outcomes.append(_reversal(app, donation_id, reverser_id, barrier))

    threads = [threading.Thread(target=run, args=(who,)) for who in (second.id, third.id)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == [
        "This gift has already been reversed; nothing was changed.",
        "reversed",
    ]
    assert _drive_totals(app, drive_id) == (0, 0)
    with app.app_context():
        assert recount(drive_id) == (0, 0)
        status = db.session.scalar(select(Donation.status).where(Donation.id == donation_id))
        assert status is DonationStatus.CANCELED
    assert audit_actions(app, "offline_gift.") == ["offline_gift.recorded", "offline_gift.reversed"]
