"""The office's numbers against the same numbers computed independently in plain Python.

A seeded random history (needs with their claims, timestamps, amounts and ratings) is written
straight into the database, and kept as a list of plain records. The expected KPIs are computed
from that list by the definitions in `matchmaker.office.stats` (restated here in Python, not
imported), for several filter combinations, and compared with what the platform reports.
"""

from __future__ import annotations

import random
import statistics
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from matchmaker.claims.models import Claim, Rating
from matchmaker.database import utcnow
from matchmaker.extensions import db
from matchmaker.green import catalog2024
from matchmaker.needs.models import Need
from matchmaker.office import facts, stats

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = utcnow()
REGIONS = ["330502", "330503", "330521", "330523", "330106"]  # four of 湖州, one of 杭州
CATEGORIES = ["1.1.1", "3.2.1", "4.1.4", "4.1.5", "6.1.1"]


@dataclass
class ClaimRecord:
    bank: int
    assigned: bool
    claimed_at: datetime
    selected_at: datetime | None = None
    contact_due_at: datetime | None = None
    contacted_at: datetime | None = None
    credit_at: datetime | None = None
    approved: Decimal | None = None
    disbursed_at: datetime | None = None
    disbursed: Decimal | None = None
    stars: int | None = None
    id: int | None = None


@dataclass
class NeedRecord:
    enterprise: int
    size: str
    industry_section: str
    region: str
    category: str
    amount: Decimal
    published_at: datetime
    co2: Decimal | None
    investment: Decimal | None
    claims: list[ClaimRecord] = field(default_factory=list)


def random_history(rng: random.Random, enterprises, banks) -> list[NeedRecord]:
    needs = []
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(160):
        ent = rng.choice(enterprises)
        published = start + timedelta(minutes=rng.randrange(0, 300 * 24 * 60))
        if i < 6:  # day boundaries: 23:30 UTC is 07:30 the next day in Shanghai
            published = datetime(2026, 3, 31, 23, 30, tzinfo=UTC) + timedelta(days=i % 2)
        need = NeedRecord(
            enterprise=ent["id"], size=ent["size"], industry_section=ent["section"],
            region=rng.choice(REGIONS), category=rng.choice(CATEGORIES),
            amount=Decimal(rng.randrange(10, 5000)) / 2, published_at=published,
            co2=rng.choice([None, Decimal(rng.randrange(1, 900))]),
            investment=rng.choice([None, Decimal(rng.randrange(50, 9000))]))
        for slot_bank in rng.sample(banks, rng.choice([0, 0, 1, 2, 3])):
            claimed = published + timedelta(minutes=rng.randrange(1, 5 * 24 * 60))
            needs_claim = ClaimRecord(bank=slot_bank, assigned=rng.random() < 0.15,
                                      claimed_at=claimed)
            need.claims.append(needs_claim)
        picked = rng.choice(need.claims) if need.claims and rng.random() < 0.7 else None
        if picked:
            picked.selected_at = picked.claimed_at + timedelta(hours=rng.randrange(1, 72))
            picked.contact_due_at = picked.selected_at + timedelta(days=7)
            if picked.contact_due_at > NOW and rng.random() < 0.3:
                pass  # still within the deadline, not contacted yet
            elif rng.random() < 0.8:
                picked.contacted_at = picked.selected_at + timedelta(
                    hours=rng.randrange(1, 10 * 24))
                if rng.random() < 0.7:
                    picked.credit_at = picked.contacted_at + timedelta(hours=rng.randrange(1, 400))
                    picked.approved = min(need.amount, Decimal(rng.randrange(5, 5000)) / 2)
                    if rng.random() < 0.8:
                        picked.disbursed_at = picked.credit_at + timedelta(days=2)
                        picked.disbursed = picked.approved - Decimal(rng.randrange(0, 3))
                        if picked.disbursed <= 0:
                            picked.disbursed = picked.approved
                        picked.stars = rng.choice([None, 1, 3, 4, 5])
        needs.append(need)
    return needs


