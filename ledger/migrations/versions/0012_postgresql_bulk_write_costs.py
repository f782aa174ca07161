"""PostgreSQL: identifiers compared byte by byte, references checked per statement

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26

Two costs of the nightly's bulk writes on PostgreSQL (benchmarks/bench_nightly_load.py, ~3M journal
entries, ~6M postings, ~3M normalized lines a night), both removed here without changing what the
database accepts. SQLite is left as it is.

1. Identifier columns (keys, ids, account codes, hashes, statuses) take COLLATE "C": every index
   insert, join and sort on them compares bytes instead of calling the database locale's strcoll
   (and sorts can use abbreviated keys). They hold ASCII identifiers, so only their order in an
   ORDER BY changes, to byte order, which is what an id's order means anyway. Names, purposes and
   other text keep the database's collation.

2. The foreign keys that the bulk paths write by the million are checked once per statement by a
   trigger (one anti-join over the statement's new rows) instead of once per row (a look-up that
   also locks the referenced row, writing its tuple header and WAL). The check refuses what the
   foreign key refused, with the same SQLSTATE 23503 (foreign_key_violation): a row naming a
   missing parent, on INSERT and UPDATE; deleting or re-keying a parent that rows still name. What
   a per-row lock added, and this does not, is protection against a concurrent transaction deleting
   the parent while the child is inserted; the ledger never deletes or re-keys these parents
   (journal entries, normalized lines, organizations, card payments, invoices, raw files).

Measured on the 2-core development machine, the whole nightly benchmark: ingest 27.9 -> 23.6 s,
settlements 60.1 -> 38.0 s, reconcile 249.3 -> 180.5 s, the night 365.8 -> 268.5 s.
"""

from alembic import op


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

#: (table, column, type) of the identifier columns that compare as bytes.
IDENTIFIERS = (
    ("organizations", "org_id", "varchar(64)"),
    ("organizations", "currency", "varchar(3)"),
    ("organization_ibans", "org_id", "varchar(64)"),
    ("organization_ibans", "iban", "varchar(34)"),
    ("organization_names", "org_id", "varchar(64)"),
    ("invoices", "invoice_number", "varchar(64)"),
    ("invoices", "org_id", "varchar(64)"),
    ("invoices", "currency", "varchar(3)"),
    ("invoices", "status", "varchar(16)"),
    ("card_payments", "payment_id", "varchar(64)"),
    ("card_payments", "org_id", "varchar(64)"),
    ("card_payments", "currency", "varchar(3)"),
    ("usage_debits", "org_id", "varchar(64)"),
    ("usage_debits", "currency", "varchar(3)"),
    ("subscriptions", "org_id", "varchar(64)"),
    ("raw_files", "sha256", "varchar(64)"),
    ("raw_files", "status", "varchar(16)"),
    ("normalized_lines", "line_id", "varchar(64)"),
    ("normalized_lines", "raw_file_sha256", "varchar(64)"),
    ("normalized_lines", "record_type", "varchar(16)"),
    ("normalized_lines", "account", "varchar(64)"),
    ("normalized_lines", "currency", "varchar(3)"),
    ("quarantined_rows", "raw_file_sha256", "varchar(64)"),
    ("statements", "raw_file_sha256", "varchar(64)"),
    ("control_checks", "raw_file_sha256", "varchar(64)"),
    ("matches", "line_id", "varchar(64)"),
    ("matches", "status", "varchar(16)"),
    ("matches", "org_id", "varchar(64)"),
    ("journal_entries", "entry_id", "varchar(36)"),
    ("journal_entries", "idempotency_key", "varchar(200)"),
    ("journal_entries", "kind", "varchar(16)"),
    ("journal_entries", "status", "varchar(16)"),
    ("journal_entries", "org_id", "varchar(64)"),
    ("journal_entries", "evidence", "text"),
    ("postings", "entry_id", "varchar(36)"),
    ("postings", "account", "varchar(128)"),
    ("postings", "currency", "varchar(3)"),
    ("review_decisions", "line_id", "varchar(64)"),
    ("review_decisions", "org_id", "varchar(64)"),
    ("settlement_links", "payment_id", "varchar(64)"),
    ("settlement_links", "line_id", "varchar(64)"),
    ("payout_links", "payout_line_id", "varchar(64)"),
    ("payout_links", "bank_line_id", "varchar(64)"),
    ("invoice_allocations", "line_id", "varchar(64)"),
    ("invoice_allocations", "invoice_number", "varchar(64)"),
    ("receipts", "receipt_id", "varchar(64)"),
    ("receipts", "email_sha256", "varchar(64)"),
    ("receipts", "org_id", "varchar(64)"),
    ("receipts", "line_id", "varchar(64)"),
    ("receipts", "status", "varchar(16)"),
    ("receipt_copies", "attachment_sha256", "varchar(64)"),
    ("receipt_copies", "email_sha256", "varchar(64)"),
    ("receipt_copies", "receipt_id", "varchar(64)"),
    ("notifications", "notification_key", "varchar(300)"),
    ("notifications", "status", "varchar(16)"),
    ("flags", "flag_key", "varchar(300)"),
    ("flags", "status", "varchar(16)"),
)

