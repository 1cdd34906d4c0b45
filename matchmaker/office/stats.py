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


def _amounts_of_claims(claims) -> list:
    """The amounts approved and disbursed on `claims` (those that got that far)."""
    return [
        sa.func.coalesce(sa.func.sum(sa.case((claims.c.credit_approved_at.is_not(None),
                                              claims.c.approved_amount_wan))), 0)
        .label("amount_approved"),
        sa.func.coalesce(sa.func.sum(sa.case((claims.c.disbursed_at.is_not(None),
                                              claims.c.disbursed_amount_wan))), 0)
        .label("amount_disbursed"),
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
        *_amounts_of_claims(claims),
        sa.func.coalesce(sa.func.sum(claims.c.co2_share_t), 0).label("co2"),
        sa.func.coalesce(sa.func.sum(claims.c.coal_share_tce), 0).label("coal"),
    ]


def summary(filters: Filters, picks=None) -> dict:
    """The KPIs. `picks` — (due, on time) — when the caller has them: the bank ranking's
    columns added up (`Report.build`), which saves a pass over the claims."""
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
    picks = _picks(filters) if picks is None else SimpleNamespace(due=picks[0], on_time=picks[1])
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


# The two category breakdowns read one grouping by both keys: by top level it is the first's
# rows added up, by the 2024 catalog the second's (a need keeps its 2019 code) — one grouping
# less in the pass over the facts.
CATEGORY_PAIR = "category_pair"


def _group_keys(by: str, filters: Filters, table=F) -> tuple:
    if by in ("category", "category2024"):
        return table.category_top, table.category_code
    if by == "month":
        return (table.local_month,)
    if by == "region":
        if filters.region_code and len(region_prefix(filters.region_code)) >= 4:
            return (table.region_code,)  # within a city: by county
        return (table.city_code,)
    if by == "industry":
        return (table.industry_section,)
    raise ValueError(by)


def _grouping(by: str) -> str:
    return CATEGORY_PAIR if by in ("category", "category2024") else by


def breakdown(filters: Filters, by: str) -> list[dict]:
    if by not in BREAKDOWNS:
        raise ValueError(by)
    return breakdowns(filters, (by,))[by]


def breakdowns(filters: Filters, kinds=BREAKDOWNS) -> dict[str, list[dict]]:
    """The breakdowns `kinds`. On PostgreSQL in one pass over each read model (GROUPING SETS);
    SQLite, which has none, runs one grouped query per grouping."""
    kinds = tuple(kinds)
    if any(by not in BREAKDOWNS for by in kinds):
        raise ValueError(kinds)
    conditions = cohort_conditions(filters)
    keys = {_grouping(by): _group_keys(by, filters) for by in kinds}
    base = _grouped(keys, sa.select(*_outcome_columns_from_facts()).where(*conditions))
    if filters.bank_id:
        claim_keys = {_grouping(by): _group_keys(by, filters, CF) for by in kinds}
        labelled = {name: tuple(column.label(f"k_{name}_{i}") for i, column in enumerate(cols))
                    for name, cols in claim_keys.items()}
        claims = _claims(filters, *(c for cols in labelled.values() for c in cols)).subquery("c")
        outcomes = _grouped({name: tuple(claims.c[c.name] for c in cols)
                             for name, cols in labelled.items()},
                            sa.select(*_outcome_columns_from_claims(claims)))
    else:
        outcomes = base
    return {by: _breakdown_rows(by, _rows_for(by, base), _rows_for(by, outcomes))
            for by in kinds}


def _rows_for(by: str, grouped: dict[str, dict]) -> dict:
    """{key value: row} of breakdown `by` from its grouping's rows."""
    if by == "category":
        return _fold(grouped[CATEGORY_PAIR], lambda key: key[0])
    if by == "category2024":
        return _fold(grouped[CATEGORY_PAIR], lambda key: catalog2024.report_key(key[1]))
    return {key[0]: row for key, row in grouped[by].items()}


