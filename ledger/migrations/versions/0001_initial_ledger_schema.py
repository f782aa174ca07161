"""initial ledger schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-26

Money columns use ledger.types.Money: NUMERIC(20, 4) on PostgreSQL, integer ten-thousandths on SQLite.
"""

from alembic import op
import sqlalchemy as sa
import ledger.types


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('organizations',
    sa.Column('org_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('legal_name', sa.Text(), nullable=True),
    sa.Column('tax_id', sa.String(length=16), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('notify_emails', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('org_id')
    )
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_organizations_tax_id'), ['tax_id'], unique=False)

    op.create_table('raw_files',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('storage_key', sa.Text(), nullable=False),
    sa.Column('original_name', sa.Text(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('transactions_found', sa.Integer(), nullable=True),
    sa.Column('records_loaded', sa.Integer(), nullable=True),
    sa.Column('rows_quarantined', sa.Integer(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('sha256')
    )
    op.create_table('card_payments',
    sa.Column('payment_id', sa.String(length=64), nullable=False),
    sa.Column('org_id', sa.String(length=64), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('provider_ref', sa.String(length=128), nullable=True),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount', ledger.types.Money(precision=20, scale=4), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.org_id'], ),
    sa.PrimaryKeyConstraint('payment_id')
    )
    with op.batch_alter_table('card_payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_card_payments_org_id'), ['org_id'], unique=False)

    op.create_table('invoices',
    sa.Column('invoice_number', sa.String(length=64), nullable=False),
    sa.Column('org_id', sa.String(length=64), nullable=False),
    sa.Column('issued_on', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount', ledger.types.Money(precision=20, scale=4), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.org_id'], ),
    sa.PrimaryKeyConstraint('invoice_number')
    )
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoices_org_id'), ['org_id'], unique=False)

    op.create_table('journal_entries',
    sa.Column('entry_id', sa.String(length=36), nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('org_id', sa.String(length=64), nullable=True),
    sa.Column('effective_date', sa.Date(), nullable=False),
    sa.Column('evidence', sa.Text(), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.org_id'], ),
    sa.PrimaryKeyConstraint('entry_id'),
    sa.UniqueConstraint('idempotency_key', name='uq_journal_entries_idempotency_key')
    )
    with op.batch_alter_table('journal_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_journal_entries_effective_date'), ['effective_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_journal_entries_org_id'), ['org_id'], unique=False)

    op.create_table('normalized_lines',
    sa.Column('line_id', sa.String(length=64), nullable=False),
    sa.Column('raw_file_sha256', sa.String(length=64), nullable=False),
    sa.Column('record_type', sa.String(length=16), nullable=False),
    sa.Column('source_format', sa.String(length=64), nullable=False),
    sa.Column('account', sa.String(length=64), nullable=False),
    sa.Column('booking_date', sa.Date(), nullable=False),
    sa.Column('value_date', sa.Date(), nullable=True),
    sa.Column('amount', ledger.types.Money(precision=20, scale=4), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('counterparty_name', sa.Text(), nullable=True),
    sa.Column('counterparty_account', sa.String(length=64), nullable=True),
    sa.Column('counterparty_tax_id', sa.String(length=16), nullable=True),
    sa.Column('remittance', sa.Text(), nullable=True),
    sa.Column('end_to_end_id', sa.Text(), nullable=True),
    sa.Column('bank_ref', sa.Text(), nullable=True),
    sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['raw_file_sha256'], ['raw_files.sha256'], ),
    sa.PrimaryKeyConstraint('line_id')
    )
    with op.batch_alter_table('normalized_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_normalized_lines_booking_date'), ['booking_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_normalized_lines_raw_file_sha256'), ['raw_file_sha256'], unique=False)

    op.create_table('organization_ibans',
    sa.Column('org_id', sa.String(length=64), nullable=False),
    sa.Column('iban', sa.String(length=34), nullable=False),
    sa.Column('origin', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.org_id'], ),
    sa.PrimaryKeyConstraint('org_id', 'iban')
    )
    with op.batch_alter_table('organization_ibans', schema=None) as batch_op:
        batch_op.create_index('ix_organization_ibans_iban', ['iban'], unique=False)

    op.create_table('quarantined_rows',
    sa.Column('raw_file_sha256', sa.String(length=64), nullable=False),
    sa.Column('row_key', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('record', sa.Text(), nullable=False),
    sa.Column('quarantined_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['raw_file_sha256'], ['raw_files.sha256'], ),
    sa.PrimaryKeyConstraint('raw_file_sha256', 'row_key')
    )
    op.create_table('usage_debits',
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('org_id', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('amount', ledger.types.Money(precision=20, scale=4), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.org_id'], ),
    sa.PrimaryKeyConstraint('date', 'org_id', 'channel', 'currency')
    )
    op.create_table('matches',
    sa.Column('line_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('org_id', sa.String(length=64), nullable=True),
    sa.Column('invoice_numbers', sa.Text(), nullable=True),
    sa.Column('rule', sa.String(length=64), nullable=False),
    sa.Column('confidence', sa.Numeric(precision=4, scale=3), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('suggestions', sa.Text(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['line_id'], ['normalized_lines.line_id'], ),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.org_id'], ),
    sa.PrimaryKeyConstraint('line_id')
    )
    with op.batch_alter_table('matches', schema=None) as batch_op:
        batch_op.create_index('ix_matches_status', ['status'], unique=False)

    op.create_table('postings',
    sa.Column('entry_id', sa.String(length=36), nullable=False),
    sa.Column('leg', sa.Integer(), nullable=False),
    sa.Column('account', sa.String(length=128), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount', ledger.types.Money(precision=20, scale=4), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['journal_entries.entry_id'], ),
    sa.PrimaryKeyConstraint('entry_id', 'leg')
    )
    with op.batch_alter_table('postings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_postings_account'), ['account'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('postings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_postings_account'))

    op.drop_table('postings')
    with op.batch_alter_table('matches', schema=None) as batch_op:
        batch_op.drop_index('ix_matches_status')

    op.drop_table('matches')
    op.drop_table('usage_debits')
    op.drop_table('quarantined_rows')
    with op.batch_alter_table('organization_ibans', schema=None) as batch_op:
        batch_op.drop_index('ix_organization_ibans_iban')

    op.drop_table('organization_ibans')
    with op.batch_alter_table('normalized_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_normalized_lines_raw_file_sha256'))
        batch_op.drop_index(batch_op.f('ix_normalized_lines_booking_date'))

    op.drop_table('normalized_lines')
    with op.batch_alter_table('journal_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_journal_entries_org_id'))
        batch_op.drop_index(batch_op.f('ix_journal_entries_effective_date'))

    op.drop_table('journal_entries')
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoices_org_id'))

    op.drop_table('invoices')
    with op.batch_alter_table('card_payments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_card_payments_org_id'))

    op.drop_table('card_payments')
    op.drop_table('raw_files')
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_organizations_tax_id'))

    op.drop_table('organizations')