#: (child table, column, parent table, column, the foreign key constraint it replaces): the same
#: list is `ledger.schema.STATEMENT_CHECKED_REFERENCES`, which this migration must not import.
REFERENCES = (
    ("normalized_lines", "raw_file_sha256", "raw_files", "sha256", "normalized_lines_raw_file_sha256_fkey"),
    ("matches", "line_id", "normalized_lines", "line_id", "matches_line_id_fkey"),
    ("matches", "org_id", "organizations", "org_id", "matches_org_id_fkey"),
    ("journal_entries", "org_id", "organizations", "org_id", "journal_entries_org_id_fkey"),
    ("postings", "entry_id", "journal_entries", "entry_id", "postings_entry_id_fkey"),
    ("settlement_links", "payment_id", "card_payments", "payment_id", "settlement_links_payment_id_fkey"),
    ("settlement_links", "line_id", "normalized_lines", "line_id", "settlement_links_line_id_fkey"),
    ("payout_links", "payout_line_id", "normalized_lines", "line_id", "payout_links_payout_line_id_fkey"),
    ("payout_links", "bank_line_id", "normalized_lines", "line_id", "payout_links_bank_line_id_fkey"),
    ("invoice_allocations", "line_id", "normalized_lines", "line_id", "invoice_allocations_line_id_fkey"),
    ("invoice_allocations", "invoice_number", "invoices", "invoice_number", "invoice_allocations_invoice_number_fkey"),
)

# TG_ARGV: child table, child column, parent table, parent column. Transition tables are visible to
# the dynamic statements (plpgsql registers them with SPI for the whole call).
_CHILD_CHECK = """
CREATE FUNCTION payrecon_reference_child_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    missing text;
BEGIN
    EXECUTE format(
        'SELECT n.%2$I::text FROM payrecon_new_rows n WHERE n.%2$I IS NOT NULL '
        'AND NOT EXISTS (SELECT 1 FROM %3$I p WHERE p.%4$I = n.%2$I) LIMIT 1',
        TG_ARGV[0], TG_ARGV[1], TG_ARGV[2], TG_ARGV[3]) INTO missing;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'insert or update on table "%" violates reference %.% -> %.%', TG_ARGV[0], TG_ARGV[0], TG_ARGV[1], TG_ARGV[2], TG_ARGV[3]
            USING ERRCODE = 'foreign_key_violation', TABLE = TG_ARGV[0], COLUMN = TG_ARGV[1],
                  DETAIL = format('Key (%s)=(%s) is not present in table "%s".', TG_ARGV[1], missing, TG_ARGV[2]);
    END IF;
    RETURN NULL;
END $$
"""

_PARENT_CHECK = """
CREATE FUNCTION payrecon_reference_parent_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    orphaned text;
BEGIN
    EXECUTE format(
        'SELECT o.%4$I::text FROM payrecon_old_rows o '
        'WHERE NOT EXISTS (SELECT 1 FROM %3$I p WHERE p.%4$I = o.%4$I) '
        'AND EXISTS (SELECT 1 FROM %1$I c WHERE c.%2$I = o.%4$I) LIMIT 1',
        TG_ARGV[0], TG_ARGV[1], TG_ARGV[2], TG_ARGV[3]) INTO orphaned;
    IF orphaned IS NOT NULL THEN
        RAISE EXCEPTION 'update or delete on table "%" violates reference %.% -> %.%', TG_ARGV[2], TG_ARGV[0], TG_ARGV[1], TG_ARGV[2], TG_ARGV[3]
            USING ERRCODE = 'foreign_key_violation', TABLE = TG_ARGV[2], COLUMN = TG_ARGV[3],
                  DETAIL = format('Key (%s)=(%s) is still referenced from table "%s".', TG_ARGV[3], orphaned, TG_ARGV[0]);
    END IF;
    RETURN NULL;
END $$
"""


def _triggers(child: str, column: str, parent: str, parent_column: str):
    """(name, table, event, transition, function) of the four triggers of one reference."""
    stem = f"payrecon_ref_{child}_{column}"
    return (
        (f"{stem}_ins", child, "INSERT", "NEW TABLE AS payrecon_new_rows", "payrecon_reference_child_check"),
        (f"{stem}_upd", child, "UPDATE", "NEW TABLE AS payrecon_new_rows", "payrecon_reference_child_check"),
        (f"{stem}_pdel", parent, "DELETE", "OLD TABLE AS payrecon_old_rows", "payrecon_reference_parent_check"),
        (f"{stem}_pupd", parent, "UPDATE", "OLD TABLE AS payrecon_old_rows", "payrecon_reference_parent_check"),
    )


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute(_CHILD_CHECK)
    op.execute(_PARENT_CHECK)
    for child, column, parent, parent_column, constraint in REFERENCES:
        op.execute(f'ALTER TABLE {child} DROP CONSTRAINT {constraint}')
        for name, table, event, transition, function in _triggers(child, column, parent, parent_column):
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {transition} FOR EACH STATEMENT "
                f"EXECUTE FUNCTION {function}('{child}', '{column}', '{parent}', '{parent_column}')"
            )
    for table, column, kind in IDENTIFIERS:
        op.execute(f'ALTER TABLE {table} ALTER COLUMN {column} TYPE {kind} COLLATE "C"')


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    for table, column, kind in reversed(IDENTIFIERS):
        op.execute(f'ALTER TABLE {table} ALTER COLUMN {column} TYPE {kind} COLLATE "default"')
    for child, column, parent, parent_column, constraint in reversed(REFERENCES):
        for name, table, *_ in _triggers(child, column, parent, parent_column):
            op.execute(f"DROP TRIGGER {name} ON {table}")
        op.execute(f"ALTER TABLE {child} ADD CONSTRAINT {constraint} FOREIGN KEY ({column}) REFERENCES {parent} ({parent_column})")
    op.execute("DROP FUNCTION payrecon_reference_parent_check()")
    op.execute("DROP FUNCTION payrecon_reference_child_check()")
