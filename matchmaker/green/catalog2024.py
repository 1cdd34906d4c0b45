"""The 2024 catalog's top level and the mapping of 2019 codes onto it, for reports.

Needs and products keep 2019 codes; a report that groups by the 2024 top level maps each need's
2019 code through `data/catalog_2019_to_2024.tsv` (a row per 2019 branch, with item overrides).
A 2019 code maps to a 2024 top level when every third-level item it covers maps to that one; a
code whose items spread over several (the 2019 top levels 1 and 2) maps to none and is shown
apart under its 2019 top level.
"""

from __future__ import annotations

from functools import cache

from matchmaker.green import catalog

UNMAPPED_PREFIX = "2019:"  # report key of a 2019 code without a single 2024 top level


@cache
def tops() -> dict[str, str]:
    """The 2024 top level: code → name, "1" 节能降碳产业 … "7" 绿色服务."""
    return {row["code"]: row["name"] for row in catalog.read_tsv("catalog_2024.tsv")}


@cache
def _rows() -> dict[str, str]:
    return {row["code_2019"]: row["code_2024"]
            for row in catalog.read_tsv("catalog_2019_to_2024.tsv")}


@cache
def leaf_map() -> dict[str, str]:
    """Every 2019 third-level code → its 2024 top-level code."""
    rows = _rows()
    out = {}
    for leaf in catalog.leaves():
        branch = leaf.rsplit(".", 1)[0]
        if leaf in rows:
            out[leaf] = rows[leaf]
        elif branch in rows:
            out[leaf] = rows[branch]
    return out


@cache
def top_2024(code_2019: str) -> str | None:
    """The 2024 top level of a 2019 code of any level, or None when its items spread over
    several (or the code is unknown)."""
    leaves = catalog.leaves_under(code_2019)
    targets = {leaf_map().get(leaf) for leaf in leaves}
    if len(targets) == 1 and None not in targets:
        return targets.pop()
    return None


def report_key(code_2019: str | None) -> str:
    """The key a need of this 2019 code is counted under: a 2024 top-level code, or
    "2019:<its 2019 top level>" when there is no single 2024 top level."""
    if not code_2019:
        return UNMAPPED_PREFIX + "?"
    return top_2024(code_2019) or UNMAPPED_PREFIX + code_2019.split(".")[0]


def label(key: str) -> str:
    if key.startswith(UNMAPPED_PREFIX):
        top = key[len(UNMAPPED_PREFIX):]
        return f"未能唯一对应：2019 目录「{top} {catalog.name(top)}」下未细分到可对应层级的需求"
    return f"{key} {tops().get(key, key)}"
