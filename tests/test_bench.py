"""The benchmark harness (bench/): report rendering and one cheap figure on the test app.

Structure only: speed targets are `make bench`'s business, never the test suite's.
"""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from bench import Result, Target, load_figures, report
from bench.run import Context, run_figure
from bench.stats import percentile, summarize

MACHINE = {"cpu": "Test CPU", "cores": 2, "ram_gb": 24.0, "os": "Linux", "python": "3.11",
           "sqlite": "3.40"}


def fake_entry(name: str, p95: float | None, date: str, scale: str = "city",
               skipped: str | None = None) -> dict:
    target = Target("p95_ms", "<=", 20, "p95 ≤ 20 ms", "ms")
    metrics = {} if p95 is None else {"p95_ms": p95, "extra_count": 7}
    return {
        "name": name, "title": f"Title of {name}", "unit": "ms", "description": "What it does.",
        "date": date, "scale": scale, "machine": MACHINE, "seconds": 1.5,
        "targets": [target.to_json()],
        "checks": [] if skipped else [target.to_json() | {"measured": p95,
                                                           "met": target.check(metrics)}],
        "met": None if skipped else target.check(metrics), "metrics": metrics,
        "latencies": {} if skipped else {"warm": summarize([0.001, 0.002, 0.003])},
        "notes": ["a note"], "warnings": ["a warning"] if p95 and p95 > 20 else [],
        "skipped": skipped, "failed": False,
    }


def test_percentiles_match_statistics_quantiles():
    values = [float(v) for v in (5, 1, 9, 3, 7, 2, 8, 4, 6, 10, 30, 11)]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    for p in (50, 95, 99):
        assert percentile(values, p) == pytest.approx(cuts[p - 1])
    summary = summarize([0.001, 0.003])
    assert summary["n"] == 2 and summary["p50_ms"] == pytest.approx(2.0)
    assert set(summary) == {"n", "mean_ms", "p50_ms", "p95_ms", "p99_ms", "min_ms", "max_ms"}


def test_targets_check_their_metric():
    target = Target("speedup", ">=", 10, "≥ 10×", "×")
    assert target.check({"speedup": 12.0}) is True
    assert target.check({"speedup": 9.9}) is False
    assert target.check({}) is None


def test_merge_keeps_other_figures_and_render_shows_each(tmp_path: Path):
    old = {"format": report.FORMAT, "figures": {
        "alpha": fake_entry("alpha", 30.0, "2026-01-01 10:00:00 UTC", scale="province"),
        "gamma": fake_entry("gamma", None, "2026-01-01 10:00:00 UTC", skipped="no PostgreSQL"),
    }}
    path = tmp_path / "results.json"
    report.save(old, path)
    run = {"date": "2026-02-02 09:00:00 UTC", "scale": "city", "figures": ["beta"],
           "machine": MACHINE, "dataset": "city data"}
    data = report.merge(report.load(path), run,
                        {"beta": fake_entry("beta", 12.5, "2026-02-02 09:00:00 UTC")},
                        order=["beta", "alpha", "gamma"])
    assert list(data["figures"]) == ["beta", "alpha", "gamma"]
    # The figure that did not run keeps its own date and scale.
    assert data["figures"]["alpha"]["date"] == "2026-01-01 10:00:00 UTC"
    assert data["figures"]["alpha"]["scale"] == "province"
    report.save(data, path)
    assert report.load(path) == data

    text = report.render(data)
    assert text.startswith("# GreenMatch benchmarks")
    assert "Test CPU, 2 cores, 24.00 GB RAM" in text
    for name in ("beta", "alpha", "gamma"):
        assert f"## `{name}` — Title of {name}" in text
    assert "| `beta` | p95_ms = 12.50 ms | p95 ≤ 20 ms | ✅ met | city |" in text
    assert "| `alpha` | p95_ms = 30.00 ms | p95 ≤ 20 ms | ❌ not met | province |" in text
    assert "**Skipped:** no PostgreSQL" in text
    assert "| warm | 3 |" in text and "| extra_count | 7 |" in text
    assert "> ⚠️ a warning" in text


def test_load_tolerates_missing_or_foreign_files(tmp_path: Path):
    assert report.load(tmp_path / "absent.json") == {"format": report.FORMAT, "figures": {}}
    (tmp_path / "bad.json").write_text("not json")
    assert report.load(tmp_path / "bad.json")["figures"] == {}


def test_registry_names_targets_and_units():
    figures = load_figures()
    for name in ("need_to_products", "lead_inbox", "reindex", "search_visibility",
                 "claim_contention", "http", "notification_throughput"):
        assert name in figures
        assert figures[name].targets and figures[name].unit
    assert figures["claim_contention"].needs == "none"


class AppContext(Context):
    """A Context whose app is the test app (the figure opens its own app context on it)."""

    def __init__(self, app):
        super().__init__(scale="test")
        self.app = app

    def create_app(self, instance=None, **overrides):
        return self.app


