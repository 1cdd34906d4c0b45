"""The harness's own seeded instance: bench/.instance-<scale> (never the user's `instance/`).

It is built with the real commands (`flask db upgrade`, `flask demo seed --scale`, `flask search
reindex`) and reused while its marker matches: the alembic head revision, the scale, the seed
version below, the demo generator's source digest and the search index layout.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from matchmaker.config import PROJECT_ROOT

# Bump to force every bench instance to be rebuilt (e.g. when the harness seeds differently).
SEED_VERSION = "1"
BENCH_DIR = PROJECT_ROOT / "bench"
MARKER = "bench-marker.json"
DB_FILE = "matchmaker.db"


def instance_path(scale: str) -> Path:
    return BENCH_DIR / f".instance-{scale}"


def alembic_head() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    heads = ScriptDirectory.from_config(config).get_heads()
    return ",".join(sorted(heads))


def demo_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted((PROJECT_ROOT / "matchmaker" / "demo").glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def expected_marker(scale: str) -> dict:
    from search.embedded import SCHEMA_VERSION

    return {"alembic_head": alembic_head(), "scale": scale, "seed_version": SEED_VERSION,
            "demo_digest": demo_digest(), "search_schema": SCHEMA_VERSION}


def database_uri(path: Path) -> str:
    return "sqlite:///" + str(path / DB_FILE)


def app_overrides(path: Path, **extra) -> dict:
    """create_app overrides for a bench instance: its own SQLite, no Redis, no Elasticsearch."""
    return {"INSTANCE_PATH": str(path), "SQLALCHEMY_DATABASE_URI": database_uri(path),
            "REDIS_URL": None, "ELASTICSEARCH_URL": None, **extra}


def _flask(path: Path, *args: str, log, database_url: str = "") -> None:
    env = dict(os.environ)
    # Empty values (not unset) so that a `.env` cannot point the bench at the user's services.
    env.update({"INSTANCE_PATH": str(path), "DATABASE_URL": database_url, "REDIS_URL": "",
                "ELASTICSEARCH_URL": "", "MATCHMAKER_ENV": "development"})
    command = [sys.executable, "-m", "flask", "--app", "wsgi", *args]
    log(f"  $ INSTANCE_PATH={path.relative_to(PROJECT_ROOT)} flask {' '.join(args)}")
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True,  # noqa: S603
                               text=True, check=False)
    if completed.returncode != 0:
        sys.stderr.write(completed.stdout[-4000:] + completed.stderr[-4000:])
        raise SystemExit(f"bench setup failed: flask {' '.join(args)} "
                         f"(exit {completed.returncode})")
    tail = [line for line in completed.stdout.splitlines() if line.strip()][-1:]
    log(f"    {time.perf_counter() - started:.1f} s" + (f"  {tail[0][:100]}" if tail else ""))


def ensure_seeded(scale: str, log=print) -> tuple[Path, dict]:
    """The seeded instance for `scale`, built unless its marker matches. Returns (path, info)."""
    path = instance_path(scale)
    marker_file = path / MARKER
    wanted = expected_marker(scale)
    if marker_file.exists():
        try:
            found = json.loads(marker_file.read_text())
        except ValueError:
            found = {}
        if {k: found.get(k) for k in wanted} == wanted and (path / DB_FILE).exists():
            log(f"reusing seeded instance {path.relative_to(PROJECT_ROOT)} "
                f"(seeded {found.get('seeded_at', '?')})")
            return path, found
        log(f"instance {path.relative_to(PROJECT_ROOT)} is out of date; rebuilding")
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    log(f"seeding {path.relative_to(PROJECT_ROOT)} at scale {scale} …")
    started = time.perf_counter()
    _flask(path, "db", "upgrade", log=log)
    _flask(path, "demo", "seed", "--scale", scale, log=log)
    _flask(path, "search", "reindex", log=log)
    info = dict(wanted, seeded_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                seed_seconds=round(time.perf_counter() - started, 1))
    marker_file.write_text(json.dumps(info, indent=2) + "\n")
    return path, info


def ensure_seeded_postgres(scale: str, url: str, log=print) -> dict:
    """The demo at `scale` in the PostgreSQL database `url` (created if missing), reseeded
    unless the marker beside it (bench/.instance-<scale>-pg) matches the code and the database
    still holds the data. For figures that measure what a deployment runs on."""
    import sqlalchemy as sa

    path = BENCH_DIR / f".instance-{scale}-pg"
    marker_file = path / MARKER
    wanted = dict(expected_marker(scale), database=sa.engine.make_url(url).database)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            seeded = conn.execute(sa.text(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = 'needs'"
            )).scalar() and conn.execute(sa.text("SELECT count(*) FROM needs")).scalar()
    except sa.exc.OperationalError:  # no such database yet
        seeded = False
    finally:
        engine.dispose()
    if marker_file.exists() and seeded:
        found = json.loads(marker_file.read_text() or "{}")
        if {k: found.get(k) for k in wanted} == wanted:
            log(f"reusing the PostgreSQL demo at scale {scale} (seeded {found.get('seeded_at')})")
            return found
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    admin = sa.create_engine(sa.engine.make_url(url).set(database="postgres"),
                             isolation_level="AUTOCOMMIT")
    name = sa.engine.make_url(url).database
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    log(f"seeding PostgreSQL database {name} at scale {scale} …")
    started = time.perf_counter()
    _flask(path, "db", "upgrade", log=log, database_url=url)
    _flask(path, "demo", "seed", "--scale", scale, log=log, database_url=url)
    # As a database in service has been: vacuumed and with planner statistics. Measured right
    # after a bulk load, autovacuum would run beside the figure and plans would be guesses.
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text("VACUUM (ANALYZE)"))
    engine.dispose()
    info = dict(wanted, seeded_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                seed_seconds=round(time.perf_counter() - started, 1))
    marker_file.write_text(json.dumps(info, indent=2) + "\n")
    return info


def scratch_copy(path: Path, name: str) -> Path:
    """A throwaway copy of a seeded instance (database and search index) for figures that write,
    so every run starts from the same data. The caller removes it."""
    target = path / f"scratch-{name}"
    if target.exists():
        shutil.rmtree(target)
    _checkpoint(path / DB_FILE)
    for index in (path / "search").glob("index-*.sqlite"):
        _checkpoint(index)
    shutil.copytree(path, target, ignore=shutil.ignore_patterns("scratch-*", MARKER))
    return target


def _checkpoint(db_file: Path) -> None:
    import sqlite3

    conn = sqlite3.connect(db_file)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
