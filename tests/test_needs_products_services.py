from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from matchmaker.audit.models import AuditLog, OutboxEvent
from matchmaker.errors import Conflict, Forbidden, InvalidInput
from matchmaker.extensions import db
from matchmaker.needs import services as needs
from matchmaker.needs.models import NeedRevision
from matchmaker.products import services as products

NEED = {
    "title": "林下经济基地扩建", "description": "扩建香榧林下种植基地，以林权抵押",
    "purpose": "project", "amount_wan": "150.5", "term_months": 36, "green_category": "4.1.4",
    "collateral": ["forest_rights"], "region_code": "330523", "rate_cap": 4.5,
    "co2_reduction_t": 120,
}
PRODUCT = {
    "name": "福林贷", "description": "林权抵押", "green_categories": ["4.1"],
    "collateral": ["forest_rights", "guarantee"], "min_amount_wan": 1, "max_amount_wan": "200",
    "min_term_months": 6, "max_term_months": 60, "rate_min": "3.5", "rate_max": "7.1",
    "region_codes": ["330500"], "enterprise_sizes": ["micro", "small"], "min_env_credit": "blue",
}


def test_need_lifecycle_writes_audit_outbox_and_history(app, make):
    _, account = make.enterprise()
    need = needs.create_need(account.user, NEED, publish=False)
    assert need.status == "draft" and need.amount_wan == Decimal("150.50")
    assert isinstance(need.rate_cap, Decimal)
    needs.publish_need(need, account.user)
    assert need.status == "open" and need.published_at is not None
    needs.update_need(need, {"amount_wan": "180"}, account.user)
    revision = db.session.scalars(sa.select(NeedRevision)).one()
    assert revision.changes == {"amount_wan": ["150.50", "180.00"]}
    needs.withdraw_need(need, "已从其他渠道获得融资", account.user)
    assert need.status == "withdrawn"
    with pytest.raises(Conflict):
        needs.update_need(need, {"amount_wan": "1"}, account.user)
    actions = db.session.scalars(sa.select(AuditLog.action).where(AuditLog.object_type == "need")
                                 .order_by(AuditLog.id)).all()
    assert actions == ["need.created", "need.published", "need.updated", "need.withdrawn"]
    topics = db.session.scalars(
        sa.select(OutboxEvent.topic).where(OutboxEvent.object_type == "need")
        .order_by(OutboxEvent.id)
    ).all()
    assert topics == ["need.drafted", "need.published", "need.updated", "need.withdrawn"]


@pytest.mark.parametrize(("field", "value"), [
    ("amount_wan", 0), ("amount_wan", "-1"), ("amount_wan", "abc"), ("amount_wan", "1.234"),
    ("amount_wan", "NaN"), ("amount_wan", "Infinity"), ("amount_wan", "1e30"), ("amount_wan", True),
    ("term_months", 0), ("term_months", 361), ("term_months", 1.5), ("term_months", "x"),
    ("green_category", "9.9.9"), ("green_category", ""), ("region_code", "999999"),
    ("region_code", "110103"), ("collateral", []), ("collateral", ["gold"]),
    ("purpose", "speculation"), ("title", ""), ("title", "x" * 101),
    ("description", "x" * 100_000), ("rate_cap", 0), ("deadline", "2020-01-01"),
    ("deadline", "tomorrow"), ("title", 42),
])
@pytest.mark.sqlite_only  # input validation: the same on every backend
def test_bad_need_input_names_the_field(app, make, field, value):
    _, account = make.enterprise()
    with pytest.raises(InvalidInput) as err:
        needs.create_need(account.user, NEED | {field: value})
    assert field in err.value.errors, err.value.errors


def test_only_the_owner_changes_a_need_and_drafts_stay_private(app, make):
    _, owner = make.enterprise()
    _, other = make.enterprise()
    bank = make.bank()
    manager = make.bank_user(bank)
    draft = needs.create_need(owner.user, NEED, publish=False)
    with pytest.raises(Forbidden):
        needs.update_need(draft, {"title": "x"}, other.user)
    with pytest.raises(Forbidden):
        needs.create_need(manager.user, NEED)
    assert needs.can_view(owner.user, draft)
    assert not needs.can_view(other.user, draft)
    assert not needs.can_view(manager.user, draft)
    needs.publish_need(draft, owner.user)
    assert needs.can_view(manager.user, draft)
    assert not needs.can_view(other.user, draft)


def test_deadline_is_checked_in_local_time(app, make):
    _, account = make.enterprise()
    today = needs.local_today()
    need = needs.create_need(account.user, NEED | {"deadline": today.isoformat()})
    assert need.deadline == today
    with pytest.raises(InvalidInput):
        needs.create_need(account.user, NEED | {"deadline": (today - timedelta(days=1))})


def test_product_rules(app, make):
    bank = make.bank()
    admin = make.bank_user(bank, role="bank_admin")
    manager = make.bank_user(bank)
    product = products.create_product(bank, PRODUCT, admin.user)
    assert product.category_codes == ["4.1"] and product.region_codes == ["330500"]
    assert product.collateral == ["guarantee", "forest_rights"]  # catalogue order
    with pytest.raises(Forbidden):
        products.create_product(bank, PRODUCT, manager.user)
    other_admin = make.bank_user(make.bank(), role="bank_admin")
    with pytest.raises(Forbidden):
        products.update_product(product, {"name": "x"}, other_admin.user)
    with pytest.raises(InvalidInput) as err:
        products.create_product(bank, PRODUCT | {"min_amount_wan": 500, "rate_min": 8,
                                                 "min_term_months": 70, "region_codes": ["330100"],
                                                 "green_categories": ["4.1", "77"]}, admin.user)
    assert set(err.value.errors) == {"max_amount_wan", "rate_max", "max_term_months",
                                     "region_codes", "green_categories"}
    products.set_active(product, False, admin.user)
    assert product.active is False
    log = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "product.updated")).one()
    assert log.before["active"] is True and log.after["active"] is False
