"""The report datasets: their Parquet schemas and what each column means.

This module is the single description of the datasets: the writer casts to these schemas, the
data dictionary (docs/data-dictionary.md) is generated from them, and each has a data contract
(data_contracts/suites/report_<name>.json) checked before it is published.

`date` is the partition column: it lives in the folder name (`date=YYYY-MM-DD`), never in the files.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from ledger.types import SCALE

SCHEMA_VERSION = "2"
MONEY = pa.decimal128(20, SCALE)
TIMESTAMP = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    description: str
    nullable: bool = True
    payer_text: bool = False  # free text that may name a payer's IBAN (masked: payrecon/reports/privacy.py)


@dataclass(frozen=True)
class Dataset:
    name: str
    partition: str  # what the date=... folder means
    kind: str  # event (rewritten for every day of the look-back window) | snapshot (the as-of day)
    description: str
    columns: tuple[Column, ...]

    @property
    def schema(self) -> pa.Schema:
        fields = [pa.field(c.name, c.type, nullable=c.nullable) for c in self.columns]
        return pa.schema(fields, metadata={"payrecon.dataset": self.name, "payrecon.schema_version": SCHEMA_VERSION})

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def payer_text(self) -> list[str]:
        """Columns whose text may name a payer's IBAN (PAYRECON_REPORTS_INCLUDE_IBANS)."""
        return [c.name for c in self.columns if c.payer_text]


def _c(name, type_, description, nullable=True, payer_text=False):
    return Column(name, type_, description, nullable, payer_text)


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset(
            "channel_spend", "the usage day", "event",
            "Debits per organization, day and media channel: usage from the billing system and subscription fees.",
            (
                _c("org_id", pa.string(), "The organization (billing-system id).", False),
                _c("channel", pa.string(), "Media channel: email, sms, viber, webpush, mobilepush, app_inbox, telegram, whatsapp, or subscription for a plan's monthly fee.", False),
                _c("quantity", pa.int64(), "Messages sent (for subscription: 1 per fee debited).", False),
                _c("currency", pa.string(), "ISO 4217 currency of the debit.", False),
                _c("amount", MONEY, "Debited amount, a decimal (never negative).", False),
            ),
        ),
        Dataset(
            "credits", "the day the money was booked", "event",
            "Every credit to a prepaid balance: bank transfers matched to an organization and card/PayPal top-ups.",
            (
                _c("credit_id", pa.string(), "The journal entry id (stable across re-runs).", False),
                _c("org_id", pa.string(), "The organization credited.", False),
                _c("source", pa.string(), "Where the money came from: the statement format (e.g. privat24_csv, camt), the card provider, or receipt_email (a receipt's provisional credit).", False),
                _c("bank_ref", pa.string(), "The bank's or provider's own reference of the payment."),
                _c("invoice_numbers", pa.string(), "Invoices the payment names, ';'-separated."),
                _c("currency", pa.string(), "ISO 4217 currency.", False),
                _c("amount", MONEY, "Amount credited (positive).", False),
                _c("status", pa.string(), "provisional, confirmed or reversed.", False),
                _c("confidence", pa.decimal128(4, 3), "How sure the match was, 0.000-1.000.", False),
                _c("rule", pa.string(), "The matching rule that decided the credit.", False),
                _c("credited_at", TIMESTAMP, "When the credit was posted (UTC).", False),
            ),
        ),
        Dataset(
            "exceptions", "the as-of day (what was open then)", "snapshot",
            "What finance must look at: unmatched payments, quarantined files and rows, statements that do not add up or do not chain, failed control totals.",
            (
                _c("ref", pa.string(), "A stable reference of the item (line id, file hash, statement key).", False),
                _c("source", pa.string(), "Where it comes from (format, file name).", False, payer_text=True),
                _c("reason", pa.string(), "What is wrong, in one sentence.", False, payer_text=True),
                _c("amount", MONEY, "The money involved, when there is an amount."),
                _c("currency", pa.string(), "Its currency."),
                _c("suggestions", pa.string(), "Ranked candidate organizations, when any.", payer_text=True),
                _c("opened_at", TIMESTAMP, "When the item was first seen (UTC).", False),
            ),
        ),
        Dataset(
            "delays", "the as-of day", "snapshot",
            "Money that is late: unidentified money in suspense, receipt credits no bank line confirmed, card/PayPal payments not settled and payouts not received, each past its allowed business days.",
            (
                _c("kind", pa.string(), "What is late: suspense, receipt, card_settlement, paypal_settlement, payout.", False),
                _c("ref", pa.string(), "The item's reference.", False),
                _c("org_id", pa.string(), "The organization, when known."),
                _c("currency", pa.string(), "ISO 4217 currency.", False),
                _c("amount", MONEY, "The amount waiting.", False),
                _c("expected_by", pa.date32(), "The last business day it was allowed.", False),
                _c("age_business_days", pa.int32(), "Business days since it started (weekends and Ukrainian holidays excluded).", False),
                _c("flagged_at", TIMESTAMP, "When this report flagged it (UTC).", False),
            ),
        ),
        Dataset(
            "balances", "the as-of day (end of day)", "snapshot",
            "Each organization's prepaid balance per currency, derived from the ledger's postings.",
            (
                _c("org_id", pa.string(), "The organization.", False),
                _c("currency", pa.string(), "ISO 4217 currency.", False),
                _c("balance", MONEY, "Credits minus debits up to the end of the day.", False),
            ),
        ),
        Dataset(
            "provider_activity", "the day the provider booked it", "event",
            "Card and PayPal money per provider and day: settled payments, fees, refunds, chargebacks and payouts, and how many of the platform's payments each day's settlements proved.",
            (
                _c("provider", pa.string(), "paypal, stripe, adyen or liqpay.", False),
                _c("currency", pa.string(), "ISO 4217 currency.", False),
                _c("record_type", pa.string(), "settlement, fee, refund, chargeback or payout.", False),
                _c("records", pa.int64(), "How many rows.", False),
                _c("amount", MONEY, "Their total as the provider booked it (fees, refunds, chargebacks and payouts negative).", False),
            ),
        ),
        Dataset(
            "unmatched_aging", "the as-of day", "snapshot",
            "Unmatched incoming money by age in business days: 0-1, 2-3, 4-7, 8+.",
            (
                _c("bucket", pa.string(), "Age bucket in business days: 0-1, 2-3, 4-7, 8+.", False),
                _c("currency", pa.string(), "ISO 4217 currency.", False),
                _c("payments", pa.int64(), "How many payments.", False),
                _c("amount", MONEY, "Their total.", False),
            ),
        ),
    )
}
