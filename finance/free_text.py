"""Finance's free text as personal data: a disbursement's decision reason and payment reference,
and a payout's bank reference.

Bank references often name the payee and reasons the person, so none of them is kept in clear
or copied into an audit record. A disbursement's text is encrypted under its case's data key by
a `CaseSealer` that cases/ registers on the app (finance never imports cases/), so purging the
case shreds it too. A payout belongs to no case: its bank reference is sealed under the master
key, bound to the payout, and re-sealed by `keys rotate-master` like donors' details."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from flask import Flask, current_app
from sqlalchemy import select

from extensions import db
from finance.models import Disbursement, Payout
from security import rotation
from security.sealing import seal, unseal

PURGED = "(purged)"
SEALER_KEY = "finance_case_sealer"
DisbursementField = Literal["decision-reason", "payment-reference"]


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
