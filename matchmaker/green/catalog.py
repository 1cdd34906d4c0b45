"""The 2019 green industry catalog as the package ships it (no database needed), cached."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class Item:
    code: str
    name: str
    level: int
    parent: str | None


@cache
def items() -> dict[str, Item]:
    """Every item of the 2019 catalog (6 / 30 / 211) by code, in the file's (catalog) order."""
    path = resources.files("matchmaker.reference") / "data" / "green_catalog_2019.tsv"
    with path.open(encoding="utf-8") as fh:
        return {
            row["code"]: Item(row["code"], row["name"], int(row["level"]), row["parent"] or None)
            for row in csv.DictReader(fh, delimiter="\t")
        }


@cache
def leaves() -> tuple[str, ...]:
    """The 211 third-level codes."""
    return tuple(code for code, item in items().items() if item.level == 3)


def name(code: str) -> str:
    item = items().get(code)
    return item.name if item else code


def leaves_under(code: str) -> tuple[str, ...]:
    """The third-level codes a code covers: itself for a leaf, its descendants for a branch."""
    return tuple(leaf for leaf in leaves() if leaf == code or leaf.startswith(code + "."))


def read_tsv(name: str) -> list[dict]:
    """A TSV file of `matchmaker/green/data/`; lines starting with # are comments."""
    path = resources.files("matchmaker.green") / "data" / name
    with path.open(encoding="utf-8") as fh:
        lines = [line for line in fh if line.strip() and not line.startswith("#")]
    return list(csv.DictReader(lines, delimiter="\t"))
