"""Extension instances only; they are bound to the app in `create_app`."""

from flask import current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Named constraints so that Alembic can alter them on every backend (SQLite batch mode too).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
# Per client address (the proxy's X-Forwarded-For once PROXY_COUNT is set). Storage is Redis when
# REDIS_URL is set, so every web process counts together; in memory otherwise.
limiter = Limiter(get_remote_address)


def login_rate_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def signup_rate_limit() -> str:
    return current_app.config["SIGNUP_RATE_LIMIT"]


# Decorators for the views that take a password or create an account (POST only).
limit_logins = limiter.shared_limit(login_rate_limit, "login", methods=["POST"])
limit_signups = limiter.shared_limit(signup_rate_limit, "signup", methods=["POST"])
