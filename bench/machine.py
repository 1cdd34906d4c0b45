"""What the figures were measured on."""

from __future__ import annotations

import os
import platform
import subprocess


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _ram_gb() -> float | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _os_name() -> str:
    try:
        with open("/etc/os-release", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"') + f" ({platform.release()})"
    except OSError:
        pass
    return platform.platform()


def calibration_ms() -> float:
    """The time of a fixed pure-Python workload (best of 5): how fast this machine runs the
    interpreter when the run starts, so that figures from different machines (or a busier
    day of a shared one) can be compared — a figure measured where this is 30 % higher is
    expected to be about 30 % slower."""
    import time

    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        total = 0
        for number in range(200_000):
            total += number * number % 7
        table = {str(number): number % 1_000 for number in range(50_000)}
        sorted(table, key=table.get)
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 1)


def machine_info() -> dict:
    import sqlite3

    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gb": _ram_gb(),
        "os": _os_name(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "calibration_ms": calibration_ms(),
    }


# Files the harness itself writes: changes to them do not make the measured code "changed".
OUTPUTS = ("BENCHMARKS.md", "bench/results.json")


def code_version() -> str | None:
    """The commit measured (short hash), with "+changes" when tracked files differ from it (the
    harness's own outputs aside); None outside a git checkout."""
    from matchmaker.config import PROJECT_ROOT

    def git(*args: str) -> str | None:
        try:
            completed = subprocess.run(  # noqa: S603 (our own argv)
                ["git", *args], cwd=PROJECT_ROOT, capture_output=True,  # noqa: S607
                text=True, timeout=10, check=False)
        except (OSError, subprocess.SubprocessError):
            return None
        return completed.stdout if completed.returncode == 0 else None

    head = git("rev-parse", "--short", "HEAD")
    if not head:
        return None
    status = git("status", "--porcelain", "--untracked-files=no") or ""
    changed = [line[3:] for line in status.splitlines() if line[3:] not in OUTPUTS]
    return head.strip() + ("+changes" if changed else "")
