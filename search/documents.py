"""What the engines index: flat documents built from the database (the truth).

Codes are stored with their ancestors' levels split out (category 4.1.4 → 4 / 4.1 / 4.1.4, region
330523 → 330000 / 330500 / 330523), so "a code covers the codes below it" becomes equality on one
level in any engine.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal

from matchmaker.claims.states import GRABBABLE_NEED
from matchmaker.enums import COLLATERAL, ENTERPRISE_SIZES, ENV_CREDIT_RANK
from matchmaker.reference.codes import category_ancestors, region_ancestors
from search.tokenizer import tokenize

COLLATERAL_BITS = {code: 1 << i for i, code in enumerate(COLLATERAL)}
SIZE_BITS = {code: 1 << i for i, code in enumerate(ENTERPRISE_SIZES)}
# Statuses in which a need is a lead a bank may grab (with fewer grabs than the cap); an assigned
# need (派单) belongs to the bank the office chose.
INBOX_STATUSES = tuple(sorted(GRABBABLE_NEED))


def bits(codes, table: dict[str, int]) -> int:
    value = 0
    for code in codes:
        value |= table.get(code, 0)
    return value


def category_levels(code: str) -> tuple[str, str, str]:
    """(level-1, level-2, level-3) codes; a branch need leaves the deeper levels empty."""
    chain = list(reversed(category_ancestors(code)))
    chain += [""] * (3 - len(chain))
    return chain[0], chain[1], chain[2]


def region_levels(code: str) -> tuple[str, str, str]:
    """(province, prefecture, county); a prefecture-level code leaves the county empty."""
    chain = list(reversed(region_ancestors(code)))
    chain += [""] * (3 - len(chain))
    return chain[0], chain[1], chain[2]


def code_level(code: str) -> int:
    """1–3 for category codes (dots) and region codes (trailing zeros) alike."""
    if "." in code or len(code) < 6:
        return code.count(".") + 1
    if code.endswith("0000"):
        return 1
    if code.endswith("00"):
        return 2
    return 3


@dataclass(frozen=True)
class ProductDoc:
    id: int
    bank_id: int
    bank_name: str
    name: str
    active: bool
    min_amount_wan: Decimal
    max_amount_wan: Decimal
    min_term_months: int
    max_term_months: int
    rate_min: Decimal
    rate_max: Decimal
    categories: tuple[str, ...]
    regions: tuple[str, ...]
    sizes: tuple[str, ...]
    collateral: tuple[str, ...]
    min_env_credit: str
    tokens: tuple[str, ...]
    branch_regions: tuple[str, ...] = ()  # counties where the bank has a branch
    bank_service: float = 0.5  # 0–1: the bank's service record (grab speed, ratings)
    version: str = ""

    @property
    def accepts_credit(self) -> bool:
        return "credit" in self.collateral

    @property
    def worst_env_rank(self) -> int:
        return ENV_CREDIT_RANK[self.min_env_credit]

    def to_json(self) -> dict:
        return _jsonable(asdict(self))

    @classmethod
    def from_json(cls, data: dict) -> ProductDoc:
        data = dict(data)
        for key in ("min_amount_wan", "max_amount_wan", "rate_min", "rate_max"):
            data[key] = Decimal(data[key])
        for key in ("categories", "regions", "sizes", "collateral", "tokens", "branch_regions"):
            data[key] = tuple(data[key])
        return cls(**data)


@dataclass(frozen=True)
class NeedDoc:
    id: int | None
    status: str
    enterprise_id: int | None
    title: str
    amount_wan: Decimal
    term_months: int
    category: str
    region: str
    size: str
    env_credit: str
    collateral: tuple[str, ...]
    rate_cap: Decimal | None
    tokens: tuple[str, ...]
    published_at: datetime | None = None
    claims_count: int = 0
    claimed_bank_ids: tuple[int, ...] = ()
    version: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def env_rank(self) -> int:
        return ENV_CREDIT_RANK[self.env_credit]

    def to_json(self) -> dict:
        return _jsonable(asdict(self))

    @classmethod
    def from_json(cls, data: dict) -> NeedDoc:
        data = dict(data)
        data["amount_wan"] = Decimal(data["amount_wan"])
        data["rate_cap"] = Decimal(data["rate_cap"]) if data.get("rate_cap") else None
        data["published_at"] = (datetime.fromisoformat(data["published_at"])
                                if data.get("published_at") else None)
        for key in ("collateral", "tokens", "claimed_bank_ids"):
            data[key] = tuple(data[key])
        return cls(**data)


def _jsonable(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def need_text(title: str | None, description: str | None) -> str:
    return f"{title or ''} {description or ''}"


def product_text(name: str | None, description: str | None) -> str:
    return f"{name or ''} {description or ''}"


def need_doc_from_fields(*, need_id, status, enterprise_id, title, description, amount_wan,
                         term_months, category, region, size, env_credit, collateral, rate_cap,
                         published_at=None, claims_count=0, claimed_bank_ids=(),
                         version="") -> NeedDoc:
    return NeedDoc(
        id=need_id, status=status, enterprise_id=enterprise_id, title=title or "",
        amount_wan=Decimal(amount_wan), term_months=int(term_months), category=category,
        region=region, size=size, env_credit=env_credit, collateral=tuple(collateral or ()),
        rate_cap=Decimal(rate_cap) if rate_cap is not None else None,
        tokens=tuple(tokenize(need_text(title, description))), published_at=published_at,
        claims_count=claims_count, claimed_bank_ids=tuple(claimed_bank_ids), version=version,
    )
