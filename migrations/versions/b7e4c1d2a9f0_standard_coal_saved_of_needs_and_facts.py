"""standard coal saved: needs.coal_saving_tce, and the financed share in the read models

Revision ID: b7e4c1d2a9f0
Revises: 94f6dd1ead32
Create Date: 2026-12-02 05:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7e4c1d2a9f0'
down_revision = '94f6dd1ead32'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('needs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('coal_saving_tce', sa.Numeric(precision=14, scale=2),
                                      nullable=True))
        batch_op.create_check_constraint(
            'coal_non_negative', 'coal_saving_tce IS NULL OR coal_saving_tce >= 0')
    # Existing needs state no coal saving: their financed share is 0, as the default says.
    with op.batch_alter_table('need_facts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('coal_financed_tce', sa.Numeric(precision=16, scale=4),
                                      server_default='0', nullable=False))
    with op.batch_alter_table('claim_facts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('coal_share_tce', sa.Numeric(precision=16, scale=4),
                                      server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('claim_facts', schema=None) as batch_op:
        batch_op.drop_column('coal_share_tce')
    with op.batch_alter_table('need_facts', schema=None) as batch_op:
        batch_op.drop_column('coal_financed_tce')
    with op.batch_alter_table('needs', schema=None) as batch_op:
        batch_op.drop_constraint('coal_non_negative', type_='check')
        batch_op.drop_column('coal_saving_tce')
