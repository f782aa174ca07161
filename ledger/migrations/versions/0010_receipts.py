"""receipts

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26
"""

from alembic import op
import sqlalchemy as sa
import ledger.types


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('receipts',
    sa.Column('receipt_id', sa.String(length=64), nullable=False),
    sa.Column('identity_key', sa.String(length=64), nullable=True),
    sa.Column('email_sha256', sa.String(length=64), nullable=False),
    sa.Column('attachment_name', sa.Text(), nullable=False),
    sa.Column('media_type', sa.String(length=32), nullable=False),
    sa.Column('sender', sa.Text(), nullable=False),
    sa.Column('forwarded_from', sa.Text(), nullable=True),
    sa.Column('message_id', sa.Text(), nullable=True),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('layout', sa.String(length=16), nullable=False),
    sa.Column('amount', ledger.types.Money(precision=20, scale=4), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('paid_on', sa.Date(), nullable=True),
    sa.Column('payer_name', sa.Text(), nullable=True),
    sa.Column('payer_iban', sa.String(length=34), nullable=True),
    sa.Column('payer_tax_id', sa.String(length=16), nullable=True),
    sa.Column('payee', sa.Text(), nullable=True),
    sa.Column('purpose', sa.Text(), nullable=True),
    sa.Column('invoice_number', sa.String(length=64), nullable=True),
    sa.Column('bank_doc_number', sa.String(length=64), nullable=True),
    sa.Column('bank_name', sa.Text(), nullable=True),
    sa.Column('fields', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('org_id', sa.String(length=64), nullable=True),
    sa.Column('rule', sa.String(length=32), nullable=False),
    sa.Column('confidence', sa.Numeric(precision=4, scale=3), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('line_id', sa.String(length=64), nullable=True),
    sa.Column('settled_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['email_sha256'], ['raw_files.sha256'], ),
    sa.ForeignKeyConstraint(['line_id'], ['normalized_lines.line_id'], ),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.org_id'], ),
    sa.PrimaryKeyConstraint('receipt_id'),
    sa.UniqueConstraint('identity_key'),
    sa.UniqueConstraint('line_id')
    )
    with op.batch_alter_table('receipts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_receipts_email_sha256'), ['email_sha256'], unique=False)
        batch_op.create_index(batch_op.f('ix_receipts_org_id'), ['org_id'], unique=False)
        batch_op.create_index('ix_receipts_status', ['status'], unique=False)

    op.create_table('receipt_copies',
    sa.Column('attachment_sha256', sa.String(length=64), nullable=False),
    sa.Column('email_sha256', sa.String(length=64), nullable=False),
    sa.Column('receipt_id', sa.String(length=64), nullable=False),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['email_sha256'], ['raw_files.sha256'], ),
    sa.ForeignKeyConstraint(['receipt_id'], ['receipts.receipt_id'], ),
    sa.PrimaryKeyConstraint('attachment_sha256', 'email_sha256')
    )
    with op.batch_alter_table('receipt_copies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_receipt_copies_receipt_id'), ['receipt_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('receipt_copies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_receipt_copies_receipt_id'))

    op.drop_table('receipt_copies')
    with op.batch_alter_table('receipts', schema=None) as batch_op:
        batch_op.drop_index('ix_receipts_status')
        batch_op.drop_index(batch_op.f('ix_receipts_org_id'))
        batch_op.drop_index(batch_op.f('ix_receipts_email_sha256'))

    op.drop_table('receipts')
