"""The finance office's numbers, aggregated in SQL (the same queries on SQLite and PostgreSQL)
over the read models `NeedFacts` (one row per published need) and `ClaimFacts` (one row per
claim, with its need's keys), see `matchmaker.office.facts`.

Definitions (the dashboard, the API and the exports all read these functions):

* The **cohort** is the needs published in the period (local dates in DISPLAY_TIMEZONE, both ends
  included), narrowed by region (a city or county covers the codes under it), top-level green
  category and enterprise size. Every figure follows the cohort's needs to today: a need posted in
  March and approved in May counts for March. Rates therefore never exceed 100 %.
* A **bank** filter keeps every need of the cohort (the denominator stays "needs posted") but
  counts only that bank's claims: its 对接率 is the share of needs it grabbed.
* **对接率** = needs with at least one grab ÷ needs posted. A grab is a claim a bank took itself;
  派单 (office assignment) is counted apart as `needs_assigned`.
* **Contacted within the deadline** = picks whose contact was recorded by the deadline ÷ picks
  that were due (contacted, or the deadline has passed).
* **授信率** = needs with a credit approval ÷ needs posted.
* **Median hours to first grab**: per need, first grab − publication; **median days to credit**:
  per need, first credit approval − publication.
* **By the 2024 catalog**: needs keep their 2019 codes; the `category2024` breakdown groups by
  the full 2019 code and adds the groups up by the 2024 top level (`matchmaker.green.catalog2024`);
  a 2019 code without a single 2024 top level is shown apart under its 2019 top level.
* **CO2 financed** (t/a), by the 2013 guide (银监会《绿色信贷项目节能减排量测算指引》): for each
  disbursed loan, the need's stated annual reduction × disbursed amount ÷ project investment when
  the investment is known (capped at the whole reduction), else the need's stated reduction.
  **Standard coal financed** (tce/a) the same way from the need's stated coal saving (which the
  need form's benefit estimator, `matchmaker.green.benefit`, helps to state).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import sqlalchemy as sa

from matchmaker.banks.models import Bank
from matchmaker.database import quantize_money, utcnow
from matchmaker.extensions import db
from matchmaker.green import catalog2024
from matchmaker.office.facts import seconds_between
from matchmaker.office.models import ClaimFacts as CF
from matchmaker.office.models import NeedFacts as F
from matchmaker.reference.codes import region_prefix
from matchmaker.reference.models import GreenCategory, Industry, Region

BREAKDOWNS = ("category", "region", "month", "industry", "category2024")


@dataclass(frozen=True)
class Filters:
    start: date | None = None
    end: date | None = None
    region_code: str | None = None
    category: str | None = None  # a top-level code, "1" … "6"
    bank_id: int | None = None
    size: str | None = None


def cohort_conditions(filters: Filters, table=F) -> list:
    """WHERE clauses for the cohort, on NeedFacts or ClaimFacts (they share the key columns)."""
    conditions = []
    if filters.start:
        conditions.append(table.local_day >= filters.start.isoformat())
    if filters.end:
        conditions.append(table.local_day <= filters.end.isoformat())
    if filters.region_code:
        conditions.append(table.region_code.startswith(region_prefix(filters.region_code),
                                                       autoescape=True))
    if filters.category:
        conditions.append(table.category_top == filters.category)
    if filters.size:
        conditions.append(table.size == filters.size)
    return conditions


def _claims(filters: Filters, *extra):
    """The claims on the cohort's needs (of the filtered bank), from their read model."""
    query = (sa.select(CF.claim_id.label("id"), CF.need_id, CF.bank_id,
                       CF.assigned.label("assigned_by_office"), CF.published_at,
                       CF.claimed_at, CF.grab_hours, CF.selected_at, CF.contact_due_at,
                       CF.contacted_at, CF.credit_approved_at, CF.approved_amount_wan,
                       CF.disbursed_at, CF.disbursed_amount_wan, CF.co2_share_t,
                       CF.coal_share_tce, CF.stars,
                       *extra)
             .where(*cohort_conditions(filters, CF)))
    if filters.bank_id:
        query = query.where(CF.bank_id == filters.bank_id)
    return query


