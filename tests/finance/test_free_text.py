"""Finance's free text is personal data: payment references, decision reasons and payout bank
references are ciphertext at rest, never in the audit log, shredded with their case, and
re-sealed by `keys rotate-master`; finance still reads them, and each read of a case is audited."""

from __future__ import annotations

import base64
import csv
import io

import pytest
from sqlalchemy import select, text

from accounts.models import Role, User
from audit.models import AuditRecord
from cases import services as cases
from cases.models import Case, CaseKey
from extensions import db
from finance import free_text, reconcile
from finance.models import Disbursement, DisbursementStatus, Payout
from fundraising.stripe_gateway import current_gateway
from security import fields as crypto
from security import sealing
from tests.cases.test_encryption import database_bytes
from tests.conftest import Auth
from tests.factories import make_drive, make_user, user_email
from tests.finance.conftest import fund
from tests.finance.support import build
from tests.finance.test_disbursements import Setup, act, ask, open_case

REFERENCE = "WISE-88213 ZULEIKA Q"
REASON = "Payee Vasquez-Thornbury is not the family named"
BANK_REFERENCE = "BARC 2026-11-24 OYELARAN"
OLD = base64.b64encode(b"m" * 32).decode()  # the test settings' CASE_MASTER_KEY
NEW = base64.b64encode(b"n" * 32).decode()


@pytest.fixture
def setup(app):
    drive_id = make_drive(app)
    fund(app, drive_id, 100_000)
    caseworker_id = make_user(app, Role.CASEWORKER)
    case_id, code = open_case(app, caseworker_id)
    return Setup(drive_id, caseworker_id, case_id, code)


def _forms(value: str) -> list[str]:
    return list(dict.fromkeys((value, value.upper(), value.lower())))


def assert_nowhere_in_clear(request, app, record_id: str, *needles: str) -> None:
    """Not in any column of the finance tables, not in the audit log, not in the database's
    files (SQLite) or a dump of it (PostgreSQL)."""
    with app.app_context():
        rows = [
            repr(row)
            for table in ("disbursements", "payouts")
            for row in db.session.execute(text(f"SELECT * FROM {table}")).all()  # noqa: S608
        ]
        details = db.session.scalars(select(AuditRecord.details)).all()
    stored = " ".join([*rows, *details])
    assert record_id in stored  # we are looking at the right rows
    raw = database_bytes(request, app)
    assert record_id.encode() in raw
    for needle in needles:
        for form in _forms(needle):
            assert form not in stored, form
            assert form.encode() not in raw, form


def paid(app, setup, finance, reference: str = REFERENCE) -> str:
    """A disbursement approved and marked paid by a finance user through the page."""
    item = ask(app, setup, 4_000)
    act(app, "approve_disbursement", item, finance.id)
    response = finance.client.post(
        f"/finance/disbursements/{item}/pay", data={"reference": reference}
    )
    assert response.status_code == 302
    return item


def reconciled(app, recorded_stripe, finance) -> str:
    scenario = build(app, recorded_stripe)
    with app.app_context():
        reconcile.sync_payout(current_gateway(), scenario.payout_id)
        db.session.commit()
    url = f"/finance/payouts/{scenario.payout_id}/reconcile"
    assert finance.client.post(url, data={"bank_reference": BANK_REFERENCE}).status_code == 302
    return scenario.payout_id


def exported(finance, kind: str) -> list[dict[str, str]]:
    response = finance.client.get(f"/finance/exports/{kind}.csv")
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_a_payment_reference_is_absent_from_the_database_in_clear_and_from_the_audit_log(
    request, app, setup, staff
):
    finance = staff(Role.FINANCE)
    item = paid(app, setup, finance)
    assert REFERENCE in finance.client.get("/finance/disbursements").get_data(as_text=True)
    by_id = {row["disbursement_id"]: row for row in exported(finance, "disbursements")}
    assert by_id[item]["payment_reference"] == REFERENCE
    assert_nowhere_in_clear(request, app, item, "WISE-88213", "ZULEIKA Q")


