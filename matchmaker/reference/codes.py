"""Code arithmetic and cached look-ups over the reference tables.

"Does X cover Y" is pure string arithmetic on the codes, so the search engines and SQL can use it
the same way: a region code covers the codes below it (330000 ⊇ 330500 ⊇ 330502) and a green
category covers its descendants (4 ⊇ 4.1 ⊇ 4.1.4).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from threading import Lock
from weakref import WeakKeyDictionary

import sqlalchemy as sa
from flask import current_app

REGION_CODE_RE = re.compile(r"^\d{6}$")
CATEGORY_CODE_RE = re.compile(r"^\d+(\.\d+){0,2}$")


def region_prefix(code: str) -> str:
    """The significant digits of a region code: 330000 → 33, 330500 → 3305, 330502 → 330502."""
    if code.endswith("0000"):
        return code[:2]
    if code.endswith("00"):
        return code[:4]
    return code


def region_covers(outer: str, inner: str) -> bool:
    return inner.startswith(region_prefix(outer))


def region_ancestors(code: str) -> list[str]:
    """The code and the codes that cover it, narrowest first: 330502 → [330502, 330500, 330000]."""
    chain = [code]
    if not code.endswith("00"):
        chain.append(code[:4] + "00")
    if not code.endswith("0000"):
        chain.append(code[:2] + "0000")
    return chain


def category_covers(outer: str, inner: str) -> bool:
    return inner == outer or inner.startswith(outer + ".")


def category_ancestors(code: str) -> list[str]:
    """4.1.4 → [4.1.4, 4.1, 4]."""
    parts = code.split(".")
    return [".".join(parts[:n]) for n in range(len(parts), 0, -1)]


def covers(outer: str, inner: str) -> bool:
    """One look-up for both code systems: regions are six digits, categories are dotted."""
    if REGION_CODE_RE.match(outer) and REGION_CODE_RE.match(inner):
        return region_covers(outer, inner)
    return category_covers(outer, inner)


def industry_section(code: str) -> str | None:
    """The GB/T 4754 section letter of a section or division code."""
    return _tables().industry_section.get(code)


@dataclass(frozen=True)
class RegionInfo:
    code: str
    name: str
    full_name: str
    level: int
    parent_code: str | None
    retired: bool


@dataclass(frozen=True)
class CategoryInfo:
    code: str
    name: str
    level: int
    parent_code: str | None


@dataclass(frozen=True)
class IndustryInfo:
    code: str
    name: str
    level: int
    parent_code: str | None


class _Tables:
    """Immutable reference rows loaded once per process and database."""

    def __init__(self, conn) -> None:
        self.regions = {
            r.code: RegionInfo(r.code, r.name, r.full_name, r.level, r.parent_code, r.retired)
            for r in conn.execute(
                sa.text(
                    "SELECT code, name, full_name, level, parent_code, retired FROM regions"
                )
            )
        }
        self.categories = {
            r.code: CategoryInfo(r.code, r.name, r.level, r.parent_code)
            for r in conn.execute(
                sa.text("SELECT code, name, level, parent_code FROM green_categories")
            )
        }
        self.industries = {
            r.code: IndustryInfo(r.code, r.name, r.level, r.parent_code)
            for r in conn.execute(sa.text("SELECT code, name, level, parent_code FROM industries"))
        }
        self.industry_section = {
            code: (info.code if info.level == 1 else info.parent_code)
            for code, info in self.industries.items()
        }
        self.sorted_categories: list[CategoryInfo] | None = None


_cache: dict[str, _Tables] = {}
_lock = Lock()
# The tables last found for each app: labels are looked up dozens of times per page, and
# finding the app's engine through Flask-SQLAlchemy costs more than the look-up itself.
_by_app: WeakKeyDictionary = WeakKeyDictionary()


def _tables() -> _Tables:
    app = current_app._get_current_object()
    tables = _by_app.get(app)
    if tables is None:
        tables = _tables_of_engine()
        if tables.categories and tables.regions:  # else not loaded yet: ask again next time
            _by_app[app] = tables
    return tables


def _tables_of_engine() -> _Tables:
    from matchmaker.extensions import db

    key = str(db.engine.url)  # reached once per app (see `_tables`)
    tables = _cache.get(key)
    if tables is None:
        with _lock:
            tables = _cache.get(key)
            if tables is None:
                with db.engine.connect() as conn:
                    tables = _Tables(conn)
                if tables.categories and tables.regions:
                    _cache[key] = tables
    return tables


def preload() -> None:
    """Load the tables now (an RQ worker does, before it forks a process per job)."""
    _tables()


def forget_cache() -> None:
    """After `flask reference sync` or in tests that rebuild a database under the same URL."""
    _cache.clear()
    _by_app.clear()


def region(code: str | None) -> RegionInfo | None:
    return _tables().regions.get(code) if code else None


def category(code: str | None) -> CategoryInfo | None:
    return _tables().categories.get(code) if code else None


def industry(code: str | None) -> IndustryInfo | None:
    return _tables().industries.get(code) if code else None


def normalize_industry_code(raw: str) -> str:
    """Accept "C", "38", "C38" and return the stored form ("C" or "38")."""
    raw = (raw or "").strip().upper()
    if len(raw) == 3 and raw[0].isalpha() and raw[1:].isdigit():
        return raw[1:]
    return raw


def current_regions(parent: str | None = None) -> list[RegionInfo]:
    """Current (not retired) regions directly under `parent`, or the provinces."""
    regions = _tables().regions.values()
    if parent is None:
        rows = [r for r in regions if not r.retired and r.level == 1]
    else:
        rows = [r for r in regions if not r.retired and r.parent_code == parent]
    return sorted(rows, key=lambda r: r.code)


def all_categories() -> list[CategoryInfo]:
    tables = _tables()
    if tables.sorted_categories is None:  # immutable: sorted once per tables
        tables.sorted_categories = sorted(tables.categories.values(),
                                          key=lambda c: _category_sort_key(c.code))
    return list(tables.sorted_categories)


def category_codes_under(code: str) -> list[str]:
    """The code and every catalogue code below it (3.4 → 3.4, 3.4.1, …): an IN list that an
    index on the code serves, where a LIKE on the prefix would scan the table."""
    return [code, *(c for c in _tables().categories if category_covers(code, c) and c != code)]


def all_industries() -> list[IndustryInfo]:
    return list(_tables().industries.values())


def _category_sort_key(code: str) -> tuple[int, ...]:
    return tuple(int(p) for p in code.split("."))


def region_label(code: str | None) -> str:
    info = region(code)
    return info.full_name if info else (code or "")


def category_label(code: str | None) -> str:
    info = category(code)
    return f"{info.code} {info.name}" if info else (code or "")
