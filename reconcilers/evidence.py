"""Evidence found in a payment's free text: invoice-number tokens and tax IDs.

ЄДРПОУ (EDRPOU) is the 8-digit code of a Ukrainian legal entity, with a check digit computed with
weights 1..7 or 3..9 depending on the code's range (the Ministry of Statistics' algorithm);
РНОКПП is a person's 10-digit taxpayer number.
"""

from __future__ import annotations

import re

import pandas as pd

# A token: letters (Latin or Cyrillic) and digits, joined by '-' or '/'. "№2026-00123," -> "2026-00123".
TOKEN = r"[0-9A-Za-zА-Яа-яІіЇїЄєҐґ]+(?:[-/][0-9A-Za-zА-Яа-яІіЇїЄєҐґ]+)*"
TAX_ID = r"(?<!\d)(\d{8}|\d{10})(?!\d)"


def normalize_invoice_number(value: str) -> str:
    return value.strip().upper()


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


def invoice_tokens(lines: pd.DataFrame) -> pd.DataFrame:
    """(line_id, token) for every token of each line's remittance, upper-cased."""
    text = lines["remittance"].fillna("").astype("str").str.upper()
    tokens = text.str.findall(TOKEN)
    exploded = pd.DataFrame({"line_id": lines["line_id"].to_numpy(), "token": tokens}).explode("token")
    return exploded.dropna(subset=["token"]).drop_duplicates()


def tax_id_mentions(lines: pd.DataFrame) -> pd.DataFrame:
    """(line_id, tax_id) from the counterparty's tax-ID field and from digit runs in the remittance."""
    from_field = pd.DataFrame(
        {"line_id": lines["line_id"].to_numpy(), "tax_id": lines["counterparty_tax_id"].to_numpy()}
    ).dropna()
    text = lines["remittance"].fillna("").astype("str")
    found = text.str.findall(TAX_ID)
    from_text = pd.DataFrame({"line_id": lines["line_id"].to_numpy(), "tax_id": found}).explode("tax_id").dropna()
    both = pd.concat([from_field, from_text], ignore_index=True)
    both["tax_id"] = both["tax_id"].astype("str").str.strip()
    return both.drop_duplicates()


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
