"""Three fictional cases for the demo caseworker (development only)."""

from __future__ import annotations

from sqlalchemy import select

from accounts.demo import DEMO_DOMAIN
from accounts.services import find_user_by_email
from cases import services
from cases.models import Case, ReferralSource, RiskLevel, Stage
from extensions import db
from finance import services as finance_services
from finance.models import Category

DEMO_CASES = (
    (
        {
            "legal_name": "Dana Example",
            "known_as": "D",
            "contact": "Signal +000 555 0101",
            "current_location": "A safe flat (fictional)",
            "risk_narrative": "Fictional demo case: named in an online group that targets gay men.",
        },
        services.ClearFields(
            risk_level=RiskLevel.CRITICAL, region="Demo region north", household_size=1
        ),
        Stage.SCREENING,
    ),
    (
        {
            "legal_name": "Rami Placeholder",
            "contact": "rami@example.invalid",
            "current_location": "With a friend (fictional)",
            "risk_narrative": "Fictional demo case: family threats after being outed.",
        },
        services.ClearFields(
            risk_level=RiskLevel.HIGH,
            region="Demo region south",
            household_size=2,
            referral_source=ReferralSource.HOTLINE,
        ),
        Stage.REFERRED,
    ),
    (
        {
            "legal_name": "Noa Sample",
            "contact": "+000 555 0199",
            "current_location": "Shelter (fictional)",
            "risk_narrative": "Fictional demo case: detained once at a checkpoint.",
        },
        services.ClearFields(
            risk_level=RiskLevel.MEDIUM,
            region="Demo capital",
            household_size=1,
            destination_country="Demo country",
        ),
        Stage.REFERRED,
    ),
)


def seed_demo_cases() -> None:
    """Create the demo cases, assigned to the demo caseworker."""
    caseworker = find_user_by_email(f"caseworker@{DEMO_DOMAIN}")
    if caseworker is None:
        return
    for identity, clear, stage in DEMO_CASES:
        case = services.create_case(caseworker, dict(identity), clear)
        if stage is Stage.SCREENING:
            services.change_stage(case, caseworker, Stage.SCREENING, "Referral looks genuine.")


def seed_demo_money(drive_id: int) -> None:
    """A few disbursement requests for the demo cases: one paid, one approved, one waiting."""
    caseworker = find_user_by_email(f"caseworker@{DEMO_DOMAIN}")
    finance_user = find_user_by_email(f"finance@{DEMO_DOMAIN}")
    if caseworker is None or finance_user is None:
        return
    cases = db.session.scalars(select(Case).order_by(Case.created_at)).all()
    plans = (
        (Category.FLIGHT, 64000, "Travel agent (fictional)", "pay"),
        (Category.VISA, 16000, "Consulate fee (fictional)", "approve"),
        (Category.HOUSING, 45000, "Safe flat, first month (fictional)", None),
    )
    for case, (category, amount, payee, step) in zip(cases, plans, strict=False):
        item = services.request_money(
            case,
            caseworker,
            drive_id=drive_id,
            category=category,
            amount_minor=amount,
            payee=payee,
            note="Demo request",
        )
        if step:
            finance_services.approve_disbursement(item.id, finance_user)
        if step == "pay":
            finance_services.mark_paid(item.id, finance_user, "DEMO-TRANSFER-001")
