"""Full card numbers (PANs) never reach the ledger, the quarantine or `payrecon parse`: they are
masked where records enter the system (PRODUCT.md: "Full card numbers are never stored or
reported"; PCI DSS requirement 3.4: at most the first six and last four digits are shown).

A card number here is a run of 13 to 19 digits that passes the Luhn check, written without
separators or grouped the way cards are printed (4-4-4-4 with a shorter last group, 4-6-5, 4-6-4)
with single spaces or dashes. It must stand alone: digits or letters glued to it make it part of
something else (an IBAN such as DK5000400440116243, a longer account number, a reference), which is
left alone; other numbers may stand next to it ("Invoice 1 4111 1111 1111 1111"). Masking keeps the first six and the last four digits and the
separators, and writes '*' for the other digits: 4111 1111 1111 1111 -> 4111 11** **** 1111.

Free text (payer names, purposes, the source's extra details) is masked on the Luhn check alone.
Identifier columns (bank_ref, end_to_end_id) are matched against the billing system's references,
where a random 13-19 digit id passes the Luhn check one time in ten; there a run is masked only if
it also has a card scheme's prefix and length (IIN ranges of Visa, Mastercard, Amex, Discover, JCB,
Diners, UnionPay, Maestro, Mir, Prostir).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

from sources.records import NormalizedRecord

#: A standalone run of digits with single spaces or dashes between groups (possessive: a run is
#: taken whole or not at all).
_RUN = re.compile(r"(?<!\w)[0-9]++(?:[ -][0-9]++)*+(?!\w)")
#: Cheap filter for the vectorised path: 13 digits with at most single separators between them.
CANDIDATE_RE2 = r"[0-9](?:[ -]?[0-9]){12}"
_CANDIDATE = re.compile(CANDIDATE_RE2)
#: The vectorised path's filter (RE2): such 13 digits where a run may start, i.e. not glued to an
#: ASCII letter, digit or underscore before them (_RUN's (?<!\w)); a value it passes over cannot
#: hold a card number _RUN would find ("PSP0000000000000", a reference, is passed over). Any other
#: character before them (a non-ASCII letter too) keeps the value for the exact Python check.
STANDALONE_RE2 = r"(?:^|[^0-9A-Za-z_])" + CANDIDATE_RE2
#: The same over JSON text, where the character before may be written as an escape (\n, \u0009).
JSON_STANDALONE_RE2 = r"(?:^|[^0-9A-Za-z_]|\\[bfnrt]|\\u[0-9A-Fa-f]{4})" + CANDIDATE_RE2

#: Columns of a normalized record that hold free text, and the identifier columns.
FREE_TEXT_COLUMNS = ("counterparty_name", "counterparty_account", "remittance")
IDENTIFIER_COLUMNS = ("end_to_end_id", "bank_ref")
_GROUPINGS = {(4, 6, 5), (4, 6, 4)}


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _card_grouping(groups: list[str]) -> bool:
    if len(groups) == 1:
        return True
    lengths = tuple(len(g) for g in groups)
    if lengths in _GROUPINGS:
        return True
    return all(n == 4 for n in lengths[:-1]) and 1 <= lengths[-1] <= 4


def has_card_prefix(digits: str) -> bool:
    """Whether a scheme issues card numbers of this prefix and length (ISO/IEC 7812 IIN ranges)."""
    n, two, four = len(digits), int(digits[:2]), int(digits[:4])
    return (
        (digits[0] == "4" and n in (13, 16, 19))  # Visa
        or ((51 <= two <= 55 or 2221 <= four <= 2720) and n == 16)  # Mastercard
        or (two in (34, 37) and n == 15)  # American Express
        or ((four == 6011 or 644 <= int(digits[:3]) <= 649 or two == 65) and 16 <= n <= 19)  # Discover
        or (3528 <= four <= 3589 and 16 <= n <= 19)  # JCB
        or ((two in (36, 38, 39) or 300 <= int(digits[:3]) <= 305) and 14 <= n <= 19)  # Diners Club
        or (two == 62 and 16 <= n <= 19)  # UnionPay
        or ((two == 50 or 56 <= two <= 69) and 12 <= n <= 19)  # Maestro
        or (2200 <= four <= 2204 and 16 <= n <= 19)  # Mir
        or (four == 9804 and n == 16)  # Prostir (Ukraine)
    )


def _is_card(groups: list[str], strict: bool) -> bool:
    digits = "".join(groups)
    return (13 <= len(digits) <= 19 and _card_grouping(groups) and luhn_valid(digits)
            and (not strict or has_card_prefix(digits)))


def _masked(run: str, strict: bool) -> str:
    """The run with the card numbers in it masked: the longest card number starting at each
    group, left to right (a run may hold more than a card: "1 4111 1111 1111 1111")."""
    spans = [(m.start(), m.end()) for m in re.finditer(r"[0-9]+", run)]
    groups = [run[start:end] for start, end in spans]
    keep = set()
    masked = [False] * len(run)
    first = 0
    while first < len(groups):
        for last in range(min(len(groups), first + 5) - 1, first - 1, -1):
            if _is_card(groups[first: last + 1], strict):
                positions = [p for start, end in spans[first: last + 1] for p in range(start, end)]
                keep.update(positions[:6] + positions[-4:])
                for position in positions:
                    masked[position] = True
                first = last + 1
                break
        else:
            first += 1
    return "".join("*" if masked[i] and i not in keep else char for i, char in enumerate(run))


def mask_text(text: str | None, strict: bool = False) -> str | None:
    """`text` with every card number masked (strict: identifier columns, see the module doc)."""
    if not text or _CANDIDATE.search(text) is None:
        return text
    return _RUN.sub(lambda match: _masked(match.group(), strict), text)


def mask_value(value: Any) -> Any:
    """Strings in a JSON-like value (dicts, lists) masked as free text."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {key: mask_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [mask_value(item) for item in value]
    return value


