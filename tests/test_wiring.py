"""Each package wires itself onto registries the app holds (app.PACKAGES, */wiring.py)."""

from __future__ import annotations

import pytest

from fundraising import webhooks
from fundraising.presentation import SECTIONS_KEY


def test_each_app_holds_its_own_registries(make_app):
    first, second = make_app(), make_app()
    assert first.extensions[webhooks.HANDLERS_KEY] is not second.extensions[webhooks.HANDLERS_KEY]
    handlers = first.extensions[webhooks.HANDLERS_KEY]
    assert handlers["payment_intent.succeeded"] is webhooks.payment_intent_changed
    assert "payout.paid" in handlers  # finance's, added by finance's init_app
    assert len(first.extensions[SECTIONS_KEY]) == 1  # cases' spending section, once
    assert sorted(first.cli.commands["stripe"].commands) == [
        "local-webhook-secret",
        "reconcile-pending",
        "recover-missing",
        "sync",
    ]


def test_a_second_handler_for_one_event_type_is_refused_at_start_up(make_app):
    app = make_app()
    with pytest.raises(RuntimeError, match=r"two webhook handlers for payout\.paid"):
        webhooks.add_handlers(app, {"payout.paid": webhooks.charge_refunded})
    webhooks.add_handlers(
        app, {"payout.paid": app.extensions[webhooks.HANDLERS_KEY]["payout.paid"]}
    )


def test_errors_are_json_on_marked_routes_and_pages_elsewhere(make_app):
    client = make_app().test_client()
    progress = client.get("/drives/no-such-drive/progress.json")
    assert progress.status_code == 404
    assert progress.get_json() == {"error": "There is nothing here."}
    page = client.get("/drives/no-such-drive")
    assert page.status_code == 404
    assert page.mimetype == "text/html"
    webhook = client.post("/stripe/webhook", data=b"{}")
    assert webhook.status_code == 400
    assert "signature" in webhook.get_json()["error"]
    asked = client.get("/drives/no-such-drive", headers={"Accept": "application/json"})
    assert asked.get_json() == {"error": "There is nothing here."}


@pytest.mark.parametrize(
    ("role", "shown", "hidden", "home"),
    [
        ("admin", ["Staff", "Audit log", "Drives", "Cases"], ["Finance"], "/admin/"),
        ("caseworker", ["Cases"], ["Staff", "Audit log", "Drives", "Finance"], "/cases/"),
        ("finance", ["Finance"], ["Staff", "Audit log", "Drives", "Cases"], "/finance/"),
    ],
)
def test_each_role_sees_the_areas_packages_added_and_lands_on_its_own(
    app, auth, role, shown, hidden, home
):
    from accounts.models import Role
    from tests.factories import make_user, user_email

    login = auth.login(user_email(app, make_user(app, Role(role))))
    assert login.headers["Location"] == home
    page = auth.client.get("/account/").get_data(as_text=True)
    nav = page[page.index('aria-label="Staff"') : page.index("</nav>")]
    for label in shown:
        assert f">{label}</a>" in nav
    for label in hidden:
        assert f">{label}</a>" not in nav
