"""the need's full 2019 category code in the read models (reports by the 2024 catalog)

Revision ID: c3a8f5e6d7b1
Revises: b7e4c1d2a9f0
Create Date: 2026-12-02 06:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c3a8f5e6d7b1'
down_revision = 'b7e4c1d2a9f0'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('need_facts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('category_code', sa.String(length=16), nullable=True))
    with op.batch_alter_table('claim_facts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('category_code', sa.String(length=16), nullable=True))
    op.execute("UPDATE need_facts SET category_code = (SELECT green_category_code FROM needs "
               "WHERE needs.id = need_facts.need_id)")
    op.execute("UPDATE claim_facts SET category_code = (SELECT green_category_code FROM needs "
               "WHERE needs.id = claim_facts.need_id)")


def downgrade():
    with op.batch_alter_table('claim_facts', schema=None) as batch_op:
        batch_op.drop_column('category_code')
    with op.batch_alter_table('need_facts', schema=None) as batch_op:
        batch_op.drop_column('category_code')
