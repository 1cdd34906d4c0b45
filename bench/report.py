"""bench/results.json (machine-readable, merged across runs) and BENCHMARKS.md (for people)."""

from __future__ import annotations

import json
from pathlib import Path

from matchmaker.config import PROJECT_ROOT

RESULTS = PROJECT_ROOT / "bench" / "results.json"
MARKDOWN = PROJECT_ROOT / "BENCHMARKS.md"
FORMAT = 1


def load(path: Path = RESULTS) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {"format": FORMAT, "figures": {}}
    if data.get("format") != FORMAT or not isinstance(data.get("figures"), dict):
        return {"format": FORMAT, "figures": {}}
    return data


# Earlier runs kept per figure (their target metrics only), newest last.
HISTORY = 30
# `BENCH_SCALE=city make bench` (every figure) must take less than this.
QUICK_RUN_BUDGET_SECONDS = 300


def merge(previous: dict, run: dict, figures: dict[str, dict], order: list[str]) -> dict:
    """The new results: this run's figures replace theirs; the others keep their old entries
    (each stamped with its own date, scale and machine). A replaced entry moves, in short, to
    the new one's `history` (before/after a change, measured by the harness only). Registry
    order first, then leftovers."""
    merged = dict(previous.get("figures", {}))
    for name, entry in figures.items():
        old = merged.get(name)
        history = list((old or {}).get("history", []))
        if old is not None:
            history.append(history_item(old, entry.get("headline", ())))
        merged[name] = dict(entry, history=history[-HISTORY:])
    ordered = {name: merged[name] for name in order if name in merged}
    ordered.update({k: v for k, v in merged.items() if k not in ordered})
    complete = dict(previous.get("complete_runs", {}))
    if run.get("complete"):
        complete[run["scale"]] = {key: run.get(key) for key in
                                  ("date", "seconds", "commit", "load_avg", "machine")}
    return {"format": FORMAT, "last_run": run, "complete_runs": complete, "figures": ordered}


def history_item(entry: dict, headline=()) -> dict:
    """An entry in short: when, which code, which scale and load, its target metrics and the
    figure's headline metrics (`headline`: the figure's current list)."""
    measured = {check["metric"]: check.get("measured")
                for check in entry.get("checks", []) if check.get("metric")}
    for name in (*entry.get("headline", ()), *headline):
        if name not in measured and name in entry.get("metrics", {}):
            measured[name] = entry["metrics"][name]
    return {
        "date": entry.get("date"), "commit": entry.get("commit"), "scale": entry.get("scale"),
        "load_avg": entry.get("load_avg"), "met": entry.get("met"),
        "skipped": bool(entry.get("skipped")), "failed": bool(entry.get("failed")),
        "measured": measured,
    }


