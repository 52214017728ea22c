"""A caseworker asks finance for money for a case; finance sees the code, not the person."""

from __future__ import annotations

from sqlalchemy import select

from accounts.models import Role
from extensions import db
from finance.models import Disbursement, DisbursementStatus
from tests.cases.test_smoke import INTAKE
from tests.factories import make_drive, make_user, user_email


def test_request_reaches_finance_with_the_case_code_only(app, client, auth, clock):
    drive_id = make_drive(app)
    auth.login(user_email(app, make_user(app, Role.CASEWORKER)))
    case_url = client.post("/cases/new", data=INTAKE).headers["Location"]
    response = client.post(
        case_url + "/money",
        data={
            "drive_id": drive_id,
            "category": "flight",
            "amount": "640.50",
            "payee": "Travel agent Erbil, IBAN IQ00 1234",
            "note": "One-way, Friday",
        },
    )
    assert response.status_code == 302
    page = client.get(case_url + "/money").get_data(as_text=True)
    assert "Travel agent Erbil" in page  # the caseworker sees the payee
    with app.app_context():
        item = db.session.scalars(select(Disbursement)).one()
        assert (item.amount_minor, item.status) == (64050, DisbursementStatus.REQUESTED)
        assert b"Travel agent" not in (item.payee_enc or b"")
    auth.logout()
    auth.login(user_email(app, make_user(app, Role.FINANCE)))
    listing = client.get("/finance/disbursements").get_data(as_text=True)
    assert item.case_code in listing
    assert "Pérez" not in listing
    assert "Travel agent" not in listing


def test_bad_amount_is_refused_next_to_the_field(app, client, auth):
    drive_id = make_drive(app)
    auth.login(user_email(app, make_user(app, Role.CASEWORKER)))
    case_url = client.post("/cases/new", data=INTAKE).headers["Location"]
    response = client.post(
        case_url + "/money",
        data={"drive_id": drive_id, "category": "visa_documents", "amount": "1,000"},
    )
    assert "without separators" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(Disbursement)).first() is None
