"""organization names and invoice allocations

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26
"""

from alembic import op
import sqlalchemy as sa
import ledger.types


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('organization_names',
    sa.Column('org_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('origin', sa.String(length=16), nullable=False),
    sa.Column('learned_from', sa.String(length=64), nullable=True),
    sa.Column('learned_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.org_id'], ),
    sa.PrimaryKeyConstraint('org_id', 'name')
    )
    op.create_table('invoice_allocations',
    sa.Column('line_id', sa.String(length=64), nullable=False),
    sa.Column('invoice_number', sa.String(length=64), nullable=False),
    sa.Column('amount', ledger.types.Money(precision=20, scale=4), nullable=False),
    sa.Column('settles', sa.String(length=16), nullable=False),
    sa.Column('allocated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['invoice_number'], ['invoices.invoice_number'], ),
    sa.ForeignKeyConstraint(['line_id'], ['normalized_lines.line_id'], ),
    sa.PrimaryKeyConstraint('line_id', 'invoice_number')
    )
    with op.batch_alter_table('invoice_allocations', schema=None) as batch_op:
        batch_op.create_index('ix_invoice_allocations_invoice', ['invoice_number'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('invoice_allocations', schema=None) as batch_op:
        batch_op.drop_index('ix_invoice_allocations_invoice')

    op.drop_table('invoice_allocations')
    op.drop_table('organization_names')
