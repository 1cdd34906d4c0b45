"""index needs by green category (peers of a need, the API's category filter)

Revision ID: d4e5f6a7b8c9
Revises: c3a8f5e6d7b1
Create Date: 2026-12-02 07:10:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'd4e5f6a7b8c9'
down_revision = 'c3a8f5e6d7b1'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('needs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_needs_green_category_code'),
                              ['green_category_code'], unique=False)


def downgrade():
    with op.batch_alter_table('needs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_needs_green_category_code'))
