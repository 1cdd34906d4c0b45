"""`flask demo seed`: counts, consistency of every need and claim, valid codes, determinism.

The rules are re-implemented here from DESIGN sections 3–5 (not imported from the seed), so a bug
in the seed's own eligibility check cannot hide itself.
"""

from __future__ import annotations

import hashlib
import shutil
from collections import Counter, defaultdict
from datetime import timedelta
from decimal import Decimal

import click
import pytest
import sqlalchemy as sa
from stdnum.cn import uscc as uscc_std

from matchmaker import create_app, enums
from matchmaker.demo import data
from matchmaker.demo.seed import SeedRefused, database_has_data, print_logins, seed
from matchmaker.extensions import db
from tests.conftest import base_config

ENV_ORDER = list(enums.ENV_CREDIT)  # best to worst
CLAIM_EVENTS = {
    "contacted": ["contacted"],
    "credit_approved": ["contacted", "credit_approved"],
    "disbursed": ["contacted", "credit_approved", "disbursed"],
    "declined": ["contacted", "declined"],
}


def region_covers(outer: str, inner: str) -> bool:
    if outer.endswith("0000"):
        return inner[:2] == outer[:2]
    if outer.endswith("00"):
        return inner[:4] == outer[:4]
    return inner == outer


def category_covers(outer: str, inner: str) -> bool:
    return inner == outer or inner.startswith(outer + ".")


def rows(sql: str) -> list:
    return db.session.execute(sa.text(sql)).all()


def count(table: str) -> int:
    return db.session.scalar(sa.text(f"SELECT COUNT(*) FROM {table}"))


def quiet_seed() -> dict:
    return seed("city", echo=lambda *_: None)


def fingerprint() -> str:
    """A hash of what the demo wrote (not the secrets: password hashes and session tokens)."""
    columns = {
        "enterprises": ("id", "uscc", "name", "region_code", "industry_code", "size",
                        "env_credit", "created_at"),
        "users": ("id", "email", "role", "enterprise_id", "bank_id", "office_id", "created_at"),
        "banks": ("id", "name", "kind", "created_at"),
        "bank_branches": ("id", "bank_id", "name", "region_code"),
        "products": ("id", "bank_id", "name", "min_amount_wan", "max_amount_wan", "rate_min",
                     "rate_max", "collateral", "active", "created_at"),
        "needs": ("id", "enterprise_id", "title", "description", "amount_wan", "term_months",
                  "status", "region_code", "green_category_code", "collateral", "rate_cap",
                  "published_at", "first_claimed_at", "escalated_at", "closed_at", "deadline"),
        "claims": ("id", "need_id", "bank_id", "manager_id", "product_id", "slot", "status",
                   "claimed_at", "selected_at", "approved_amount_wan", "approved_rate",
                   "disbursed_amount_wan", "decline_reason"),
        "claim_events": ("id", "claim_id", "type", "amount_wan", "rate", "reason_code",
                         "created_at"),
        "ratings": ("id", "claim_id", "stars", "comment", "created_at"),
    }
    digest = hashlib.sha256()
    for name, names in columns.items():
        table = db.metadata.tables[name]
        query = sa.select(*(table.c[c] for c in names)).order_by(table.c.id)
        for row in db.session.execute(query):
            digest.update(repr(tuple(
                v.isoformat() if hasattr(v, "isoformat") else str(v) for v in row)).encode())
    return digest.hexdigest()


def test_templates_are_consistent():
    assert data.template_problems() == []
    form = data.product_form_data("fulindai")
    assert form["name"] == "福林贷"
    assert form["green_categories"] == ["4.1.4", "4.1.5", "4.1.6", "4.1.10"]
    assert isinstance(form["max_amount_wan"], Decimal)
    assert form["max_amount_wan"] == Decimal("20.00")
    names = {t.name for t in data.PRODUCT_TEMPLATES}
    for required in ("福林贷", "林权按揭贷", "林票质押贷", "能效贷", "节能贷", "能源碳效贷",
                     "排污权质押贷款", "碳资产质押贷款", "科贷通", "园区贷", "农房绿色建筑贷",
                     "强村光伏贷", "生态修复贷", "裕农快贷", "惠农e贷", "绿矿贷", "绿土贷",
                     "绿水贷", "快农贷", "低碳园区贷"):
        assert required in names
    assert len({spec.name for spec in data.CITY_BANKS}) >= 30


def test_city_seed(app, make):
    summary = quiet_seed()
    assert summary["banks"] >= 30 and summary["products"] >= 100
    assert summary["enterprises"] >= 500 and summary["needs"] >= 1000
    for table in ("banks", "products", "enterprises", "needs", "claims", "claim_events", "ratings"):
        assert count(table) == summary[table], table
    assert database_has_data()

    # Banks of the real kinds in the real counties.
    kinds = Counter(kind for (kind,) in rows("SELECT kind FROM banks"))
    assert {"policy", "state_owned", "joint_stock", "city_commercial", "rural_commercial",
            "village"} <= set(kinds)
    huzhou = {c.code for c in data.CITY_COUNTIES}
    assert {r for (r,) in rows("SELECT DISTINCT region_code FROM bank_branches")} <= huzhou
    assert {r for (r,) in rows("SELECT DISTINCT region_code FROM enterprises")} == huzhou
    check_demo_data()

    # A second seed is refused with a clear message; new rows still get fresh ids.
    with pytest.raises(SeedRefused) as refused:
        seed("city", echo=lambda *_: None)
    assert isinstance(refused.value, click.ClickException)
    assert "already" in refused.value.message
    new_enterprise, _account = make.enterprise()
    assert new_enterprise.id > summary["enterprises"]


