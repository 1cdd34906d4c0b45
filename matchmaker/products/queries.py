"""Read-only look-ups of products for pages (the services own every write)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from matchmaker.accounts.permissions import OFFICE_ROLES
from matchmaker.banks.models import Bank
from matchmaker.enums import BANK_ROLES
from matchmaker.extensions import db
from matchmaker.products.models import Product
from matchmaker.reference import codes
from matchmaker.reference.models import GreenCategory, Region

_LOADS = (selectinload(Product.bank), selectinload(Product.categories),
          selectinload(Product.regions))


def is_public(product: Product) -> bool:
    """In the public catalogue: the product is on sale and its bank is active."""
    return product.active and product.bank.active


def can_see(user, product: Product) -> bool:
    """Public products to anyone; the others to their bank's users and the finance office."""
    if is_public(product):
        return True
    if user is None or not user.is_authenticated:
        return False
    if user.role in OFFICE_ROLES:
        return True
    return user.role in BANK_ROLES and user.bank_id == product.bank_id


def public_products(category: str | None = None, region: str | None = None,
                    q: str | None = None) -> sa.Select:
    """Active products of active banks, newest first, filtered both ways by code.

    A product matches a category when one of its categories covers the chosen code (4.1 covers
    a chosen 4.1.4) or the chosen code covers one of them (a chosen 4 covers 4.1.4); regions
    likewise (330500 covers 330502 and the other way round).
    """
    stmt = (sa.select(Product).join(Product.bank).where(Product.active, Bank.active)
            .options(*_LOADS).order_by(Product.created_at.desc(), Product.id.desc()))
    if category:
        stmt = stmt.where(Product.categories.any(sa.or_(
            GreenCategory.code.in_(codes.category_ancestors(category)),
            GreenCategory.code.startswith(category + ".", autoescape=True),
        )))
    if region:
        stmt = stmt.where(Product.regions.any(sa.or_(
            Region.code.in_(codes.region_ancestors(region)),
            Region.code.startswith(codes.region_prefix(region), autoescape=True),
        )))
    if q:
        stmt = stmt.where(sa.or_(Product.name.icontains(q, autoescape=True),
                                 Product.description.icontains(q, autoescape=True),
                                 Bank.name.icontains(q, autoescape=True)))
    return stmt


def bank_products(bank_id: int) -> list[Product]:
    """All of a bank's products, on sale first, then by name."""
    return list(db.session.scalars(
        sa.select(Product).options(*_LOADS).where(Product.bank_id == bank_id)
        .order_by(Product.active.desc(), Product.name, Product.id)
    ))


def bank_product(bank_id: int, product_id: int) -> Product | None:
    """A product of this bank, or None (also when the id is another bank's product)."""
    return db.session.scalar(
        sa.select(Product).options(*_LOADS)
        .where(Product.id == product_id, Product.bank_id == bank_id)
    )