def write(history: list[NeedRecord], owner_users) -> None:
    for record in history:
        need = Need(enterprise_id=record.enterprise, created_by_id=owner_users[record.enterprise],
                    title="测试需求", description="", purpose="project", amount_wan=record.amount,
                    term_months=24, green_category_code=record.category,
                    collateral=["credit"], region_code=record.region,
                    co2_reduction_t=record.co2, project_investment_wan=record.investment,
                    status="open", created_at=record.published_at,
                    published_at=record.published_at)
        db.session.add(need)
        db.session.flush()
        for slot, c in enumerate(record.claims, start=1):
            # 派单 takes a slot above the grab slots, as the service does.
            claim = Claim(need_id=need.id, bank_id=c.bank, slot=10 + slot if c.assigned else slot,
                          status="claimed", assigned_by_office=c.assigned, claimed_at=c.claimed_at,
                          selected_at=c.selected_at, contact_due_at=c.contact_due_at,
                          contacted_at=c.contacted_at, credit_approved_at=c.credit_at,
                          approved_amount_wan=c.approved, disbursed_at=c.disbursed_at,
                          disbursed_amount_wan=c.disbursed)
            db.session.add(claim)
            db.session.flush()
            c.id = claim.id
            if c.stars:
                db.session.add(Rating(claim_id=claim.id, need_id=need.id, bank_id=c.bank,
                                      enterprise_id=record.enterprise, stars=c.stars))
    db.session.commit()


# --- the definitions, restated in plain Python ----------------------------------------------------

