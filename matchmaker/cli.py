"""Flask CLI: `flask users …`, `flask reference sync`, `flask demo seed`, `flask worker`,
`flask search …`, `flask claims sweep`."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from matchmaker.errors import ServiceError

users_cli = AppGroup("users", help="Platform accounts.")
reference_cli = AppGroup("reference", help="Reference data (catalog, regions, industries).")
demo_cli = AppGroup("demo", help="Demo data.")


def _fail(exc: ServiceError) -> None:
    details = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.errors.items())
    raise click.ClickException(f"{exc.message}{' — ' + details if details else ''}")


@users_cli.command("create-admin")
@click.argument("email")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--name", default="金融办管理员", show_default=True)
def create_admin(email: str, password: str, name: str) -> None:
    """Create a finance-office administrator (role `office`), who creates banks and bank users."""
    from matchmaker.office.services import create_office_user

    try:
        user = create_office_user(email=email, password=password, name=name, actor=None)
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"created office administrator {user.email} (id {user.id})")


@users_cli.command("create-platform-admin")
@click.argument("email")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--name", default="平台管理员", show_default=True)
def create_platform_admin(email: str, password: str, name: str) -> None:
    """Create a platform operator (role `admin`): jobs, reindex, users."""
    from matchmaker.accounts.services import (
        check_new_user,
        ensure_email_free,
        new_user,
        normalize_email,
    )
    from matchmaker.audit.services import record
    from matchmaker.errors import FieldErrors
    from matchmaker.extensions import db

    email = normalize_email(email)
    errors = FieldErrors()
    check_new_user(errors, email, password, name)
    try:
        errors.raise_if_any()
        ensure_email_free(email)
    except ServiceError as exc:
        _fail(exc)
    user = new_user(email=email, password=password, name=name, role="admin")
    db.session.flush()
    record("user.created", "user", user.id, after={"email": email, "role": "admin"})
    db.session.commit()
    click.echo(f"created platform admin {user.email} (id {user.id})")


def _set_active(email: str, active: bool, reason: str | None) -> None:
    import sqlalchemy as sa

    from matchmaker.accounts.models import User
    from matchmaker.accounts.services import normalize_email, set_active
    from matchmaker.extensions import db

    user = db.session.scalar(sa.select(User).where(User.email == normalize_email(email)))
    if user is None:
        raise click.ClickException(f"no user with e-mail {email}")
    was = user.active
    set_active(user, active, actor=None, reason=reason)
    state = "active" if active else "deactivated"
    click.echo(f"{user.email} (id {user.id}) {'already ' if was == active else ''}{state}")


@users_cli.command("deactivate")
@click.argument("email")
@click.option("--reason", default=None, help="Why (kept in the audit log).")
def deactivate_user(email: str, reason: str | None) -> None:
    """Deactivate an account: it can no longer log in, its sessions and API tokens end."""
    _set_active(email, False, reason)


@users_cli.command("activate")
@click.argument("email")
@click.option("--reason", default=None, help="Why (kept in the audit log).")
def activate_user(email: str, reason: str | None) -> None:
    """Reactivate a deactivated account."""
    _set_active(email, True, reason)


@reference_cli.command("sync")
def reference_sync() -> None:
    """Insert or update the catalog, regions and industries from the shipped files."""
    from matchmaker.extensions import db
    from matchmaker.reference import codes
    from matchmaker.reference.loader import sync_reference_data

    with db.engine.begin() as conn:
        changed = sync_reference_data(conn)
    codes.forget_cache()
    for table, count in changed.items():
        click.echo(f"{table}: {count} rows inserted or updated")


@demo_cli.command("seed")
@click.option("--scale", type=click.Choice(["city", "province"]), default="city",
              show_default=True)
@click.option("--if-empty", is_flag=True, help="Do nothing when the database has enterprises.")
def demo_seed(scale: str, if_empty: bool) -> None:
    """Deterministic realistic demo data (a 湖州-like city, or a province for benchmarks)."""
    from matchmaker.demo.seed import database_has_data, print_logins, seed

    if if_empty and database_has_data():
        click.echo("database already has data; not seeding")
        print_logins()
        return
    summary = seed(scale=scale, echo=click.echo)
    for key, value in summary.items():
        click.echo(f"{key}: {value}")
    print_logins()


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--queues", "queue_names", default=None,
              help="Comma-separated queue names (default: all).")
def worker_command(burst: bool, queue_names: str | None) -> None:
    """Run an RQ worker with the app context (needs REDIS_URL)."""
    from workers.worker import run_worker

    names = [q.strip() for q in queue_names.split(",")] if queue_names else None
    run_worker(burst=burst, queue_names=names)


search_cli = AppGroup("search", help="The search index.")


@search_cli.command("reindex")
def search_reindex() -> None:
    """Build a new index from the database with a progress bar, then swap it in."""
    import time

    from matchmaker.extensions import db
    from matchmaker.needs.models import Need
    from search.service import reindex

    total = db.session.scalar(sa_select_count(Need, Need.status != "draft"))
    started = time.perf_counter()
    with click.progressbar(length=total, label="needs") as bar:
        result = reindex(progress=bar.update)
    seconds = time.perf_counter() - started
    rate = result["needs"] / seconds if seconds else 0
    click.echo(f"indexed {result['products']} products and {result['needs']} needs "
               f"in {seconds:.1f} s ({rate:,.0f} needs/s)")


@search_cli.command("check")
def search_check() -> None:
    """Report missing, stale and orphan documents; exit 1 when the index drifted."""
    from search.service import check

    report = check()
    drift = False
    for kind, problems in report.items():
        for problem, ids in problems.items():
            if ids:
                drift = True
                shown = ", ".join(map(str, ids[:20])) + (" …" if len(ids) > 20 else "")
                click.echo(f"{kind}: {len(ids)} {problem}: {shown}")
    if drift:
        raise SystemExit(1)
    click.echo("index matches the database")


claims_cli = AppGroup("claims", help="The lead workflow.")


@claims_cli.command("sweep")
def claims_sweep() -> None:
    """Lapse overdue picks, escalate and expire needs, queue reminders (idempotent; the workers
    run it every 10 minutes)."""
    from workers.jobs import sweep_claims

    done = sweep_claims()
    click.echo(", ".join(f"{name}: {count}" for name, count in done.items()))


stats_cli = AppGroup("stats", help="The finance office's statistics.")


@stats_cli.command("rebuild")
def stats_rebuild() -> None:
    """Recompute the statistics' read model from the needs and claims (after a bulk load or a
    restore; day to day it follows every change through the outbox)."""
    from matchmaker.office.facts import rebuild

    click.echo(f"statistics rebuilt for {rebuild():,} published needs")


def sa_select_count(model, *where):
    import sqlalchemy as sa

    return sa.select(sa.func.count()).select_from(model).where(*where)


def register(app: Flask) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(reference_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(worker_command)
    app.cli.add_command(search_cli)
    app.cli.add_command(claims_cli)
    app.cli.add_command(stats_cli)