def test_a_decision_reason_is_absent_from_the_database_in_clear_and_from_the_audit_log(
    request, app, setup, staff, clock
):
    finance = staff(Role.FINANCE)
    rejected, voided = ask(app, setup, 1_000), ask(app, setup, 2_000)
    finance.client.post(f"/finance/disbursements/{rejected}/reject", data={"reason": REASON})
    finance.client.post(f"/finance/disbursements/{voided}/void", data={"reason": "Thornbury"})
    page = finance.client.get("/finance/disbursements").get_data(as_text=True)
    assert f"“{REASON}”" in page
    assert "“Thornbury”" in page
    caseworker = Auth(app, app.test_client(), clock)
    caseworker.login(user_email(app, setup.caseworker_id))
    money_page = caseworker.client.get(f"/cases/{setup.case_id}/money")
    assert REASON in money_page.get_data(as_text=True)
    with app.app_context():
        statuses = {db.session.get(Disbursement, item).status for item in (rejected, voided)}
    assert statuses == {DisbursementStatus.REJECTED, DisbursementStatus.VOIDED}
    assert_nowhere_in_clear(request, app, rejected, "Vasquez-Thornbury", "Thornbury")


def test_a_payout_bank_reference_is_absent_from_the_database_in_clear_and_from_the_audit_log(
    request, app, recorded_stripe, staff
):
    finance = staff(Role.FINANCE)
    payout_id = reconciled(app, recorded_stripe, finance)
    page = finance.client.get(f"/finance/payouts/{payout_id}").get_data(as_text=True)
    assert f"against bank reference <strong>{BANK_REFERENCE}</strong>" in page
    by_id = {row["id"]: row for row in exported(finance, "payouts")}
    assert by_id[payout_id]["bank_reference_or_rate"] == BANK_REFERENCE
    assert_nowhere_in_clear(request, app, payout_id, "OYELARAN", "BARC 2026-11-24")


def test_finance_reading_a_disbursements_text_is_an_audited_read_of_its_case(app, setup, staff):
    finance = staff(Role.FINANCE)
    paid(app, setup, finance)
    with app.app_context():
        before = db.session.scalars(
            select(AuditRecord.actor_id).where(AuditRecord.action == "case.decrypted")
        ).all()
    finance.client.get("/finance/disbursements")
    finance.client.get("/finance/disbursements")
    with app.app_context():
        after = db.session.scalars(
            select(AuditRecord).where(AuditRecord.action == "case.decrypted")
        ).all()
    opened = after[len(before) :]
    assert [(record.actor_id, record.object_id) for record in opened] == [
        (finance.id, setup.case_id),  # one record per case and page view
        (finance.id, setup.case_id),
    ]


def test_after_purging_the_case_its_reason_and_reference_can_no_longer_be_read(app, setup, staff):
    finance = staff(Role.FINANCE)
    paid_item = paid(app, setup, finance)
    rejected = ask(app, setup, 1_000)
    finance.client.post(f"/finance/disbursements/{rejected}/reject", data={"reason": REASON})
    approved = ask(app, setup, 2_000)
    act(app, "approve_disbursement", approved, finance.id)
    with app.app_context():
        cases.purge_case(db.session.get(Case, setup.case_id), None, "test")
        db.session.commit()
    with app.app_context():
        item = db.session.get(Disbursement, paid_item)
        assert item.payment_reference_enc is not None  # the ciphertext stays; its key is gone
        assert db.session.get(CaseKey, setup.case_id) is None
        assert free_text.text_of(item) == free_text.DisbursementText(None, free_text.PURGED)
        reason = free_text.text_of(db.session.get(Disbursement, rejected)).reason
        assert reason == free_text.PURGED
    page = finance.client.get("/finance/disbursements").get_data(as_text=True)
    assert "reference (purged)" in page
    assert "“(purged)”" in page
    assert REFERENCE not in page
    assert REASON not in page
    by_id = {row["disbursement_id"]: row for row in exported(finance, "disbursements")}
    assert by_id[paid_item]["payment_reference"] == free_text.PURGED

    # The money was still paid: it is recorded, and the reference given is not kept.
    response = finance.client.post(
        f"/finance/disbursements/{approved}/pay", data={"reference": REFERENCE}
    )
    assert response.status_code == 302
    with app.app_context():
        item = db.session.get(Disbursement, approved)
        assert (item.status, item.payment_reference_enc) == (DisbursementStatus.PAID, None)


def test_a_ciphertext_moved_to_another_record_or_field_does_not_open(app, setup, staff):
    finance = staff(Role.FINANCE)
    first, second = paid(app, setup, finance), paid(app, setup, finance, "OTHER-1")
    with app.app_context():
        one, two = db.session.get(Disbursement, first), db.session.get(Disbursement, second)
        with pytest.raises(crypto.DecryptionError):
            free_text.open_text(two, "payment-reference", one.payment_reference_enc)
        with pytest.raises(crypto.DecryptionError):
            free_text.open_text(one, "decision-reason", one.payment_reference_enc)
        payout, other = Payout(id="po_one"), Payout(id="po_two")
        free_text.seal_bank_reference(payout, BANK_REFERENCE)
        other.bank_reference_sealed = payout.bank_reference_sealed
        with pytest.raises(sealing.SealError):
            free_text.bank_reference(other)


