"""Outbox consumers that keep the index true. Idempotent: each re-reads the database."""

from __future__ import annotations

import sqlalchemy as sa

from matchmaker.audit.services import outbox_handler
from matchmaker.extensions import db
from matchmaker.needs.models import Need
from matchmaker.products.models import Product
from search.service import sync_needs, sync_products


@outbox_handler("product.*")
def on_product(row) -> None:
    sync_products([int(row.object_id)])


@outbox_handler("need.*", "claim.*")
def on_need(row) -> None:
    need_id = row.payload.get("need_id") if row.object_type == "claim" else row.object_id
    if need_id is not None:
        sync_needs([int(need_id)])


@outbox_handler("bank.*")
def on_bank(row) -> None:
    # A bank's name, activity or branches appear in its products' documents.
    ids = db.session.scalars(sa.select(Product.id).where(Product.bank_id == int(row.object_id)))
    ids = list(ids)
    if ids:
        sync_products(ids)


@outbox_handler("enterprise.*")
def on_enterprise(row) -> None:
    # Size and environmental credit are part of each need's eligibility.
    ids = list(db.session.scalars(
        sa.select(Need.id).where(Need.enterprise_id == int(row.object_id))))
    if ids:
        sync_needs(ids)
