"""audit log: wider object_id, indexes by actor and by action

Revision ID: 3c7d2e91a4b5
Revises: 81904bdb3307
Create Date: 2026-11-30 10:00:00.000000

RQ job ids (uuid4 with dashes, "periodic-<name>-<slot>") are longer than 32 characters; the ops
pages had to cut them. The office's audit search filters by actor and action, newest first.
Batch mode: SQLite cannot ALTER a column's type and rebuilds the table instead.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3c7d2e91a4b5'
down_revision = '81904bdb3307'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.alter_column('object_id', existing_type=sa.String(length=32),
                              type_=sa.String(length=128), existing_nullable=False)
        batch_op.create_index('ix_audit_log_actor', ['actor_id', 'created_at'], unique=False)
        batch_op.create_index('ix_audit_log_action', ['action', 'created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_action')
        batch_op.drop_index('ix_audit_log_actor')
        # Longer ids are cut to fit, as the ops page did before this revision.
        batch_op.alter_column('object_id', existing_type=sa.String(length=128),
                              type_=sa.String(length=32), existing_nullable=False,
                              postgresql_using='left(object_id, 32)')
