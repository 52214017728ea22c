"""Finance's free text about a case (decision reasons, payment references) encrypted under the
case's own data key, so purging the case shreds it too. Finance asks through the
`finance.free_text.CaseSealer` this module provides; it never imports cases/."""

from __future__ import annotations

from cases import encryption
from cases.models import Case
from extensions import db


def _live_case(case_id: str) -> Case | None:
    """The case, unless it was purged (or never existed): then its key is gone."""
    case = db.session.get(Case, case_id)
    if case is None or case.is_purged or case.key is None:
        return None
    return case


class CaseKeySealer:
    """A `finance.free_text.CaseSealer` on the case keys: each ciphertext is bound to its case
    and to the label finance gives (its record and field); opening it is an audited read."""

    def encrypt(self, case_id: str, text: str, field_label: str) -> bytes | None:
        """The text under the case's key; None for a purged case (nothing is kept)."""
        case = _live_case(case_id)
        return None if case is None else encryption.encrypt(case, text, field_label)

    def decrypt(self, case_id: str, blob: bytes, field_label: str) -> str | None:
        """The text opened (audited as a read of the case); None once the case is purged."""
        case = _live_case(case_id)
        return None if case is None else encryption.decrypt(case, blob, field_label)


SEALER = CaseKeySealer()
