"""indexes for the nightly's queries on PostgreSQL

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26

What each serves (EXPLAIN ANALYZE on benchmarks/bench_nightly_load.py's database):
- invoices (status): the open invoices the matching reads, among years of paid ones;
- normalized_lines (record_type, booking_date): provider rows, payouts not yet received and
  chargebacks among the bank lines (each read by a sequential scan of every line before), and the
  provider activity of the report window;
- journal_entries (kind, effective_date): the credits of the report window, the plan fees charged,
  the chargebacks posted;
- notifications (status): each run releases the failed sends, among every message ever sent.
"""

from alembic import op


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_invoices_status", "invoices", ["status"]),
    ("ix_normalized_lines_type_date", "normalized_lines", ["record_type", "booking_date"]),
    ("ix_journal_entries_kind_date", "journal_entries", ["kind", "effective_date"]),
    ("ix_notifications_status", "notifications", ["status"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
