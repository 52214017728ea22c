"""Finance's free text as personal data: a disbursement's decision reason and payment reference,
a payout's bank reference, and a gift outside Stripe's reference and reversal reason.

Bank references often name the payee and reasons the person, so none of them is kept in clear
or copied into an audit record. A disbursement's text is encrypted under its case's data key by
a `CaseSealer` that cases/ registers on the app (finance never imports cases/), so purging the
case shreds it too. A payout belongs to no case: its bank reference is sealed under the master
key, bound to the payout, and re-sealed by `keys rotate-master` like donors' details; so is the
text of a gift recorded outside Stripe, bound to its gift."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from flask import Flask, current_app
from sqlalchemy import select

from extensions import db
from finance.models import Disbursement, OfflineGift, Payout
from security import rotation
from security.sealing import seal, unseal

PURGED = "(purged)"
SEALER_KEY = "finance_case_sealer"
DisbursementField = Literal["decision-reason", "payment-reference"]
OfflineGiftField = Literal["reference", "reversal-reason"]
OFFLINE_GIFT_COLUMNS: dict[OfflineGiftField, str] = {
    "reference": "reference_sealed",
    "reversal-reason": "reversal_reason_sealed",
}


class CaseSealer(Protocol):
    """Encrypts text under a case's data key; cases/ provides it, bound to the case and label.

    Both answer None when the case was purged: nothing can be sealed under, or opened from,
    a shredded key. Opening is an audited read of the case."""

    def encrypt(self, case_id: str, text: str, field_label: str) -> bytes | None: ...

    def decrypt(self, case_id: str, blob: bytes, field_label: str) -> str | None: ...


def add_case_sealer(app: Flask, sealer: CaseSealer) -> None:
    """Register the sealer for disbursements' text (cases' init_app); a second one is refused."""
    registered = app.extensions.setdefault(SEALER_KEY, sealer)
    if registered is not sealer:
        raise RuntimeError("two case sealers for finance's free text")


def case_sealer() -> CaseSealer:
    """The sealer this app registered."""
    sealer: CaseSealer | None = current_app.extensions.get(SEALER_KEY)
    if sealer is None:
        raise RuntimeError("no case sealer: cases' init_app registers one for finance's text")
    return sealer


# --- Disbursements: under the case's key -------------------------------------------------------


def _label(disbursement: Disbursement, field: DisbursementField) -> str:
    """What a disbursement's text is bound to besides its case: the record and the field."""
    return f"disbursement:{disbursement.id}:{field}"


def seal_text(disbursement: Disbursement, field: DisbursementField, text: str) -> bytes | None:
    """The text encrypted under the disbursement's case (None when empty or the case is purged)."""
    if not text:
        return None
    return case_sealer().encrypt(disbursement.case_id, text, _label(disbursement, field))


def open_text(
    disbursement: Disbursement, field: DisbursementField, blob: bytes | None
) -> str | None:
    """The text decrypted (an audited read of the case), PURGED once the case is gone."""
    if blob is None:
        return None
    opened = case_sealer().decrypt(disbursement.case_id, blob, _label(disbursement, field))
    return PURGED if opened is None else opened


@dataclass(frozen=True)
class DisbursementText:
    """A disbursement's free text as its readers see it."""

    reason: str | None
    reference: str | None


def text_of(disbursement: Disbursement) -> DisbursementText:
    """A disbursement's reason and payment reference, opened."""
    return DisbursementText(
        reason=open_text(disbursement, "decision-reason", disbursement.decision_reason_enc),
        reference=open_text(disbursement, "payment-reference", disbursement.payment_reference_enc),
    )


def texts_for(items: Iterable[Disbursement]) -> dict[str, DisbursementText]:
    """Each disbursement's text by its id (for the pages that list them)."""
    return {item.id: text_of(item) for item in items}


# --- Payouts: sealed under the master key -----------------------------------------------------


def _purpose(payout_id: str) -> str:
    """What a bank reference is sealed for: bound to its payout and the field."""
    return f"payout:{payout_id}:bank-reference"


