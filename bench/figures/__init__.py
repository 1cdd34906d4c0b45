"""Figure modules, one per area. Importing this package registers every figure; the report lists
them in this order. A later issue adds its module to MODULES."""

import importlib

MODULES = ("search", "claims", "dashboard", "notifications", "http")

for _module in MODULES:
    importlib.import_module(f"bench.figures.{_module}")
