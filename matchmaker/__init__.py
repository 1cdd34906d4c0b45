"""GreenMatch 绿色金融银企对接平台 — the Flask application."""

from __future__ import annotations

import logging
import os

from flask import Flask

from matchmaker import config as config_module
from matchmaker.config import PROJECT_ROOT


def create_app(overrides: dict | None = None) -> Flask:
    """Build the app. `overrides` (tests, benchmarks) win over the environment."""
    overrides = dict(overrides or {})
    instance_path = overrides.pop("INSTANCE_PATH", None) or config_module.default_instance_path()
    os.makedirs(instance_path, exist_ok=True)
    app = Flask(
        "matchmaker",
        instance_path=os.path.abspath(instance_path),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.from_mapping(config_module.load(app.instance_path))
    app.config.update(overrides)

    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_template_helpers(app)
    register_commands(app)
    configure_logging(app)
    return app


def register_extensions(app: Flask) -> None:
    import matchmaker.notifications.services  # (outbox consumers: notifications)
    import matchmaker.office.facts  # noqa: F401  (outbox consumer: the statistics' read model)
    import search.sync  # noqa: F401  (outbox consumers that keep the search index true)
    from matchmaker import models  # noqa: F401  (every table on the metadata)
    from matchmaker.accounts.services import load_user_by_session_token
    from matchmaker.extensions import csrf, db, limiter, login_manager, login_rate_limit, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"),
                     render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    # Limits are checked in the limited views, after CSRFProtect: a form without its token never
    # reaches a password check, so only real attempts are counted.
    if not app.config["RATELIMIT_STORAGE_URI"]:
        app.config["RATELIMIT_STORAGE_URI"] = app.config["REDIS_URL"] or "memory://"
    # Redis down: the same per-address limit, counted in this process's memory meanwhile.
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK", login_rate_limit)
    limiter.init_app(app)
    limiter._storage_dead = False  # one extension object serves every app of a process (tests)
    if app.config["PROXY_COUNT"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "请先登录"
    login_manager.login_message_category = "warning"
    login_manager.session_protection = "basic"
    login_manager.user_loader(load_user_by_session_token)

    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            _configure_sqlite(db.engine)


def _configure_sqlite(engine) -> None:
    """Foreign keys on, WAL so readers never block the writer, and a wait instead of 'locked'."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def register_blueprints(app: Flask) -> None:
    from matchmaker.accounts.views import blueprint as accounts
    from matchmaker.api import init_api
    from matchmaker.banks.views import blueprint as banks
    from matchmaker.claims.views import blueprint as claims
    from matchmaker.enterprises.views import blueprint as enterprises
    from matchmaker.green.views import blueprint as green
    from matchmaker.needs.views import blueprint as needs
    from matchmaker.notifications.views import blueprint as notifications
    from matchmaker.office.views import blueprint as office
    from matchmaker.ops.views import blueprint as ops
    from matchmaker.products.views import blueprint as products
    from matchmaker.web.views import blueprint as web

    for blueprint in (web, accounts, enterprises, office, banks, needs, products, claims):
        app.register_blueprint(blueprint)
    app.register_blueprint(notifications)
    app.register_blueprint(ops)
    app.register_blueprint(green)
    init_api(app)


def register_errorhandlers(app: Flask) -> None:
    from matchmaker.web import security
    from matchmaker.web.errors import register

    register(app)
    security.register(app)


def register_template_helpers(app: Flask) -> None:
    from matchmaker.web.filters import register

    register(app)


def register_commands(app: Flask) -> None:
    from matchmaker.cli import register

    register(app)


def configure_logging(app: Flask) -> None:
    if not app.debug and not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
