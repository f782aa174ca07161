"""statements and control checks

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from alembic import op
import sqlalchemy as sa
import ledger.types


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('control_checks',
    sa.Column('raw_file_sha256', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('scope', sa.String(length=200), nullable=False),
    sa.Column('expected', sa.Text(), nullable=True),
    sa.Column('actual', sa.Text(), nullable=True),
    sa.Column('passed', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['raw_file_sha256'], ['raw_files.sha256'], ),
    sa.PrimaryKeyConstraint('raw_file_sha256', 'name', 'scope')
    )
    op.create_table('statements',
    sa.Column('statement_key', sa.String(length=64), nullable=False),
    sa.Column('raw_file_sha256', sa.String(length=64), nullable=False),
    sa.Column('source_format', sa.String(length=64), nullable=False),
    sa.Column('account', sa.String(length=64), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('statement_id', sa.Text(), nullable=True),
    sa.Column('sequence', sa.Text(), nullable=True),
    sa.Column('opening_balance', ledger.types.Money(precision=20, scale=4), nullable=True),
    sa.Column('opening_date', sa.Date(), nullable=True),
    sa.Column('closing_balance', ledger.types.Money(precision=20, scale=4), nullable=True),
    sa.Column('closing_date', sa.Date(), nullable=True),
    sa.Column('line_count', sa.Integer(), nullable=False),
    sa.Column('lines_total', ledger.types.Money(precision=20, scale=4), nullable=True),
    sa.Column('balance_check', sa.String(length=16), nullable=False),
    sa.Column('balance_problem', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['raw_file_sha256'], ['raw_files.sha256'], ),
    sa.PrimaryKeyConstraint('statement_key')
    )
    with op.batch_alter_table('statements', schema=None) as batch_op:
        batch_op.create_index('ix_statements_account', ['account', 'currency', 'closing_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_statements_raw_file_sha256'), ['raw_file_sha256'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('statements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_statements_raw_file_sha256'))
        batch_op.drop_index('ix_statements_account')

    op.drop_table('statements')
    op.drop_table('control_checks')
