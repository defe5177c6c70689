"""the sign-in throttle's failure counts, shared by every desk process on one database

Revision ID: 0003_login_failures
Revises: 0002_loan_cycle
Create Date: 2026-12-03 20:15:00

A new table only, so it sits beside any other revision made on 0002 (the desk upgrades to
every head).
"""

import sqlalchemy as sa
from alembic import op

revision = '0003_login_failures'
down_revision = '0002_loan_cycle'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('login_failures',
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('blocked_until', sa.Float(), nullable=False),
    sa.Column('last_failed', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('kind', 'key')
    )
    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_failures_last_failed'), ['last_failed'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_failures_last_failed'))
    op.drop_table('login_failures')