def seal_bank_reference(payout: Payout, text: str) -> None:
    """Keep a payout's bank statement reference, sealed."""
    payout.bank_reference_sealed = seal(text, _purpose(payout.id)) if text else None


def bank_reference(payout: Payout) -> str | None:
    """A payout's bank statement reference, opened."""
    token = payout.bank_reference_sealed
    return unseal(token, _purpose(payout.id)) if token else None


def _sealed_payouts() -> Any:
    return select(Payout).where(Payout.bank_reference_sealed.is_not(None)).order_by(Payout.id)


def check_bank_references(old: bytes, new: bytes) -> None:
    """Before a master-key rotation: every bank reference is under the old or the new key."""
    tokens = db.session.scalars(
        select(Payout.bank_reference_sealed).where(Payout.bank_reference_sealed.is_not(None))
    )
    rotation.check_sealed(tokens, "payout bank references", old, new)


def reseal_bank_references(old: bytes, new: bytes, batch_size: int) -> int:
    """Re-seal the bank references still under the old master key; the number moved."""
    moved = 0
    for number, payout in enumerate(db.session.scalars(_sealed_payouts()).all(), start=1):
        token = rotation.resealed(payout.bank_reference_sealed, _purpose(payout.id), old, new)
        if token is not None:
            payout.bank_reference_sealed = token
            moved += 1
        if number % batch_size == 0:
            db.session.commit()
    db.session.commit()
    return moved


BANK_REFERENCES = rotation.Resealer(
    "payout bank references", "sealed", check_bank_references, reseal_bank_references
)


# --- Gifts outside Stripe: sealed under the master key ------------------------------------------


def _gift_purpose(gift: OfflineGift, field: OfflineGiftField) -> str:
    """What a gift's text is sealed for: bound to its gift (its donation's id) and the field."""
    return f"offline-gift:{gift.donation_id}:{field}"


def seal_gift_text(gift: OfflineGift, field: OfflineGiftField, text: str) -> None:
    """Keep a gift's reference or reversal reason, sealed (None when empty)."""
    token = seal(text, _gift_purpose(gift, field)) if text else None
    setattr(gift, OFFLINE_GIFT_COLUMNS[field], token)


def gift_text(gift: OfflineGift, field: OfflineGiftField) -> str | None:
    """A gift's reference or reversal reason, opened."""
    token: str | None = getattr(gift, OFFLINE_GIFT_COLUMNS[field])
    return unseal(token, _gift_purpose(gift, field)) if token else None


def check_gift_texts(old: bytes, new: bytes) -> None:
    """Before a master-key rotation: every gift's text is under the old or the new key."""
    for gift in db.session.scalars(select(OfflineGift)):
        tokens = (getattr(gift, column) for column in OFFLINE_GIFT_COLUMNS.values())
        rotation.check_sealed(tokens, "references of gifts outside Stripe", old, new)


def reseal_gift_texts(old: bytes, new: bytes, batch_size: int) -> int:
    """Re-seal the gifts' text still under the old master key; the number moved."""
    moved = 0
    gifts = db.session.scalars(select(OfflineGift).order_by(OfflineGift.donation_id)).all()
    for number, gift in enumerate(gifts, start=1):
        for field, column in OFFLINE_GIFT_COLUMNS.items():
            token = rotation.resealed(getattr(gift, column), _gift_purpose(gift, field), old, new)
            if token is not None:
                setattr(gift, column, token)
                moved += 1
        if number % batch_size == 0:
            db.session.commit()
    db.session.commit()
    return moved


GIFT_TEXTS = rotation.Resealer(
    "references of gifts outside Stripe", "sealed", check_gift_texts, reseal_gift_texts
)


def open_payee(disbursement: Disbursement) -> str | None:
    """Whom to pay, as the caseworker wrote it (an audited read of the case), PURGED once the
    case is gone. Finance asks only for an approved disbursement it is paying."""
    if disbursement.payee_enc is None:
        return None
    opened = case_sealer().decrypt(disbursement.case_id, disbursement.payee_enc, "payee")
    return PURGED if opened is None else opened
