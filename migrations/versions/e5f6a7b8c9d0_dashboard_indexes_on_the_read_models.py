"""dashboard indexes on the read models: each bank's grab hours in order, regions with needs

Revision ID: e5f6a7b8c9d0
Revises: d4e5f6a7b8c9
Create Date: 2026-12-02 10:45:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'e5f6a7b8c9d0'
down_revision = 'd4e5f6a7b8c9'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_claim_facts_bank_hours', 'claim_facts', ['bank_id', 'grab_hours'],
                    unique=False,
                    postgresql_include=['local_day', 'region_code', 'category_top', 'size'])
    op.drop_index('ix_claim_facts_bank', table_name='claim_facts')
    op.create_index('ix_need_facts_region', 'need_facts', ['region_code'], unique=False)


def downgrade():
    op.drop_index('ix_need_facts_region', table_name='need_facts')
    op.create_index('ix_claim_facts_bank', 'claim_facts', ['bank_id'], unique=False)
    op.drop_index('ix_claim_facts_bank_hours', table_name='claim_facts')
