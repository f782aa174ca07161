"""Scalar checks of the identifiers payments carry (the engine's vectorised versions live in
`reconcilers.identifiers`), and generators of valid ones for the demo and the tests.

ЄДРПОУ (EDRPOU) is the 8-digit code of a Ukrainian legal entity, with a check digit computed with
weights 1..7 or 3..9 depending on the code's range (the Ministry of Statistics' algorithm);
РНОКПП is a person's 10-digit taxpayer number.
"""

from __future__ import annotations

import re


def edrpou_is_valid(code: str) -> bool:
    """Check digit of an 8-digit ЄДРПОУ code."""
    if not re.fullmatch(r"\d{8}", code):
        return False
    digits = [int(c) for c in code]
    base = (1, 2, 3, 4, 5, 6, 7) if not (30000000 < int(code) < 60000000) else (7, 1, 2, 3, 4, 5, 6)
    check = sum(d * w for d, w in zip(digits, base)) % 11
    if check >= 10:
        shifted = tuple(w + 2 for w in base)
        check = sum(d * w for d, w in zip(digits, shifted)) % 11
        check = 0 if check >= 10 else check
    return check == digits[7]


def edrpou_with_check_digit(first_seven: str) -> str:
    """Complete a 7-digit stem into a valid ЄДРПОУ (used by the demo generator and tests)."""
    for digit in "0123456789":
        if edrpou_is_valid(first_seven + digit):
            return first_seven + digit
    raise ValueError(f"no check digit fits {first_seven}")


def iban_is_valid(iban: str) -> bool:
    """ISO 13616 check: move the first four characters to the end, letters to numbers, mod 97 == 1."""
    text = iban.replace(" ", "").upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", text):
        return False
    digits = "".join(str(int(c, 36)) for c in text[4:] + text[:4])
    return int(digits) % 97 == 1


def make_iban(country: str, bban: str) -> str:
    """An IBAN with correct check digits for a country code and a basic bank account number."""
    digits = "".join(str(int(c, 36)) for c in bban + country + "00")
    return f"{country}{98 - int(digits) % 97:02d}{bban}"
