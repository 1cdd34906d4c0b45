"""The finance office's dashboard: every query behind one page view, on PostgreSQL (as a
province would deploy it) and on the embedded SQLite for comparison."""

from __future__ import annotations

import os
from datetime import date

import sqlalchemy as sa

from bench import Result, Target, figure
from bench.stats import Timer, summarize

FILTER_SETS = ("none (all time)", "one year", "one city", "category and size", "one bank")


def _filter_sets(stats, busiest_bank: int) -> dict:
    return dict(zip(FILTER_SETS, (
        stats.Filters(),
        stats.Filters(start=date(2025, 1, 1), end=date(2025, 12, 31)),
        stats.Filters(region_code="330500"),
        stats.Filters(category="4", size="small"),
        stats.Filters(bank_id=busiest_bank),
    ), strict=True))


def _measure(app, result: Result, label: str, repeats: int) -> dict:
    """Times Report.build plus the filter choices for each filter set; returns the summary."""
    from matchmaker.banks.queries import bank_choices
    from matchmaker.extensions import db
    from matchmaker.office import queries, reports, stats

    with app.app_context():
        ranking = stats.banks(stats.Filters())
        if not ranking:
            return {}
        overall = Timer()
        for name, filters in _filter_sets(stats, ranking[0]["bank_id"]).items():
            timer = Timer()
            for attempt in range(repeats + 1):
                db.session.remove()
                with timer():
                    report = reports.Report.build(filters)
                    queries.need_region_choices()
                    bank_choices()
                if attempt:  # the first is a warm-up
                    overall.samples.append(timer.samples[-1])
            result.latencies[f"{label}: {name}"] = summarize(timer.samples[1:])
            result.notes.append(f"{label}, {name}: {report.summary['needs_posted']:,} needs "
                                f"in the cohort, {len(report.banks)} banks ranked")
        db.session.remove()
        db.engine.dispose()
    summary = summarize(overall.samples)
    result.latencies[f"{label}: all filter sets"] = summary
    return summary


@figure(
    "dashboard", title="Office dashboard (all its queries)", unit="ms", needs="seeded",
    targets=[Target("p95_ms", "<=", 500,
                    "PostgreSQL: all queries of one view p95 ≤ 500 ms", "ms")],
    description=(
        "`matchmaker.office.reports.Report.build(filters)` — the summary KPIs, the four "
        "breakdowns (category, region, month, industry) and the bank ranking, i.e. every query "
        "of one dashboard view and of an export — plus the filter choices (regions with needs, "
        "banks). Five filter sets (all time; one year; one city; one top-level category and "
        "size; one bank), each timed 8 times after a warm-up, each in a fresh session. On "
        "PostgreSQL (BENCH_DATABASE_URL's server, database `<name>_dashboard_<scale>`, seeded "
        "once with the demo at the run's scale and kept while the code's marker matches) — the "
        "target — and on the seeded SQLite instance for comparison."),
)
def dashboard(ctx, repeats: int = 8) -> Result:
    from bench.figures.claims import DEFAULT_DATABASE_URL, _safe
    from bench.instance import BENCH_DIR, ensure_seeded_postgres
    from matchmaker.config import database_uri

    result = Result()
    raw = os.environ.get("BENCH_DATABASE_URL") or DEFAULT_DATABASE_URL
    url = sa.engine.make_url(database_uri(raw, "/nonexistent"))
    if url.drivername.startswith("postgresql"):
        url = url.set(database=f"{url.database}_dashboard_{ctx.scale}")
        rendered = url.render_as_string(hide_password=False)
        try:
            ensure_seeded_postgres(ctx.scale, rendered, log=ctx.log)
        except sa.exc.OperationalError as exc:
            result.warnings.append(f"PostgreSQL at {_safe(url)} is unreachable: "
                                   f"{str(exc.orig).strip().splitlines()[0]}")
        else:
            app = ctx.create_app(BENCH_DIR / f".instance-{ctx.scale}-pg",
                                 SQLALCHEMY_DATABASE_URI=rendered)
            pg = _measure(app, result, "PostgreSQL", repeats)
            if pg:
                result.metrics.update({"p50_ms": pg["p50_ms"], "p95_ms": pg["p95_ms"],
                                       "p99_ms": pg["p99_ms"]})
    else:
        result.warnings.append(f"BENCH_DATABASE_URL is not PostgreSQL ({_safe(url)})")
    lite = _measure(ctx.create_app(), result, "SQLite", repeats)
    if lite:
        result.metrics["sqlite_p95_ms"] = lite["p95_ms"]
    if "p95_ms" not in result.metrics and not lite:
        result.skipped = "no claims in the dataset"
    return result