def _postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _median(column, *conditions) -> float | None:
    """Median of `column` over the rows matching `conditions` (NULLs dropped): PostgreSQL's
    ordered-set aggregate, or on SQLite (which has none) the middle rows by window functions."""
    if _postgres():
        value = db.session.scalar(
            sa.select(sa.func.percentile_cont(0.5).within_group(column))
            .where(column.is_not(None), *conditions))
    else:
        ranked = sa.select(
            column.label("value"),
            sa.func.row_number().over(order_by=column).label("rn"),
            sa.func.count().over().label("cnt"),
        ).where(column.is_not(None), *conditions).subquery("r")
        value = db.session.scalar(sa.select(sa.func.avg(ranked.c.value)).where(
            ranked.c.rn.in_([(ranked.c.cnt + 1) // 2, (ranked.c.cnt + 2) // 2])))
    return None if value is None else round(float(value), 1)


def _money(value) -> Decimal:
    return quantize_money(value or 0)


def _rate(numerator: int, denominator: int) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(Decimal("0.0001"))


def _outcome_columns_from_facts():
    return [
        sa.func.count().label("needs_posted"),
        sa.func.coalesce(sa.func.sum(F.amount_wan), 0).label("amount_requested"),
        sa.func.coalesce(sa.func.sum(F.grabbed), 0).label("needs_claimed"),
        sa.func.coalesce(sa.func.sum(F.assigned), 0).label("needs_assigned"),
        sa.func.coalesce(sa.func.sum(F.contacted), 0).label("needs_contacted"),
        sa.func.coalesce(sa.func.sum(F.credit_approved), 0).label("needs_credit_approved"),
        sa.func.coalesce(sa.func.sum(F.disbursed), 0).label("needs_disbursed"),
        sa.func.coalesce(sa.func.sum(F.amount_approved_wan), 0).label("amount_approved"),
        sa.func.coalesce(sa.func.sum(F.amount_disbursed_wan), 0).label("amount_disbursed"),
        sa.func.coalesce(sa.func.sum(F.co2_financed_t), 0).label("co2"),
        sa.func.coalesce(sa.func.sum(F.coal_financed_tce), 0).label("coal"),
    ]


def _outcome_columns_from_claims(claims):
    def needs_where(condition):
        return sa.func.count(sa.distinct(sa.case((condition, claims.c.need_id))))

    return [
        needs_where(claims.c.assigned_by_office.is_(False)).label("needs_claimed"),
        needs_where(claims.c.assigned_by_office.is_(True)).label("needs_assigned"),
        needs_where(claims.c.contacted_at.is_not(None)).label("needs_contacted"),
        needs_where(claims.c.credit_approved_at.is_not(None)).label("needs_credit_approved"),
        needs_where(claims.c.disbursed_at.is_not(None)).label("needs_disbursed"),
        sa.func.coalesce(sa.func.sum(sa.case((claims.c.credit_approved_at.is_not(None),
                                              claims.c.approved_amount_wan))), 0)
        .label("amount_approved"),
        sa.func.coalesce(sa.func.sum(sa.case((claims.c.disbursed_at.is_not(None),
                                              claims.c.disbursed_amount_wan))), 0)
        .label("amount_disbursed"),
        sa.func.coalesce(sa.func.sum(claims.c.co2_share_t), 0).label("co2"),
        sa.func.coalesce(sa.func.sum(claims.c.coal_share_tce), 0).label("coal"),
    ]


def summary(filters: Filters) -> dict:
    conditions = cohort_conditions(filters)
    medians_inline = _postgres() and not filters.bank_id
    extra = [sa.func.percentile_cont(0.5).within_group(F.first_grab_hours).label("hours"),
             sa.func.percentile_cont(0.5).within_group(F.credit_days).label("days")
             ] if medians_inline else []
    base = db.session.execute(sa.select(*_outcome_columns_from_facts(), *extra)
                              .where(*conditions)).one()
    outcomes, co2, coal = base, base.co2, base.coal
    if filters.bank_id:
        claims = _claims(filters).subquery("c")
        outcomes = db.session.execute(
            sa.select(*_outcome_columns_from_claims(claims)).select_from(claims)).one()
        co2, coal = outcomes.co2, outcomes.coal
        per_need = (sa.select(sa.func.min(claims.c.grab_hours).label("hours"))
                    .where(claims.c.assigned_by_office.is_(False))
                    .group_by(claims.c.need_id)).subquery("g")
        hours = _median(per_need.c.hours)
        per_need = (sa.select(
            (seconds_between(sa.func.min(claims.c.credit_approved_at),
                             sa.func.min(claims.c.published_at)) / 86400.0).label("days"))
            .where(claims.c.credit_approved_at.is_not(None))
            .group_by(claims.c.need_id)).subquery("d")
        days = _median(per_need.c.days)
    elif medians_inline:  # one pass on PostgreSQL (its aggregates skip NULLs)
        hours = None if base.hours is None else round(float(base.hours), 1)
        days = None if base.days is None else round(float(base.days), 1)
    else:
        hours = _median(F.first_grab_hours, *conditions)
        days = _median(F.credit_days, *conditions)
    picks = _picks(filters)
    return {
        "needs_posted": base.needs_posted,
        "amount_requested_wan": _money(base.amount_requested),
        "needs_claimed": outcomes.needs_claimed,
        "claim_rate": _rate(outcomes.needs_claimed, base.needs_posted),
        "needs_assigned": outcomes.needs_assigned,
        "needs_contacted": outcomes.needs_contacted,
        "picks_due": picks.due,
        "picks_contacted_on_time": picks.on_time,
        "contacted_on_time_rate": _rate(picks.on_time, picks.due),
        "needs_credit_approved": outcomes.needs_credit_approved,
        "credit_rate": _rate(outcomes.needs_credit_approved, base.needs_posted),
        "needs_disbursed": outcomes.needs_disbursed,
        "amount_approved_wan": _money(outcomes.amount_approved),
        "amount_disbursed_wan": _money(outcomes.amount_disbursed),
        "median_hours_to_first_claim": hours,
        "median_days_to_credit": days,
        "co2_reduction_t": _money(co2),
        "coal_saving_tce": _money(coal),
    }


def _due_and_on_time(claims, now):
    due = sa.and_(claims.c.selected_at.is_not(None),
                  sa.or_(claims.c.contacted_at.is_not(None), claims.c.contact_due_at <= now))
    on_time = sa.and_(due, claims.c.contacted_at.is_not(None),
                      claims.c.contacted_at <= claims.c.contact_due_at)
    return due, on_time


def _picks(filters: Filters):
    claims = _claims(filters).where(CF.selected_at.is_not(None)).subquery("p")
    due, on_time = _due_and_on_time(claims, utcnow())
    return db.session.execute(sa.select(
        sa.func.count(sa.case((due, 1))).label("due"),
        sa.func.count(sa.case((on_time, 1))).label("on_time")).select_from(claims)).one()


def _group_key(by: str, filters: Filters, table=F):
    if by == "category":
        return table.category_top
    if by == "month":
        return table.local_month
    if by == "region":
        if filters.region_code and len(region_prefix(filters.region_code)) >= 4:
            return table.region_code  # within a city: by county
        return table.city_code
    if by == "industry":
        return table.industry_section
    if by == "category2024":  # grouped by the full 2019 code, then folded (_fold_2024)
        return table.category_code
    raise ValueError(by)


def breakdown(filters: Filters, by: str) -> list[dict]:
    if by not in BREAKDOWNS:
        raise ValueError(by)
    return breakdowns(filters, (by,))[by]


def breakdowns(filters: Filters, kinds=BREAKDOWNS) -> dict[str, list[dict]]:
    """The breakdowns `kinds`. On PostgreSQL in one pass over each read model (GROUPING SETS);
    SQLite, which has none, runs one grouped query per breakdown."""
    kinds = tuple(kinds)
    if any(by not in BREAKDOWNS for by in kinds):
        raise ValueError(kinds)
    conditions = cohort_conditions(filters)
    keys = {by: _group_key(by, filters) for by in kinds}
    base = _grouped(keys, sa.select(*_outcome_columns_from_facts()).where(*conditions))
    if filters.bank_id:
        claim_keys = {by: _group_key(by, filters, CF) for by in kinds}
        claims = _claims(filters, *(key.label(f"k_{by}") for by, key in claim_keys.items())
                         ).subquery("c")
        outcomes = _grouped({by: claims.c[f"k_{by}"] for by in kinds},
                            sa.select(*_outcome_columns_from_claims(claims)))
    else:
        outcomes = base
    return {by: _breakdown_rows(by, base[by], outcomes[by]) for by in kinds}


def _grouped(keys: dict, query) -> dict[str, dict]:
    """{breakdown: {key value: row}} for `query` grouped by each of `keys` in turn."""
    if _postgres() and len(keys) > 1:
        names = list(keys)
        query = (query.add_columns(*(keys[by].label(f"k_{by}") for by in names),
                                   *(sa.func.grouping(keys[by]).label(f"g_{by}")
                                     for by in names))
                 .group_by(sa.func.grouping_sets(*keys.values())))
        result: dict[str, dict] = {by: {} for by in names}
        for row in db.session.execute(query):
            for by in names:
                if getattr(row, f"g_{by}") == 0:  # 0: this row groups by that key
                    result[by][getattr(row, f"k_{by}")] = row
        return result
    return {by: {row.key: row for row in db.session.execute(
        query.add_columns(key.label("key")).group_by(key))} for by, key in keys.items()}


def _fold_2024(rows: dict) -> dict:
    """Rows keyed by full 2019 codes, added up by their 2024 top level (`catalog2024`)."""
    folded: dict[str, SimpleNamespace] = {}
    for code, row in rows.items():
        key = catalog2024.report_key(code)
        into = folded.setdefault(key, SimpleNamespace())
        for name, value in row._mapping.items():
            if name == "key" or name.startswith(("k_", "g_")):
                continue
            setattr(into, name, getattr(into, name, 0) + (value or 0))
    return folded


def _breakdown_rows(by: str, base: dict, outcomes: dict) -> list[dict]:
    if by == "category2024":
        base, outcomes = _fold_2024(base), _fold_2024(outcomes)
    labels = _labels(by, list(base))
    rows = []
    for key_value, row in sorted(base.items(), key=lambda item: str(item[0])):
        out = outcomes.get(key_value)
        claimed = out.needs_claimed if out else 0
        approved = out.needs_credit_approved if out else 0
        rows.append({
            "key": key_value, "label": labels.get(key_value, key_value or "未知"),
            "needs_posted": row.needs_posted,
            "amount_requested_wan": _money(row.amount_requested),
            "needs_claimed": claimed, "claim_rate": _rate(claimed, row.needs_posted),
            "needs_credit_approved": approved, "credit_rate": _rate(approved, row.needs_posted),
            "amount_approved_wan": _money(out.amount_approved if out else 0),
            "amount_disbursed_wan": _money(out.amount_disbursed if out else 0),
            "co2_reduction_t": _money(out.co2 if out else 0),
            "coal_saving_tce": _money(out.coal if out else 0),
        })
    return rows


def _labels(by: str, keys: list) -> dict:
    keys = [k for k in keys if k]
    if not keys:
        return {}
    if by == "category":
        return dict(db.session.execute(sa.select(GreenCategory.code, GreenCategory.name)
                                       .where(GreenCategory.code.in_(keys))).all())
    if by == "region":
        return dict(db.session.execute(sa.select(Region.code, Region.name)
                                       .where(Region.code.in_(keys))).all())
    if by == "industry":
        return dict(db.session.execute(sa.select(Industry.code, Industry.name)
                                       .where(Industry.code.in_(keys))).all())
    if by == "category2024":
        return {k: catalog2024.label(k) for k in keys}
    return {k: k for k in keys}


def banks(filters: Filters) -> list[dict]:
    """One row per bank with claims on the cohort's needs."""
    claims = _claims(filters).subquery("c")
    due, on_time = _due_and_on_time(claims, utcnow())
    rows = db.session.execute(
        sa.select(
            claims.c.bank_id, Bank.name,
            sa.func.count(sa.case((claims.c.assigned_by_office.is_(False), 1))).label("grabs"),
            sa.func.count(sa.case((claims.c.assigned_by_office.is_(True), 1))).label("assigned"),
            sa.func.count(claims.c.id).label("claims"),
            sa.func.count(sa.case((claims.c.selected_at.is_not(None), 1))).label("picks"),
            sa.func.count(sa.case((due, 1))).label("picks_due"),
            sa.func.count(sa.case((on_time, 1))).label("picks_on_time"),
            sa.func.count(sa.case((claims.c.credit_approved_at.is_not(None), 1)))
            .label("credit_approved"),
            sa.func.coalesce(sa.func.sum(sa.case((claims.c.credit_approved_at.is_not(None),
                                                  claims.c.approved_amount_wan))), 0)
            .label("amount_approved"),
            sa.func.coalesce(sa.func.sum(sa.case((claims.c.disbursed_at.is_not(None),
                                                  claims.c.disbursed_amount_wan))), 0)
            .label("amount_disbursed"),
            sa.func.avg(claims.c.stars).label("rating"),
            sa.func.count(claims.c.stars).label("ratings"),
            *([sa.func.percentile_cont(0.5).within_group(claims.c.grab_hours).label("median")]
              if _postgres() else []),
        )
        .select_from(claims).join(Bank, Bank.id == claims.c.bank_id)
        .group_by(claims.c.bank_id, Bank.name)
    ).all()
    if _postgres():
        medians = {row.bank_id: None if row.median is None else round(float(row.median), 1)
                   for row in rows}
    else:
        medians = _bank_medians(claims)
    result = []
    for row in rows:
        result.append({
            "bank_id": row.bank_id, "bank_name": row.name, "grabs": row.grabs,
            "assigned": row.assigned, "picks": row.picks,
            "median_hours_to_grab": medians.get(row.bank_id),
            "picks_due": row.picks_due, "picks_contacted_on_time": row.picks_on_time,
            "contacted_on_time_rate": _rate(row.picks_on_time, row.picks_due),
            "credit_approved": row.credit_approved,
            "credit_rate": _rate(row.credit_approved, row.claims),
            "amount_approved_wan": _money(row.amount_approved),
            "amount_disbursed_wan": _money(row.amount_disbursed),
            "average_rating": None if row.rating is None else
            Decimal(str(row.rating)).quantize(Decimal("0.01")),
            "ratings": row.ratings,
        })
    result.sort(key=lambda r: (-r["grabs"], r["bank_id"]))
    return result


def _bank_medians(claims) -> dict[int, float]:
    """Median hours from publication to the bank's grab, per bank, in one query."""
    ranked = (sa.select(
        claims.c.bank_id.label("bank_id"), claims.c.grab_hours.label("value"),
        sa.func.row_number().over(partition_by=claims.c.bank_id,
                                  order_by=claims.c.grab_hours).label("rn"),
        sa.func.count().over(partition_by=claims.c.bank_id).label("cnt"))
        .where(claims.c.grab_hours.is_not(None))).subquery("r")
    rows = db.session.execute(
        sa.select(ranked.c.bank_id, sa.func.avg(ranked.c.value))
        .where(ranked.c.rn.in_([(ranked.c.cnt + 1) // 2, (ranked.c.cnt + 2) // 2]))
        .group_by(ranked.c.bank_id))
    return {bank_id: round(float(value), 1) for bank_id, value in rows}
