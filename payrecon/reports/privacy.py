"""Payer IBANs stay out of the analyst datasets unless PAYRECON_REPORTS_INCLUDE_IBANS=true.

A payer's IBAN is personal data (most payers of a Ukrainian SaaS include sole proprietors, whose
account identifies a person). The datasets carry it only inside free text (an exception's reason,
e.g. "the payer's account UA21… is known for org-7", its suggestions, a quarantined file's name),
so the columns that may hold such text are marked in `datasets.py` (`payer_text=True`) and every
IBAN found there (ISO 13616: two letters, two check digits, 11-30 letters or digits, mod-97 = 1)
is masked to its country code and last four characters. Our own accounts are not a payer's and
stay readable (finance needs to know which statement chain broke).
"""

from __future__ import annotations

import re
from typing import Iterable

#: An IBAN in text, printed whole or in groups of four ("UA21 3223 1300 ...").
_CANDIDATE = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")


def iban_valid(text: str) -> bool:
    compact = text.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    moved = compact[4:] + compact[:4]
    digits = "".join(str(int(ch, 36)) for ch in moved)
    return int(digits) % 97 == 1


def mask_iban(iban: str) -> str:
    compact = iban.replace(" ", "")
    return compact[:2] + "*" * (len(compact) - 6) + compact[-4:]


class PayerIbanPolicy:
    """What the datasets may show of IBANs: everything (`include=True`) or only our own accounts."""

    def __init__(self, include: bool, own_accounts: Iterable[str] = ()):
        self.include = include
        self.own = {a.replace(" ", "").upper() for a in own_accounts if a}

    def redact(self, text):
        """`text` with every payer IBAN in it masked (None and non-strings pass unchanged)."""
        if self.include or not isinstance(text, str) or not _CANDIDATE.search(text):
            return text
        return _CANDIDATE.sub(self._replace, text)

    def _replace(self, match: re.Match) -> str:
        found = match.group(0)
        # A longer alphanumeric run can swallow the next word's start: trim back to a valid IBAN.
        for end in range(len(found), 14, -1):
            candidate = found[:end].rstrip()
            if iban_valid(candidate):
                if candidate.replace(" ", "") in self.own:
                    return found
                return mask_iban(candidate) + found[end:]
        return found


#: The default: no payer IBAN leaves the ledger.
MASK_ALL = PayerIbanPolicy(include=False)
