"""loan cycle as a state machine: each loan keeps its sticks, its records and its wipe

Revision ID: 0002_loan_cycle
Revises: 0001
Create Date: 2026-12-03 16:45:00

A unit that was "returned" under the old cycle stays returned: its records are not known to be
in and no return stick of this desk is known, so the desk asks for a (new) return stick. A
"lent" unit is taken to be with its patient (its stick may well have been written).
"""

import sqlalchemy as sa
from alembic import op

revision = '0002_loan_cycle'
down_revision = '0001'
branch_labels = None
depends_on = None

COLUMNS = (
    ('lend_stick_at', sa.DateTime()), ('return_nonce', sa.String(length=64)),
    ('return_stick_at', sa.DateTime()), ('records', sa.String(length=16)),
    ('records_bundle_id', sa.Integer()), ('records_by', sa.String(length=64)),
    ('discard_reason', sa.Text()), ('wiped_at', sa.DateTime()), ('wiped_by', sa.String(length=64)),
)


def upgrade() -> None:
    with op.batch_alter_table('loans', schema=None) as batch_op:
        for name, kind in COLUMNS:
            batch_op.add_column(sa.Column(name, kind, nullable=True))
    op.execute("UPDATE units SET state = 'out' WHERE state = 'lent'")


def downgrade() -> None:
    op.execute("UPDATE units SET state = 'lent' WHERE state = 'out'")
    op.execute("UPDATE units SET state = 'returned' WHERE state = 'records_in'")
    with op.batch_alter_table('loans', schema=None) as batch_op:
        for name, _kind in reversed(COLUMNS):
            batch_op.drop_column(name)