def mask_record(record: NormalizedRecord) -> NormalizedRecord:
    changes: dict[str, Any] = {name: mask_text(getattr(record, name)) for name in FREE_TEXT_COLUMNS}
    changes.update({name: mask_text(getattr(record, name), strict=True) for name in IDENTIFIER_COLUMNS})
    changes["extra"] = mask_value(record.extra)
    return replace(record, **changes)


def mask_json_text(text: str | None) -> str | None:
    """A JSON document with the card numbers in its strings masked (digits become '*' only inside
    strings: the document stays valid JSON)."""
    if not text or _CANDIDATE.search(text) is None:
        return text
    return json.dumps(mask_value(json.loads(text)), ensure_ascii=False, sort_keys=True)


def mask_frame(frame, extra_column: str | None = "extra"):
    """A batch of records (pandas DataFrame with the record columns) with card numbers masked.

    Vectorised where it matters: only the values holding 13 digits in a row (pyarrow's regex over
    the column) go through the Python masking.
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    frame = frame.copy()
    plan = [(name, lambda v: mask_text(v), STANDALONE_RE2) for name in FREE_TEXT_COLUMNS]
    plan += [(name, lambda v: mask_text(v, strict=True), STANDALONE_RE2) for name in IDENTIFIER_COLUMNS]
    if extra_column:
        plan.append((extra_column, mask_json_text, JSON_STANDALONE_RE2))
    for name, function, candidate in plan:
        if name not in frame.columns:
            continue
        column = frame[name]
        values = pa.array(column.astype(object).where(column.notna(), None).tolist(), pa.string()) \
            if column.dtype == object else pa.Array.from_pandas(column)
        suspect = pc.fill_null(pc.match_substring_regex(values, candidate), False).to_numpy(zero_copy_only=False)
        if not suspect.any():
            continue
        rows = frame.index[suspect]
        frame.loc[rows, name] = pd.Series([function(v) for v in column.loc[rows]], index=rows, dtype=column.dtype)
    return frame
