"""Tables. Only the Alembic migrations in ledger/migrations create them; this module describes them
for queries. Keep the two in step (tests/integration/test_repository_schema.py compares them).

On PostgreSQL (migration 0012) identifier columns compare as bytes (COLLATE "C"), and the foreign
keys of `STATEMENT_CHECKED_REFERENCES`, which the nightly writes by the million, are checked once per
statement by triggers instead of once per row: the same rows are refused, with the same SQLSTATE.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from ledger.types import Money

metadata = MetaData()

organizations = Table(
    "organizations",
    metadata,
    Column("org_id", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("legal_name", Text),
    Column("tax_id", String(16), index=True),
    Column("currency", String(3), nullable=False),
    Column("notify_emails", Text),
)

organization_ibans = Table(
    "organization_ibans",
    metadata,
    Column("org_id", String(64), ForeignKey("organizations.org_id"), primary_key=True),
    Column("iban", String(34), primary_key=True),
    Column("origin", String(16), nullable=False),  # imported | learned
    Index("ix_organization_ibans_iban", "iban"),
)

invoices = Table(
    "invoices",
    metadata,
    Column("invoice_number", String(64), primary_key=True),
    Column("org_id", String(64), ForeignKey("organizations.org_id"), nullable=False, index=True),
    Column("issued_on", Date, nullable=False),
    Column("due_on", Date),
    Column("currency", String(3), nullable=False),
    Column("amount", Money, nullable=False),
    Column("status", String(16), nullable=False),  # open | partially_paid | paid | cancelled
    Index("ix_invoices_status", "status"),  # the open ones, among years of paid invoices
)

card_payments = Table(
    "card_payments",
    metadata,
    Column("payment_id", String(64), primary_key=True),
    Column("org_id", String(64), ForeignKey("organizations.org_id"), nullable=False, index=True),
    Column("provider", String(32), nullable=False),
    Column("provider_ref", String(128)),
    Column("paid_at", DateTime(timezone=True), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", Money, nullable=False),
)

usage_debits = Table(
    "usage_debits",
    metadata,
    Column("date", Date, primary_key=True),
    Column("org_id", String(64), ForeignKey("organizations.org_id"), primary_key=True),
    Column("channel", String(32), primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("quantity", Integer, nullable=False),
    Column("amount", Money, nullable=False),
)

raw_files = Table(
    "raw_files",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("storage_key", Text, nullable=False),
    Column("original_name", Text, nullable=False),
    Column("size", Integer, nullable=False),
    Column("source", String(64)),
    Column("status", String(16), nullable=False),  # stored | loaded | quarantined
    Column("error", Text),
    Column("transactions_found", Integer),
    Column("records_loaded", Integer),
    Column("rows_quarantined", Integer),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

normalized_lines = Table(
    "normalized_lines",
    metadata,
    Column("line_id", String(64), primary_key=True),
    Column("raw_file_sha256", String(64), ForeignKey("raw_files.sha256"), nullable=False, index=True),
    Column("record_type", String(16), nullable=False),
    Column("source_format", String(64), nullable=False),
    Column("account", String(64), nullable=False),
    Column("booking_date", Date, nullable=False, index=True),
    Column("value_date", Date),
    Column("amount", Money, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("counterparty_name", Text),
    Column("counterparty_account", String(64)),
    Column("counterparty_tax_id", String(16)),
    Column("remittance", Text),
    Column("end_to_end_id", Text),
    Column("bank_ref", Text),
    Column("extra", Text),  # the source's format-specific details as JSON (payout id, batch, ...)
    Column("loaded_at", DateTime(timezone=True), nullable=False),
    # Provider rows, payouts and chargebacks among the bank lines, by day (settlements, reports).
    Index("ix_normalized_lines_type_date", "record_type", "booking_date"),
)

quarantined_rows = Table(
    "quarantined_rows",
    metadata,
    Column("raw_file_sha256", String(64), ForeignKey("raw_files.sha256"), primary_key=True),
    Column("row_key", String(64), primary_key=True),
    Column("reason", Text, nullable=False),
    Column("record", Text, nullable=False),  # the row as JSON, so nothing is lost
    Column("quarantined_at", DateTime(timezone=True), nullable=False),
)

matches = Table(
    "matches",
    metadata,
    Column("line_id", String(64), ForeignKey("normalized_lines.line_id"), primary_key=True),
    Column("status", String(16), nullable=False),  # matched | exception
    Column("org_id", String(64), ForeignKey("organizations.org_id")),
    Column("invoice_numbers", Text),  # ';'-separated
    Column("rule", String(64), nullable=False),
    Column("confidence", Numeric(4, 3), nullable=False),
    Column("reason", Text, nullable=False),
    Column("suggestions", Text),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Index("ix_matches_status", "status"),
)

journal_entries = Table(
    "journal_entries",
    metadata,
    Column("entry_id", String(36), primary_key=True),
    Column("idempotency_key", String(200), nullable=False),
    Column("kind", String(16), nullable=False),  # credit | usage | card
    Column("status", String(16), nullable=False),  # provisional | confirmed | reversed
    Column("org_id", String(64), ForeignKey("organizations.org_id"), index=True),
    Column("effective_date", Date, nullable=False, index=True),
    Column("evidence", Text),  # what justified it: a line_id, a payment_id, a usage key
    Column("description", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("idempotency_key", name="uq_journal_entries_idempotency_key"),
    Index("ix_journal_entries_kind_date", "kind", "effective_date"),  # credits of a window, plan fees, chargebacks
)

postings = Table(
    "postings",
    metadata,
    Column("entry_id", String(36), ForeignKey("journal_entries.entry_id"), primary_key=True),
    Column("leg", Integer, primary_key=True),
    Column("account", String(128), nullable=False, index=True),
    Column("currency", String(3), nullable=False),
    Column("amount", Money, nullable=False),  # debit positive, credit negative
)

statements = Table(
    "statements",
    metadata,
    # The same statement delivered twice (a re-sent file, an overlapping export) has the same key.
    Column("statement_key", String(64), primary_key=True),
    Column("raw_file_sha256", String(64), ForeignKey("raw_files.sha256"), nullable=False, index=True),
    Column("source_format", String(64), nullable=False),
    Column("account", String(64)),
    Column("currency", String(3)),
    Column("statement_id", Text),
    Column("sequence", Text),
    Column("opening_balance", Money),
    Column("opening_date", Date),
    Column("closing_balance", Money),
    Column("closing_date", Date),
    Column("line_count", Integer, nullable=False),
    Column("lines_total", Money),
    Column("balance_check", String(16), nullable=False),  # passed | failed | not_checkable
    Column("balance_problem", Text),
    Index("ix_statements_account", "account", "currency", "closing_date"),
)

control_checks = Table(
    "control_checks",
    metadata,
    Column("raw_file_sha256", String(64), ForeignKey("raw_files.sha256"), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("scope", String(200), primary_key=True),
    Column("expected", Text),
    Column("actual", Text),
    Column("passed", Boolean, nullable=False),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    # A plan ordered by an organization: its monthly fee is debited when the plan activates, i.e. on
    # the first day of each period on which the prepaid balance covers the fee (after a top-up).
    Column("org_id", String(64), ForeignKey("organizations.org_id"), primary_key=True),
    Column("plan", String(64), primary_key=True),
    Column("starts_on", Date, primary_key=True),
    Column("ends_on", Date),
    Column("currency", String(3), nullable=False),
    Column("monthly_fee", Money, nullable=False),
)

notifications = Table(
    "notifications",
    metadata,
    # One row per message that must go out once: "topup:<entry_id>" for a billing notification,
    # "flag:<ref>" for a flag finance was alerted about. The row is claimed before sending.
    Column("notification_key", String(300), primary_key=True),
    Column("kind", String(16), nullable=False),  # topup | alert
    Column("recipients", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("status", String(16), nullable=False),  # sending | sent | failed
    Column("error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True)),
    Index("ix_notifications_status", "status"),  # each run retries the failed ones, among every message ever sent
)

review_decisions = Table(
    "review_decisions",
    metadata,
    # The audit trail of manual decisions: who decided what about which payment, when and why.
    Column("decision_id", Integer, primary_key=True, autoincrement=True),
    Column("line_id", String(64), ForeignKey("normalized_lines.line_id"), nullable=False, index=True),
    Column("action", String(16), nullable=False),  # credit | suspense
    Column("org_id", String(64), ForeignKey("organizations.org_id")),
    Column("invoice_numbers", Text),
    Column("decided_by", Text, nullable=False),
    Column("comment", Text),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Column("flow_run_id", String(64)),
)

settlement_links = Table(
    "settlement_links",
    metadata,
    # A platform card/PayPal payment and the provider's settlement row that proves it was settled.
    Column("payment_id", String(64), ForeignKey("card_payments.payment_id"), primary_key=True),
    Column("line_id", String(64), ForeignKey("normalized_lines.line_id"), nullable=False, unique=True),
    Column("linked_at", DateTime(timezone=True), nullable=False),
)

payout_links = Table(
    "payout_links",
    metadata,
    # A provider's payout and the bank line that received it.
    Column("payout_line_id", String(64), ForeignKey("normalized_lines.line_id"), primary_key=True),
    Column("bank_line_id", String(64), ForeignKey("normalized_lines.line_id"), nullable=False, unique=True),
    Column("linked_at", DateTime(timezone=True), nullable=False),
)

flags = Table(
    "flags",
    metadata,
    # Everything finance was alerted about, with its life: raised once, escalated once when it has
    # stayed open too long, cleared when it is resolved (and raised again if it comes back).
    Column("flag_key", String(300), primary_key=True),
    Column("source", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("status", String(16), nullable=False),  # open | cleared
    Column("raised_at", DateTime(timezone=True), nullable=False),
    Column("raised_on", Date, nullable=False),  # the business day it was raised, for escalation
    Column("escalated_at", DateTime(timezone=True)),
    Column("cleared_at", DateTime(timezone=True)),
)

organization_names = Table(
    "organization_names",
    metadata,
    # Payer names a confirmed payment taught for an organization ("TOV ROMASHKA", a director's name),
    # so the next payment under that name meets the organization even when nothing else links them.
    Column("org_id", String(64), ForeignKey("organizations.org_id"), primary_key=True),
    Column("name", Text, primary_key=True),
    Column("origin", String(16), nullable=False),  # learned | manual
    Column("learned_from", String(64)),  # the line_id that taught it
    Column("learned_at", DateTime(timezone=True), nullable=False),
)

invoice_allocations = Table(
    "invoice_allocations",
    metadata,
    # Which part of a credited payment settled which invoice. An invoice's amount paid is the sum of
    # its allocations; what a payment has beyond its invoices stays on the prepaid balance.
    Column("line_id", String(64), ForeignKey("normalized_lines.line_id"), primary_key=True),
    Column("invoice_number", String(64), ForeignKey("invoices.invoice_number"), primary_key=True),
    Column("amount", Money, nullable=False),
    Column("settles", String(16), nullable=False),  # exact | fee | sum | partial | over | manual
    Column("allocated_at", DateTime(timezone=True), nullable=False),
    Index("ix_invoice_allocations_invoice", "invoice_number"),
)

receipts = Table(
    "receipts",
    metadata,
    # A payment receipt (scan, photo or PDF) emailed to sales, read and decided once. Its id is the
    # SHA-256 of the attachment that first brought it; the same receipt sent again (the same bytes, or
    # the same bank document, amount, date and payer) is recorded in receipt_copies, not here.
    Column("receipt_id", String(64), primary_key=True),
    Column("identity_key", String(64), unique=True),  # hash of bank document number, amount, date, payer
    Column("email_sha256", String(64), ForeignKey("raw_files.sha256"), nullable=False, index=True),
    Column("attachment_name", Text, nullable=False),
    Column("media_type", String(32), nullable=False),
    Column("sender", Text, nullable=False),  # the address that sent the email to us (lower-case)
    Column("forwarded_from", Text),  # the customer's address inside a forwarded message
    Column("message_id", Text),
    Column("received_on", Date, nullable=False),  # the business day the email reached us
    Column("method", String(8), nullable=False),  # text | ocr | none
    Column("layout", String(16), nullable=False),  # privat24 | monobank | payment_order | generic
    Column("amount", Money),
    Column("currency", String(3)),
    Column("paid_on", Date),
    Column("payer_name", Text),
    Column("payer_iban", String(34)),
    Column("payer_tax_id", String(16)),
    Column("payee", Text),
    Column("purpose", Text),
    Column("invoice_number", String(64)),
    Column("bank_doc_number", String(64)),
    Column("bank_name", Text),
    Column("fields", Text, nullable=False),  # every field read, with its confidence, as JSON
    Column("status", String(16), nullable=False),  # review | provisional | confirmed | reversed
    Column("org_id", String(64), ForeignKey("organizations.org_id"), index=True),
    Column("rule", String(32), nullable=False),
    Column("confidence", Numeric(4, 3), nullable=False),
    Column("reason", Text, nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Column("line_id", String(64), ForeignKey("normalized_lines.line_id"), unique=True),  # the bank line that confirmed it
    Column("settled_on", Date),  # the day it was confirmed or reversed
    Index("ix_receipts_status", "status"),
)

receipt_copies = Table(
    "receipt_copies",
    metadata,
    # Every attachment that carried a receipt, in every email: the first copy and each repeat.
    Column("attachment_sha256", String(64), primary_key=True),
    Column("email_sha256", String(64), ForeignKey("raw_files.sha256"), primary_key=True),
    Column("receipt_id", String(64), ForeignKey("receipts.receipt_id"), nullable=False, index=True),
    Column("seen_at", DateTime(timezone=True), nullable=False),
)


#: (table, column) of the foreign keys that PostgreSQL checks per statement (migration 0012's
#: triggers) rather than per row; SQLite keeps them as foreign keys.
STATEMENT_CHECKED_REFERENCES = frozenset({
    ("normalized_lines", "raw_file_sha256"),
    ("matches", "line_id"),
    ("matches", "org_id"),
    ("journal_entries", "org_id"),
    ("postings", "entry_id"),
    ("settlement_links", "payment_id"),
    ("settlement_links", "line_id"),
    ("payout_links", "payout_line_id"),
    ("payout_links", "bank_line_id"),
    ("invoice_allocations", "line_id"),
    ("invoice_allocations", "invoice_number"),
})
