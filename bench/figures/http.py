"""Pages over HTTP as a deployment serves them: gunicorn, a bank manager's session, wrk."""

from __future__ import annotations

import http.client
import http.cookies
import json
import os
import re
import shutil
import subprocess
import tempfile
import urllib.parse
from pathlib import Path

from bench import Result, Target, figure

USER_AGENT = "GreenMatch-bench/1 (wrk)"
WRK_INSTALL = "install wrk (Debian/Ubuntu: `apt-get install wrk`; macOS: `brew install wrk`)"

# wrk's own summary plus every status other than 200 (wrk counts only >= 400 as errors: a 302 to
# the login page would otherwise pass for a served page). One JSON line, read by `_wrk`.
WRK_SCRIPT = r"""
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  not_200 = 0
end

function response(status, headers, body)
  if status ~= 200 then
    not_200 = not_200 + 1
  end
end

function done(summary, latency, requests)
  local other = 0
  for _, thread in ipairs(threads) do
    other = other + thread:get("not_200")
  end
  local e = summary.errors
  -- The latency distribution as 1,000 points (p0.1 … p99.9 and the max): the slices of one
  -- page are merged into its percentiles by `merge_slices`.
  local points = {}
  for i = 1, 999 do
    points[i] = latency:percentile(i / 10)
  end
  points[1000] = latency.max
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "not_200": %d, ' ..
    '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d, ' ..
    '"mean_us": %f, "min_us": %d, "max_us": %d, ' ..
    '"p50_us": %d, "p95_us": %d, "p99_us": %d, "points_us": [%s]}\n',
    summary.requests, summary.duration, summary.bytes, other,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.min, latency.max,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    table.concat(points, ",")))
end
"""

PAGES = (
    ("healthz", "/healthz (database ping, no session)"),
    ("inbox", "/bank/leads (a bank manager's lead inbox, page 1)"),
    ("need", "/needs/<id> (an open need from that inbox, seen by the manager)"),
)


