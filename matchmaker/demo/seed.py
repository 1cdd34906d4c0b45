"""`flask demo seed`: deterministic, realistic demo data for a 湖州-like city or for all of 浙江.

Everything is decided in Python first, from one fixed random seed and one fixed reference time
(`data.REFERENCE_TIME`, never the clock), with explicit ids, and only then written with bulk Core
inserts (`INSERT … VALUES` executemany in chunks). So two runs into empty databases give the same
rows with the same ids on SQLite and on PostgreSQL — except secrets: the password hash (one hash of
the demo password, salted once per run and shared by every demo user, because scrypt is slow) and
the session tokens, which stay random.

What is written, and what is not:

- The finance office and its user, a platform admin, banks with their regions, branches, one
  admin and 2–4 account managers per bank (with coverage regions), products with categories and
  regions, enterprises with one user each, needs in every status of `enums.NEED_STATUSES`, claims
  (at most 3 per need, slots 1..3, each by a bank with an eligible product), claim events and some
  ratings. Every claim's bank has an active product that is eligible under the rules of DESIGN
  section 5 (amount, term, region, category, size, environmental credit, collateral), and grabs
  keep to a manager's daily limit (at province scale a few hundred of ~150,000 cannot and are
  reported). Timestamps are timezone-aware UTC over the 18 months before the reference time;
  live needs (open, claimed, selected …) are the recent ones, as the deadlines of DESIGN
  section 3 require (an open need is less than 3 working days old).
- One audit-log row, `demo.seeded`, with the counts. Not one audit row per object: the demo is not
  a history of real actions, and 100,000 fabricated audit rows would only slow the audit views.
- No outbox rows. The outbox hands single changes to the search index; a seed of 100,000 needs
  would become 100,000 one-row index updates drained one transaction each. The index is built in
  one pass afterwards by `flask search reindex`, which reads the database (the source of truth).
- No notifications and no need revisions (nothing has happened yet that would send or revise).
"""

from __future__ import annotations

import contextlib
import math
import random
import secrets
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as dtime
from decimal import ROUND_HALF_UP, Decimal

import click
import sqlalchemy as sa

from matchmaker.accounts.models import User, user_regions
from matchmaker.banks.models import Bank, BankBranch, bank_regions
from matchmaker.claims.calendar import WorkingCalendar
from matchmaker.claims.models import Claim, ClaimEvent, Rating
from matchmaker.demo import data
from matchmaker.enterprises.models import Enterprise
from matchmaker.enums import COLLATERAL, ENV_CREDIT_RANK, ROLES
from matchmaker.extensions import db
from matchmaker.needs.models import Need
from matchmaker.office.models import Office
from matchmaker.products.models import Product, product_categories, product_regions
from matchmaker.reference.codes import category_ancestors, region_ancestors, region_covers
from matchmaker.reference.models import Region
from search.documents import need_text, product_text
from search.tokenizer import analyzed

CENT = Decimal("0.01")
CHUNK = 2000
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


@dataclass(frozen=True)
class Scale:
    label: str
    enterprises: int
    needs: int


SCALES = {
    "city": Scale("湖州市", enterprises=560, needs=1260),
    "province": Scale("浙江省", enterprises=20_000, needs=100_000),
}


class SeedRefused(click.ClickException):
    """The database already holds organisations or needs; the demo only fills an empty one."""


# --- public interface --------------------------------------------------------------------------



def segment(texts: list[str]) -> list[str]:
    """Search tokens of many texts: jieba is the slow part of seeding, so use every core."""
    if len(texts) < 5000:
        return [analyzed(text) for text in texts]
    import multiprocessing

    with multiprocessing.get_context("fork").Pool() as pool:
        return pool.map(analyzed, texts, chunksize=1000)

def database_has_data() -> bool:
    """True when any enterprise exists (then `flask demo seed --if-empty` does nothing)."""
    return db.session.scalar(sa.select(Enterprise.id).limit(1)) is not None


def seed(scale: str = "city", echo: Callable[[str], object] = print,
         reference_time: datetime | None = None) -> dict:
    """Fill an empty database with the demo; returns counts. Raises SeedRefused when not empty."""
    if scale not in SCALES:
        raise click.BadParameter(f"unknown scale {scale!r}; use one of {', '.join(SCALES)}")
    _refuse_unless_empty()
    started = time.perf_counter()
    builder = _Builder(scale, reference_time or data.REFERENCE_TIME, echo)
    builder.build()
    built = time.perf_counter()
    echo(f"built in {built - started:.1f}s; writing …")
    try:
        summary = builder.write()
    except BaseException:
        db.session.rollback()
        raise
    summary["seconds"] = round(time.perf_counter() - started, 1)
    echo(f"written in {time.perf_counter() - built:.1f}s")
    return summary


