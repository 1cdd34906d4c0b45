"""Configuration read from the environment (and an optional `.env`).

Every business number of DESIGN section 3 is a setting here, so a city can change it without code.
"""

import os
import secrets
from datetime import date
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Values that must never serve as a production secret.
WEAK_SECRET_KEYS = {"", "dev", "secret", "changeme", "change-me", "please-change-me", "test"}


class ConfigError(RuntimeError):
    """The environment does not describe a runnable platform."""


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from exc


def _holidays(raw: str | None, name: str = "HOLIDAYS") -> tuple[date, ...]:
    """`HOLIDAYS=2026-10-01,2026-10-02` — dates on which working-day deadlines do not count."""
    if not raw:
        return ()
    days = []
    for part in raw.replace(";", ",").split(","):
        part = part.strip()
        if part:
            try:
                days.append(date.fromisoformat(part))
            except ValueError as exc:
                raise ConfigError(f"{name} has a bad date: {part!r}") from exc
    return tuple(sorted(days))


def database_uri(url: str | None, instance_path: str) -> str:
    """SQLite in the instance folder by default; PostgreSQL URLs go through psycopg 3."""
    if not url:
        return "sqlite:///" + os.path.join(instance_path, "matchmaker.db")
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def load_secret_key(instance_path: str, env: str) -> str:
    """Production insists on a real SECRET_KEY; local runs create one once and keep it."""
    key = os.environ.get("SECRET_KEY", "")
    if env == "production":
        if key.strip().lower() in WEAK_SECRET_KEYS or len(key) < 32:
            raise ConfigError(
                "MATCHMAKER_ENV=production needs SECRET_KEY set to a random value of at least "
                "32 characters, e.g. from: python -c 'import secrets; print(secrets.token_hex(32))'"
            )
        return key
    if key:
        return key
    path = Path(instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def default_instance_path() -> str:
    return os.environ.get("INSTANCE_PATH") or str(PROJECT_ROOT / "instance")


def load(instance_path: str) -> dict:
    """The whole configuration as a dict for `app.config`."""
    env = os.environ.get("MATCHMAKER_ENV", "development").strip().lower()
    if env not in {"development", "production", "testing"}:
        raise ConfigError("MATCHMAKER_ENV must be development, production or testing")
    production = env == "production"
    return {
        "ENV_NAME": env,
        "SECRET_KEY": load_secret_key(instance_path, env),
        "SQLALCHEMY_DATABASE_URI": database_uri(os.environ.get("DATABASE_URL"), instance_path),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": os.environ.get("REDIS_URL") or None,
        "ELASTICSEARCH_URL": os.environ.get("ELASTICSEARCH_URL") or None,
        # Index and alias names start with this: several platforms can share one cluster.
        "ELASTICSEARCH_INDEX_PREFIX": os.environ.get("ELASTICSEARCH_INDEX_PREFIX", "greenmatch"),
        # Mail (SMTP). Off unless MAIL_ENABLED: then every email is a logged, retried delivery.
        "MAIL_SERVER": os.environ.get("MAIL_SERVER", "127.0.0.1"),
        "MAIL_PORT": _int("MAIL_PORT", 25),
        "MAIL_USE_TLS": _bool(os.environ.get("MAIL_USE_TLS")),
        "MAIL_USE_SSL": _bool(os.environ.get("MAIL_USE_SSL")),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD") or None,
        "MAIL_DEFAULT_SENDER": os.environ.get("MAIL_DEFAULT_SENDER", "noreply@greenmatch.local"),
        "MAIL_ENABLED": _bool(os.environ.get("MAIL_ENABLED")),
        # The site's address as users reach it, for links in emails and webhook bodies.
        "PUBLIC_URL": os.environ.get("PUBLIC_URL", "http://127.0.0.1:5000"),
        # Notifications: one email or webhook call waits at most DELIVERY_TIMEOUT_SECONDS; a
        # failed one is tried again after each interval in turn, then marked failed.
        "DELIVERY_TIMEOUT_SECONDS": _int("DELIVERY_TIMEOUT_SECONDS", 10),
        # Webhooks reach only public addresses (notifications/egress.py) unless this is set.
        "WEBHOOK_ALLOW_PRIVATE_NETWORKS": _bool(os.environ.get("WEBHOOK_ALLOW_PRIVATE_NETWORKS")),
        "DELIVERY_LEASE_SECONDS": _int("DELIVERY_LEASE_SECONDS", 60),
        "DELIVERY_RETRY_INTERVALS": [10, 60, 300, 1800, 7200],
        "DELIVERY_REQUEUE_AFTER_SECONDS": _int("DELIVERY_REQUEUE_AFTER_SECONDS", 60),
        # A changed product announces at most this many of the open needs it newly matches.
        "BACKMATCH_LIMIT": _int("BACKMATCH_LIMIT", 20),
        # Periodic jobs (run by the scheduler of `flask worker`).
        "SWEEP_INTERVAL_SECONDS": _int("SWEEP_INTERVAL_SECONDS", 600),
        "DRAIN_INTERVAL_SECONDS": _int("DRAIN_INTERVAL_SECONDS", 60),
        "DIGEST_LOCAL_TIME": os.environ.get("DIGEST_LOCAL_TIME", "08:30"),
        # Without Redis, run the periodic jobs on a thread of this (single) process: `make run`.
        "RUN_PERIODIC_IN_PROCESS": _bool(os.environ.get("RUN_PERIODIC_IN_PROCESS")),
        # Business rules (DESIGN section 3).
        "CLAIM_CAP": _int("CLAIM_CAP", 3),
        "CONTACT_DEADLINE_WORKING_DAYS": _int("CONTACT_DEADLINE_WORKING_DAYS", 5),
        "ESCALATION_WORKING_DAYS": _int("ESCALATION_WORKING_DAYS", 3),
        "MANAGER_DAILY_GRAB_LIMIT": _int("MANAGER_DAILY_GRAB_LIMIT", 20),
        "HOLIDAYS": _holidays(os.environ.get("HOLIDAYS")),
        # 调休: weekend dates that are working days (e.g. the Sunday before National Day).
        "WORKING_WEEKENDS": _holidays(os.environ.get("WORKING_WEEKENDS"), "WORKING_WEEKENDS"),
        "DISPLAY_TIMEZONE": os.environ.get("DISPLAY_TIMEZONE", "Asia/Shanghai"),
        "API_TOKEN_TTL_HOURS": _int("API_TOKEN_TTL_HOURS", 24 * 7),
        "PASSWORD_MIN_LENGTH": _int("PASSWORD_MIN_LENGTH", 10),
        "PASSWORD_HASH_METHOD": "scrypt",
        # Web protections.
        "MAX_CONTENT_LENGTH": _int("MAX_CONTENT_LENGTH", 2 * 1024 * 1024),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": production,
        "WTF_CSRF_TIME_LIMIT": None,
        # Anti-automation: attempts per client address at the login form and the token endpoint
        # (together), and at registration; then one account is locked after this many wrong
        # passwords in a row, for this long.
        "LOGIN_RATE_LIMIT": os.environ.get("LOGIN_RATE_LIMIT", "20 per minute;200 per hour"),
        "SIGNUP_RATE_LIMIT": os.environ.get("SIGNUP_RATE_LIMIT", "10 per minute;50 per hour"),
        "LOGIN_MAX_FAILURES": _int("LOGIN_MAX_FAILURES", 5),
        "LOGIN_LOCKOUT_MINUTES": _int("LOGIN_LOCKOUT_MINUTES", 15),
        # Unset: REDIS_URL's Redis, else this process's memory (see create_app).
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI") or None,
        "RATELIMIT_KEY_PREFIX": "greenmatch-limits",
        "RATELIMIT_HEADERS_ENABLED": True,
        # Redis down: count in this process's memory rather than refuse every login.
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        # Reverse proxies in front of the app (nginx: 1). Their X-Forwarded-For/-Proto are then
        # trusted for the client address (rate limits, the audit log) and the scheme.
        "PROXY_COUNT": _int("PROXY_COUNT", 0),
        # OpenAPI document served at /api/v1/openapi.json (flask-smorest).
        "API_TITLE": "GreenMatch API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "JSON_AS_ASCII": False,
    }