@figure(
    "http", title="Pages over HTTP: lead inbox, need page, /healthz (gunicorn, wrk)",
    unit="req/s",
    targets=[Target("inbox_rps", ">=", 150, "inbox ≥ 150 req/s", "req/s"),
             Target("inbox_p95_ms", "<=", 150, "inbox p95 ≤ 150 ms under that load", "ms"),
             Target("inbox_vs_healthz", ">=", 0.25,
                    "inbox req/s ≥ 25% of /healthz req/s (same run)", "×"),
             Target("web_worker_peak_rss_mb", "<=", 300,
                    "peak RSS of a gunicorn web worker ≤ 300 MB", "MiB"),
             Target("errors", "<=", 0, "every answer a 200 (no socket errors)", "answers")],
    headline=("healthz_rps", "need_rps", "inbox_cpu_ms_per_request", "healthz_cpu_ms_per_request",
              "inbox_vs_healthz_by_cpu"),
    description=(
        "`gunicorn -w <2 × cores + 1> wsgi:app` (sync workers) on the seeded instance (its SQLite "
        "database and embedded search index, no Redis), driven by `wrk` on loopback (one "
        "thread, a fixed number of connections; gunicorn's sync workers close each connection, "
        "so every request opens one). The bench logs in through the form (GET /login for the "
        "CSRF token, POST the demo password) as an active manager of the bank whose active "
        "product count is closest to 40 (the `lead_inbox` figure's bank) and passes the "
        "session cookie as a header. Each page gets a warm-up, then a timed run of fixed "
        "length, in slices taking turns (/healthz, inbox, need page, /healthz, …). Latency "
        "percentiles are wrk's (from connect to the end of the response), merged over the "
        "slices. Every answer must be a 200: the script counts "
        "any other status (wrk itself counts only ≥ 400), and socket errors and timeouts "
        "count too. Memory: VmHWM (peak resident set) of each gunicorn worker from "
        "/proc/<pid>/status after the three runs. On a shared machine req/s depend on what else "
        "runs; the CPU time gunicorn's processes used per request (/proc/<pid>/stat over the "
        "timed run) does much less: `inbox_vs_healthz_by_cpu` is /healthz's CPU per request ÷ "
        "the inbox's, the ratio the req/s would have on an otherwise idle machine where the "
        "server's CPU is the limit."),
)
def http_pages(ctx, duration: float | None = None, warmup: float | None = None,
               connections: int | None = None, workers: int | None = None) -> Result:
    from bench.serve import ServerDidNotStart, default_workers, gunicorn, memory_mb

    wrk = shutil.which("wrk")
    if wrk is None:
        # Not a silent skip: the harness reports the figure as failed, with this message.
        raise RuntimeError(f"the `http` figure needs the load generator wrk: {WRK_INSTALL}")
    if duration is None:
        duration = 8.0 if ctx.scale == "city" else 25.0
    if warmup is None:
        warmup = 2.0 if ctx.scale == "city" else 5.0
    workers = workers or default_workers()
    connections = connections or 2 * workers

    app = ctx.create_app()
    with app.app_context():
        manager, bank_id, products = _manager_of_typical_bank()
    env = os.environ | {
        "INSTANCE_PATH": str(ctx.instance), "DATABASE_URL": "", "REDIS_URL": "",
        "ELASTICSEARCH_URL": "", "MATCHMAKER_ENV": "development", "RUN_PERIODIC_IN_PROCESS": "",
        "MAIL_ENABLED": "",
    }
    result = Result()
    slices = 4 if ctx.scale == "city" else 5
    runs: dict[str, dict] = {}
    loads: dict[str, list[float]] = {}
    try:
        with gunicorn(env, workers) as server:
            cookie = _log_in(server.port, manager["email"], manager["password"])
            need_id, inbox_total, cookie = _first_lead(server.port, cookie)
            paths = {"healthz": "/healthz", "inbox": "/bank/leads", "need": f"/needs/{need_id}"}
            with tempfile.TemporaryDirectory(prefix="greenmatch-wrk-") as tmp:
                script = Path(tmp) / "count.lua"
                script.write_text(WRK_SCRIPT)
                headers = {key: [] if key == "healthz" else [f"Cookie: {cookie}"]
                           for key, _ in PAGES}
                for key, _ in PAGES:  # warm-ups, not kept
                    _wrk(wrk, script, server.url + paths[key], headers[key], connections, warmup)
                # The pages take turns in short slices, so a burst of other load on the machine
                # falls on all three alike and the ratio to /healthz stays fair.
                parts: dict[str, list[dict]] = {key: [] for key, _ in PAGES}
                for _ in range(slices):
                    for key, _ in PAGES:
                        loads.setdefault(key, []).append(round(os.getloadavg()[0], 2))
                        before = _server_cpu(server)
                        part = _wrk(wrk, script, server.url + paths[key], headers[key],
                                    connections, duration / slices)
                        part["cpu_s"] = _server_cpu(server) - before
                        parts[key].append(part)
                runs = {key: merge_slices(parts[key]) for key, _ in PAGES}
                for key, _ in PAGES:
                    ctx.log(f"{paths[key]}: {runs[key]['rps']:.1f} req/s, "
                            f"p95 {runs[key]['p95_ms']:.1f} ms, errors {runs[key]['errors']}, "
                            f"server CPU {runs[key]['cpu_ms']} ms/request, "
                            f"load {min(loads[key]):.2f}–{max(loads[key]):.2f}")
            memory = {pid: memory_mb(pid) for pid in server.worker_pids()}
            master = memory_mb(server.process.pid)
    except ServerDidNotStart as exc:
        return Result(skipped=str(exc))

    peaks = [m["VmHWM"] for m in memory.values() if m]
    for key, label in PAGES:
        run = runs[key]
        result.latencies[label] = {
            "n": run["requests"], "mean_ms": run["mean_ms"], "p50_ms": run["p50_ms"],
            "p95_ms": run["p95_ms"], "p99_ms": run["p99_ms"], "min_ms": run["min_ms"],
            "max_ms": run["max_ms"]}
    inbox, healthz, need = runs["inbox"], runs["healthz"], runs["need"]
    result.metrics = {
        "inbox_rps": inbox["rps"], "inbox_p50_ms": inbox["p50_ms"],
        "inbox_p95_ms": inbox["p95_ms"], "inbox_p99_ms": inbox["p99_ms"],
        "inbox_vs_healthz": round(inbox["rps"] / healthz["rps"], 3) if healthz["rps"] else None,
        "need_rps": need["rps"], "need_p50_ms": need["p50_ms"], "need_p95_ms": need["p95_ms"],
        "need_p99_ms": need["p99_ms"],
        "healthz_rps": healthz["rps"], "healthz_p50_ms": healthz["p50_ms"],
        "healthz_p95_ms": healthz["p95_ms"], "healthz_p99_ms": healthz["p99_ms"],
        "inbox_cpu_ms_per_request": inbox["cpu_ms"], "need_cpu_ms_per_request": need["cpu_ms"],
        "healthz_cpu_ms_per_request": healthz["cpu_ms"],
        "inbox_vs_healthz_by_cpu": (round(healthz["cpu_ms"] / inbox["cpu_ms"], 3)
                                    if inbox["cpu_ms"] and healthz["cpu_ms"] else None),
        "web_worker_peak_rss_mb": max(peaks) if peaks else None,
        "web_worker_rss_mb_now_max": max((m["VmRSS"] for m in memory.values() if m),
                                         default=None),
        "gunicorn_master_peak_rss_mb": master["VmHWM"] if master else None,
        "errors": sum(run["errors"] for run in runs.values()),
        "gunicorn_workers": workers, "connections": connections,
        "seconds_per_page": duration, "bank_id": bank_id, "bank_active_products": products,
        "inbox_leads_total": inbox_total, "need_id": need_id,
    }
    result.notes.append(
        f"gunicorn {workers} sync workers on {os.cpu_count()} cores; wrk 1 thread, "
        f"{connections} connections, {warmup:g} s warm-up, then {duration:g} s per page in "
        f"{slices} slices of {duration / slices:g} s taking turns (healthz, inbox, need, …); "
        f"wrk, gunicorn and anything else running share the cores.")
    result.notes.append(
        "1-min load average at the start of the slices: "
        + ", ".join(f"{key} {min(loads[key]):.2f}–{max(loads[key]):.2f}" for key, _ in PAGES)
        + ".")
    result.notes.append(
        f"Logged in as {manager['email']} (bank {bank_id}, {products} active products, "
        f"{inbox_total:,} leads in the inbox); need page: need {need_id}, the inbox's first.")
    result.notes.append(
        "Peak RSS (VmHWM) per gunicorn worker, MiB: "
        + ", ".join(f"{m['VmHWM']:.0f}" for m in memory.values() if m)
        + (f"; master {master['VmHWM']:.0f}." if master else "."))
    for key, label in PAGES:
        run = runs[key]
        if run["errors"]:
            result.warnings.append(
                f"{label}: {run['not_200']} answers other than 200, socket errors "
                f"{ {k: run[k] for k in ('connect', 'read', 'write', 'timeout') if run[k]} }")
    return result