def print_logins(echo: Callable[[str], object] = print) -> None:
    """The demo accounts, one per role, with the shared password, as a small table."""
    orgs: dict[str, str] = {}
    try:
        emails = [email for _role, email in data.DEMO_LOGINS]
        for user in db.session.scalars(sa.select(User).where(User.email.in_(emails))):
            orgs[user.email] = user.organisation_name if user.role != "admin" else "—"
    except Exception:  # no app context or no schema: print the table without organisations
        orgs = {}
        with contextlib.suppress(Exception):  # no app context: nothing to roll back
            db.session.rollback()
    header = ("角色", "代码", "邮箱", "密码", "所属机构")
    rows = [(ROLES[role], role, email, data.DEMO_PASSWORD, orgs.get(email, "（未创建）"))
            for role, email in data.DEMO_LOGINS]
    widths = [max(_width(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells) -> str:
        return "  ".join(_pad(str(c), w) for c, w in zip(cells, widths, strict=True)).rstrip()

    echo("演示账号（demo logins）:")
    echo(line(header))
    echo("  ".join("-" * w for w in widths))
    for row in rows:
        echo(line(row))


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def _refuse_unless_empty() -> None:
    for model, label in ((Bank, "banks"), (Enterprise, "enterprises"), (Product, "products"),
                         (Need, "needs"), (Claim, "claims")):
        if db.session.scalar(sa.select(model.id).limit(1)) is not None:
            raise SeedRefused(
                f"the database already has {label}; `flask demo seed` only fills an empty "
                "database (run `flask db upgrade` on a new one, or use --if-empty to skip)")
    emails = [email for _role, email in data.DEMO_LOGINS]
    taken = db.session.scalar(sa.select(User.email).where(User.email.in_(emails)).limit(1))
    if taken:
        raise SeedRefused(f"the demo account {taken} already exists; the demo is already seeded")


# --- small helpers -----------------------------------------------------------------------------


def money(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


# Energy projects state the standard coal they save beside their CO2 (the benefit estimator's
# coefficients): projects that save or replace electricity at the grid's coal and CO2 per kWh,
# those that save boiler fuel at coal's CO2 per tce. Other kinds state CO2 only.
FUEL_SAVING_CATEGORIES = ("1.5.1", "3.2.10", "5.4.1")
ELECTRICITY_SAVING_CATEGORIES = ("1.5", "3.2", "3.4", "5.1", "6.2.1", "6.2.2")


def coal_saving(category: str, co2: Decimal | None) -> Decimal | None:
    from matchmaker.green.benefit import coefficients

    if co2 is None:
        return None
    c = coefficients()
    if category in FUEL_SAVING_CATEGORIES:
        return money(co2 / c["coal_co2_t_per_tce"].value)
    if any(category == p or category.startswith(p + ".") for p in ELECTRICITY_SAVING_CATEGORIES):
        return money(co2 * c["power_coal_gce_per_kwh"].value
                     / (c["grid_co2_t_per_mwh"].value * 1000))
    return None


def nice_amount(value: float) -> Decimal:
    """Round an amount in 万元 the way people ask for it: 8, 35, 120, 850, 2600, 12000."""
    if value < 10:
        step = 1
    elif value < 100:
        step = 5
    elif value < 1000:
        step = 10
    elif value < 10000:
        step = 50
    else:
        step = 500
    return money(max(step, round(value / step) * step))


def nice_quantity(value: float) -> int:
    """Two significant digits: 1234 → 1200, 87 → 87."""
    if value < 1:
        return 1
    digits = math.floor(math.log10(value))
    step = 10 ** max(0, digits - 1)
    return int(round(value / step) * step)


def amount_text(value: Decimal) -> str:
    return f"{value.normalize():f}" if value == value.to_integral() else f"{value:f}"


# Working days as the workflow counts them (no holidays configured for the demo).
add_working_days = WorkingCalendar().add_working_days


def _gb11714_check(body: str) -> str:
    """Check character of a GB 11714 organisation code (8 characters + this one)."""
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(ch, 36) * w for ch, w in zip(body, weights, strict=True))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def uscc_check_digit(body17: str) -> str:
    from stdnum.cn import uscc

    return uscc.calc_check_digit(body17)


class _Rng(random.Random):
    def loguniform(self, low: float, high: float) -> float:
        return math.exp(self.uniform(math.log(low), math.log(high)))

    def duration(self, low: timedelta, high: timedelta) -> timedelta:
        seconds = self.loguniform(low.total_seconds(), high.total_seconds())
        return timedelta(seconds=round(seconds))

    def weighted(self, mapping: dict):
        keys = list(mapping)
        return self.choices(keys, weights=[mapping[k] for k in keys])[0]

    def sample_weighted(self, items: list, weights: list[float], k: int) -> list:
        """k items without replacement, heavier ones more likely (Efraimidis–Spirakis)."""
        keyed = sorted(((self.random() ** (1.0 / w), i) for i, w in enumerate(weights)),
                       reverse=True)
        return [items[i] for _key, i in keyed[:k]]


MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)


# --- the objects being built ------------------------------------------------------------------


@dataclass
class Place:
    code: str
    name: str  # 安吉县
    short: str  # 安吉
    prefecture: str  # 330500
    prefecture_short: str  # 湖州
    area_code: str  # 0572
    towns: tuple[str, ...]
    weight: float


class BankObj:
    __slots__ = ("admin", "branches", "brand", "created_at", "id", "kind", "managers", "name",
                 "product_count", "regions")


class UserObj:
    __slots__ = ("bank", "branch_id", "created_at", "email", "enterprise", "id", "name",
                 "office_id", "phone", "regions", "role")

    def __init__(self, role: str, name: str, email: str | None, created_at: datetime, **kw):
        self.role, self.name, self.email, self.created_at = role, name, email, created_at
        self.id = None
        self.bank = kw.get("bank")
        self.enterprise = kw.get("enterprise")
        self.branch_id = kw.get("branch_id")
        self.office_id = kw.get("office_id")
        self.phone = kw.get("phone")
        self.regions = kw.get("regions", ())


class ProductObj:
    __slots__ = ("active", "any_collateral", "bank", "categories", "collateral", "created_at",
                 "description", "env_rank", "id", "max_amount", "max_term", "min_amount",
                 "min_env_credit", "min_term", "name", "rate_max", "rate_min", "regions", "sizes",
                 "updated_at")


class EnterpriseObj:
    __slots__ = ("address", "contact_name", "created_at", "email", "env_credit", "id", "name",
                 "needs", "phone", "place", "sector", "size", "uscc", "user")


class NeedObj:
    __slots__ = ("amount", "claims", "closed_at", "co2", "collateral", "created_at", "deadline",
                 "description", "enterprise", "escalated_at", "first_claimed_at", "id",
                 "investment", "published_at", "purpose", "rate_cap", "rating", "region", "status",
                 "template", "term", "title", "updated_at", "withdraw_reason")


class ClaimObj:
    __slots__ = ("approved_amount", "approved_rate", "assigned", "bank", "cancel_reason",
                 "cancelled_at", "claimed_at", "contact_due_at", "contacted_at",
                 "credit_approved_at", "decline_reason", "declined_at", "disbursed_amount",
                 "disbursed_at", "events", "id", "lapsed_at", "manager", "need", "note",
                 "product", "selected_at", "slot", "status")

    def __init__(self, need, bank, product, manager, claimed_at, assigned=False):
        self.need, self.bank, self.product, self.manager = need, bank, product, manager
        self.claimed_at, self.assigned = claimed_at, assigned
        self.id = self.slot = None
        self.status = "claimed"
        self.selected_at = self.contact_due_at = self.contacted_at = None
        self.credit_approved_at = self.disbursed_at = self.declined_at = None
        self.approved_amount = self.approved_rate = self.disbursed_amount = None
        self.decline_reason = None
        self.lapsed_at = self.cancelled_at = self.cancel_reason = None
        self.note = None
        self.events: list = []


class EventObj:
    __slots__ = ("amount", "claim", "created_at", "id", "note", "rate", "reason", "type")

    def __init__(self, claim, type_, created_at, amount=None, rate=None, reason=None, note=None):
        self.claim, self.type, self.created_at = claim, type_, created_at
        self.amount, self.rate, self.reason, self.note = amount, rate, reason, note
        self.id = None


class RatingObj:
    __slots__ = ("claim", "comment", "created_at", "id", "stars")


# Statuses whose need has a bank working on it (claims with one picked bank).
PICKED = ("selected", "contacted", "credit_approved", "disbursed", "declined")
NEEDS_CLAIMS = ("claimed", "assigned", *PICKED)
CLOSED = ("disbursed", "declined", "withdrawn", "expired")
# How long before the reference time the last event of an in-progress need happened (days).
RECENT_WINDOW = {
    "draft": (0.05, 45), "open": (0.01, 2.5), "claimed": (0.05, 3), "selected": (0.05, 4),
    "contacted": (0.1, 12), "credit_approved": (0.2, 20), "escalated": (0.05, 6),
    "assigned": (0.05, 3),
}
HISTORY_DAYS = 540  # needs go back about 18 months
MAX_PRODUCT_AMOUNT = Decimal("50000.00")  # 5亿元: keeps the largest demo products plausible
# Words in a need's title that tell its purpose.
PURPOSE_WORDS = (("流动资金", "working_capital"), ("备货", "working_capital"),
                 ("收购", "working_capital"), ("质押", "working_capital"),
                 ("技改", "technical_upgrade"), ("改造", "technical_upgrade"),
                 ("替代", "technical_upgrade"), ("提升", "technical_upgrade"),
                 ("购置", "fixed_asset"), ("扩产", "fixed_asset"), ("生产线", "fixed_asset"),
                 ("工程", "project"), ("项目", "project"), ("建设", "project"))


class _Builder:
    def __init__(self, scale: str, reference_time: datetime, echo) -> None:
        self.scale = scale
        self.spec = SCALES[scale]
        self.ref = reference_time
        self.echo = echo
        self.rng = _Rng(f"{data.RANDOM_SEED}-{scale}")
        self.platform_start = self.ref - timedelta(days=HISTORY_DAYS + 60)
        self.banks: list[BankObj] = []
        self.branches: list[tuple[int, int, str, str]] = []  # id, bank id, name, region
        self.users: list[UserObj] = []
        self.products: list[ProductObj] = []
        self.enterprises: list[EnterpriseObj] = []
        self.needs: list[NeedObj] = []
        self.claims: list[ClaimObj] = []
        self.events: list[EventObj] = []
        self.ratings: list[RatingObj] = []
        self._eligible_cache: dict[tuple, list[ProductObj]] = {}
        self._manager_cache: dict[tuple[int, str], list[UserObj]] = {}
        self._collateral_options: dict[tuple[str, str], list[tuple[str, ...]]] = {}
        self._grabs: Counter = Counter()  # (manager, Beijing day) → grabs
        self.over_limit = 0  # grabs beyond the daily limit (reported; should stay near 0)
        self._names: set[str] = set()
        self._usccs: set[str] = set()

    # --- orchestration ----------------------------------------------------------------------

    def build(self) -> None:
        self.places = self._places()
        self.office_user = UserObj("office", "金融办 钱建华", data.DEMO_LOGINS[0][1],
                                   self.platform_start - 10 * DAY, phone="0572-2061234")
        self.admin_user = UserObj("admin", "平台运维 陆志明", data.DEMO_LOGINS[1][1],
                                  self.platform_start - 10 * DAY, phone="0572-2061235")
        self.users += [self.office_user, self.admin_user]
        self._build_banks()
        self._build_products()
        self.echo(f"{self.spec.label}: {len(self.banks)} banks, {len(self.products)} products")
        self._build_enterprises()
        self._build_needs()
        self._assign_ids()
        counts = Counter(n.status for n in self.needs)
        self.echo(f"{len(self.enterprises)} enterprises, {len(self.needs)} needs: "
                  + ", ".join(f"{s} {counts[s]}" for s in data.NEED_STATUS_WEIGHTS[self.scale]))
        if self.over_limit:
            self.echo(f"{self.over_limit} grabs exceed a manager's daily limit "
                      f"({data.DAILY_GRAB_LIMIT})")

    # --- places ------------------------------------------------------------------------------

    def _places(self) -> list[Place]:
        if self.scale == "city":
            area = data.PREFECTURES[data.CITY_CODE][1]
            places = [Place(c.code, c.name, c.short, data.CITY_CODE, data.CITY_SHORT, area,
                            c.towns, c.weight) for c in data.CITY_COUNTIES]
        else:
            rows = db.session.execute(
                sa.select(Region.code, Region.name, Region.parent_code)
                .where(Region.level == 3, Region.retired.is_(False),
                       Region.parent_code.in_(list(data.PREFECTURES)), Region.name != "市辖区")
                .order_by(Region.code)
            ).all()
            per_prefecture = Counter(r.parent_code for r in rows)
            places = []
            for code, name, parent in rows:
                pref_short, area, weight = data.PREFECTURES[parent]
                places.append(Place(code, name, _short_name(name), parent, pref_short, area, (),
                                    weight / per_prefecture[parent]))
        known = set(db.session.scalars(
            sa.select(Region.code).where(Region.code.in_([p.code for p in places]),
                                         Region.retired.is_(False))))
        missing = [p.code for p in places if p.code not in known]
        if missing:
            raise click.ClickException(f"regions missing from the reference data: {missing}; "
                                       "run `flask db upgrade` / `flask reference sync`")
        self.place_by_code = {p.code: p for p in places}
        return places

    def _area_counties(self, codes: Iterable[str]) -> list[Place]:
        """The places inside the given region codes."""
        return [p for p in self.places if any(region_covers(c, p.code) for c in codes)]

    # --- banks, branches and bank users -------------------------------------------------------

    def _bank_specs(self) -> list[tuple[data.BankSpec, tuple[str, ...]]]:
        if self.scale == "city":
            return [(s, s.counties or (data.CITY_CODE,)) for s in data.CITY_BANKS]
        specs = [(s, s.counties or (data.PROVINCE_CODE,)) for s in data.PROVINCE_BANKS]
        done: set[str] = set()
        for place in self.places:
            if place.code in done:
                continue
            group = next((codes for codes in data.RURAL_BANK_NAMES if place.code in codes),
                         (place.code,))
            name = data.RURAL_BANK_NAMES.get(group)
            if name is None:
                district = place.code[4] == "0"  # 3305 02: a city district
                prefix = place.prefecture_short if district else ""
                name = f"浙江{prefix}{place.short}农村商业银行"
            done.update(group)
            specs.append((data.BankSpec(name, "rural_commercial", name, group), group))
        specs += [(s, s.counties) for s in data.PROVINCE_VILLAGE_BANKS]
        return specs

    def _build_banks(self) -> None:
        rng = self.rng
        branch_id = 0
        for index, (spec, regions) in enumerate(self._bank_specs()):
            bank = BankObj()
            bank.id, bank.name, bank.kind, bank.brand = index + 1, spec.name, spec.kind, spec.brand
            bank.regions = tuple(regions)
            bank.created_at = self.platform_start + timedelta(hours=6 * index)
            bank.managers, bank.branches, bank.product_count = [], [], 0
            self.banks.append(bank)
            counties = self._area_counties(regions)
            # Branches: a 支行 per county (towns for a local bank), one office for policy banks.
            if spec.kind == "policy":
                first = counties[0]
                names = [(f"{spec.brand}{first.prefecture_short}"
                          f"{'办事处' if self.scale == 'city' else '分行营业部'}", first.code)]
            elif spec.kind in ("rural_commercial", "village") and self.scale == "city":
                place = counties[0]
                towns = rng.sample(place.towns, 4 if spec.kind == "rural_commercial" else 1)
                names = [(f"{spec.name}营业部", place.code)]
                names += [(f"{spec.name}{town.removesuffix('街道').removesuffix('镇')}支行",
                           place.code) for town in towns]
            elif spec.kind in ("rural_commercial", "village"):
                names = [(f"{spec.name}营业部", counties[0].code)]
                names += [(f"{spec.name}{p.short}支行", p.code) for p in counties[1:]]
            elif spec.kind == "other":
                names = [(f"{spec.brand}{counties[0].prefecture_short}服务中心", counties[0].code)]
            else:
                names = [(f"{spec.brand}{p.short}支行", p.code) for p in counties]
            for name, region in names:
                branch_id += 1
                self.branches.append((branch_id, bank.id, name[:64], region))
                bank.branches.append((branch_id, region))
            self._build_bank_users(bank, counties)
        self.featured_bank = next(b for b in self.banks if b.name == data.FEATURED_BANK)

    def _build_bank_users(self, bank: BankObj, counties: list[Place]) -> None:
        rng = self.rng
        featured = bank.name == data.FEATURED_BANK
        at = bank.created_at + 30 * MINUTE
        area = counties[0].area_code
        admin = UserObj("bank_admin", self._person(),
                        data.DEMO_LOGINS[2][1] if featured else None, at, bank=bank,
                        branch_id=bank.branches[0][0],
                        phone=f"{area}-{rng.randrange(2000000, 8999999)}")
        bank.admin = admin
        self.users.append(admin)
        # Coverage units: the counties of a city, the prefectures of a province.
        if len(bank.regions) == 1 and bank.regions[0] == data.PROVINCE_CODE:
            units = [(code,) for code in data.PREFECTURES]
        elif len(bank.regions) == 1 and bank.regions[0].endswith("00") and self.scale == "city":
            units = [(p.code,) for p in counties]
        else:
            units = [(code,) for code in bank.regions]
        count = rng.randint(2, 4)
        order = list(units)
        rng.shuffle(order)
        shares: list[list[str]] = [[] for _ in range(count)]
        for i, unit in enumerate(order):
            shares[i % count].extend(unit)
        for i in range(count):
            if not shares[i]:  # fewer units than managers: share the area
                shares[i] = list(order[i % len(order)])
        if featured:
            shares[0] = list(bank.regions)
        for i, regions in enumerate(shares):
            email = data.DEMO_LOGINS[3][1] if featured and i == 0 else None
            first = self._area_counties(regions)[0].code
            branch = next((b for b, region in bank.branches if region == first),
                          bank.branches[0][0])
            manager = UserObj("bank_manager", self._person(), email, at + (i + 1) * MINUTE,
                              bank=bank, branch_id=branch, regions=tuple(sorted(regions)),
                              phone=self._mobile())
            bank.managers.append(manager)
            self.users.append(manager)

    # --- products ------------------------------------------------------------------------------

    def _build_products(self) -> None:
        rng = self.rng
        used: Counter = Counter()
        for bank in self.banks:
            templates = data.product_templates_for_bank(bank.kind, bank.name)
            if not templates:
                continue
            if bank is self.featured_bank:
                chosen = templates
            else:
                low, high = data.PRODUCTS_PER_BANK[bank.kind]
                if self.scale == "province":  # a province's banks publish more
                    low, high = low + 3, high + 6
                chosen = rng.sample(templates, min(len(templates), rng.randint(low, high)))
            for template in chosen:
                used[template.key] += 1
                for name, regions in self._product_regions(bank, template):
                    self._add_product(bank, template, name, regions)
        # Every template is published by at least one bank.
        for template in data.PRODUCT_TEMPLATES:
            if used[template.key]:
                continue
            candidates = [b for b in self.banks
                          if b.kind in template.bank_kinds
                          and (not template.only_banks
                               or any(x in b.name for x in template.only_banks))]
            if candidates:
                bank = rng.choice(candidates)
                for name, regions in self._product_regions(bank, template):
                    self._add_product(bank, template, name, regions)
        inactive = [p for p in self.products if p.bank is not self.featured_bank]
        for product in rng.sample(inactive, len(self.products) * 3 // 100):
            product.active = False
            product.updated_at = self.ref - timedelta(days=rng.uniform(30, 200))

    def _product_regions(self, bank: BankObj, template) -> list[tuple[str, tuple[str, ...]]]:
        """(name, region codes) of the product(s) a bank publishes from one template."""
        rng = self.rng
        if self.scale == "city":
            if bank.regions == (data.CITY_CODE,) and rng.random() < 0.25:
                counties = sorted(rng.sample([p.code for p in self.places], rng.randint(1, 3)))
                return [(template.name, tuple(counties))]
            return [(template.name, bank.regions)]
        if bank.kind in ("rural_commercial", "village") or rng.random() < 0.3:
            return [(template.name, bank.regions)]
        # A provincial or multi-city bank also publishes local versions for some prefectures.
        if bank.regions == (data.PROVINCE_CODE,):
            prefectures = list(data.PREFECTURES)
        else:
            prefectures = list(bank.regions)
        picked = sorted(rng.sample(prefectures, min(len(prefectures), rng.randint(2, 6))))
        return [(f"{template.name}（{data.PREFECTURES[code][0]}）", (code,)) for code in picked]

    def _add_product(self, bank: BankObj, template, name: str, regions: tuple[str, ...]) -> None:
        rng = self.rng
        factor, rate_add = data.BANK_KIND_TERMS[bank.kind]
        p = ProductObj()
        p.bank, p.name, p.regions = bank, name, regions
        p.description = template.description
        max_amount = nice_amount(float(template.max_amount_wan * factor) * rng.uniform(0.8, 1.2))
        max_amount = min(max_amount, MAX_PRODUCT_AMOUNT)
        min_amount = nice_amount(float(template.min_amount_wan) * rng.choice((1, 1, 1, 1.5, 2)))
        if template.min_amount_wan < 10:
            min_amount = template.min_amount_wan
        if max_amount < min_amount * 2:
            max_amount = min_amount * 2
        p.min_amount, p.max_amount = min_amount, max_amount
        p.min_term = template.min_term_months
        p.max_term = template.max_term_months
        if p.max_term >= 48 and rng.random() < 0.3:
            p.max_term = max(p.min_term, p.max_term - 12 * rng.randint(1, 2))
        rate_min = float(template.rate_min + rate_add) + rng.uniform(-0.1, 0.15)
        rate_max = float(template.rate_max + rate_add) + rng.uniform(-0.2, 0.3)
        rate_min = max(2.8, rate_min)
        rate_max = max(rate_min + 0.3, rate_max)
        p.rate_min, p.rate_max = money(rate_min), money(rate_max)
        sizes = list(template.enterprise_sizes)
        if bank.kind == "village":
            sizes = [s for s in sizes if s in ("micro", "small")] or sizes
        elif bank.kind == "rural_commercial" and "large" in sizes and len(sizes) > 1:
            sizes.remove("large")
        p.sizes = tuple(sizes)
        p.collateral = template.collateral
        p.any_collateral = "credit" in template.collateral
        p.min_env_credit = template.min_env_credit
        p.env_rank = ENV_CREDIT_RANK[template.min_env_credit]
        p.categories = template.categories
        p.active = True
        p.created_at = bank.created_at + timedelta(days=1 + bank.product_count * 0.7,
                                                   minutes=rng.randint(0, 600))
        p.updated_at = p.created_at
        bank.product_count += 1
        self.products.append(p)

    # --- enterprises ---------------------------------------------------------------------------

    def _person(self) -> str:
        return self.rng.choice(data.SURNAMES) + self.rng.choice(data.GIVEN_NAMES)

    def _mobile(self) -> str:
        return self.rng.choice(data.MOBILE_PREFIXES) + f"{self.rng.randrange(10 ** 8):08d}"

    def _uscc(self, place: Place, old: bool) -> str:
        rng = self.rng
        while True:
            if old:
                body = "".join(rng.choice("0123456789") for _ in range(8))
            else:
                body = "MA" + "".join(rng.choice(_USCC_ALPHABET) for _ in range(6))
            code17 = f"91{place.code}{body}{_gb11714_check(body)}"
            code = code17 + uscc_check_digit(code17)
            if code not in self._usccs:
                self._usccs.add(code)
                return code

    def _company_name(self, place: Place, sector: data.Sector, size: str) -> str:
        rng = self.rng
        for attempt in range(50):
            county_form = place.name if place.name.endswith("县") else place.short
            options = [county_form, place.short, f"{place.prefecture_short}{place.short}",
                       place.prefecture_short]
            if size in ("medium", "large"):
                options += ["浙江", "浙江"]
            prefix = rng.choice(options)
            trade = rng.choice(data.TRADE_NAME_FIRST) + rng.choice(data.TRADE_NAME_SECOND)
            if attempt > 20:
                trade += rng.choice(data.TRADE_NAME_SECOND)
            word = rng.choice(sector.name_words)
            suffix = "股份有限公司" if size == "large" and rng.random() < 0.5 else "有限公司"
            name = f"{prefix}{trade}{word}{suffix}"
            if name not in self._names:
                self._names.add(name)
                return name
        raise RuntimeError("could not make a unique enterprise name")

    def _new_enterprise(self, place: Place, sector: data.Sector, size: str, env: str,
                        name: str | None = None, contact: str | None = None) -> EnterpriseObj:
        rng = self.rng
        e = EnterpriseObj()
        e.place, e.sector, e.size, e.env_credit = place, sector, size, env
        if name:
            self._names.add(name)
        e.name = name or self._company_name(place, sector, size)
        e.uscc = self._uscc(place, old=rng.random() < 0.35)
        e.contact_name = contact or self._person()
        e.phone = (self._mobile() if rng.random() < 0.7
                   else f"{place.area_code}-{rng.randrange(2000000, 8999999)}")
        street = f"{rng.choice(place.towns)}" if place.towns else ""
        e.address = (f"浙江省{place.prefecture_short}市{place.name}{street}"
                     f"{rng.choice(data.ROADS)}{rng.randint(1, 999)}号")
        e.needs = []
        e.id = e.email = e.created_at = e.user = None
        self.enterprises.append(e)
        return e

    def _build_enterprises(self) -> None:
        rng = self.rng
        featured = data.FEATURED_ENTERPRISE
        place = self.place_by_code[featured["county"]]
        self.featured_enterprise = self._new_enterprise(
            place, data.SECTORS_BY_KEY[featured["sector"]], featured["size"],
            featured["env_credit"], name=featured["name"], contact=featured["contact_name"])
        place_weights = [p.weight for p in self.places]
        sector_weights_by_place = {
            p.code: [s.weight * _affinity(s, p.code) for s in data.SECTORS] for p in self.places
        }
        for _ in range(self.spec.enterprises - 1):
            place = rng.choices(self.places, weights=place_weights)[0]
            sector = rng.choices(data.SECTORS, weights=sector_weights_by_place[place.code])[0]
            size = rng.weighted(sector.sizes)
            env = rng.weighted(data.ENV_CREDIT_WEIGHTS)
            self._new_enterprise(place, sector, size, env)

    # --- needs, claims, events, ratings ---------------------------------------------------------

    def _build_needs(self) -> None:
        rng = self.rng
        featured = self.featured_enterprise
        for key, status in data.FEATURED_ENTERPRISE["needs"]:
            self._new_need(featured, data.NEED_TEMPLATES_BY_KEY[key], status, featured=True)
        others = self.enterprises[1:]
        size_weight = {"micro": 0.8, "small": 1.0, "medium": 1.4, "large": 1.8}
        weights = [size_weight[e.size] for e in others]
        shares = data.NEED_STATUS_WEIGHTS[self.scale]
        statuses = list(shares)
        status_weights = list(shares.values())
        remaining = self.spec.needs - len(self.needs)
        owners = rng.choices(others, weights=weights, k=remaining)
        for enterprise in owners:
            status = rng.choices(statuses, weights=status_weights)[0]
            self._new_need(enterprise, self._pick_template(enterprise), status)
        for e in self.enterprises:
            if e.needs:
                first = min(n.created_at for n in e.needs)
                e.created_at = first - rng.duration(2 * HOUR, 60 * DAY)
            else:
                e.created_at = self._history_moment(0.0)

    def _pick_template(self, enterprise: EnterpriseObj) -> data.NeedTemplate:
        keys = enterprise.sector.needs
        templates = [data.NEED_TEMPLATES_BY_KEY[k] for k in keys]
        fitting = [t for t in templates if enterprise.size in t.sizes] or templates
        weights = [1.0 / math.sqrt(1 + keys.index(t.key)) for t in fitting]
        return self.rng.choices(fitting, weights=weights)[0]

    def _history_moment(self, min_days_ago: float) -> datetime:
        """A moment in the last 18 months, more of them recent (the platform grows)."""
        x = -1 + math.sqrt(1 + 3 * self.rng.random())  # density 1 + x on [0, 1]
        span = HISTORY_DAYS - min_days_ago
        return self.ref - timedelta(days=HISTORY_DAYS - x * span)

    def _new_need(self, enterprise: EnterpriseObj, template: data.NeedTemplate, status: str,
                  featured: bool = False) -> None:
        rng = self.rng
        n = NeedObj()
        n.enterprise, n.template, n.region = enterprise, template, enterprise.place.code
        n.claims, n.rating = [], None
        title = rng.choice(template.titles)
        n.purpose = next((purpose for word, purpose in PURPOSE_WORDS
                          if word in title and purpose in template.purposes), None) \
            or rng.choice(template.purposes)
        self._need_terms(n)
        # Which banks could grab it: an eligible, active product of theirs.
        wants_claims = status in NEEDS_CLAIMS + CLOSED
        candidates = self._eligible_banks(n) if wants_claims else {}
        if wants_claims and not candidates and (featured or rng.random() < 0.75):
            for _attempt in range(3):  # most enterprises fit their ask to the products they see
                self._need_terms(n)
                candidates = self._eligible_banks(n)
                if candidates:
                    break
        if status in NEEDS_CLAIMS and not candidates:
            # Nobody can serve it: it went to the finance office, and old ones ran out of time.
            status = "expired" if status in CLOSED else "escalated"
        if rng.random() < 0.35:
            n.rate_cap = None
        else:
            base = {"micro": 5.0, "small": 4.6, "medium": 4.2, "large": 3.9}[enterprise.size]
            n.rate_cap = money(round((base + rng.uniform(-0.5, 1.2)) * 20) / 20)
        if template.co2_t_per_wan and rng.random() < 0.85:
            n.co2 = money(float(n.amount) * template.co2_t_per_wan * rng.uniform(0.7, 1.3))
        else:
            n.co2 = None
        if n.purpose in ("project", "fixed_asset", "technical_upgrade") and rng.random() < 0.8:
            n.investment = nice_amount(float(n.amount) * rng.uniform(1.2, 3.0))
        else:
            n.investment = None
        quantity = nice_quantity(float(n.amount) * template.quantity_per_wan) \
            if template.quantity_per_wan else 0
        fill = {"place": enterprise.place.name, "q": quantity, "amount": amount_text(n.amount),
                "term": n.term, "collateral": "、".join(COLLATERAL[c] for c in n.collateral)}
        n.title = title.format(**fill)
        n.description = template.description.format(**fill)
        n.withdraw_reason = None
        n.status = status
        self._timeline(n, candidates, featured)
        enterprise.needs.append(n)
        self.needs.append(n)

    def _need_terms(self, n: NeedObj) -> None:
        """Amount, term and collateral offered, as the enterprise would ask."""
        template, size = n.template, n.enterprise.size
        n.amount = self._need_amount(template, size)
        n.term = self._need_term(template)
        key = (template.key, size)
        options = self._collateral_options.get(key)
        if options is None:  # what the enterprise can offer and some bank would accept
            options = [o for o in template.collateral
                       if data.serving_templates(template, size, o)] or list(template.collateral)
            self._collateral_options[key] = options
        n.collateral = self.rng.choice(options)

    def _need_amount(self, template: data.NeedTemplate, size: str) -> Decimal:
        low, high = float(template.min_amount_wan), float(template.max_amount_wan)
        size_low, size_high = (float(x) for x in data.SIZE_AMOUNT_BOUNDS[size])
        a, b = max(low, size_low), min(high, size_high)
        if a > b:
            a, b = low, high
        return nice_amount(self.rng.loguniform(a, b))

    def _need_term(self, template: data.NeedTemplate) -> int:
        options = [(t, w) for t, w in data.TERM_CHOICES
                   if template.min_term_months <= t <= template.max_term_months]
        if not options:
            return template.min_term_months
        return self.rng.choices([t for t, _ in options], weights=[w for _, w in options])[0]

    def _eligible_products(self, n: NeedObj) -> list[ProductObj]:
        e = n.enterprise
        key = (n.template.category, n.region, e.size, e.env_credit, n.collateral)
        found = self._eligible_cache.get(key)
        if found is None:
            index = self._product_index()
            env_rank = ENV_CREDIT_RANK[e.env_credit]
            seen: dict[int, ProductObj] = {}
            for cat in category_ancestors(n.template.category):
                for region in region_ancestors(n.region):
                    for p in index.get((cat, region), ()):
                        if (p.active and e.size in p.sizes and env_rank <= p.env_rank
                                and (p.any_collateral or any(c in p.collateral
                                                             for c in n.collateral))):
                            seen[id(p)] = p
            found = sorted(seen.values(), key=lambda p: (p.bank.id, p.created_at))
            self._eligible_cache[key] = found
        return [p for p in found
                if p.min_amount <= n.amount <= p.max_amount and p.min_term <= n.term <= p.max_term]

    def _product_index(self) -> dict[tuple[str, str], list[ProductObj]]:
        index = getattr(self, "_index", None)
        if index is None:
            index = {}
            for p in self.products:
                for cat in p.categories:
                    for region in p.regions:
                        index.setdefault((cat, region), []).append(p)
            self._index = index
        return index

    def _eligible_banks(self, n: NeedObj) -> dict[int, tuple[BankObj, list[ProductObj]]]:
        banks: dict[int, tuple[BankObj, list[ProductObj]]] = {}
        for p in self._eligible_products(n):
            banks.setdefault(p.bank.id, (p.bank, []))[1].append(p)
        return banks

    def _manager(self, bank: BankObj, region: str, at: datetime | None) -> UserObj | None:
        """A manager of the bank covering the region who may still grab a lead that day (None
        when all have reached the daily limit). Office assignments (at=None) are not grabs."""
        key = (bank.id, region)
        managers = self._manager_cache.get(key)
        if managers is None:
            managers = [m for m in bank.managers
                        if any(region_covers(code, region) for code in m.regions)] or bank.managers
            self._manager_cache[key] = managers
        if at is not None:
            day = (at + 8 * HOUR).date()  # the limit counts Beijing days
            managers = [m for m in managers
                        if self._grabs[(m, day)] < data.DAILY_GRAB_LIMIT]
            if not managers:
                return None
        demo_manager = self.featured_bank.managers[0]
        if bank is self.featured_bank and demo_manager in managers and self.rng.random() < 0.5:
            manager = demo_manager  # the demo manager handles many of the bank's leads
        else:
            manager = self.rng.choice(managers)
        if at is not None:
            self._grabs[(manager, day)] += 1
        return manager

    def _choose_claimers(self, n: NeedObj, candidates: dict, count: int,
                         prefer: BankObj | None = None) -> list[tuple[BankObj, ProductObj]]:
        rng = self.rng
        entries = list(candidates.values())
        weights = [data.BANK_KIND_GRAB_WEIGHT.get(bank.kind, 1.0)
                   * (1.5 if bank is self.featured_bank else 1.0) for bank, _ in entries]
        chosen = rng.sample_weighted(entries, weights, count)
        if prefer is not None and prefer.id in candidates and all(b is not prefer
                                                                  for b, _ in chosen):
            chosen[-1] = candidates[prefer.id]
        return [(bank, rng.choice(products)) for bank, products in chosen]

    # --- timelines ------------------------------------------------------------------------------

    def _timeline(self, n: NeedObj, candidates: dict, featured: bool) -> None:
        """Claims and timestamps consistent with the need's status, all before the reference."""
        rng = self.rng
        status = n.status
        n.escalated_at = n.first_claimed_at = n.closed_at = n.published_at = None
        if status == "draft":
            lo, hi = RECENT_WINDOW["draft"]
            n.created_at = self.ref - timedelta(days=rng.uniform(lo, hi))
            n.updated_at = n.created_at + rng.duration(MINUTE, 2 * HOUR)
            n.updated_at = min(n.updated_at, self.ref - MINUTE)
            n.deadline = (n.created_at + timedelta(days=rng.choice((60, 90, 120)))).date()
            return

        # Decide the shape first (durations), then place it in time.
        assigned_path = status == "assigned" or (
            status in (*PICKED, "expired") and rng.random() < 0.1 and not featured)
        if status in ("open", "escalated", "draft"):
            count = 0
        elif status == "withdrawn":
            count = min(len(candidates), rng.choice((0, 0, 1, 2, 3)))
        elif status == "expired":
            count = 0 if rng.random() < 0.5 or not candidates else min(len(candidates),
                                                                      rng.choice((1, 2, 3)))
            assigned_path = assigned_path and count > 0
        elif featured and status == "claimed":
            count = min(3, len(candidates))
        elif status == "declined":
            # A decline reopens the choice when other grabbing banks remain (claims.services):
            # a need that ended declined had nobody else to pick.
            count = min(1, len(candidates))
        else:
            count = min(len(candidates), rng.choices((1, 2, 3), weights=(25, 30, 45))[0])
        if assigned_path:
            count = min(count, 1) or 0
            if count == 0:
                assigned_path = False
        prefer = self.featured_bank if featured and status in PICKED else None
        claimers = self._choose_claimers(n, candidates, count, prefer) if count else []
        pick = 0
        if claimers and (status in PICKED or status == "expired"):
            if prefer is not None:
                pick = next((i for i, (b, _p) in enumerate(claimers) if b is prefer), 0)
            elif rng.random() < 0.6:  # the enterprise usually takes the cheapest offer
                pick = min(range(len(claimers)), key=lambda i: claimers[i][1].rate_min)
            else:
                pick = rng.randrange(len(claimers))

        d = {
            "draft": rng.duration(5 * MINUTE, 3 * DAY),
            "claims": sorted(rng.duration(3 * MINUTE, 20 * HOUR) if i == 0
                             else rng.duration(10 * MINUTE, 48 * HOUR) for i in range(count)),
            "escalation_delay": rng.duration(MINUTE, HOUR),
            "assign": rng.duration(HOUR, 3 * DAY),
            "select": rng.duration(2 * HOUR, 4 * DAY),
            "contact": rng.duration(HOUR, 4 * DAY),
            "credit": rng.duration(DAY, 12 * DAY),
            "disburse": rng.duration(4 * HOUR, 8 * DAY),
            "decline": rng.duration(DAY, 10 * DAY),
            "withdraw": rng.duration(HOUR, 12 * DAY),
            "deadline_days": rng.choice((30, 45, 60, 90)),
            "rating": rng.duration(2 * HOUR, 10 * DAY),
        }

        def simulate(published: datetime) -> dict:
            t: dict = {"published": published}
            if assigned_path:
                t["escalated"] = add_working_days(published, 3) + d["escalation_delay"]
                t["claims"] = [t["escalated"] + d["assign"]]
            else:
                t["claims"] = [published + c for c in d["claims"]]
                if status in ("escalated",) or (status == "expired" and not count):
                    t["escalated"] = add_working_days(published, 3) + d["escalation_delay"]
            last = t["claims"][-1] if t["claims"] else published
            if status in PICKED or (status == "expired" and count):
                t["selected"] = last + d["select"]
                t["due"] = add_working_days(t["selected"], 5)
                contact = t["selected"] + d["contact"]
                t["contacted"] = min(contact, t["due"] - HOUR)
                t["credit"] = t["contacted"] + d["credit"]
                t["disbursed"] = t["credit"] + d["disburse"]
                t["declined"] = t["contacted"] + d["decline"]
            if status == "withdrawn":
                t["withdrawn"] = last + d["withdraw"]
            if status == "expired":
                before = t.get("due") or t.get("escalated") or published
                deadline = max((published + timedelta(days=d["deadline_days"])).date(),
                               (before + DAY).date())
                t["deadline"] = deadline
                # Expires at the end of the deadline day in Beijing (16:00 UTC).
                t["expired"] = datetime.combine(deadline, dtime(16, 0), self.ref.tzinfo) \
                    + d["escalation_delay"]
            t["end"] = {
                "open": published, "claimed": last, "assigned": last,
                "escalated": t.get("escalated"), "selected": t.get("selected"),
                "contacted": t.get("contacted"), "credit_approved": t.get("credit"),
                "disbursed": t.get("disbursed"), "declined": t.get("declined"),
                "withdrawn": t.get("withdrawn"), "expired": t.get("expired"),
            }[status]
            return t

        if status in CLOSED:
            target = None
            published = self._history_moment(20)
        else:
            lo, hi = RECENT_WINDOW[status]
            target = self.ref - timedelta(days=rng.uniform(lo, hi))
            published = target - 3 * DAY
        t = simulate(published)
        for _ in range(6):  # slide the whole story so that it ends where it should
            if target is not None:
                shift = t["end"] - target
            else:
                shift = max(timedelta(0), t["end"] - (self.ref - HOUR))
            if abs(shift) < MINUTE:
                break
            published -= shift
            t = simulate(published)
        while t["end"] > self.ref - MINUTE:  # never after the reference time
            published -= t["end"] - self.ref + HOUR
            t = simulate(published)

        n.published_at = published
        n.created_at = published - d["draft"]
        n.updated_at = t["end"]
        n.escalated_at = t.get("escalated")
        if status in CLOSED:
            n.closed_at = t["end"]
        if status == "expired":
            n.deadline = t["deadline"]
        else:
            n.deadline = (published + timedelta(days=d["deadline_days"])).date()
            if status not in CLOSED and n.deadline <= self.ref.date():
                n.deadline = self.ref.date() + timedelta(days=rng.randint(15, 60))
        if status == "withdrawn":
            n.withdraw_reason = rng.choice(data.WITHDRAW_REASONS)

        self._make_claims(n, claimers, pick, t, assigned_path, candidates)

    def _make_claims(self, n: NeedObj, claimers, pick: int, t: dict, assigned: bool,
                     candidates: dict) -> None:
        rng = self.rng
        status = n.status
        used = {bank.id for bank, _product in claimers}
        for (bank, product), at in zip(claimers, t["claims"], strict=True):
            manager = self._manager(bank, n.region, None if assigned else at)
            if manager is None:  # that bank's managers are at their daily limit: another grabs
                for other_id, (other, products) in candidates.items():
                    if other_id in used:
                        continue
                    manager = self._manager(other, n.region, at)
                    if manager is not None:
                        bank, product = other, rng.choice(products)
                        used.add(other_id)
                        break
            if manager is None and n.claims:  # nobody left with quota: fewer banks grab it
                continue
            if manager is None:  # the first grab happens anyway (reported; should be rare)
                day = (at + 8 * HOUR).date()
                manager = min(bank.managers, key=lambda m: self._grabs[(m, day)])
                self._grabs[(manager, day)] += 1
                self.over_limit += 1
            c = ClaimObj(n, bank, product, manager, at, assigned=assigned)
            c.note = None if assigned else data.GRAB_NOTE.format(product=product.name,
                                                                rate=f"{product.rate_min:.2f}")
            n.claims.append(c)
            self.claims.append(c)
        if n.claims:
            n.first_claimed_at = min(c.claimed_at for c in n.claims)
        for slot, c in enumerate(sorted(n.claims, key=lambda c: c.claimed_at), start=1):
            c.slot = slot
        if status == "withdrawn":
            for c in n.claims:
                c.status, c.cancelled_at = "cancelled", t["withdrawn"]
                c.cancel_reason = "企业撤回需求"
            return
        if (status not in PICKED and status != "expired") or not n.claims:
            return
        chosen = n.claims[min(pick, len(n.claims) - 1)]
        for c in n.claims:
            if c is not chosen:
                c.status = "not_selected"
        chosen.selected_at = t["selected"]
        chosen.contact_due_at = t["due"]
        if status == "expired":
            # The pick lapsed, the others were back in the running, then the need expired.
            chosen.status, chosen.lapsed_at = "lapsed", t["due"]
            for c in n.claims:
                if c is not chosen:
                    c.status, c.cancelled_at = "cancelled", t["expired"]
                    c.cancel_reason = "需求已过截止日期"
            return
        chosen.status = "selected"
        if status == "selected":
            return
        chosen.status = "contacted"
        chosen.contacted_at = t["contacted"]
        self._event(chosen, "contacted", t["contacted"], note=rng.choice(data.CONTACT_NOTES))
        if status == "declined":
            reason = rng.weighted(data.DECLINE_WEIGHTS)
            if n.enterprise.env_credit in ("red", "black") and rng.random() < 0.7:
                reason = rng.choice(("ineligible", "industry_restricted"))
            chosen.status, chosen.declined_at = "declined", t["declined"]
            chosen.decline_reason = reason
            self._event(chosen, "declined", t["declined"], reason=reason,
                        note=data.DECLINE_NOTES[reason])
            self._maybe_rate(n, chosen, 0.15, low=True)
            return
        if status == "contacted":
            return
        p = chosen.product
        approved = n.amount if rng.random() < 0.55 else nice_amount(
            float(n.amount) * rng.uniform(0.6, 0.95))
        approved = max(p.min_amount, min(approved, p.max_amount, n.amount))
        top = p.rate_max if n.rate_cap is None else max(p.rate_min, min(p.rate_max, n.rate_cap))
        rate = money(rng.uniform(float(p.rate_min), float(p.rate_min + (top - p.rate_min) * 7
                                                             / 10)))
        chosen.status = "credit_approved"
        chosen.credit_approved_at = t["credit"]
        chosen.approved_amount, chosen.approved_rate = approved, rate
        self._event(chosen, "credit_approved", t["credit"], amount=approved, rate=rate,
                    note=data.CREDIT_NOTE.format(amount=amount_text(approved), rate=rate))
        if status == "credit_approved":
            return
        disbursed = approved if rng.random() < 0.75 else nice_amount(
            float(approved) * rng.uniform(0.6, 0.99))
        disbursed = min(disbursed, approved)
        chosen.status = "disbursed"
        chosen.disbursed_at = t["disbursed"]
        chosen.disbursed_amount = disbursed
        for c in n.claims:  # the other grabs end with the need
            if c is not chosen:
                c.status, c.cancelled_at = "cancelled", t["disbursed"]
                c.cancel_reason = "需求已结束"
        self._event(chosen, "disbursed", t["disbursed"], amount=disbursed, rate=rate,
                    note=data.DISBURSE_NOTE.format(amount=amount_text(disbursed), rate=rate))
        self._maybe_rate(n, chosen, 0.55 if n.enterprise is not self.featured_enterprise else 1)

    def _event(self, claim: ClaimObj, type_: str, at: datetime, **kw) -> None:
        event = EventObj(claim, type_, at, **kw)
        claim.events.append(event)
        self.events.append(event)

    def _maybe_rate(self, n: NeedObj, claim: ClaimObj, chance: float, low: bool = False) -> None:
        rng = self.rng
        if rng.random() >= chance:
            return
        at = n.closed_at + rng.duration(2 * HOUR, 10 * DAY)
        if at >= self.ref:
            return
        weights = ({1: 25, 2: 30, 3: 30, 4: 10, 5: 5} if low
                   else {5: 55, 4: 30, 3: 10, 2: 3, 1: 2})
        r = RatingObj()
        r.claim, r.created_at, r.stars = claim, at, rng.weighted(weights)
        r.comment = rng.choice(data.RATING_COMMENTS[r.stars]) if rng.random() < 0.7 else None
        r.id = None
        n.rating = r
        self.ratings.append(r)

    # --- ids and rows ---------------------------------------------------------------------------

    def _assign_ids(self) -> None:
        """Ids in order of creation, as an autoincrement would have given them."""
        def number(objs: list, key) -> None:
            objs.sort(key=key)
            for i, obj in enumerate(objs, start=1):
                obj.id = i

        for p_index, p in enumerate(self.products, start=1):
            p.id = p_index
        number(self.enterprises, key=lambda e: (e.created_at, e.uscc))
        number(self.needs, key=lambda n: (n.created_at, n.enterprise.id, n.title))
        number(self.claims, key=lambda c: (c.claimed_at, c.need.id, c.slot))
        number(self.events, key=lambda e: (e.created_at, e.claim.id, e.type))
        number(self.ratings, key=lambda r: (r.created_at, r.claim.id))
        domain = data.DEMO_EMAIL_DOMAIN
        for e in self.enterprises:
            e.email = (data.DEMO_LOGINS[4][1] if e is self.featured_enterprise
                       else f"qy{e.id:05d}@{domain}")
            e.user = UserObj("enterprise", e.contact_name, e.email, e.created_at, enterprise=e,
                             phone=e.phone)
        for bank in self.banks:
            bank.admin.email = bank.admin.email or f"bank{bank.id:03d}.admin@{domain}"
            for k, m in enumerate(bank.managers, start=1):
                m.email = m.email or f"bank{bank.id:03d}.manager{k}@{domain}"
        self.users += [e.user for e in self.enterprises]

    def write(self) -> dict:
        from matchmaker.accounts.services import hash_password
        from matchmaker.audit.services import record

        base = {model: db.session.scalar(sa.select(sa.func.max(model.id))) or 0
                for model in (User,)}
        office = db.session.scalar(sa.select(Office).order_by(Office.id).limit(1))
        if office is None:
            if self.scale == "city":
                office = Office(name=f"{data.CITY_NAME}地方金融监督管理局",
                                region_code=data.CITY_CODE)
            else:
                office = Office(name=f"{data.PROVINCE_NAME}地方金融监督管理局",
                                region_code=data.PROVINCE_CODE)
            office.created_at = self.platform_start - 30 * DAY
            db.session.add(office)
            db.session.flush()
        self.office_user.office_id = office.id
        for i, user in enumerate(self.users, start=base[User] + 1):
            user.id = i

        password_hash = hash_password(data.DEMO_PASSWORD)  # once: scrypt is slow on purpose
        insert = _Inserter()
        insert(Bank, ({"id": b.id, "name": b.name, "kind": b.kind, "active": True,
                       "created_at": b.created_at} for b in self.banks))
        insert(bank_regions, ({"bank_id": b.id, "region_code": code}
                              for b in self.banks for code in b.regions))
        insert(BankBranch, ({"id": i, "bank_id": bank, "name": name, "region_code": region}
                            for i, bank, name, region in self.branches))
        insert(Enterprise, ({
            "id": e.id, "uscc": e.uscc, "name": e.name, "region_code": e.place.code,
            "industry_code": e.sector.industry_code, "size": e.size, "env_credit": e.env_credit,
            "contact_name": e.contact_name, "phone": e.phone, "email": e.email,
            "address": e.address, "created_at": e.created_at, "updated_at": e.created_at,
        } for e in self.enterprises))
        insert(User, ({
            "id": u.id, "email": u.email, "password_hash": password_hash, "name": u.name,
            "phone": u.phone, "role": u.role,
            "enterprise_id": u.enterprise.id if u.enterprise else None,
            "bank_id": u.bank.id if u.bank else None, "branch_id": u.branch_id,
            "office_id": u.office_id, "active": True,
            "session_token": secrets.token_urlsafe(32), "created_at": u.created_at,
            "password_changed_at": u.created_at, "last_login_at": None,
        } for u in self.users))
        insert(user_regions, ({"user_id": u.id, "region_code": code}
                              for u in self.users for code in u.regions))
        product_tokens = segment([product_text(p.name, p.description) for p in self.products])
        insert(Product, ({
            "id": p.id, "bank_id": p.bank.id, "name": p.name, "description": p.description,
            "search_tokens": product_tokens[i],
            "min_amount_wan": p.min_amount, "max_amount_wan": p.max_amount,
            "min_term_months": p.min_term, "max_term_months": p.max_term,
            "rate_min": p.rate_min, "rate_max": p.rate_max, "collateral": list(p.collateral),
            "enterprise_sizes": list(p.sizes), "min_env_credit": p.min_env_credit,
            "active": p.active, "created_by_id": p.bank.admin.id, "created_at": p.created_at,
            "updated_at": p.updated_at,
        } for i, p in enumerate(self.products)))
        insert(product_categories, ({"product_id": p.id, "category_code": code}
                                    for p in self.products for code in p.categories))
        insert(product_regions, ({"product_id": p.id, "region_code": code}
                                 for p in self.products for code in p.regions))
        need_tokens = segment([need_text(n.title, n.description) for n in self.needs])
        insert(Need, ({
            "id": n.id, "enterprise_id": n.enterprise.id, "created_by_id": n.enterprise.user.id,
            "title": n.title, "description": n.description, "purpose": n.purpose,
            "search_tokens": need_tokens[i],
            "amount_wan": n.amount, "term_months": n.term,
            "green_category_code": n.template.category, "collateral": list(n.collateral),
            "region_code": n.region, "rate_cap": n.rate_cap, "co2_reduction_t": n.co2,
            "coal_saving_tce": coal_saving(n.template.category, n.co2),
            "project_investment_wan": n.investment, "deadline": n.deadline, "status": n.status,
            "withdraw_reason": n.withdraw_reason, "created_at": n.created_at,
            "updated_at": n.updated_at, "published_at": n.published_at,
            "first_claimed_at": n.first_claimed_at, "escalated_at": n.escalated_at,
            "closed_at": n.closed_at,
        } for i, n in enumerate(self.needs)))
        insert(Claim, ({
            "id": c.id, "need_id": c.need.id, "bank_id": c.bank.id, "manager_id": c.manager.id,
            "product_id": c.product.id, "slot": c.slot, "status": c.status,
            "assigned_by_office": c.assigned, "claimed_at": c.claimed_at,
            "selected_at": c.selected_at, "contact_due_at": c.contact_due_at,
            "contacted_at": c.contacted_at, "credit_approved_at": c.credit_approved_at,
            "disbursed_at": c.disbursed_at, "declined_at": c.declined_at,
            "approved_amount_wan": c.approved_amount, "approved_rate": c.approved_rate,
            "disbursed_amount_wan": c.disbursed_amount, "decline_reason": c.decline_reason,
            "lapsed_at": c.lapsed_at, "cancelled_at": c.cancelled_at,
            "cancel_reason": c.cancel_reason, "note": c.note,
        } for c in self.claims))
        insert(ClaimEvent, ({
            "id": e.id, "claim_id": e.claim.id, "type": e.type, "amount_wan": e.amount,
            "rate": e.rate, "reason_code": e.reason, "note": e.note,
            "user_id": e.claim.manager.id, "created_at": e.created_at,
        } for e in self.events))
        insert(Rating, ({
            "id": r.id, "claim_id": r.claim.id, "need_id": r.claim.need.id,
            "bank_id": r.claim.bank.id, "enterprise_id": r.claim.need.enterprise.id,
            "stars": r.stars, "comment": r.comment, "created_at": r.created_at,
        } for r in self.ratings))
        _reset_sequences([Bank, BankBranch, Enterprise, User, Product, Need, Claim, ClaimEvent,
                          Rating])

        summary = {
            "scale": self.scale,
            "banks": len(self.banks),
            "bank_branches": len(self.branches),
            "products": len(self.products),
            "enterprises": len(self.enterprises),
            "users": len(self.users),
            "needs": len(self.needs),
            "claims": len(self.claims),
            "claim_events": len(self.events),
            "ratings": len(self.ratings),
        }
        statuses = Counter(n.status for n in self.needs)
        from matchmaker.office import facts

        db.session.flush()
        facts.refresh_all()
        record("demo.seeded", "database", self.scale,
               after=summary | {"needs_by_status": dict(sorted(statuses.items())),
                                "reference_time": self.ref.isoformat()})
        db.session.commit()
        return summary


class _Inserter:
    """Bulk Core inserts in chunks (executemany), through the session's transaction."""

    def __call__(self, target, rows: Iterable[dict]) -> int:
        table = target.__table__ if hasattr(target, "__table__") else target
        statement = sa.insert(table)
        chunk: list[dict] = []
        total = 0
        for row in rows:
            chunk.append(row)
            if len(chunk) >= CHUNK:
                db.session.execute(statement, chunk)
                total += len(chunk)
                chunk = []
        if chunk:
            db.session.execute(statement, chunk)
            total += len(chunk)
        return total


def _reset_sequences(models: list) -> None:
    """PostgreSQL: ids were given explicitly, so move each sequence past the largest one."""
    if db.engine.dialect.name != "postgresql":
        return
    for model in models:
        table = model.__table__
        sequence = sa.func.pg_get_serial_sequence(table.name, "id")
        largest = sa.select(sa.func.max(table.c.id)).scalar_subquery()
        db.session.execute(sa.select(sa.func.setval(sequence, sa.func.coalesce(largest, 1),
                                                    largest.is_not(None))))


def _affinity(sector: data.Sector, code: str) -> float:
    best, length = 1.0, 0
    for prefix, factor in sector.affinity.items():
        significant = prefix.rstrip("0") if len(prefix) == 6 and prefix.endswith("00") else prefix
        if code.startswith(significant) and len(significant) > length:
            best, length = factor, len(significant)
    return best


def _short_name(name: str) -> str:
    """安吉县 → 安吉, 景宁畲族自治县 → 景宁, 鹿城区 → 鹿城."""
    if name.endswith("自治县"):
        return name[:2]
    for suffix in ("区", "县", "市"):
        if name.endswith(suffix) and len(name) > 2:
            return name[: -len(suffix)]
    return name


__all__ = ["SCALES", "SeedRefused", "database_has_data", "print_logins", "seed"]