def _grouped(keys: dict[str, tuple], query) -> dict[str, dict]:
    """{grouping: {tuple of key values: row}} for `query` grouped by each of `keys` (a tuple of
    columns each) in turn."""
    if _postgres() and len(keys) > 1:
        names = list(keys)
        query = (query.add_columns(*(column.label(f"k_{name}_{i}") for name in names
                                     for i, column in enumerate(keys[name])),
                                   *(sa.func.grouping(*keys[name]).label(f"g_{name}")
                                     for name in names))
                 .group_by(sa.func.grouping_sets(*(sa.tuple_(*keys[name]) for name in names))))
        result: dict[str, dict] = {name: {} for name in names}
        for row in db.session.execute(query):
            for name in names:
                if getattr(row, f"g_{name}") == 0:  # 0: this row groups by all of its keys
                    result[name][tuple(getattr(row, f"k_{name}_{i}")
                                       for i in range(len(keys[name])))] = row
        return result
    result = {}
    for name, columns in keys.items():
        labelled = [column.label(f"k_{i}") for i, column in enumerate(columns)]
        result[name] = {tuple(row[len(row) - len(columns):]): row for row in db.session.execute(
            query.add_columns(*labelled).group_by(*columns))}
    return result


def _fold(rows: dict, key_of) -> dict:
    """Rows added up by `key_of(their key)`."""
    folded: dict[str, SimpleNamespace] = {}
    for key, row in rows.items():
        into = folded.setdefault(key_of(key), SimpleNamespace())
        for name, value in row._mapping.items():
            if name.startswith(("k_", "g_")):
                continue
            setattr(into, name, getattr(into, name, 0) + (value or 0))
    return folded


def _breakdown_rows(by: str, base: dict, outcomes: dict) -> list[dict]:
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
    per_bank = sa.select(
        claims.c.bank_id,
        sa.func.count(sa.case((claims.c.assigned_by_office.is_(False), 1))).label("grabs"),
        sa.func.count(sa.case((claims.c.assigned_by_office.is_(True), 1))).label("assigned"),
        sa.func.count(claims.c.id).label("claims"),
        sa.func.count(sa.case((claims.c.selected_at.is_not(None), 1))).label("picks"),
        sa.func.count(sa.case((due, 1))).label("picks_due"),
        sa.func.count(sa.case((on_time, 1))).label("picks_on_time"),
        sa.func.count(sa.case((claims.c.credit_approved_at.is_not(None), 1)))
        .label("credit_approved"),
        *_amounts_of_claims(claims),
        sa.func.avg(claims.c.stars).label("rating"),
        sa.func.count(claims.c.stars).label("ratings"),
    ).group_by(claims.c.bank_id).subquery("b")
    # Grouped by the bank id alone, then named: no sort of every claim by bank name.
    rows = db.session.execute(sa.select(per_bank, Bank.name)
                              .join(Bank, Bank.id == per_bank.c.bank_id)).all()
    medians = _bank_medians(filters)
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


def _bank_medians(filters: Filters) -> dict[int, float]:
    """Median hours from publication to the bank's grab, per bank, in one query: PostgreSQL
    reads each bank's hours in order from `ix_claim_facts_bank_hours`; SQLite, which has no
    ordered-set aggregates, takes the middle rows by window functions."""
    conditions = [CF.grab_hours.is_not(None), *cohort_conditions(filters, CF)]
    if filters.bank_id:
        conditions.append(CF.bank_id == filters.bank_id)
    if _postgres():
        rows = db.session.execute(
            sa.select(CF.bank_id, sa.func.percentile_cont(0.5).within_group(CF.grab_hours))
            .where(*conditions).group_by(CF.bank_id))
    else:
        ranked = (sa.select(
            CF.bank_id.label("bank_id"), CF.grab_hours.label("value"),
            sa.func.row_number().over(partition_by=CF.bank_id,
                                      order_by=CF.grab_hours).label("rn"),
            sa.func.count().over(partition_by=CF.bank_id).label("cnt"))
            .where(*conditions)).subquery("r")
        rows = db.session.execute(
            sa.select(ranked.c.bank_id, sa.func.avg(ranked.c.value))
            .where(ranked.c.rn.in_([(ranked.c.cnt + 1) // 2, (ranked.c.cnt + 2) // 2]))
            .group_by(ranked.c.bank_id))
    return {bank_id: round(float(value), 1) for bank_id, value in rows}
