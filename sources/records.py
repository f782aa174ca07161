"""The normalized record every source produces (PRODUCT.md, "Normalized records").

Values are strings (or None) so that a row the source could not fully understand still travels to
the data contract, which quarantines it with a reason instead of losing it. `amount` is a signed
decimal string: money into our account is positive.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator, Protocol

RECORD_TYPES = ("bank_line", "settlement", "payout", "fee", "refund", "chargeback", "receipt")

RECORD_FIELDS = (
    "record_type",
    "source_format",
    "account",
    "booking_date",
    "value_date",
    "amount",
    "currency",
    "counterparty_name",
    "counterparty_account",
    "counterparty_tax_id",
    "remittance",
    "end_to_end_id",
    "bank_ref",
    "line_id",
)


@dataclass(frozen=True)
class NormalizedRecord:
    record_type: str
    source_format: str
    account: str | None
    booking_date: str | None
    value_date: str | None
    amount: str | None
    currency: str | None
    counterparty_name: str | None
    counterparty_account: str | None
    counterparty_tax_id: str | None
    remittance: str | None
    end_to_end_id: str | None
    bank_ref: str | None
    line_id: str
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        extra = data.pop("extra")
        if extra:
            data["extra"] = extra
        return data


@dataclass(frozen=True)
class StatementSummary:
    """A statement's own control figures, for the integrity check (opening + sum of lines = closing).

    Balances are decimal strings as written in the file (signed), or None when the format or the
    file carries none. `line_ids` are the records of this statement, so the check can sum them.
    """

    account: str | None
    currency: str | None
    statement_id: str | None
    sequence: str | None
    opening_balance: str | None
    opening_date: str | None
    closing_balance: str | None
    closing_date: str | None
    line_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class ControlCheck:
    """A control total the file carries, checked against its lines (a PayPal section footer, an
    Adyen batch's payout, a 1C header's turnover). A failed check flags the file for finance; it does
    not by itself reject the file. Amounts are decimal strings."""

    name: str  # e.g. "paypal_section_footer_gross_credit", "adyen_batch_payout"
    scope: str  # what it covers, e.g. "section 1 USD", "batch 12"
    expected: str | None  # the figure written in the file
    actual: str | None  # the figure computed from the lines
    passed: bool


@dataclass
class ParseResult:
    """What a source read from one file: the records, and what it noticed.

    `transactions_found` counts what the file holds (counted independently of the parser where a
    library may drop lines); a source that keeps fewer records than it found must say why in
    `warnings` or raise.
    """

    records: list[NormalizedRecord]
    transactions_found: int
    warnings: list[str] = field(default_factory=list)
    statements: list[StatementSummary] = field(default_factory=list)
    checks: list[ControlCheck] = field(default_factory=list)


@dataclass
class RecordBatch:
    """A block of records in columns, for callers that handle many lines at once (ingest).

    `frame` has the RECORD_FIELDS columns (strings; NaN where the record has None), `extra` (the
    record's extra as JSON text, exactly as the ledger stores it: json.dumps(extra,
    ensure_ascii=False, sort_keys=True), NaN when empty) and `statement` (the index, in file
    order, of the StatementSummary the record belongs to; -1 for none). `statements` are the
    summaries of statements whose records have all been delivered (in this batch or before), as
    (index, summary); their line_ids are left empty, as a large statement's ids would not fit in
    memory: the records carry the index.
    """

    frame: Any  # pandas.DataFrame (pandas is imported only by the readers that build batches)
    statements: list[tuple[int, StatementSummary]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.frame)

    def records(self) -> list[NormalizedRecord]:
        """The batch as NormalizedRecords (for tests and small files)."""
        rows = self.frame.astype(object).where(self.frame.notna(), None).to_dict("records")
        return [
            NormalizedRecord(
                **{name: row[name] for name in RECORD_FIELDS},
                extra=json.loads(row["extra"]) if row["extra"] is not None else {},
            )
            for row in rows
        ]


class RecordStream(Protocol):
    """A file read batch by batch (Source.stream). The totals are known once batches() is done."""

    transactions_found: int
    warnings: list[str]
    checks: list[ControlCheck]

    def batches(self) -> Iterator[RecordBatch]:
        """The records in file order, in batches; raises MalformedFile as parse() would."""


def make_line_id(source_format: str, *parts: object) -> str:
    """A line id stable across re-parses and overlapping statements: a hash of the line's identity.

    Callers pass what identifies the money movement for their format (account, the bank's own
    reference, date, amount, ...), never the file name or the row position alone.
    """
    text = "\x1f".join("" if p is None else str(p) for p in (source_format, *parts))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
