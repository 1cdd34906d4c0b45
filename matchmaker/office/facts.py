"""The statistics' read model: one `NeedFacts` row per published need, computed by one SQL
statement (the same for a single need and for the whole table), kept current by an outbox
consumer of every need, claim and enterprise change, and repaired by the periodic drain.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from flask import current_app

from matchmaker.audit.services import outbox_handler
from matchmaker.claims.models import Claim, Rating
from matchmaker.enterprises.models import Enterprise
from matchmaker.extensions import db
from matchmaker.needs.models import Need
from matchmaker.office.models import ClaimFacts, NeedFacts
from matchmaker.reference.models import Industry

# The first key of the advisory locks that serialise the refreshes of one need's facts.
FACTS_LOCK = 7_301_001

COLUMNS = ("need_id", "published_at", "local_day", "local_month", "region_code", "city_code",
           "category_top", "size", "industry_section", "amount_wan", "grabbed", "assigned",
           "contacted", "credit_approved", "disbursed", "first_grab_hours", "credit_days",
           "amount_approved_wan", "amount_disbursed_wan", "co2_financed_t", "coal_financed_tce",
           "category_code")


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def seconds_between(later, earlier):
    """`later − earlier` in seconds, as SQL."""
    if _dialect() == "postgresql":
        return sa.extract("epoch", later - earlier)
    return (sa.func.julianday(later) - sa.func.julianday(earlier)) * 86400.0


def local_text(column, pattern: str):
    """A UTC timestamp as local text in DISPLAY_TIMEZONE: pattern "day" (YYYY-MM-DD) or
    "month" (YYYY-MM)."""
    zone = current_app.config["DISPLAY_TIMEZONE"]
    if _dialect() == "postgresql":
        return sa.func.to_char(sa.func.timezone(zone, column),
                               "YYYY-MM-DD" if pattern == "day" else "YYYY-MM")
    # SQLite has no zones: the zone's offset now (Asia/Shanghai has kept +08:00 since 1991).
    from datetime import datetime
    from zoneinfo import ZoneInfo

    offset = int(datetime.now(ZoneInfo(zone)).utcoffset().total_seconds())
    return sa.func.strftime("%Y-%m-%d" if pattern == "day" else "%Y-%m", column,
                            f"{offset} seconds")


def _flag(condition):
    return sa.case((sa.func.count(sa.case((condition, 1))) > 0, 1), else_=0)


def _co2_share(stated=None):
    """The 2013 guide's share of the need's annual reduction financed by a disbursed claim (of
    CO2, or of `stated`: the standard coal saved)."""
    stated = Need.co2_reduction_t if stated is None else stated
    investment = Need.project_investment_wan
    return sa.func.coalesce(sa.case(
        (Claim.disbursed_at.is_(None), 0),
        (sa.and_(investment.is_not(None), investment > 0,
                 Claim.disbursed_amount_wan < investment),
         stated * Claim.disbursed_amount_wan / investment),
        else_=stated), 0)  # no stated reduction: nothing to count


def _section():
    return sa.case((Industry.level == 1, Industry.code), else_=Industry.parent_code)


def _keys():
    """The need's grouping keys, in COLUMNS' order after published_at."""
    return [local_text(Need.published_at, "day"), local_text(Need.published_at, "month"),
            Need.region_code, sa.func.substr(Need.region_code, 1, 4, type_=sa.String) + "00",
            sa.func.substr(Need.green_category_code, 1, 1, type_=sa.String), Enterprise.size,
            _section()]


CLAIM_COLUMNS = ("claim_id", "need_id", "bank_id", "published_at", "local_day", "local_month",
                 "region_code", "city_code", "category_top", "size", "industry_section",
                 "assigned", "claimed_at", "grab_hours", "selected_at", "contact_due_at",
                 "contacted_at", "credit_approved_at", "approved_amount_wan", "disbursed_at",
                 "disbursed_amount_wan", "co2_share_t", "coal_share_tce", "stars",
                 "category_code")


def claim_facts_select(need_ids: Iterable[int] | None = None):
    """The facts of the claims on published needs (of `need_ids`, or all)."""
    grab = Claim.assigned_by_office.is_(False)
    query = (
        sa.select(
            Claim.id, Claim.need_id, Claim.bank_id, Need.published_at, *_keys(),
            Claim.assigned_by_office, Claim.claimed_at,
            sa.case((grab, seconds_between(Claim.claimed_at, Need.published_at) / 3600.0)),
            Claim.selected_at, Claim.contact_due_at, Claim.contacted_at,
            Claim.credit_approved_at, Claim.approved_amount_wan, Claim.disbursed_at,
            Claim.disbursed_amount_wan, _co2_share(), _co2_share(Need.coal_saving_tce),
            Rating.stars, Need.green_category_code)
        .select_from(Claim)
        .join(Need, Need.id == Claim.need_id)
        .join(Enterprise, Enterprise.id == Need.enterprise_id)
        .join(Industry, Industry.code == Enterprise.industry_code, isouter=True)
        .join(Rating, Rating.claim_id == Claim.id, isouter=True)
        .where(Need.published_at.is_not(None)))
    if need_ids is not None:
        query = query.where(Claim.need_id.in_(list(need_ids)))
    return query


def facts_select(need_ids: Iterable[int] | None = None):
    """The facts of published needs (of `need_ids`, or all), as one grouped SELECT."""
    grab = sa.and_(Claim.id.is_not(None), Claim.assigned_by_office.is_(False))
    co2_share = _co2_share()
    coal_share = _co2_share(Need.coal_saving_tce)
    query = (
        sa.select(
            Need.id, Need.published_at, *_keys(), Need.amount_wan,
            _flag(grab), _flag(Claim.assigned_by_office.is_(True)),
            _flag(Claim.contacted_at.is_not(None)), _flag(Claim.credit_approved_at.is_not(None)),
            _flag(Claim.disbursed_at.is_not(None)),
            seconds_between(sa.func.min(sa.case((grab, Claim.claimed_at))),
                            Need.published_at) / 3600.0,
            seconds_between(sa.func.min(Claim.credit_approved_at), Need.published_at) / 86400.0,
            sa.func.coalesce(sa.func.sum(sa.case((Claim.credit_approved_at.is_not(None),
                                                  Claim.approved_amount_wan))), 0),
            sa.func.coalesce(sa.func.sum(sa.case((Claim.disbursed_at.is_not(None),
                                                  Claim.disbursed_amount_wan))), 0),
            sa.func.coalesce(sa.func.sum(co2_share), 0),
            sa.func.coalesce(sa.func.sum(coal_share), 0),
            Need.green_category_code,
        )
        .select_from(Need)
        .join(Enterprise, Enterprise.id == Need.enterprise_id)
        .join(Industry, Industry.code == Enterprise.industry_code, isouter=True)
        .join(Claim, Claim.need_id == Need.id, isouter=True)
        .where(Need.published_at.is_not(None))
        .group_by(Need.id, Need.published_at, Need.region_code, Need.green_category_code,
                  Need.amount_wan, Enterprise.size, Industry.level, Industry.code,
                  Industry.parent_code)
    )
    if need_ids is not None:
        query = query.where(Need.id.in_(list(need_ids)))
    return query


def _upsert(select):
    """INSERT … SELECT that replaces existing rows (published needs stay published, so a row is
    never deleted, only recomputed)."""
    if _dialect() == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(NeedFacts).from_select(COLUMNS, select)
    return statement.on_conflict_do_update(
        index_elements=["need_id"],
        set_={name: statement.excluded[name] for name in COLUMNS if name != "need_id"})


def refresh(need_ids: Iterable[int]) -> None:
    """Recompute the facts of these needs in the current transaction (the caller commits).

    Several drains may refresh one need at once (three grabs, three outbox rows): on PostgreSQL
    each takes a transaction-level advisory lock per need first, so the later one computes from
    what the earlier one committed rather than from an older snapshot. SQLite has one writer."""
    ids = sorted(set(need_ids))
    if not ids:
        return
    if _dialect() == "postgresql":
        for need_id in ids:  # sorted: two refreshes of overlapping sets cannot deadlock
            db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(FACTS_LOCK, need_id)))
    db.session.execute(_upsert(facts_select(ids)))
    db.session.execute(sa.delete(ClaimFacts).where(ClaimFacts.need_id.in_(ids)))
    db.session.execute(sa.insert(ClaimFacts).from_select(CLAIM_COLUMNS, claim_facts_select(ids)))


def refresh_all() -> None:
    """Recompute every row in the current transaction (after a bulk load: the demo seed)."""
    db.session.execute(sa.delete(NeedFacts))
    db.session.execute(sa.insert(NeedFacts).from_select(COLUMNS, facts_select()))
    db.session.execute(sa.delete(ClaimFacts))
    db.session.execute(sa.insert(ClaimFacts).from_select(CLAIM_COLUMNS, claim_facts_select()))


def rebuild() -> int:
    """`flask stats rebuild`: every row recomputed and committed; returns the row count."""
    refresh_all()
    db.session.commit()
    return db.session.scalar(sa.select(sa.func.count()).select_from(NeedFacts)) or 0


def missing(limit: int = 50_000) -> list[int]:
    """Published needs without facts, or with a claim without facts (rows lost to a failed
    consumer, or an upgrade)."""
    needs = (sa.select(Need.id)
             .outerjoin(NeedFacts, NeedFacts.need_id == Need.id)
             .where(Need.published_at.is_not(None), NeedFacts.need_id.is_(None)))
    claims = (sa.select(Claim.need_id)
              .join(Need, Need.id == Claim.need_id)
              .outerjoin(ClaimFacts, ClaimFacts.claim_id == Claim.id)
              .where(Need.published_at.is_not(None), ClaimFacts.claim_id.is_(None)))
    return sorted(set(db.session.scalars(needs.limit(limit)))
                  | set(db.session.scalars(claims.limit(limit))))


def repair() -> int:
    """Add the facts of published needs that have none. Commits."""
    ids = missing()
    refresh(ids)
    db.session.commit()
    return len(ids)


@outbox_handler("need.*", "claim.*")
def on_need_or_claim(row) -> None:
    need_id = row.payload.get("need_id") if row.object_type == "claim" else row.object_id
    if need_id is not None:
        refresh([int(need_id)])


@outbox_handler("bank.rated")
def on_rating(row) -> None:
    # A rating's stars are part of the rated claim's facts.
    if row.payload.get("need_id") is not None:
        refresh([int(row.payload["need_id"])])


@outbox_handler("enterprise.*")
def on_enterprise(row) -> None:
    # Size and industry are grouping keys of every need of the enterprise.
    refresh(db.session.scalars(sa.select(Need.id).where(
        Need.enterprise_id == int(row.object_id), Need.published_at.is_not(None))))
