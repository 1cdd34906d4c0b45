"""The finance office's numbers, aggregated in SQL (the same queries on SQLite and PostgreSQL).

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
* **CO2 financed** (t/a), by the 2013 guide (银监会《绿色信贷项目节能减排量测算指引》): for each
  disbursed loan, the need's stated annual reduction × disbursed amount ÷ project investment when
  the investment is known (capped at the whole reduction), else the need's stated reduction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app

from matchmaker.banks.models import Bank
from matchmaker.claims.models import Claim, Rating
from matchmaker.database import quantize_money, utcnow
from matchmaker.enterprises.models import Enterprise
from matchmaker.extensions import db
from matchmaker.needs.models import Need
from matchmaker.reference.codes import region_prefix
from matchmaker.reference.models import GreenCategory, Industry, Region

BREAKDOWNS = ("category", "region", "month", "industry")


@dataclass(frozen=True)
class Filters:
    start: date | None = None
    end: date | None = None
    region_code: str | None = None
    category: str | None = None  # a top-level code, "1" … "6"
    bank_id: int | None = None
    size: str | None = None


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])


def local_bounds(filters: Filters) -> tuple[datetime | None, datetime | None]:
    """The period as aware UTC instants [start, end) from local dates."""
    zone = _zone()
    start = end = None
    if filters.start:
        start = datetime.combine(filters.start, time.min, zone)
    if filters.end:
        end = datetime.combine(filters.end + timedelta(days=1), time.min, zone)
    return start, end


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def seconds_between(later, earlier):
    """`later − earlier` in seconds, as SQL."""
    if _dialect() == "postgresql":
        return sa.extract("epoch", later - earlier)
    return (sa.func.julianday(later) - sa.func.julianday(earlier)) * 86400.0


def local_month(column):
    """'YYYY-MM' of a UTC timestamp in the display time zone, as SQL."""
    if _dialect() == "postgresql":
        return sa.func.to_char(sa.func.timezone(current_app.config["DISPLAY_TIMEZONE"], column),
                               "YYYY-MM")
    # SQLite has no zones: the zone's offset now (Asia/Shanghai has kept +08:00 since 1991).
    offset = utcnow().astimezone(_zone()).utcoffset()
    return sa.func.strftime("%Y-%m", column, f"{int(offset.total_seconds())} seconds")


def cohort(filters: Filters):
    """The ids of the needs in the cohort, as a subquery-able select."""
    start, end = local_bounds(filters)
    query = sa.select(Need.id).where(Need.published_at.is_not(None))
    if start:
        query = query.where(Need.published_at >= start)
    if end:
        query = query.where(Need.published_at < end)
    if filters.region_code:
        prefix = region_prefix(filters.region_code)
        query = query.where(Need.region_code.startswith(prefix, autoescape=True))
    if filters.category:
        query = query.where(sa.or_(Need.green_category_code == filters.category,
                                   Need.green_category_code.startswith(filters.category + ".",
                                                                       autoescape=True)))
    if filters.size:
        query = query.join(Enterprise, Enterprise.id == Need.enterprise_id).where(
            Enterprise.size == filters.size)
    return query


def _claims(filters: Filters, needs):
    query = sa.select(Claim).where(Claim.need_id.in_(needs.scalar_subquery()))
    if filters.bank_id:
        query = query.where(Claim.bank_id == filters.bank_id)
    return query.subquery("c")


def _median(values_select) -> float | None:
    """Median of the single column of `values_select` (NULLs dropped), with window functions
    that both databases have."""
    values = values_select.subquery("v")
    column = values.c[0]
    ranked = sa.select(
        column.label("value"),
        sa.func.row_number().over(order_by=column).label("rn"),
        sa.func.count().over().label("cnt"),
    ).where(column.is_not(None)).subquery("r")
    middle = sa.select(sa.func.avg(ranked.c.value)).where(
        ranked.c.rn.in_([(ranked.c.cnt + 1) // 2, (ranked.c.cnt + 2) // 2]))
    value = db.session.scalar(middle)
    return None if value is None else float(value)


def _money(value) -> Decimal:
    return quantize_money(value or 0)


def _rate(numerator: int, denominator: int) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(Decimal("0.0001"))


def _outcomes(filters: Filters, needs, group=None):
    """Per group (or overall): needs posted and requested amount, and the claim outcomes."""
    claims = _claims(filters, needs)
    grabbed = sa.and_(claims.c.assigned_by_office.is_(False))
    columns = [
        sa.func.count(sa.distinct(Need.id)).label("needs_posted"),
        sa.func.count(sa.distinct(sa.case((grabbed, claims.c.need_id)))).label("needs_claimed"),
        sa.func.count(sa.distinct(sa.case((claims.c.assigned_by_office.is_(True),
                                           claims.c.need_id)))).label("needs_assigned"),
        sa.func.count(sa.distinct(sa.case((claims.c.contacted_at.is_not(None),
                                           claims.c.need_id)))).label("needs_contacted"),
        sa.func.count(sa.distinct(sa.case((claims.c.credit_approved_at.is_not(None),
                                           claims.c.need_id)))).label("needs_credit_approved"),
        sa.func.count(sa.distinct(sa.case((claims.c.disbursed_at.is_not(None),
                                           claims.c.need_id)))).label("needs_disbursed"),
        sa.func.coalesce(sa.func.sum(sa.case((claims.c.credit_approved_at.is_not(None),
                                              claims.c.approved_amount_wan))), 0)
        .label("amount_approved_wan"),
        sa.func.coalesce(sa.func.sum(sa.case((claims.c.disbursed_at.is_not(None),
                                              claims.c.disbursed_amount_wan))), 0)
        .label("amount_disbursed_wan"),
    ]
    # Needs repeat once per claim in the join: requested amounts are summed per need apart.
    query = (sa.select(*columns)
             .select_from(Need)
             .join(claims, claims.c.need_id == Need.id, isouter=True)
             .where(Need.id.in_(needs.scalar_subquery())))
    requested = (sa.select(sa.func.count(Need.id),
                           sa.func.coalesce(sa.func.sum(Need.amount_wan), 0))
                 .where(Need.id.in_(needs.scalar_subquery())))
    co2 = (sa.select(_co2_share_when_disbursed(claims)).select_from(claims)
           .join(Need, Need.id == claims.c.need_id))
    return query, requested, co2, claims


def summary(filters: Filters) -> dict:
    needs = cohort(filters)
    query, requested, co2, claims = _outcomes(filters, needs)
    row = db.session.execute(query).one()
    posted, amount_requested = db.session.execute(requested).one()
    now = utcnow()
    picks = db.session.execute(
        sa.select(
            sa.func.count().label("due"),
            sa.func.count(sa.case((sa.and_(claims.c.contacted_at.is_not(None),
                                           claims.c.contacted_at <= claims.c.contact_due_at),
                                   1))).label("on_time"))
        .select_from(claims)
        .where(claims.c.selected_at.is_not(None),
               sa.or_(claims.c.contacted_at.is_not(None), claims.c.contact_due_at <= now))
    ).one()
    first_grab = (sa.select(seconds_between(sa.func.min(claims.c.claimed_at),
                                            sa.func.min(Need.published_at)) / 3600.0)
                  .select_from(claims).join(Need, Need.id == claims.c.need_id)
                  .where(claims.c.assigned_by_office.is_(False))
                  .group_by(claims.c.need_id))
    to_credit = (sa.select(seconds_between(sa.func.min(claims.c.credit_approved_at),
                                           sa.func.min(Need.published_at)) / 86400.0)
                 .select_from(claims).join(Need, Need.id == claims.c.need_id)
                 .where(claims.c.credit_approved_at.is_not(None))
                 .group_by(claims.c.need_id))
    hours = _median(first_grab)
    days = _median(to_credit)
    return {
        "needs_posted": posted,
        "amount_requested_wan": _money(amount_requested),
        "needs_claimed": row.needs_claimed,
        "claim_rate": _rate(row.needs_claimed, posted),
        "needs_assigned": row.needs_assigned,
        "needs_contacted": row.needs_contacted,
        "picks_due": picks.due,
        "picks_contacted_on_time": picks.on_time,
        "contacted_on_time_rate": _rate(picks.on_time, picks.due),
        "needs_credit_approved": row.needs_credit_approved,
        "credit_rate": _rate(row.needs_credit_approved, posted),
        "needs_disbursed": row.needs_disbursed,
        "amount_approved_wan": _money(row.amount_approved_wan),
        "amount_disbursed_wan": _money(row.amount_disbursed_wan),
        "median_hours_to_first_claim": None if hours is None else round(hours, 1),
        "median_days_to_credit": None if days is None else round(days, 1),
        "co2_reduction_t": _money(db.session.scalar(co2)),
    }


def _group_key(by: str, filters: Filters):
    """(SQL key expression, extra joins) for a breakdown."""
    if by == "category":
        return sa.func.substr(Need.green_category_code, 1, 1, type_=sa.String), []
    if by == "month":
        return local_month(Need.published_at), []
    if by == "region":
        if filters.region_code and len(region_prefix(filters.region_code)) >= 4:
            return Need.region_code, []  # within a city: by county
        return sa.func.substr(Need.region_code, 1, 4, type_=sa.String) + "00", []  # by city
    if by == "industry":
        section = sa.case((Industry.level == 1, Industry.code), else_=Industry.parent_code)
        return section, [(Enterprise, Enterprise.id == Need.enterprise_id),
                         (Industry, Industry.code == Enterprise.industry_code)]
    raise ValueError(by)


def breakdown(filters: Filters, by: str) -> list[dict]:
    if by not in BREAKDOWNS:
        raise ValueError(by)
    needs = cohort(filters)
    claims = _claims(filters, needs)
    key, joins = _group_key(by, filters)

    def grouped(query):
        for table, on in joins:
            query = query.join(table, on)
        return query.add_columns(key.label("key")).group_by(key)

    posted = dict((r.key, r) for r in db.session.execute(grouped(
        sa.select(sa.func.count(Need.id).label("needs_posted"),
                  sa.func.coalesce(sa.func.sum(Need.amount_wan), 0).label("amount_requested"))
        .select_from(Need).where(Need.id.in_(needs.scalar_subquery())))))
    outcomes = {r.key: r for r in db.session.execute(grouped(
        sa.select(
            sa.func.count(sa.distinct(sa.case((claims.c.assigned_by_office.is_(False),
                                               claims.c.need_id)))).label("needs_claimed"),
            sa.func.count(sa.distinct(sa.case((claims.c.credit_approved_at.is_not(None),
                                               claims.c.need_id)))).label("needs_credit_approved"),
            sa.func.coalesce(sa.func.sum(sa.case((claims.c.credit_approved_at.is_not(None),
                                                  claims.c.approved_amount_wan))), 0)
            .label("amount_approved"),
            sa.func.coalesce(sa.func.sum(sa.case((claims.c.disbursed_at.is_not(None),
                                                  claims.c.disbursed_amount_wan))), 0)
            .label("amount_disbursed"),
            _co2_share_when_disbursed(claims).label("co2"),
        ).select_from(claims).join(Need, Need.id == claims.c.need_id)))}
    labels = _labels(by, [k for k in posted])
    rows = []
    for key_value, base in sorted(posted.items(), key=lambda item: str(item[0])):
        out = outcomes.get(key_value)
        claimed = out.needs_claimed if out else 0
        approved = out.needs_credit_approved if out else 0
        rows.append({
            "key": key_value, "label": labels.get(key_value, key_value or "未知"),
            "needs_posted": base.needs_posted,
            "amount_requested_wan": _money(base.amount_requested),
            "needs_claimed": claimed, "claim_rate": _rate(claimed, base.needs_posted),
            "needs_credit_approved": approved, "credit_rate": _rate(approved, base.needs_posted),
            "amount_approved_wan": _money(out.amount_approved if out else 0),
            "amount_disbursed_wan": _money(out.amount_disbursed if out else 0),
            "co2_reduction_t": _money(out.co2 if out else 0),
        })
    return rows


def _co2_share_when_disbursed(claims):
    investment = Need.project_investment_wan
    share = sa.case(
        (claims.c.disbursed_at.is_(None), 0),
        (sa.and_(investment.is_not(None), investment > 0,
                 claims.c.disbursed_amount_wan < investment),
         Need.co2_reduction_t * claims.c.disbursed_amount_wan / investment),
        else_=sa.func.coalesce(Need.co2_reduction_t, 0))
    return sa.func.coalesce(sa.func.sum(share), 0)


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
    return {k: k for k in keys}


def banks(filters: Filters) -> list[dict]:
    """One row per bank with claims on the cohort's needs."""
    needs = cohort(filters)
    claims = _claims(filters, needs)
    grab = claims.c.assigned_by_office.is_(False)
    now = utcnow()
    due = sa.and_(claims.c.selected_at.is_not(None),
                  sa.or_(claims.c.contacted_at.is_not(None), claims.c.contact_due_at <= now))
    on_time = sa.and_(due, claims.c.contacted_at.is_not(None),
                      claims.c.contacted_at <= claims.c.contact_due_at)
    rows = db.session.execute(
        sa.select(
            claims.c.bank_id, Bank.name,
            sa.func.count(sa.case((grab, 1))).label("grabs"),
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
        )
        .select_from(claims).join(Bank, Bank.id == claims.c.bank_id)
        .group_by(claims.c.bank_id, Bank.name)
    ).all()
    medians = _bank_medians(claims)
    ratings = dict((bank_id, (avg, count)) for bank_id, avg, count in db.session.execute(
        sa.select(Rating.bank_id, sa.func.avg(Rating.stars), sa.func.count(Rating.id))
        .where(Rating.claim_id.in_(sa.select(claims.c.id)))
        .group_by(Rating.bank_id)))
    result = []
    for row in rows:
        rating = ratings.get(row.bank_id)
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
            "average_rating": None if rating is None else
            Decimal(str(rating[0])).quantize(Decimal("0.01")),
            "ratings": 0 if rating is None else rating[1],
        })
    result.sort(key=lambda r: (-r["grabs"], r["bank_id"]))
    return result


def _bank_medians(claims) -> dict[int, float]:
    """Median hours from publication to the bank's grab, per bank, in one query."""
    hours = (seconds_between(claims.c.claimed_at, Need.published_at) / 3600.0).label("value")
    ranked = (sa.select(
        claims.c.bank_id.label("bank_id"), hours,
        sa.func.row_number().over(partition_by=claims.c.bank_id, order_by=hours).label("rn"),
        sa.func.count().over(partition_by=claims.c.bank_id).label("cnt"))
        .select_from(claims).join(Need, Need.id == claims.c.need_id)
        .where(claims.c.assigned_by_office.is_(False))).subquery("r")
    rows = db.session.execute(
        sa.select(ranked.c.bank_id, sa.func.avg(ranked.c.value))
        .where(ranked.c.rn.in_([(ranked.c.cnt + 1) // 2, (ranked.c.cnt + 2) // 2]))
        .group_by(ranked.c.bank_id))
    return {bank_id: round(float(value), 1) for bank_id, value in rows}
