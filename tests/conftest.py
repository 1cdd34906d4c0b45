"""Fixtures: every app test runs on SQLite and on PostgreSQL (when TEST_DATABASE_URL is set).

A test that needs a service which is absent is skipped with the reason; with REQUIRE_SERVICES=1
(as `.ci/run` sets) that skip becomes a failure, so CI always runs them.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from matchmaker import create_app
from matchmaker.extensions import db
from tests import factories

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
REFERENCE_TABLES = {"regions", "industries", "green_categories", "alembic_version"}
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def service_missing(reason: str):
    """Skip, or fail when REQUIRE_SERVICES=1: CI must never silently skip a real service."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (REQUIRE_SERVICES=1 turns this skip into a failure)", pytrace=False)
    pytest.skip(reason)


def base_config(instance: Path, database_uri: str) -> dict:
    return {
        "INSTANCE_PATH": str(instance),
        "SQLALCHEMY_DATABASE_URI": database_uri,
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production-use-0123456789",
        "REDIS_URL": None,
        "ELASTICSEARCH_URL": None,
        # Tests create many users; the production default (scrypt) is asserted in test_accounts.
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        # Tests log many users in from one address; test_rate_limits checks the real default.
        "LOGIN_RATE_LIMIT": "1000 per minute",
        "SIGNUP_RATE_LIMIT": "1000 per minute",
        # Webhook receivers in the tests listen on 127.0.0.1; test_egress checks the policy.
        "WEBHOOK_ALLOW_PRIVATE_NETWORKS": True,
    }


def _upgrade(app) -> None:
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()
        db.engine.dispose()


def pytest_generate_tests(metafunc):
    if "db_backend" in metafunc.fixturenames:
        if metafunc.definition.get_closest_marker("sqlite_only"):
            backends = ["sqlite"]
        elif metafunc.definition.get_closest_marker("postgresql_only"):
            backends = ["postgresql"]
        else:
            backends = ["sqlite", "postgresql"]
        metafunc.parametrize("db_backend", backends)


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only: run once, on SQLite (not backend-specific)")
    config.addinivalue_line("markers", "postgresql_only: run on PostgreSQL only (row locks)")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A migrated SQLite database (schema + reference data), copied for each test."""
    instance = tmp_path_factory.mktemp("sqlite-template")
    path = instance / "template.db"
    _upgrade(create_app(base_config(instance, f"sqlite:///{path}")))
    return path


@pytest.fixture(scope="session")
def postgres_uri():
    """A database of its own for this test session, created beside TEST_DATABASE_URL's database
    and dropped afterwards, so two test runs on one server never disturb each other."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        service_missing("PostgreSQL tests need TEST_DATABASE_URL")
    from matchmaker.config import database_uri

    server = sa.engine.make_url(database_uri(url, "/nonexistent"))
    name = f"{server.database}_run{os.getpid()}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        service_missing(f"PostgreSQL at TEST_DATABASE_URL is unreachable: {exc.orig}")
    uri = server.set(database=name).render_as_string(hide_password=False)
    instance = Path(tempfile.mkdtemp(prefix="greenmatch-pg-migrate-"))
    _upgrade(create_app(base_config(instance, uri)))
    yield uri
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def truncate_all(engine) -> None:
    tables = [t.name for t in db.metadata.sorted_tables if t.name not in REFERENCE_TABLES]
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


@pytest.fixture
def app_config(db_backend, tmp_path, request) -> dict:
    if db_backend == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "matchmaker.db"
        shutil.copyfile(template, path)
        return base_config(tmp_path, f"sqlite:///{path}")
    return base_config(tmp_path, request.getfixturevalue("postgres_uri"))


class IsolatedClient(FlaskClient):
    """Each request runs in an application context of its own, as in production.

    The `app` fixture keeps a context open for the test body; without this, Flask would reuse it
    for every request, so `g` (Flask-Login's user, the CSRF token) and the database session would
    leak from one request and one client to the next.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            response = super().open(*args, **kwargs)
        db.session.expire_all()  # the test body sees what the request committed
        return response


@pytest.fixture
def app(app_config, db_backend):
    app = create_app(app_config)
    app.test_client_class = IsolatedClient
    with app.app_context():
        yield app
        db.session.remove()
        if db_backend == "postgresql":
            truncate_all(db.engine)
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make(app):
    """Builders for enterprises, banks and users through the real services."""
    return factories.Factory(app)


@pytest.fixture
def tokens(client, people):
    """`tokens(name)`: API headers for `people[name]` (a module's own `people` fixture)."""
    cache: dict[str, dict] = {}

    def token(name: str) -> dict:
        if name not in cache:
            cache[name] = factories.api_token(client, people[name])
        return cache[name]

    return token


def _worker_redis_url(url: str) -> str:
    """Under pytest-xdist each worker flushes a Redis database of its own (15, 14, … for /15)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker.removeprefix("gw") or 0)
    if not index:
        return url
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(base - index) % 16}"))


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        service_missing("Redis tests need TEST_REDIS_URL")
    from redis import Redis

    url = _worker_redis_url(url)
    conn = Redis.from_url(url)
    try:
        conn.flushdb()
    except Exception as exc:
        service_missing(f"Redis at TEST_REDIS_URL is unreachable: {exc}")
    yield url
    conn.flushdb()


# --- a live server and a real browser ----------------------------------------------------


@pytest.fixture
def live_server(app):
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        service_missing(f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        service_missing("browser tests need the playwright package")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


@pytest.fixture
def strict_app(app):
    """The app with the Content-Security-Policy production sends set on every answer: a
    journey fails on any inline script or style (see tests.browser.watch)."""
    from tests.browser import STRICT_CSP

    @app.after_request
    def content_security_policy(response):
        response.headers["Content-Security-Policy"] = STRICT_CSP
        return response

    return app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def receiver():
    """`receiver(script)`: a webhook endpoint on a thread (tests/webhook_receiver.py)."""
    from tests.webhook_receiver import Receiver

    started = []

    def start(script=()):
        server = Receiver(script).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