def local_date(moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date()


def in_cohort(need: NeedRecord, f: stats.Filters) -> bool:
    day = local_date(need.published_at)
    if (f.start and day < f.start) or (f.end and day > f.end):
        return False
    if f.region_code:
        prefix = f.region_code[:4] if f.region_code.endswith("00") else f.region_code
        if not need.region.startswith(prefix):
            return False
    if f.category and need.category.split(".")[0] != f.category:
        return False
    return not (f.size and need.size != f.size)


def claims_of(need: NeedRecord, f: stats.Filters) -> list[ClaimRecord]:
    return [c for c in need.claims if not f.bank_id or c.bank == f.bank_id]


def rate(n: int, d: int) -> Decimal | None:
    return None if d == 0 else (Decimal(n) / Decimal(d)).quantize(Decimal("0.0001"))


def co2_share(need: NeedRecord, claim: ClaimRecord) -> Decimal:
    if need.co2 is None:
        return Decimal(0)
    if need.investment and claim.disbursed < need.investment:
        return need.co2 * claim.disbursed / need.investment
    return need.co2


def median(values) -> float | None:
    return statistics.median(values) if values else None


def expected_summary(history, f: stats.Filters) -> dict:
    cohort = [n for n in history if in_cohort(n, f)]
    claims = [(n, c) for n in cohort for c in claims_of(n, f)]
    picks_due = [c for _, c in claims if c.selected_at and (c.contacted_at or
                                                            c.contact_due_at <= NOW)]
    on_time = [c for c in picks_due if c.contacted_at and c.contacted_at <= c.contact_due_at]
    claimed = {id(n) for n, c in claims if not c.assigned}
    approved = {id(n) for n, c in claims if c.credit_at}
    first_grab = [min(c.claimed_at for c in claims_of(n, f) if not c.assigned) - n.published_at
                  for n in cohort if any(not c.assigned for c in claims_of(n, f))]
    to_credit = [min(c.credit_at for c in claims_of(n, f) if c.credit_at) - n.published_at
                 for n in cohort if any(c.credit_at for c in claims_of(n, f))]
    hours = median([d.total_seconds() / 3600 for d in first_grab])
    days = median([d.total_seconds() / 86400 for d in to_credit])
    money = Decimal("0.01")
    return {
        "needs_posted": len(cohort),
        "amount_requested_wan": sum((n.amount for n in cohort), Decimal(0)).quantize(money),
        "needs_claimed": len(claimed), "claim_rate": rate(len(claimed), len(cohort)),
        "needs_assigned": len({id(n) for n, c in claims if c.assigned}),
        "picks_due": len(picks_due), "picks_contacted_on_time": len(on_time),
        "contacted_on_time_rate": rate(len(on_time), len(picks_due)),
        "needs_credit_approved": len(approved), "credit_rate": rate(len(approved), len(cohort)),
        "amount_approved_wan": sum((c.approved for _, c in claims if c.credit_at),
                                   Decimal(0)).quantize(money),
        "amount_disbursed_wan": sum((c.disbursed for _, c in claims if c.disbursed_at),
                                    Decimal(0)).quantize(money),
        "median_hours_to_first_claim": None if hours is None else round(hours, 1),
        "median_days_to_credit": None if days is None else round(days, 1),
        "co2_reduction_t": sum((co2_share(n, c) for n, c in claims if c.disbursed_at),
                               Decimal(0)).quantize(money),
    }


@pytest.fixture
def history(app, make):
    rng = random.Random(20261122)
    enterprises, owners = [], {}
    for size, industry, section in [("micro", "01", "A"), ("small", "C", "C"),
                                    ("medium", "44", "D"), ("small", "77", "N")]:
        enterprise, account = make.enterprise(size=size, industry_code=industry)
        enterprises.append({"id": enterprise.id, "size": size, "section": section})
        owners[enterprise.id] = account.user.id
    banks = [make.bank().id for _ in range(4)]
    records = random_history(rng, enterprises, banks)
    write(records, owners)  # straight into the tables, as a bulk load would
    facts.rebuild()
    return records, banks


FILTERS = [
    stats.Filters(),
    stats.Filters(start=date(2026, 4, 1), end=date(2026, 4, 30)),
    stats.Filters(start=date(2026, 4, 1), end=date(2026, 4, 1)),
    stats.Filters(region_code="330500"),
    stats.Filters(region_code="330523", category="4"),
    stats.Filters(size="small", start=date(2026, 2, 1)),
]


def test_summary_matches_an_independent_computation(history):
    records, banks = history
    by_bank = [stats.Filters(bank_id=banks[0]),
               stats.Filters(bank_id=banks[1], region_code="330500")]
    for f in [*FILTERS, *by_bank]:
        got = stats.summary(f)
        want = expected_summary(records, f)
        for key, value in want.items():
            if isinstance(value, float):
                assert got[key] == pytest.approx(value, abs=0.1), (f, key)
            else:
                assert got[key] == value, (f, key, got[key], value)
        assert set(got) >= set(want)


def test_a_need_posted_at_2330_utc_belongs_to_the_next_local_day(history):
    records, _ = history
    boundary = [n for n in records if n.published_at == datetime(2026, 3, 31, 23, 30, tzinfo=UTC)]
    assert boundary  # the history has them
    march_31 = stats.summary(stats.Filters(start=date(2026, 3, 31), end=date(2026, 3, 31)))
    april_1 = stats.summary(stats.Filters(start=date(2026, 4, 1), end=date(2026, 4, 1)))
    assert april_1["needs_posted"] >= len(boundary)
    assert march_31["needs_posted"] == len([
        n for n in records if local_date(n.published_at) == date(2026, 3, 31)])
    months = {row["key"]: row for row in stats.breakdown(stats.Filters(), "month")}
    assert months["2026-04"]["needs_posted"] == len([
        n for n in records if local_date(n.published_at).strftime("%Y-%m") == "2026-04"])


@pytest.mark.parametrize("by", stats.BREAKDOWNS)
def test_each_breakdown_adds_up_to_the_summary_and_matches_python(history, by):
    records, _ = history
    f = stats.Filters(start=date(2026, 2, 1), end=date(2026, 10, 31))
    rows = stats.breakdown(f, by)
    total = stats.summary(f)
    assert sum(r["needs_posted"] for r in rows) == total["needs_posted"]
    assert sum(r["amount_requested_wan"] for r in rows) == total["amount_requested_wan"]
    assert sum(r["amount_disbursed_wan"] for r in rows) == total["amount_disbursed_wan"]
    assert sum(r["co2_reduction_t"] for r in rows) == pytest.approx(total["co2_reduction_t"],
                                                                    abs=Decimal("0.05"))

    def key_of(need: NeedRecord) -> str:
        if by == "category":
            return need.category.split(".")[0]
        if by == "month":
            return local_date(need.published_at).strftime("%Y-%m")
        if by == "region":
            return need.region[:4] + "00"
        if by == "category2024":
            return catalog2024.report_key(need.category)
        return need.industry_section

    for row in rows:
        group = [n for n in records if in_cohort(n, f) and key_of(n) == row["key"]]
        want = expected_summary(group, stats.Filters())
        assert row["needs_posted"] == want["needs_posted"], row["key"]
        assert row["needs_claimed"] == want["needs_claimed"], row["key"]
        assert row["needs_credit_approved"] == want["needs_credit_approved"], row["key"]
        assert row["amount_approved_wan"] == want["amount_approved_wan"], row["key"]
        assert row["label"]  # a name from the reference tables, not a bare code


def test_bank_ranking_matches_python(history):
    records, banks = history
    f = stats.Filters(start=date(2026, 1, 1))
    rows = {row["bank_id"]: row for row in stats.banks(f)}
    for bank in banks:
        mine = [(n, c) for n in records if in_cohort(n, f) for c in n.claims if c.bank == bank]
        if not mine:
            assert bank not in rows
            continue
        row = rows[bank]
        grabs = [(n, c) for n, c in mine if not c.assigned]
        assert row["grabs"] == len(grabs)
        assert row["assigned"] == len(mine) - len(grabs)
        hours = median([(c.claimed_at - n.published_at).total_seconds() / 3600 for n, c in grabs])
        assert row["median_hours_to_grab"] == pytest.approx(hours, abs=0.1)
        assert row["credit_approved"] == len([c for _, c in mine if c.credit_at])
        assert row["credit_rate"] == rate(row["credit_approved"], len(mine))
        assert row["amount_disbursed_wan"] == sum(
            (c.disbursed for _, c in mine if c.disbursed_at), Decimal(0)).quantize(
            Decimal("0.01"))
        stars = [c.stars for _, c in mine if c.stars]
        assert row["ratings"] == len(stars)
        if stars:
            assert row["average_rating"] == (Decimal(sum(stars)) / len(stars)).quantize(
                Decimal("0.01"))


# --- the API: the same numbers, office only, filters checked ---------------------------------

def test_the_api_reports_the_same_numbers_to_the_office_only(client, make, history):
    from tests.factories import api_token, errors_of

    office = api_token(client, make.office())
    query = "?from=2026-04-01&to=2026-06-30&region_code=330500&green_category=4&size=small"
    got = client.get("/api/v1/stats/summary" + query, headers=office)
    assert got.status_code == 200
    want = stats.summary(stats.Filters(start=date(2026, 4, 1), end=date(2026, 6, 30),
                                       region_code="330500", category="4", size="small"))
    assert got.json["needs_posted"] == want["needs_posted"]
    assert got.json["amount_disbursed_wan"] == str(want["amount_disbursed_wan"])
    assert got.json["claim_rate"] == (None if want["claim_rate"] is None
                                      else str(want["claim_rate"]))
    rows = client.get("/api/v1/stats/breakdown?by=month", headers=office).json["items"]
    assert [r["key"] for r in rows] == [r["key"] for r in stats.breakdown(stats.Filters(),
                                                                          "month")]
    banks = client.get("/api/v1/stats/banks", headers=office).json["items"]
    assert [b["bank_id"] for b in banks] == [b["bank_id"] for b in stats.banks(stats.Filters())]

    assert errors_of(client.get("/api/v1/stats/summary?from=2026-05-01&to=2026-04-01",
                                headers=office)) == {"to": ["结束日期不能早于开始日期"]}
    assert "by" in errors_of(client.get("/api/v1/stats/breakdown?by=colour", headers=office))
    assert "from" in errors_of(client.get("/api/v1/stats/summary?from=2026-13-01",
                                          headers=office))
    _, owner = make.enterprise()
    bank = make.bank()
    for account in (owner, make.bank_user(bank), make.bank_user(bank, role="bank_admin")):
        assert client.get("/api/v1/stats/summary",
                          headers=api_token(client, account)).status_code == 403
    assert client.get("/api/v1/stats/banks").status_code == 401


# --- the read model follows every change through the outbox --------------------------------

def test_the_numbers_follow_the_workflow_as_it_happens(make):
    import sqlalchemy as sa

    from matchmaker.claims import services as claims
    from matchmaker.office.models import NeedFacts
    from workers.jobs import drain_and_repair

    bank = make.bank()
    manager = make.bank_user(bank)
    make.product(bank)
    _, owner = make.enterprise()
    need = make.need(owner)
    make.need(owner, publish=False)  # a draft is not posted
    first = stats.summary(stats.Filters())
    assert (first["needs_posted"], first["needs_claimed"]) == (1, 0)

    claim = claims.grab(need.id, manager.user)
    claims.select_claim(need, claim.id, owner.user)
    claims.record_event(claim, manager.user, {"type": "contacted"})
    claims.record_event(claim, manager.user,
                        {"type": "credit_approved", "amount_wan": "120.00", "rate": "4.10"})
    after = stats.summary(stats.Filters(bank_id=bank.id))
    assert (after["needs_claimed"], after["needs_credit_approved"]) == (1, 1)
    assert after["amount_approved_wan"] == Decimal("120.00")
    assert stats.summary(stats.Filters())["credit_rate"] == Decimal("1.0000")
    assert stats.summary(stats.Filters())["median_hours_to_first_claim"] is not None
    claims.record_event(claim, manager.user, {"type": "disbursed", "amount_wan": "100.00"})
    claims.rate(claim, owner.user, 4, "服务及时")
    [row] = stats.banks(stats.Filters())
    assert (row["grabs"], row["amount_disbursed_wan"], row["ratings"]) == (1, Decimal("100.00"),
                                                                         1)
    assert row["average_rating"] == Decimal("4.00")

    # A row lost (a consumer failed for good) comes back with the periodic drain.
    db.session.execute(sa.delete(NeedFacts))
    db.session.commit()
    assert stats.summary(stats.Filters())["needs_posted"] == 0
    drain_and_repair()
    assert stats.summary(stats.Filters())["needs_credit_approved"] == 1
    assert stats.banks(stats.Filters())[0]["ratings"] == 1


def test_all_breakdowns_at_once_equal_each_alone(history):
    """PostgreSQL computes them in one GROUPING SETS pass; each alone is a plain GROUP BY."""
    _, banks = history
    for f in (stats.Filters(), stats.Filters(start=date(2026, 3, 1), region_code="330500"),
              stats.Filters(bank_id=banks[0], category="4")):
        together = stats.breakdowns(f)
        assert set(together) == set(stats.BREAKDOWNS)
        for by in stats.BREAKDOWNS:
            assert together[by] == stats.breakdown(f, by), (f, by)


def test_the_report_equals_its_parts_computed_alone(history):
    """`Report.build` adds the bank ranking's picks up for the summary instead of counting them
    again: the same numbers as `summary`, `breakdowns` and `banks` called alone."""
    from matchmaker.office.reports import Report

    _, banks = history
    picks_due = []
    for f in (stats.Filters(), stats.Filters(start=date(2026, 3, 1), region_code="330500"),
              stats.Filters(bank_id=banks[0]), stats.Filters(category="4", size="small")):
        report = Report.build(f)
        assert report.summary == stats.summary(f), f
        assert report.breakdowns == stats.breakdowns(f), f
        assert report.banks == stats.banks(f), f
        picks_due.append(report.summary["picks_due"])
    assert all(picks_due[:3]), picks_due  # the history has due picks: the sums are compared
