"""The case manager's part of the app: its pages, commands, and the drive page's spending."""

from __future__ import annotations

from flask import Flask
from flask_babel import lazy_gettext as _l

from accounts.models import Role
from accounts.security_events import SecurityEvent, add_security_events
from accounts.views import StaffArea, add_staff_area
from cases import (
    cli,
    document_views,
    encryption,
    finance_sealer,
    money_views,
    review_views,
    task_views,
    tasks,
    transparency,
    views,
)
from finance.free_text import add_case_sealer
from fundraising.presentation import add_drive_page_section
from security import jobs
from security.blind_index import add_reindexer
from security.keystore import add_key_holder
from security.rotation import add_resealer


def init_app(app: Flask) -> None:
    """Wire the case manager into the app (last: it builds on every other package)."""
    for blueprint in (views.bp, views.lockdown_bp, money_views.bp, review_views.bp, cli.bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(document_views.bp)
    app.register_blueprint(task_views.bp)
    jobs.add_task(app, tasks.DIGEST_TASK, tasks.send_digest)
    add_drive_page_section(app, transparency.render_spending)
    add_resealer(app, encryption.CASE_KEYS)
    add_key_holder(app, encryption.CASE_KEY_HOLDER)
    add_reindexer(app, encryption.CASE_INDEX)
    manage = ("cases.manage", "case_id")
    add_security_events(
        app,
        SecurityEvent("case.assigned", _l("Caseworker assigned to a case"), link=manage),
        SecurityEvent("case.unassigned", _l("Caseworker taken off a case"), link=manage),
        SecurityEvent("case.break_glass", _l("Break-glass: an admin opened a case"), link=manage),
        SecurityEvent("case.purged", _l("Case purged")),
        SecurityEvent("case.lookup", _l("An admin looked a person up in the duplicate index")),
        SecurityEvent(
            "case.reopened", _l("Closed case reopened (its purge cancelled)"), link=manage
        ),
        SecurityEvent(
            "keys.emergency_rotation", _l("Emergency purge: every older key generation destroyed")
        ),
        SecurityEvent("lockdown.started", _l("Emergency lockdown started")),
        SecurityEvent("lockdown.lifted", _l("Emergency lockdown lifted")),
        SecurityEvent("case.duplicate_hit", _l("Possible duplicate referral"), link=manage),
        SecurityEvent("case.intake_paused", _l("Intake paused after repeated duplicate matches")),
        SecurityEvent("case.intake_pause_lifted", _l("Intake pause lifted")),
    )
    add_case_sealer(app, finance_sealer.SEALER)
    add_staff_area(
        app,
        StaffArea(
            "cases.index", _l("Cases"), (Role.CASEWORKER, Role.ADMIN), home_of=(Role.CASEWORKER,)
        ),
    )
    add_staff_area(app, StaffArea("case_reviews.index", _l("Duplicates"), (Role.ADMIN,)))
