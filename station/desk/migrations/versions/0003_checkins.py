"""weekly check-ins: one row per check-in (rest measures), one per movement (medians, spread)

Revision ID: 0003_checkins
Revises: 0002_loan_cycle
Create Date: 2026-12-03 20:10:00

The columns are written out here as they were at this revision (the record schema may grow
later; a later revision adds what it adds).
"""

import sqlalchemy as sa
from alembic import op

revision = '0003_checkins'
down_revision = '0002_loan_cycle'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('checkins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.String(length=40), nullable=False),
    sa.Column('alias', sa.String(length=32), nullable=True),
    sa.Column('bundle_id', sa.Integer(), sa.ForeignKey('bundles.id'), nullable=False),
    sa.Column('uid', sa.String(length=64), nullable=False),
    sa.Column('started_utc', sa.String(length=32), nullable=False),
    sa.Column('ended_utc', sa.String(length=32), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('affected_side', sa.String(length=8), nullable=True),
    sa.Column('movements_complete', sa.Integer(), nullable=False),
    sa.Column('rest_eye_fissure_affected_mm', sa.Float(), nullable=True),
    sa.Column('rest_eye_fissure_other_mm', sa.Float(), nullable=True),
    sa.Column('rest_eye_fissure_diff_mm', sa.Float(), nullable=True),
    sa.Column('rest_brow_height_affected_mm', sa.Float(), nullable=True),
    sa.Column('rest_brow_height_other_mm', sa.Float(), nullable=True),
    sa.Column('rest_brow_height_diff_mm', sa.Float(), nullable=True),
    sa.Column('rest_mouth_corner_height_affected_mm', sa.Float(), nullable=True),
    sa.Column('rest_mouth_corner_height_other_mm', sa.Float(), nullable=True),
    sa.Column('rest_mouth_corner_height_diff_mm', sa.Float(), nullable=True),
    sa.Column('rest_frames', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('unit_id', 'uid', name='uq_checkins_unit_uid'),
    )
    with op.batch_alter_table('checkins', schema=None) as batch_op:
        batch_op.create_index('ix_checkins_alias_started', ['alias', 'started_utc'], unique=False)
        batch_op.create_index('ix_checkins_bundle_id', ['bundle_id'], unique=False)

    op.create_table('checkin_movements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('checkin_id', sa.Integer(), sa.ForeignKey('checkins.id'), nullable=False),
    sa.Column('uid', sa.String(length=64), nullable=False),
    sa.Column('movement', sa.String(length=32), nullable=False),
    sa.Column('target_region', sa.String(length=16), nullable=True),
    sa.Column('complete', sa.Boolean(), nullable=True),
    sa.Column('tries_accepted', sa.Integer(), nullable=False),
    sa.Column('repeats', sa.Integer(), nullable=False),
    sa.Column('affected_mm', sa.Float(), nullable=True),
    sa.Column('other_mm', sa.Float(), nullable=True),
    sa.Column('ratio', sa.Float(), nullable=True),
    sa.Column('eye_narrowing_pct', sa.Float(), nullable=True),
    sa.Column('affected_spread_mm', sa.Float(), nullable=True),
    sa.Column('other_spread_mm', sa.Float(), nullable=True),
    sa.Column('ratio_spread', sa.Float(), nullable=True),
    sa.Column('eye_narrowing_spread_pct', sa.Float(), nullable=True),
    sa.Column('co_eye_mm', sa.Float(), nullable=True),
    sa.Column('co_brow_mm', sa.Float(), nullable=True),
    sa.Column('co_mouth_corner_mm', sa.Float(), nullable=True),
    sa.Column('co_lips_mm', sa.Float(), nullable=True),
    sa.Column('co_nose_cheek_mm', sa.Float(), nullable=True),
    sa.Column('co_chin_mm', sa.Float(), nullable=True),
    sa.Column('co_eye_spread_mm', sa.Float(), nullable=True),
    sa.Column('co_brow_spread_mm', sa.Float(), nullable=True),
    sa.Column('co_mouth_corner_spread_mm', sa.Float(), nullable=True),
    sa.Column('co_lips_spread_mm', sa.Float(), nullable=True),
    sa.Column('co_nose_cheek_spread_mm', sa.Float(), nullable=True),
    sa.Column('co_chin_spread_mm', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('checkin_movements', schema=None) as batch_op:
        batch_op.create_index('ix_checkin_movements_checkin_id', ['checkin_id'], unique=False)


def downgrade() -> None:
    op.drop_table('checkin_movements')
    op.drop_table('checkins')
