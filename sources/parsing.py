"""Small parsing helpers shared by the sources: money, dates, text decoding."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

_SPACES = re.compile(r"[\s\u00a0\u202f']")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")


def parse_amount(raw: str | None) -> str | None:
    """A money string as a canonical decimal string ('1 500,00' -> '1500.00'), or the raw text.

    Returns the input unchanged when it is not a number, so the data contract can quarantine the
    row with the offending value. Never goes through float.
    """
    if raw is None:
        return None
    text = _SPACES.sub("", raw.strip())
    if not text:
        return raw
    if "," in text and "." in text:
        # The separator that comes last is the decimal one: 1.234,56 or 1,234.56.
        if text.rfind(",") > text.rfind("."):
            text = text.replace(".", "").replace(",", ".")
        else:
            text = text.replace(",", "")
    elif "," in text:
        text = text.replace(",", ".")
    # Plain digits only: Decimal would also accept "1e999999999" and "NaN", which no statement means.
    if not _PLAIN_NUMBER.fullmatch(text):
        return raw
    return format(Decimal(text), "f")


_DATE_FORMATS = ("%d.%m.%Y", "%Y-%m-%d", "%d/%m/%Y", "%d.%m.%y")


def parse_date(raw: str | None) -> str | None:
    """A date as ISO YYYY-MM-DD, or the raw text when it is not a date (the contract rejects it).

    A time after the date ('12.11.2026 14:05' or '12.11.2026 14:05:33') is ignored.
    """
    if raw is None:
        return None
    text = raw.strip().split(" ")[0].split("T")[0]
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    return raw


def decode_text(data: bytes, preferred: tuple[str, ...] = ("utf-8-sig", "cp1251")) -> tuple[str, str]:
    """Decode bytes with the first encoding that fits; returns (text, encoding)."""
    for encoding in preferred:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise UnicodeDecodeError(preferred[-1], data, 0, len(data), "no candidate encoding fits")


def clean(value: str | None) -> str | None:
    """Strip whitespace; an empty value is None."""
    if value is None:
        return None
    value = " ".join(value.split())
    return value or None


def iso_or_none(value: date | datetime | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        value = value.date()
    return value.isoformat()
