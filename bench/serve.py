"""gunicorn as a deployment runs it (`gunicorn -w <2 × cores + 1> wsgi:app`), for figures that
measure over HTTP on loopback, and what its processes use (/proc)."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from matchmaker.config import PROJECT_ROOT


def default_workers() -> int:
    """The README's rule: 2 × cores + 1 sync workers."""
    return 2 * (os.cpu_count() or 1) + 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Keys the platform and RQ write; a Redis database holding anything else is not ours to flush.
OUR_KEY_PREFIXES = (b"rq:", b"greenmatch:")


def empty_redis(url: str, setting: str):
    """A connection to the Redis database at `url`, flushed, and None; or None and the reason it
    cannot be used (unreachable, or holding keys that are neither RQ's nor the platform's:
    `setting` names the variable that chooses another database)."""
    from redis import Redis
    from redis.exceptions import RedisError

    try:
        redis = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=10)
        redis.ping()
    except (RedisError, ValueError) as exc:
        return None, f"Redis at {url} is unreachable: {exc}"
    foreign = [key for key in redis.scan_iter(count=1000)
               if not key.startswith(OUR_KEY_PREFIXES)][:3]
    if foreign:
        redis.close()
        return None, (f"Redis db {url} holds keys that are not RQ's or the platform's "
                      f"(e.g. {foreign[0]!r}); set {setting} to an empty database")
    redis.flushdb()
    return redis, None


class ServerDidNotStart(RuntimeError):
    """gunicorn exited or did not answer in time (raised on entering `gunicorn()` only)."""


class Server:
    """A running gunicorn: its port, master process and worker pids."""

    def __init__(self, process: subprocess.Popen, port: int, workers: int):
        self.process, self.port, self.workers = process, port, workers

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> list[int]:
        return children(self.process.pid)


@contextmanager
def gunicorn(env: dict, workers: int | None = None, backlog: int = 256,
             start_timeout: float = 60):
    """Serve `wsgi:app` from the project root with `env` (the caller's whole environment for the
    server: set DATABASE_URL, INSTANCE_PATH, REDIS_URL … explicitly, empty rather than unset, so
    a `.env` cannot point it elsewhere). Yields a Server, or raises ServerDidNotStart if it does
    not answer /healthz within `start_timeout` seconds."""
    workers = workers or default_workers()
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind",
            f"127.0.0.1:{port}", "--log-level", "warning", "--backlog", str(backlog), "wsgi:app"]
    process = subprocess.Popen(argv, env=env, cwd=str(PROJECT_ROOT))  # noqa: S603 (our argv)
    try:
        if not wait_for(port, process, start_timeout):
            raise ServerDidNotStart(f"gunicorn did not answer /healthz on port {port} within "
                               f"{start_timeout:g} s (exit code {process.poll()}; see its log)")
        yield Server(process, port, workers)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def wait_for(port: int, process: subprocess.Popen, seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return True
        except OSError:
            time.sleep(0.2)
    return False


# --- /proc ----------------------------------------------------------------------------------------

def children(pid: int) -> list[int]:
    """The direct children of `pid` (all its threads' children)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return sorted(set(found))


def memory_mb(pid: int) -> dict[str, float] | None:
    """VmHWM (peak resident set) and VmRSS of a live process, in MiB; None once it is gone."""
    values: dict[str, float] = {}
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as fh:
            for line in fh:
                key, _, rest = line.partition(":")
                if key in ("VmHWM", "VmRSS"):
                    values[key] = round(int(rest.split()[0]) / 1024, 1)  # kB → MiB
    except (OSError, ValueError):
        return None
    return values or None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time a live process has used, in seconds (/proc/<pid>/stat)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # After the command: state is field 3, utime and stime are fields 14 and 15 (1-based).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
