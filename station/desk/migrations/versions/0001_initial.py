"""initial schema: units, loans, prescriptions, bundles, sessions, reps, users, web sessions, audit

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-29 18:32:05.848116
"""

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('audit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('who', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('what', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_at'), ['at'], unique=False)

    op.create_table('prescriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alias', sa.String(length=32), nullable=False),
    sa.Column('toml', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('changes', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('prescriptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_prescriptions_alias'), ['alias'], unique=False)

    op.create_table('units',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('key_id', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('registered_at', sa.DateTime(), nullable=False),
    sa.Column('registered_by', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('loans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.String(length=40), nullable=False),
    sa.Column('alias', sa.String(length=32), nullable=False),
    sa.Column('lent_at', sa.DateTime(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('lent_by', sa.String(length=64), nullable=False),
    sa.Column('returned_at', sa.DateTime(), nullable=True),
    sa.Column('returned_by', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('loans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loans_alias'), ['alias'], unique=False)
        batch_op.create_index(batch_op.f('ix_loans_unit_id'), ['unit_id'], unique=False)

    op.create_table('web_sessions',
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('csrf', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('token_sha256')
    )
    op.create_table('bundles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('manifest_sha256', sa.String(length=64), nullable=False),
    sa.Column('unit_id', sa.String(length=40), nullable=False),
    sa.Column('alias', sa.String(length=32), nullable=True),
    sa.Column('loan_id', sa.Integer(), nullable=True),
    sa.Column('exported_utc', sa.String(length=32), nullable=False),
    sa.Column('affected_side', sa.String(length=8), nullable=True),
    sa.Column('manifest', sa.Text(), nullable=False),
    sa.Column('unit_json', sa.Text(), nullable=False),
    sa.Column('prescription_toml', sa.Text(), nullable=True),
    sa.Column('report_pdf', sa.LargeBinary(), nullable=True),
    sa.Column('sessions_added', sa.Integer(), nullable=False),
    sa.Column('imported_at', sa.DateTime(), nullable=False),
    sa.Column('imported_by', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['loan_id'], ['loans.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('manifest_sha256')
    )
    with op.batch_alter_table('bundles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bundles_alias'), ['alias'], unique=False)
        batch_op.create_index(batch_op.f('ix_bundles_unit_id'), ['unit_id'], unique=False)

    op.create_table('sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.String(length=64), nullable=False),
    sa.Column('unit_id', sa.String(length=40), nullable=False),
    sa.Column('alias', sa.String(length=32), nullable=True),
    sa.Column('bundle_id', sa.Integer(), nullable=False),
    sa.Column('started_utc', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('duration_s', sa.Float(), nullable=True),
    sa.Column('planned_s', sa.Float(), nullable=True),
    sa.Column('plan_source', sa.Text(), nullable=True),
    sa.Column('affected_side', sa.String(length=8), nullable=True),
    sa.Column('reps_done', sa.Integer(), nullable=False),
    sa.Column('breaks_scheduled', sa.Integer(), nullable=False),
    sa.Column('breaks_requested', sa.Integer(), nullable=False),
    sa.Column('pauses', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['bundle_id'], ['bundles.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('unit_id', 'uid', name='uq_sessions_unit_uid')
    )
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.create_index('ix_sessions_alias_started', ['alias', 'started_utc'], unique=False)
        batch_op.create_index(batch_op.f('ix_sessions_bundle_id'), ['bundle_id'], unique=False)

    op.create_table('reps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.String(length=64), nullable=False),
    sa.Column('pattern_id', sa.String(length=32), nullable=True),
    sa.Column('rep', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('ended_utc', sa.String(length=32), nullable=False),
    sa.Column('duration_s', sa.Float(), nullable=True),
    sa.Column('target_region', sa.String(length=16), nullable=True),
    sa.Column('target_mm', sa.Float(), nullable=True),
    sa.Column('coactivation', sa.Float(), nullable=True),
    sa.Column('eye_ratio', sa.Float(), nullable=True),
    sa.Column('quiet_moved', sa.Boolean(), nullable=True),
    sa.Column('quiet_max_mm', sa.Float(), nullable=True),
    sa.Column('quiet_region', sa.String(length=16), nullable=True),
    sa.Column('face_share', sa.Float(), nullable=True),
    sa.Column('slow', sa.Boolean(), nullable=True),
    sa.Column('small', sa.Boolean(), nullable=True),
    sa.Column('quiet', sa.Boolean(), nullable=True),
    sa.Column('released', sa.Boolean(), nullable=True),
    sa.Column('t80_share', sa.Float(), nullable=True),
    sa.Column('target_peak_mm', sa.Float(), nullable=True),
    sa.Column('quiet_excess_mm', sa.Float(), nullable=True),
    sa.Column('residual_mm', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('reps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reps_session_id'), ['session_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('reps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reps_session_id'))

    op.drop_table('reps')
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sessions_bundle_id'))
        batch_op.drop_index('ix_sessions_alias_started')

    op.drop_table('sessions')
    with op.batch_alter_table('bundles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bundles_unit_id'))
        batch_op.drop_index(batch_op.f('ix_bundles_alias'))

    op.drop_table('bundles')
    op.drop_table('web_sessions')
    with op.batch_alter_table('loans', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loans_unit_id'))
        batch_op.drop_index(batch_op.f('ix_loans_alias'))

    op.drop_table('loans')
    op.drop_table('users')
    op.drop_table('units')
    with op.batch_alter_table('prescriptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_prescriptions_alias'))

    op.drop_table('prescriptions')
    with op.batch_alter_table('audit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_at'))

    op.drop_table('audit')