def save(data: dict, path: Path = RESULTS) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _number(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 100:
            return f"{value:.1f}"
        return f"{value:.2f}"
    return str(value)


def _status(met) -> str:
    return {True: "✅ met", False: "❌ not met", None: "— n/a"}[met]


def _machine_line(machine: dict) -> str:
    line = (f"{machine.get('cpu', '?')}, {machine.get('cores', '?')} cores, "
            f"{_number(machine.get('ram_gb'))} GB RAM; {machine.get('os', '?')}; "
            f"Python {machine.get('python', '?')}, SQLite {machine.get('sqlite', '?')}")
    if machine.get("calibration_ms") is not None:
        line += f"; calibration loop {machine['calibration_ms']} ms (bench/machine.py)"
    return line


def render(data: dict) -> str:
    run = data.get("last_run", {})
    figures = data.get("figures", {})
    lines = [
        "# GreenMatch benchmarks",
        "",
        "Written by `make bench` (`python -m bench`); do not edit by hand. "
        "Machine-readable: `bench/results.json`.",
        "",
    ]
    if run:
        lines += [
            f"- **Last run:** {run.get('date', '?')}, scale **{run.get('scale', '?')}**"
            + (f" ({run['dataset']})" if run.get("dataset") else "")
            + (f", figures: {', '.join(run.get('figures', []))}" if run.get("figures") else ""),
            f"- **Machine:** {_machine_line(run.get('machine', {}))}",
            "",
        ]
    lines += _complete_runs(data.get("complete_runs", {}))
    lines += ["## Summary", "",
              "| Figure | Measured | Target | Status | Scale | Date |",
              "|---|---|---|---|---|---|"]
    for name, fig in figures.items():
        if fig.get("skipped"):
            lines.append(f"| `{name}` | skipped | "
                         f"{'; '.join(t['text'] for t in fig.get('targets', []))} | — skipped | "
                         f"{fig.get('scale', '?')} | {fig.get('date', '?')} |")
            continue
        for check in fig.get("checks", []) or [{"text": "—", "measured": None, "met": None}]:
            measured = check.get("measured")
            unit = check.get("unit", "")
            shown = f"{_number(measured)} {unit}".strip() if measured is not None else "—"
            lines.append(f"| `{name}` | {check.get('metric', '')} = {shown} | {check['text']} | "
                         f"{_status(check.get('met'))} | {fig.get('scale', '?')} | "
                         f"{fig.get('date', '?')} |")
    lines.append("")
    for name, fig in figures.items():
        lines += _figure_section(name, fig, run)
    return "\n".join(lines).rstrip() + "\n"


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


def _complete_runs(complete: dict) -> list[str]:
    """How long the last run of every figure took, per scale (the quick run has a budget)."""
    lines = []
    for scale in ("city", "province"):
        run = complete.get(scale)
        if not run or run.get("seconds") is None:
            continue
        load = run.get("load_avg") or []
        text = (f"- **`BENCH_SCALE={scale} make bench`** (every figure) took "
                f"**{_duration(run['seconds'])}** on {run.get('date', '?')}")
        if run.get("commit"):
            text += f" (code {run['commit']}"
            if len(load) == 2 and None not in load:
                text += f"; 1-min load average {load[0]:.2f} → {load[1]:.2f}"
            text += ")"
        if scale == "city":
            within = run["seconds"] < QUICK_RUN_BUDGET_SECONDS
            text += (f": {'✅ within' if within else '❌ over'} the quick run's budget of "
                     f"{_duration(QUICK_RUN_BUDGET_SECONDS)}")
        lines.append(text + ".")
    return [*lines, ""] if lines else []


def _figure_section(name: str, fig: dict, run: dict) -> list[str]:
    lines = [f"## `{name}` — {fig.get('title', '')}", ""]
    if fig.get("description"):
        lines += [fig["description"], ""]
    stamp = f"Measured {fig.get('date', '?')} at scale **{fig.get('scale', '?')}**"
    if fig.get("commit"):
        stamp += f" (code {fig['commit']})"
    if fig.get("machine") and fig.get("machine") != run.get("machine"):
        stamp += f" on {_machine_line(fig['machine'])}"
    if fig.get("seconds") is not None:
        stamp += f" (took {fig['seconds']:.1f} s"
        load = fig.get("load_avg") or []
        if len(load) == 2 and None not in load:
            stamp += f"; 1-min load average {load[0]:.2f} → {load[1]:.2f}"
        stamp += ")"
    lines += [stamp + ".", ""]
    if fig.get("skipped"):
        lines += [f"**Skipped:** {fig['skipped']}", ""]
        return lines
    if fig.get("checks"):
        lines += ["| Target | Measured | Status |", "|---|---|---|"]
        for check in fig["checks"]:
            lines.append(f"| {check['text']} | {_number(check.get('measured'))} "
                         f"{check.get('unit', '')} | {_status(check.get('met'))} |")
        lines.append("")
    if fig.get("latencies"):
        lines += ["| Latency (ms) | n | mean | p50 | p95 | p99 | min | max |",
                  "|---|---|---|---|---|---|---|---|"]
        for label, s in fig["latencies"].items():
            lines.append(f"| {label} | {s.get('n', 0)} | " + " | ".join(
                _number(s.get(k)) for k in ("mean_ms", "p50_ms", "p95_ms", "p99_ms", "min_ms",
                                            "max_ms")) + " |")
        lines.append("")
    other = {k: v for k, v in fig.get("metrics", {}).items()
             if k not in {c.get("metric") for c in fig.get("checks", [])}}
    if other:
        lines += ["| Metric | Value |", "|---|---|"]
        lines += [f"| {k} | {_number(v)} |" for k, v in other.items()]
        lines.append("")
    for warning in fig.get("warnings", []):
        lines.append(f"> ⚠️ {warning}")
    if fig.get("warnings"):
        lines.append("")
    for note in fig.get("notes", []):
        lines.append(f"- {note}")
    if fig.get("notes"):
        lines.append("")
    lines += _history(fig)
    return lines


def _history(fig: dict) -> list[str]:
    """Earlier runs of the figure, newest first, with the target metrics."""
    history = fig.get("history") or []
    if not history:
        return []
    metrics = [c["metric"] for c in fig.get("checks", []) if c.get("metric")]
    metrics += [m for m in fig.get("headline", []) if m not in metrics]
    for item in history:
        metrics += [m for m in item.get("measured", {}) if m not in metrics]
    lines = ["Earlier runs (newest first):", "",
             "| Date | Code | Scale | Load | " + " | ".join(metrics) + " | Status |",
             "|---|---|---|---|" + "---|" * len(metrics) + "---|"]
    for item in reversed(history):
        load = item.get("load_avg") or []
        load_text = (f"{load[0]:.2f} → {load[1]:.2f}" if len(load) == 2 and None not in load
                     else "—")
        status = ("skipped" if item.get("skipped") else "failed" if item.get("failed")
                  else _status(item.get("met")))
        lines.append(f"| {item.get('date', '?')} | {item.get('commit') or '—'} | "
                     f"{item.get('scale', '?')} | {load_text} | "
                     + " | ".join(_number(item.get("measured", {}).get(m)) for m in metrics)
                     + f" | {status} |")
    return [*lines, ""]


def write_markdown(data: dict, path: Path = MARKDOWN) -> None:
    path.write_text(render(data), encoding="utf-8")