def merge_slices(parts: list[dict]) -> dict:
    """One page's timed slices as one run: counts and time summed, latency percentiles from
    the slices' distributions (1,000 points each, weighted by the slice's requests)."""
    requests = sum(part["requests"] for part in parts)
    seconds = sum(part["duration_us"] for part in parts) / 1e6
    merged = {key: sum(part[key] for part in parts)
              for key in ("requests", "bytes", "not_200", "connect", "read", "write", "status",
                          "timeout", "errors")}
    weighted = sorted((value, part["requests"] / len(part["points_us"]))
                      for part in parts if part["requests"] for value in part["points_us"])

    def at(p: float) -> float:
        wanted, seen = requests * p / 100, 0.0
        for value, weight in weighted:
            seen += weight
            if seen >= wanted - 1e-9:
                return round(value / 1000, 2)
        return round(weighted[-1][0] / 1000, 2) if weighted else 0.0

    busy = [part for part in parts if part["requests"]]
    return merged | {
        "rps": round(requests / seconds, 1) if seconds else 0.0,
        "mean_ms": round(sum(part["mean_ms"] * part["requests"] for part in busy)
                         / requests, 2) if requests else 0.0,
        "min_ms": min((part["min_ms"] for part in busy), default=0.0),
        "max_ms": max((part["max_ms"] for part in busy), default=0.0),
        "p50_ms": at(50), "p95_ms": at(95), "p99_ms": at(99),
        "cpu_ms": (round(sum(part["cpu_s"] for part in parts) / requests * 1000, 2)
                   if requests else None),
        "slices": len(parts),
    }


def _server_cpu(server) -> float:
    """CPU seconds used so far by gunicorn's master and workers together."""
    from bench.serve import cpu_seconds

    return sum(cpu_seconds(pid) or 0.0 for pid in [server.process.pid, *server.worker_pids()])


def _manager_of_typical_bank() -> tuple[dict, int, int]:
    """An active manager (with the demo password) of the `lead_inbox` figure's bank."""
    import sqlalchemy as sa

    from bench.figures.search import _bank_with_products_near
    from matchmaker.accounts.models import User
    from matchmaker.demo.data import DEMO_PASSWORD
    from matchmaker.extensions import db

    bank_id, products = _bank_with_products_near(40)
    email = db.session.scalar(
        sa.select(User.email).where(User.bank_id == bank_id, User.role == "bank_manager",
                                    User.active.is_(True)).order_by(User.id).limit(1))
    db.session.remove()
    if email is None:
        raise RuntimeError(f"bank {bank_id} has no active manager in the seeded data")
    return {"email": email, "password": DEMO_PASSWORD}, bank_id, products


