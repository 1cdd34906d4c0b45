"""Load the reference tables from the files the package ships (and python-stdnum's GB/T 2260 table).

Idempotent: rows are inserted when missing and updated when changed, so it can run from the data
migration, from `flask reference sync`, and again after python-stdnum updates its table.
"""

from __future__ import annotations

import csv
import re
from importlib import resources

import sqlalchemy as sa

DATA = resources.files("matchmaker.reference") / "data"

regions_table = sa.table(
    "regions",
    sa.column("code"),
    sa.column("name"),
    sa.column("full_name"),
    sa.column("level"),
    sa.column("parent_code"),
    sa.column("retired"),
)
industries_table = sa.table(
    "industries", sa.column("code"), sa.column("name"), sa.column("level"), sa.column("parent_code")
)
categories_table = sa.table(
    "green_categories",
    sa.column("code"),
    sa.column("catalog"),
    sa.column("name"),
    sa.column("level"),
    sa.column("parent_code"),
)

# Names of grouping levels that add nothing to a full name.
_PLACEHOLDER_NAMES = {
    "市辖区", "县", "省直辖县级行政区划", "省直辖县级行政单位", "自治区直辖县级行政区划",
}
_NAME_RE = re.compile(r"^(?:\[(\d*)-(\d*)\])?(.*)$")


def _read_tsv(name: str) -> list[dict]:
    with (DATA / name).open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def green_categories() -> list[dict]:
    return [
        {
            "code": row["code"],
            "catalog": "2019",
            "name": row["name"],
            "level": int(row["level"]),
            "parent_code": row["parent"] or None,
        }
        for row in _read_tsv("green_catalog_2019.tsv")
    ]


def industries() -> list[dict]:
    return [
        {
            "code": row["code"],
            "name": row["name"],
            "level": int(row["level"]),
            "parent_code": row["parent"] or None,
        }
        for row in _read_tsv("industries_gbt4754_2017.tsv")
    ]


def _latest_name(raw: str) -> tuple[str, bool]:
    """`[1983-1987]城区,[2003-]吴兴区` → ("吴兴区", False); `[-2010]崇文区` → ("崇文区", True)."""
    latest = raw.split(",")[-1]
    match = _NAME_RE.match(latest)
    _start, end, name = match.groups()
    return name.strip(), bool(end)


def regions() -> list[dict]:
    """GB/T 2260 from python-stdnum's `cn/loc.dat`, with current and retired codes."""
    text = (resources.files("stdnum") / "cn" / "loc.dat").read_text(encoding="utf-8")
    entries: dict[str, tuple[str, bool]] = {}
    province = None
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if not line.startswith(" "):
            province = line.split()[0]
            continue
        suffix, _, rest = line.strip().partition(" ")
        match = re.search(r'county="([^"]*)"', rest)
        if province is None or not match:
            continue
        entries[province + suffix] = _latest_name(match.group(1))

    rows = []
    for code, (name, retired) in sorted(entries.items()):
        if code.endswith("0000"):
            level, parent = 1, None
        elif code.endswith("00"):
            level, parent = 2, code[:2] + "0000"
        else:
            level, parent = 3, code[:4] + "00"
            if parent not in entries:  # a county directly under its province
                parent = code[:2] + "0000"
        rows.append({"code": code, "name": name, "level": level, "parent_code": parent,
                     "retired": retired})

    by_code = {row["code"]: row for row in rows}
    for row in rows:
        names = []
        for ancestor in (row["code"][:2] + "0000", row["code"][:4] + "00"):
            if ancestor != row["code"] and ancestor in by_code:
                ancestor_name = by_code[ancestor]["name"]
                if ancestor_name not in _PLACEHOLDER_NAMES and ancestor_name not in names:
                    names.append(ancestor_name)
        if row["name"] not in names:
            names.append(row["name"])
        row["full_name"] = "".join(names)
    return rows


def _upsert(conn, table, rows: list[dict]) -> int:
    existing = {r.code: dict(r._mapping) for r in conn.execute(sa.select(table))}
    new = [row for row in rows if row["code"] not in existing]
    changed = [row for row in rows if row["code"] in existing and existing[row["code"]] != row]
    if new:
        conn.execute(sa.insert(table), new)
    for row in changed:
        conn.execute(sa.update(table).where(table.c.code == row["code"]).values(**row))
    return len(new) + len(changed)


def sync_reference_data(conn) -> dict[str, int]:
    """Insert or update every reference row; returns how many rows changed per table."""
    return {
        "green_categories": _upsert(conn, categories_table, green_categories()),
        "industries": _upsert(conn, industries_table, industries()),
        "regions": _upsert(conn, regions_table, regions()),
    }