@pytest.mark.sqlite_only
def test_need_to_products_figure_runs_on_a_small_dataset(app, make):
    bank = make.bank()
    admin = make.bank_user(bank, role="bank_admin")
    make.product(bank, admin)
    make.product(bank, admin, name="绿色林业贷", max_amount_wan="500.00")
    other = make.bank()
    make.product(other, green_categories=["4"], collateral=["credit"])
    _, account = make.enterprise()
    for amount in ("50.00", "150.50", "180.00"):
        make.need(account, amount_wan=amount)

    figure = load_figures()["need_to_products"]
    result = figure.func(AppContext(app), sample_size=3, baseline_size=3, warmup=1)
    assert isinstance(result, Result) and result.skipped is None
    assert result.metrics["sample_needs"] == 3 and result.metrics["baseline_needs"] == 3
    assert result.metrics["products"] == 3
    assert result.metrics["same_top_result"] == 3  # engine and naive scan agree
    assert result.metrics["needs_without_matches"] == 0
    assert result.metrics["speedup"] > 0
    for summary in result.latencies.values():
        assert summary["n"] and summary["p50_ms"] <= summary["p95_ms"] <= summary["p99_ms"]

    entry = run_figure(figure, AppContext(app), MACHINE)
    assert entry["name"] == "need_to_products" and entry["scale"] == "test"
    assert [c["metric"] for c in entry["checks"]] == ["p95_ms", "speedup"]
    assert all(c["met"] in (True, False) for c in entry["checks"])
    assert entry["failed"] is False and entry["date"]


@pytest.mark.parametrize("name, metrics", [
    ("notification_latency", {"p95_ms", "errors"}),
    ("notification_throughput", {"errors"}),
])
def test_notification_figures_are_registered_and_skip_without_their_services(monkeypatch, name,
                                                                              metrics):
    import bench.figures.notifications  # noqa: F401  (registers it whatever MODULES lists)

    figure = load_figures()[name]
    assert figure.needs == "none"
    assert {t.metric for t in figure.targets} == metrics
    # Not PostgreSQL: skipped before anything is touched.
    monkeypatch.setenv("BENCH_DATABASE_URL", "sqlite:///nowhere.db")
    ctx = Context(scale="city")
    result = figure.func(ctx)
    assert result.skipped and "must be PostgreSQL" in result.skipped
    ctx.close()
    # No Redis there (a closed port): skipped with the reason, nothing seeded.
    monkeypatch.setenv("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:9/unused")
    monkeypatch.setenv("BENCH_REDIS_URL", "redis://127.0.0.1:9/14")
    ctx = Context(scale="city")
    result = figure.func(ctx)
    assert result.skipped and "Redis at redis://127.0.0.1:9/14 is unreachable" in result.skipped
    # The set-up is shared by the module's figures: the second asks once more, gets the reason.
    assert figure.func(ctx).skipped == result.skipped
    ctx.close()


def test_merge_keeps_each_figure_s_earlier_runs_and_renders_them():
    old = {"format": report.FORMAT, "figures": {
        "alpha": fake_entry("alpha", 30.0, "2026-01-01 10:00:00 UTC", scale="province")
        | {"commit": "abc1234", "load_avg": [3.5, 4.0]}}}
    run = {"date": "2026-02-02 09:00:00 UTC", "scale": "province", "figures": ["alpha"],
           "machine": MACHINE}
    data = report.merge(old, run, {"alpha": fake_entry("alpha", 12.5, "2026-02-02 09:00:00 UTC")
                                   | {"commit": "def5678"}}, order=["alpha"])
    history = data["figures"]["alpha"]["history"]
    assert history == [{"date": "2026-01-01 10:00:00 UTC", "commit": "abc1234",
                        "scale": "province", "load_avg": [3.5, 4.0], "met": False,
                        "skipped": False, "failed": False, "measured": {"p95_ms": 30.0}}]
    again = report.merge(data, run, {"alpha": fake_entry("alpha", 11.0, "2026-02-03")},
                         order=["alpha"])
    assert [h["measured"]["p95_ms"] for h in again["figures"]["alpha"]["history"]] == [30.0,
                                                                                       12.5]
    text = report.render(again)
    assert "Earlier runs (newest first):" in text
    assert text.index("| 2026-02-02 09:00:00 UTC | def5678 | city |") < text.index(
        "| 2026-01-01 10:00:00 UTC | abc1234 | province | 3.50 → 4.00 | 30.00 | ❌ not met |")


def test_shared_set_ups_are_made_once_and_closed_last_first():
    ctx = Context(scale="city")
    closed = []
    made = []

    def make(name):
        made.append(name)
        return name.upper(), lambda: closed.append(name)

    assert ctx.shared("a", lambda: make("a")) == "A"
    assert ctx.shared("a", lambda: make("a")) == "A"
    assert ctx.shared("b", lambda: make("b")) == "B"
    ctx.close()
    assert made == ["a", "b"] and closed == ["b", "a"] and not ctx.resources


