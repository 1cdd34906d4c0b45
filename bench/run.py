"""`python -m bench [--scale city|province] [--only a,b] [--list]`."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench import Figure, Result, load_figures, report
from bench.machine import code_version, machine_info

SCALES = ("city", "province")
DATASETS = {
    "city": "flask demo seed --scale city: 1,260 needs, 560 enterprises",
    "province": "flask demo seed --scale province: 100,000 needs, 2,160 products, 128 banks",
}


@dataclass
class Context:
    """What a figure function gets."""

    scale: str
    instance: Path | None = None  # the seeded instance (for figures with needs="seeded")
    options: dict = field(default_factory=dict)
    # Set-ups several figures of one run share (see `shared`), and how to close each.
    resources: dict = field(default_factory=dict)
    closers: list = field(default_factory=list)

    def log(self, message: str) -> None:
        print(f"    {message}", flush=True)

    def shared(self, key, make: Callable[[], tuple[Any, Callable[[], None]]]):
        """What `make()` returns for `key`, made by the first figure of the run that asks; `make`
        returns (value, close), and `close()` runs when the run ends (`close`)."""
        if key not in self.resources:
            value, close = make()
            self.resources[key] = value
            self.closers.append(close)
        return self.resources[key]

    def close(self) -> None:
        """Close the shared set-ups, last made first."""
        while self.closers:
            close = self.closers.pop()
            try:
                close()
            except Exception:  # the others must still be closed
                traceback.print_exc()
        self.resources.clear()

    def create_app(self, instance: Path | None = None, **overrides):
        """A fresh app (fresh engine, empty caches) on the seeded instance or on `instance`."""
        from bench.instance import app_overrides
        from matchmaker import create_app

        return create_app(app_overrides(instance or self.instance, **overrides))


def now_text() -> str:
    return datetime.now(timezone.utc).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")  # noqa: UP017


def run_figure(fig: Figure, ctx: Context, machine: dict, commit: str | None = None) -> dict:
    print(f"== {fig.name}: {fig.title}", flush=True)
    load_before = _load()
    started = time.perf_counter()
    try:
        result = fig.func(ctx)
    except Exception as exc:  # one broken figure must not lose the others
        traceback.print_exc()
        result = Result(skipped=None, warnings=[f"the figure failed: {type(exc).__name__}: {exc}"])
        result.metrics = {}
        failed = True
    else:
        failed = False
    seconds = time.perf_counter() - started
    checks = []
    for target in fig.targets:
        checks.append(target.to_json() | {"measured": result.metrics.get(target.metric),
                                          "met": None if result.skipped
                                          else target.check(result.metrics)})
    entry = {
        "name": fig.name, "title": fig.title, "unit": fig.unit, "description": fig.description,
        "date": now_text(), "scale": ctx.scale if fig.needs == "seeded" else "own setup",
        "machine": machine, "commit": commit, "seconds": round(seconds, 1),
        # Other processes on the machine skew latencies: the 1-minute load before and after.
        "load_avg": [load_before, _load()],
        "targets": [t.to_json() for t in fig.targets], "checks": checks,
        "headline": list(fig.headline),
        "met": (None if result.skipped or failed or not checks
                else all(c["met"] is True for c in checks)),
        "metrics": result.metrics, "latencies": result.latencies,
        "notes": result.notes, "warnings": result.warnings, "skipped": result.skipped,
        "failed": failed,
    }
    for check in checks:
        print(f"   {check['text']}: measured {check['measured']} {check['unit']} → "
              f"{ {True: 'met', False: 'NOT MET', None: 'n/a'}[check['met']] }", flush=True)
    for warning in result.warnings:
        print(f"   WARNING: {warning}", flush=True)
    if result.skipped:
        print(f"   skipped: {result.skipped}", flush=True)
    print(f"   ({seconds:.1f} s)", flush=True)
    return entry


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def main(argv: list[str] | None = None) -> int:
    figures = load_figures()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--scale", choices=SCALES,
                        default=os.environ.get("BENCH_SCALE") or "province",
                        help="demo data scale (default: $BENCH_SCALE or province)")
    parser.add_argument("--only", default="",
                        help=f"comma-separated figures to run (of: {', '.join(figures)})")
    parser.add_argument("--list", action="store_true", help="list the figures and exit")
    args = parser.parse_args(argv)
    if args.list:
        for fig in figures.values():
            print(f"{fig.name:20} {fig.title}  [{'; '.join(t.text for t in fig.targets)}]")
        return 0
    if args.scale not in SCALES:
        parser.error(f"BENCH_SCALE must be one of {', '.join(SCALES)}")
    selected = [name.strip() for name in args.only.split(",") if name.strip()] or list(figures)
    unknown = [name for name in selected if name not in figures]
    if unknown:
        parser.error(f"unknown figure(s): {', '.join(unknown)}; "
                     f"known: {', '.join(figures)}")
    logging.basicConfig(level=logging.WARNING)
    machine = machine_info()
    commit = code_version()
    load_at_start = _load()
    started = time.perf_counter()
    print(f"GreenMatch bench — scale {args.scale}, figures: {', '.join(selected)}", flush=True)
    ctx = Context(scale=args.scale)
    if any(figures[name].needs == "seeded" for name in selected):
        from bench.instance import ensure_seeded

        ctx.instance, info = ensure_seeded(args.scale)
        ctx.options["seed"] = info
    entries = {}
    try:
        for name in selected:
            entries[name] = run_figure(figures[name], ctx, machine, commit)
    finally:
        ctx.close()
    run = {"date": now_text(), "scale": args.scale, "dataset": DATASETS[args.scale],
           "figures": selected, "machine": machine, "commit": commit,
           "seconds": round(time.perf_counter() - started, 1),
           # Every figure ran (`make bench`): its duration is kept per scale (see report).
           "complete": not args.only, "load_avg": [load_at_start, _load()]}
    data = report.merge(report.load(), run, entries, list(figures))
    report.save(data)
    report.write_markdown(data)
    print(f"wrote {report.MARKDOWN.name} and bench/{report.RESULTS.name} "
          f"({run['seconds']:.0f} s)", flush=True)
    missed = [name for name, e in entries.items() if e["met"] is False or e["failed"]]
    if missed:
        print(f"targets not met / failed: {', '.join(missed)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