def _request(port: int, method: str, path: str, cookie: str = "", body: str | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"User-Agent": USER_AGENT}
    if cookie:
        headers["Cookie"] = cookie
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.getheaders(), response.read().decode("utf-8", "replace")
    finally:
        conn.close()


def _session_cookie(headers, current: str) -> str:
    """`name=value` of the session cookie a response set, else the current one."""
    for name, value in headers:
        if name.lower() == "set-cookie":
            jar = http.cookies.SimpleCookie()
            jar.load(value)
            for morsel in jar.values():
                if morsel.key == "session":
                    return f"session={morsel.value}" if morsel.value else ""
    return current


def _log_in(port: int, email: str, password: str) -> str:
    """Log in through the form, as a browser does; returns the `session=…` cookie."""
    status, headers, page = _request(port, "GET", "/login")
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) \
        or re.search(r'value="([^"]+)"[^>]*name="csrf_token"', page)
    if status != 200 or match is None:
        raise RuntimeError(f"GET /login answered {status} without a CSRF token")
    cookie = _session_cookie(headers, "")
    form = urllib.parse.urlencode({"csrf_token": match.group(1), "email": email,
                                   "password": password})
    status, headers, _ = _request(port, "POST", "/login", cookie, form)
    cookie = _session_cookie(headers, cookie)
    if status != 302 or not cookie:
        raise RuntimeError(f"logging in as {email} answered {status} (expected a redirect)")
    # Follow the redirect once, as a browser would: it shows (and so drops) the welcome flash,
    # so the cookie replayed by wrk is that of a quiet session.
    location = dict((k.lower(), v) for k, v in headers).get("location", "/")
    status, headers, _ = _request(port, "GET", urllib.parse.urlsplit(location).path or "/",
                                  cookie)
    return _session_cookie(headers, cookie)


def _first_lead(port: int, cookie: str) -> tuple[int, int, str]:
    """The first need the inbox links to, the inbox's total and the session cookie as the
    browser would now hold it (the inbox's grab forms put a CSRF secret in the session); checks
    that both pages answer 200."""
    status, headers, page = _request(port, "GET", "/bank/leads", cookie)
    cookie = _session_cookie(headers, cookie)
    if status != 200:
        raise RuntimeError(f"GET /bank/leads with the manager's session answered {status}")
    ids = re.findall(r'href="/needs/(\d+)"', page)
    if not ids:
        raise RuntimeError("the lead inbox shows no need (empty inbox: nothing to measure)")
    total = re.search(r"（共 (\d+) 条）", page)
    need_id = int(ids[0])
    status, headers, _ = _request(port, "GET", f"/needs/{need_id}", cookie)
    cookie = _session_cookie(headers, cookie)
    if status != 200:
        raise RuntimeError(f"GET /needs/{need_id} with the manager's session answered {status}")
    return need_id, int(total.group(1)) if total else -1, cookie


def _wrk(wrk: str, script: Path, url: str, headers: list[str], connections: int,
         seconds: float) -> dict:
    argv = [wrk, "--threads", "1", "--connections", str(connections),
            "--duration", f"{max(1, round(seconds))}s", "--timeout", "10s",
            "--script", str(script), "--header", f"User-Agent: {USER_AGENT}"]
    for header in headers:
        argv += ["--header", header]
    completed = subprocess.run([*argv, url], capture_output=True, text=True,  # noqa: S603
                               check=False, timeout=seconds + 60)
    line = next((line for line in completed.stdout.splitlines()
                 if line.startswith("WRK_JSON ")), None)
    if completed.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed (exit {completed.returncode}): "
                           f"{(completed.stderr or completed.stdout).strip()[-500:]}")
    raw = json.loads(line[len("WRK_JSON "):])
    seconds_run = raw["duration_us"] / 1e6
    errors = (raw["not_200"] + raw["connect"] + raw["read"] + raw["write"] + raw["timeout"])
    return raw | {
        "rps": round(raw["requests"] / seconds_run, 1) if seconds_run else 0.0,
        "errors": errors,
        **{f"{key}_ms": round(raw[f"{key}_us"] / 1000, 2)
           for key in ("mean", "min", "max", "p50", "p95", "p99")},
    }