def test_http_figure_fails_loudly_without_wrk(monkeypatch):
    import shutil

    figure = load_figures()["http"]
    assert figure.needs == "seeded"
    assert {t.metric for t in figure.targets} == {"inbox_rps", "inbox_p95_ms", "inbox_vs_healthz",
                                                  "web_worker_peak_rss_mb", "errors"}
    monkeypatch.setattr(shutil, "which", lambda name: None)
    entry = run_figure(figure, Context(scale="city"), MACHINE)
    assert entry["failed"] is True and entry["met"] is None
    assert "apt-get install wrk" in entry["warnings"][0]


def test_session_cookie_is_read_from_set_cookie_headers():
    from bench.figures.http import _session_cookie

    headers = [("Content-Type", "text/html"),
               ("Set-Cookie", "session=abc.def; HttpOnly; Path=/; SameSite=Lax")]
    assert _session_cookie(headers, "session=old") == "session=abc.def"
    assert _session_cookie([("Content-Type", "text/html")], "session=old") == "session=old"


def test_http_slices_of_a_page_merge_into_one_run():
    from bench.figures.http import merge_slices

    def part(requests, latency_ms, seconds, cpu_s, **errors):
        return {"requests": requests, "duration_us": seconds * 1e6, "bytes": requests * 10,
                "not_200": 0, "connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0,
                "errors": sum(errors.values()), **errors, "mean_ms": latency_ms,
                "min_ms": latency_ms, "max_ms": latency_ms, "cpu_s": cpu_s,
                "points_us": [latency_ms * 1000] * 1000}

    fast, slow = part(100, 10, 5, 1.0), part(300, 30, 5, 3.0, timeout=2)
    merged = merge_slices([fast, slow])
    assert merged["requests"] == 400 and merged["rps"] == 40.0 and merged["errors"] == 2
    assert merged["timeout"] == 2 and merged["slices"] == 2
    assert merged["p50_ms"] == 30.0 and merged["p95_ms"] == 30.0
    assert merge_slices([fast, part(100, 30, 5, 1.0)])["p50_ms"] == 10.0
    assert merged["mean_ms"] == 25.0 and merged["min_ms"] == 10 and merged["max_ms"] == 30
    assert merged["cpu_ms"] == 10.0
    assert merge_slices([part(0, 0, 5, 0.0)])["rps"] == 0.0


def test_a_complete_run_s_duration_is_kept_per_scale_and_checked_against_the_budget():
    run = {"date": "2026-02-02 09:00:00 UTC", "scale": "city", "figures": ["alpha"],
           "machine": MACHINE, "seconds": 241.0, "complete": True, "commit": "abc1234",
           "load_avg": [1.5, 2.25]}
    data = report.merge({}, run, {"alpha": fake_entry("alpha", 12.5, run["date"])}, ["alpha"])
    partial = dict(run, seconds=12.0, complete=False, date="2026-02-03 09:00:00 UTC")
    data = report.merge(data, partial, {"alpha": fake_entry("alpha", 12.0, "x")}, ["alpha"])
    assert data["complete_runs"]["city"]["seconds"] == 241.0  # an --only run does not count
    text = report.render(data)
    assert ("- **`BENCH_SCALE=city make bench`** (every figure) took **4 min 01 s** on "
            "2026-02-02 09:00:00 UTC (code abc1234; 1-min load average 1.50 → 2.25): ✅ within "
            "the quick run's budget of 5 min 00 s.") in text
    slow = report.merge(data, dict(run, seconds=301.0), {}, ["alpha"])
    assert "took **5 min 01 s**" in report.render(slow) and "❌ over" in report.render(slow)


def test_earlier_runs_keep_the_figure_s_headline_metrics_too():
    old = {"format": report.FORMAT, "figures": {
        "alpha": fake_entry("alpha", 30.0, "2026-01-01 10:00:00 UTC")}}  # before `headline`
    new = fake_entry("alpha", 12.5, "2026-02-02 09:00:00 UTC") | {"headline": ["extra_count"]}
    data = report.merge(old, {"date": "x", "scale": "city"}, {"alpha": new}, ["alpha"])
    assert data["figures"]["alpha"]["history"][0]["measured"] == {"p95_ms": 30.0,
                                                                  "extra_count": 7}
    assert "| Date | Code | Scale | Load | p95_ms | extra_count | Status |" in report.render(data)


def test_the_machine_line_names_the_calibration_loop_when_measured():
    from bench.machine import calibration_ms

    assert "calibration" not in report._machine_line(MACHINE)
    measured = calibration_ms()
    assert 0 < measured < 10_000
    line = report._machine_line(dict(MACHINE, calibration_ms=measured))
    assert line.endswith(f"; calibration loop {measured} ms (bench/machine.py)")
