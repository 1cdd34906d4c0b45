"""The benchmark harness: `make bench` / `python -m bench [--scale city|province] [--only a,b]`.

Each figure is a function registered with `@figure(...)` (name, title, unit, targets). It gets a
`Context` (the seeded app, the scale, a logger) and returns a `Result`: metrics (numbers, keyed by
name), optional latency summaries and notes. The harness checks the targets against the metrics,
stamps each figure with its date and scale, merges it into bench/results.json (figures that did
not run keep their previous values) and renders BENCHMARKS.md.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field

OPERATORS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt,
             "==": operator.eq}


@dataclass(frozen=True)
class Target:
    """`metric op value`, e.g. Target("p95_ms", "<=", 20, "p95 ≤ 20 ms")."""

    metric: str
    op: str
    value: float
    text: str
    unit: str = ""

    def check(self, metrics: dict) -> bool | None:
        measured = metrics.get(self.metric)
        if measured is None:
            return None
        return bool(OPERATORS[self.op](measured, self.value))

    def to_json(self) -> dict:
        return {"metric": self.metric, "op": self.op, "value": self.value, "text": self.text,
                "unit": self.unit}


@dataclass
class Result:
    """What a figure function returns."""

    metrics: dict[str, float] = field(default_factory=dict)
    # Named latency summaries (see bench.stats.summarize), e.g. {"warm": {...}, "cold": {...}}.
    latencies: dict[str, dict] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skipped: str | None = None  # a reason: the figure could not run (e.g. no PostgreSQL)


@dataclass(frozen=True)
class Figure:
    name: str
    title: str
    unit: str
    targets: tuple[Target, ...]
    func: Callable
    # What the figure needs from the harness: "seeded" (the SQLite instance at the run's scale)
    # or "none" (it sets itself up, e.g. on PostgreSQL).
    needs: str = "seeded"
    description: str = ""
    # Metrics besides the targets' that the "earlier runs" table keeps (a fix's before/after).
    headline: tuple[str, ...] = ()


REGISTRY: dict[str, Figure] = {}


def figure(name: str, *, title: str, unit: str, targets=(), needs: str = "seeded",
           description: str = "", headline=()):
    """Register a figure function under `name` (order of registration is the report's order)."""

    def register(func: Callable) -> Callable:
        if name in REGISTRY:
            raise ValueError(f"figure {name!r} registered twice")
        REGISTRY[name] = Figure(name=name, title=title, unit=unit, targets=tuple(targets),
                                func=func, needs=needs, description=description,
                                headline=tuple(headline))
        return func

    return register


def load_figures() -> dict[str, Figure]:
    """Import every figure module (registration happens on import)."""
    import bench.figures  # noqa: F401

    return REGISTRY
