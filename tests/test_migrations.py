"""The migrations build the schema the models describe, on SQLite and on PostgreSQL."""

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from matchmaker.extensions import db


def test_models_and_migrations_do_not_drift(app):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models and migrations differ; run `flask db migrate`: {diff}"


def test_upgrade_loads_reference_data(app):
    counts = {
        level: db.session.scalar(
            sa.text("SELECT count(*) FROM green_categories WHERE level = :l"), {"l": level}
        )
        for level in (1, 2, 3)
    }
    assert counts == {1: 6, 2: 30, 3: 211}
    assert db.session.scalar(sa.text("SELECT count(*) FROM industries WHERE level = 1")) == 20
    assert db.session.scalar(sa.text("SELECT count(*) FROM industries WHERE level = 2")) == 97
    assert db.session.scalar(
        sa.text("SELECT count(*) FROM regions WHERE retired = :f"), {"f": False}
    ) > 3000


def test_database_enforces_core_constraints(app, make):
    """Unique 统一社会信用代码 and check constraints hold even when services are bypassed."""
    enterprise, _ = make.enterprise()
    with db.engine.connect() as conn:
        for statement in (
            # duplicate uscc
            sa.text(
                "INSERT INTO enterprises (uscc, name, region_code, industry_code, size, env_credit,"
                " contact_name, phone, email, created_at, updated_at) VALUES (:u, 'x', '330502',"
                " 'C', 'small', 'blue', 'x', '1', 'x@x.cn', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ).bindparams(u=enterprise.uscc),
            # a need with a non-positive amount
            sa.text(
                "INSERT INTO needs (enterprise_id, title, description, purpose, amount_wan,"
                " term_months, green_category_code, collateral, region_code, status, created_at,"
                " updated_at) VALUES (:e, 't', '', 'project', 0, 12, '4.1.4', '[]', '330502',"
                " 'draft', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ).bindparams(e=enterprise.id),
        ):
            try:
                with conn.begin():
                    conn.execute(statement)
            except sa.exc.IntegrityError:
                continue
            raise AssertionError(f"database accepted: {statement}")