def test_seed_is_deterministic(app, tmp_path, sqlite_template):
    """Two seeds into two fresh databases write identical rows (the second one on SQLite)."""
    quiet_seed()
    first = fingerprint()
    db.session.remove()

    path = tmp_path / "second" / "matchmaker.db"
    path.parent.mkdir()
    shutil.copyfile(sqlite_template, path)
    other = create_app(base_config(path.parent, f"sqlite:///{path}"))
    with other.app_context():
        quiet_seed()
        second = fingerprint()
        db.session.remove()
        db.engine.dispose()
    assert first == second


def check_demo_data() -> None:
    """The rules every seeded database keeps, whatever the scale (also usable by hand:
    `with app.app_context(): check_demo_data()` after `flask demo seed --scale province`)."""
    for bank_id, managers in rows("SELECT b.id, COUNT(u.id) FROM banks b JOIN users u"
                                  " ON u.bank_id = b.id AND u.role = 'bank_manager' GROUP BY b.id"):
        assert 2 <= managers <= 4, bank_id
    assert count("users WHERE role = 'bank_admin'") == count("banks")

    # Enterprises: valid, unique 统一社会信用代码 of companies in their county; typical colours.
    enterprises = {r.id: r for r in rows(
        "SELECT id, uscc, name, region_code, size, env_credit FROM enterprises")}
    usccs = [e.uscc for e in enterprises.values()]
    assert len(set(usccs)) == len(usccs)
    assert len({e.name for e in enterprises.values()}) == len(enterprises)
    for e in enterprises.values():
        assert uscc_std.is_valid(e.uscc), e.uscc
        assert e.uscc.startswith("91" + e.region_code)
    colours = Counter(e.env_credit for e in enterprises.values())
    assert colours["blue"] > colours["green"] > colours["yellow"] > colours["red"] > 0
    assert count("users WHERE role = 'enterprise'") == len(enterprises)

    # Needs: every status, Decimal amounts, times before the reference and open ones recent.
    from matchmaker.needs.models import Need

    ref = data.REFERENCE_TIME
    needs = {n.id: n for n in db.session.scalars(sa.select(Need))}
    assert set(Counter(n.status for n in needs.values())) == set(enums.NEED_STATUSES)
    for need in needs.values():
        assert isinstance(need.amount_wan, Decimal) and need.amount_wan.as_tuple().exponent == -2
        assert need.created_at.tzinfo is not None and need.created_at <= ref
        if need.status == "draft":
            assert need.published_at is None
        else:
            assert need.created_at <= need.published_at <= ref
        if need.status == "open":
            assert ref - need.published_at < timedelta(days=3)
        assert (need.closed_at is not None) == (need.status in enums.NEED_CLOSED)
        if need.status in ("escalated", "assigned"):
            assert need.escalated_at is not None and need.escalated_at <= ref

    # Products, with their categories and regions.
    from matchmaker.products.models import Product

    products = {p.id: p for p in db.session.scalars(sa.select(Product))}
    categories, regions = defaultdict(list), defaultdict(list)
    for pid, code in rows("SELECT product_id, category_code FROM product_categories"):
        categories[pid].append(code)
    for pid, code in rows("SELECT product_id, region_code FROM product_regions"):
        regions[pid].append(code)
    by_bank = defaultdict(list)
    for p in products.values():
        by_bank[p.bank_id].append(p)

    def eligible(p, need) -> bool:
        ent = enterprises[need.enterprise_id]
        return bool(
            p.active
            and p.min_amount_wan <= need.amount_wan <= p.max_amount_wan
            and p.min_term_months <= need.term_months <= p.max_term_months
            and any(region_covers(r, need.region_code) for r in regions[p.id])
            and any(category_covers(c, need.green_category_code) for c in categories[p.id])
            and ent.size in p.enterprise_sizes
            and ENV_ORDER.index(ent.env_credit) <= ENV_ORDER.index(p.min_env_credit)
            and ("credit" in p.collateral or set(need.collateral) & set(p.collateral)))

    # Claims: at most 3 per need, slots 1..k, one per bank, each bank with an eligible product.
    from matchmaker.claims.models import Claim

    claims = db.session.scalars(sa.select(Claim)).all()
    managers = {r.id: r for r in rows("SELECT id, role, bank_id FROM users")}
    per_need = defaultdict(list)
    for c in claims:
        per_need[c.need_id].append(c)
        need = needs[c.need_id]
        assert any(eligible(p, need) for p in by_bank[c.bank_id]), (c.id, c.bank_id)
        assert c.product_id in products and products[c.product_id].bank_id == c.bank_id
        assert eligible(products[c.product_id], need), c.id
        assert managers[c.manager_id].role == "bank_manager"
        assert managers[c.manager_id].bank_id == c.bank_id
        assert c.claimed_at.tzinfo is not None and c.claimed_at <= ref
        assert need.published_at <= c.claimed_at
        for value in (c.approved_amount_wan, c.disbursed_amount_wan, c.approved_rate):
            assert value is None or (isinstance(value, Decimal)
                                     and value.as_tuple().exponent == -2)
    # The daily grab limit per manager (DESIGN section 3) holds for (nearly) every grab.
    grabs_per_day = Counter((c.manager_id, (c.claimed_at + timedelta(hours=8)).date())
                            for c in claims if not c.assigned_by_office)
    over = sum(n - data.DAILY_GRAB_LIMIT for n in grabs_per_day.values()
               if n > data.DAILY_GRAB_LIMIT)
    assert over <= len(claims) // 200
    for need_id, group in per_need.items():
        assert len(group) <= 3
        assert sorted(c.slot for c in group) == list(range(1, len(group) + 1))
        assert len({c.bank_id for c in group}) == len(group)
        assert min(c.claimed_at for c in group) == needs[need_id].first_claimed_at

    # Claim statuses follow the need's status.
    events = defaultdict(list)
    for claim_id, type_, reason in rows(
            "SELECT claim_id, type, reason_code FROM claim_events ORDER BY created_at, id"):
        events[claim_id].append(type_)
        if type_ == "declined":
            assert reason in enums.DECLINE_REASONS
    for need in needs.values():
        group = per_need.get(need.id, [])
        statuses = sorted(c.status for c in group)
        others = [s for s in statuses if s != "not_selected"]
        if need.status in ("draft", "open", "escalated"):
            assert not group, need.id
        elif need.status == "claimed":
            assert group and set(statuses) == {"claimed"}
        elif need.status == "assigned":
            assert statuses == ["claimed"] and group[0].assigned_by_office
        elif need.status == "withdrawn":
            assert set(statuses) <= {"cancelled"}
        elif need.status == "expired":
            # A lapsed pick, the other grabs cancelled when the need expired.
            assert not group or statuses.count("lapsed") == 1, (need.id, statuses)
            assert set(statuses) <= {"lapsed", "cancelled"}
            assert all(c.lapsed_at for c in group if c.status == "lapsed")
        else:  # selected, contacted, credit_approved, disbursed, declined
            if need.status in ("disbursed", "declined"):  # the other grabs ended with the need
                others = [s for s in others if s != "cancelled"]
                assert "not_selected" not in statuses
            assert others == [need.status], (need.id, statuses)
            picked = next(c for c in group if c.status == need.status)
            assert picked.selected_at is not None and picked.contact_due_at > picked.selected_at
            if need.status == "disbursed":
                assert picked.approved_amount_wan and picked.disbursed_amount_wan
                assert picked.approved_rate
                assert picked.disbursed_amount_wan <= picked.approved_amount_wan
                assert picked.disbursed_at <= need.closed_at
            if need.status == "declined":
                assert picked.decline_reason in enums.DECLINE_REASONS
                # Nobody left to pick, or the workflow would have reopened the choice.
                assert len(group) == 1 or picked.decline_reason == "enterprise_gave_up"
        for c in group:
            assert events[c.id] == CLAIM_EVENTS.get(c.status, []), (c.id, c.status)

    # Ratings only for closed needs, by the bank that served them.
    for need_id, claim_id, stars in rows("SELECT need_id, claim_id, stars FROM ratings"):
        assert needs[need_id].status in ("disbursed", "declined") and 1 <= stars <= 5
        assert claim_id in {c.id for c in per_need[need_id]}
    assert count("ratings") > 0

    # The demo logins work; the enterprise has needs in several statuses.
    from matchmaker.accounts.services import authenticate

    for role, email in data.DEMO_LOGINS:
        user = authenticate(email, data.DEMO_PASSWORD)
        assert user is not None and user.role == role, email
    enterprise = authenticate(data.DEMO_LOGINS[4][1], data.DEMO_PASSWORD).enterprise
    statuses = {n.status for n in needs.values() if n.enterprise_id == enterprise.id}
    assert len(statuses) >= 4
    manager = authenticate(data.DEMO_LOGINS[3][1], data.DEMO_PASSWORD)
    assert len(by_bank[manager.bank_id]) >= 10
    assert any(c.manager_id == manager.id for c in claims)
    lines: list[str] = []
    print_logins(echo=lines.append)
    assert all(any(email in line for line in lines) for _role, email in data.DEMO_LOGINS)
    assert any(data.DEMO_PASSWORD in line for line in lines)

    # One audit row, no outbox rows.
    assert rows("SELECT action, object_type FROM audit_log") == [("demo.seeded", "database")]
    assert count("outbox") == 0