def _rotate(app, key: str = OLD):
    return app.test_cli_runner().invoke(args=["keys", "rotate-master"], input=key + "\n")


def test_rotate_master_reseals_payout_bank_references(make_app, app, recorded_stripe, staff):
    finance = staff(Role.FINANCE)
    payout_id = reconciled(app, recorded_stripe, finance)
    rotated = make_app(CASE_MASTER_KEY=NEW, STRIPE_GATEWAY=recorded_stripe)
    with rotated.app_context(), pytest.raises(sealing.SealError):
        free_text.bank_reference(db.session.get(Payout, payout_id))

    result = _rotate(rotated)
    assert result.exit_code == 0, result.output
    assert "payout bank references: 1 moved" in result.output
    with rotated.app_context():
        payout = db.session.get(Payout, payout_id)
        assert sealing.sealed_with(payout.bank_reference_sealed) == crypto.key_id(b"n" * 32)
        assert free_text.bank_reference(payout) == BANK_REFERENCE
    again = _rotate(rotated)
    assert again.exit_code == 0, again.output
    assert "payout bank references: 0 moved" in again.output


def test_a_bank_reference_under_a_third_key_stops_the_rotation_before_any_change(
    make_app, app, recorded_stripe, staff
):
    finance = staff(Role.FINANCE)
    payout_id = reconciled(app, recorded_stripe, finance)
    with app.app_context():
        payout = db.session.get(Payout, payout_id)
        payout.bank_reference_sealed = sealing.seal(
            BANK_REFERENCE, f"payout:{payout_id}:bank-reference", master=b"t" * 32
        )
        db.session.commit()
    rotated = make_app(CASE_MASTER_KEY=NEW, STRIPE_GATEWAY=recorded_stripe)
    result = _rotate(rotated)
    assert result.exit_code != 0
    assert "payout bank references are under neither the old key" in result.output
    with rotated.app_context():  # the staff seeds, checked and moved first, were not moved
        seeds = db.session.scalars(select(User.totp_secret_sealed)).all()
    assert {sealing.sealed_with(seed) for seed in seeds} == {crypto.key_id(b"m" * 32)}


class _OtherSealer:
    def encrypt(self, case_id: str, text: str, field_label: str) -> bytes | None:
        return text.encode()

    def decrypt(self, case_id: str, blob: bytes, field_label: str) -> str | None:
        return blob.decode()


def test_cases_registers_the_one_case_sealer_and_a_second_is_refused(app):
    registered = app.extensions[free_text.SEALER_KEY]
    free_text.add_case_sealer(app, registered)  # the same one again is harmless
    with pytest.raises(RuntimeError, match="two case sealers"):
        free_text.add_case_sealer(app, _OtherSealer())
    assert app.extensions[free_text.SEALER_KEY] is registered


def test_a_blank_reference_or_reason_gets_a_clear_message_and_changes_nothing(
    app, setup, staff, recorded_stripe
):
    finance = staff(Role.FINANCE)
    approved, requested = ask(app, setup, 1_000), ask(app, setup, 2_000)
    act(app, "approve_disbursement", approved, finance.id)
    refused = [
        (f"/finance/disbursements/{approved}/pay", {"reference": "   "}, "payment reference"),
        (f"/finance/disbursements/{requested}/reject", {"reason": " "}, "Give a reason"),
    ]
    scenario = build(app, recorded_stripe)
    with app.app_context():
        reconcile.sync_payout(current_gateway(), scenario.payout_id)
        db.session.commit()
    url = f"/finance/payouts/{scenario.payout_id}/reconcile"
    refused.append((url, {"bank_reference": " "}, "bank statement reference"))
    for path, data, message in refused:
        page = finance.client.post(path, data=data, follow_redirects=True)
        assert message in page.get_data(as_text=True), path
    with app.app_context():
        items = [db.session.get(Disbursement, item) for item in (approved, requested)]
        assert [
            (item.status, item.payment_reference_enc, item.decision_reason_enc) for item in items
        ] == [
            (DisbursementStatus.APPROVED, None, None),
            (DisbursementStatus.REQUESTED, None, None),
        ]
        payout = db.session.get(Payout, scenario.payout_id)
        assert (payout.bank_reference_sealed, payout.reconciled_at) == (None, None)
