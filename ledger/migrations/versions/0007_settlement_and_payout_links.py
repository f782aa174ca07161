"""settlement and payout links

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from alembic import op
import sqlalchemy as sa
import ledger.types


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('payout_links',
    sa.Column('payout_line_id', sa.String(length=64), nullable=False),
    sa.Column('bank_line_id', sa.String(length=64), nullable=False),
    sa.Column('linked_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bank_line_id'], ['normalized_lines.line_id'], ),
    sa.ForeignKeyConstraint(['payout_line_id'], ['normalized_lines.line_id'], ),
    sa.PrimaryKeyConstraint('payout_line_id'),
    sa.UniqueConstraint('bank_line_id')
    )
    op.create_table('settlement_links',
    sa.Column('payment_id', sa.String(length=64), nullable=False),
    sa.Column('line_id', sa.String(length=64), nullable=False),
    sa.Column('linked_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['line_id'], ['normalized_lines.line_id'], ),
    sa.ForeignKeyConstraint(['payment_id'], ['card_payments.payment_id'], ),
    sa.PrimaryKeyConstraint('payment_id'),
    sa.UniqueConstraint('line_id')
    )


def downgrade() -> None:
    op.drop_table('settlement_links')
    op.drop_table('payout_links')
