"""Finding a case by its code, only among the cases the person may see."""

from __future__ import annotations

import pytest

from accounts.models import Role
from cases.models import Case
from extensions import db


def _code(app, case_id):
    with app.app_context():
        return db.session.get(Case, case_id).code


@pytest.mark.parametrize("typed", ["{code}", "{lower}", " {bare} ", "rc{bare}"])
def test_a_caseworker_goes_to_an_assigned_case_by_its_code(app, person, typed):
    worker = person()
    case_id = worker.create_case()
    code = _code(app, case_id)
    query = typed.format(code=code, lower=code.lower(), bare=code.removeprefix("RC-"))
    response = worker.client.get("/cases/find", query_string={"code": query})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/cases/{case_id}")


def test_a_code_the_caseworker_may_not_see_answers_like_one_that_does_not_exist(app, person):
    owner, other = person(), person()
    hidden = _code(app, owner.create_case())
    answers = []
    for code in (hidden, "RC-QQQQ"):
        response = other.client.get("/cases/find", query_string={"code": code})
        assert response.status_code == 302
        assert response.headers["Location"].endswith("/cases/")
        page = other.client.get("/cases/").get_data(as_text=True)
        answers.append(page.count("No case you can open has that code"))
    assert answers == [1, 1]


@pytest.mark.parametrize("typed", ["", "x", "RC-7K3Q'--", "<script>", "RC-" + "A" * 40])
def test_malformed_codes_get_the_same_clear_message(app, person, typed):
    worker = person()
    response = worker.client.get("/cases/find", query_string={"code": typed})
    assert response.status_code == 302
    page = worker.client.get("/cases/").get_data(as_text=True)
    assert "Codes look like RC-7K3Q" in page


def test_an_admin_finds_any_case_and_lands_on_its_manage_page(app, person):
    case_id = person().create_case()
    admin = person(Role.ADMIN)
    response = admin.client.get("/cases/find", query_string={"code": _code(app, case_id)})
    assert response.headers["Location"].endswith(f"/cases/{case_id}/manage")
    assert "Go to case code" in admin.client.get("/cases/").get_data(as_text=True)


def test_finance_cannot_search_cases(app, person):
    finance = person(Role.FINANCE)
    assert finance.client.get("/cases/find", query_string={"code": "RC-7K3Q"}).status_code == 403


def _lookup(admin, **fields):
    return admin.client.post("/cases/reviews/lookup", data=fields)


def test_an_admin_looks_a_person_up_and_gets_codes_only(app, person):
    worker = person()
    case_id = worker.create_case(legal_name="José Pérez", known_as="", contact="+15550123")
    code = _code(app, case_id)
    admin = person(Role.ADMIN)
    found = _lookup(admin, name="jose  PEREZ").get_data(as_text=True)
    assert code in found
    assert "José" not in found.replace("jose  PEREZ", "")  # no contents, only the code
    assert code in _lookup(admin, contact="+1 555 0123").get_data(as_text=True)
    none = _lookup(admin, name="Somebody Else").get_data(as_text=True)
    assert "No matching case" in none
    with app.app_context():
        from sqlalchemy import select

        from audit.models import AuditRecord

        records = db.session.scalars(
            select(AuditRecord).where(AuditRecord.action == "case.lookup")
        ).all()
    assert [record.details for record in records] == ['{"count":1}'] * 2 + ['{"count":0}']
    assert all("perez" not in record.details.casefold() for record in records)


def test_a_purged_case_is_not_found(app, person):
    worker = person()
    case_id = worker.create_case(legal_name="Gone Person", known_as="", contact="")
    from cases import services

    with app.app_context():
        services.purge_case(db.session.get(Case, case_id), None, "test")
        db.session.commit()
    assert "No matching case" in _lookup(person(Role.ADMIN), name="Gone Person").get_data(
        as_text=True
    )


def test_an_empty_lookup_is_refused_and_caseworkers_cannot_look_up(app, person):
    admin = person(Role.ADMIN)
    response = _lookup(admin, name=" ", contact="")
    assert response.status_code == 400
    assert "Enter a name or a contact" in response.get_data(as_text=True)
    assert _lookup(person(), name="José Pérez").status_code == 403


def test_lookups_are_rate_limited_per_admin(make_app, clock):
    from tests.cases.conftest import Person

    limited = make_app(RATELIMIT_ENABLED=True, CASE_LOOKUP_RATE_LIMIT="2 per hour")
    admin = Person(limited, clock, Role.ADMIN, None)
    assert [_lookup(admin, name=f"Name {n}").status_code for n in range(3)] == [200, 200, 429]
    other = Person(limited, clock, Role.ADMIN, "other-admin@example.org")
    assert _lookup(other, name="Name").status_code == 200
