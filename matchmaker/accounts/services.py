"""Users, passwords, sessions and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy.orm import contains_eager
from werkzeug.security import check_password_hash, generate_password_hash

from matchmaker.accounts.models import ApiToken, User, new_session_token
from matchmaker.audit.services import record
from matchmaker.database import utcnow
from matchmaker.errors import Conflict, FieldErrors, TooManyAttempts
from matchmaker.extensions import db

# Checked against when the e-mail is unknown, so both paths take the same (slow) time.
_DUMMY_HASH = generate_password_hash("not-a-real-password-0000")


def hash_password(password: str) -> str:
    # scrypt (werkzeug's slow default) unless a test run asks for a cheaper method.
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def password_problems(password: str | None) -> list[str]:
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    if not password:
        return ["请输入密码"]
    problems = []
    if len(password) < minimum:
        problems.append(f"密码至少 {minimum} 个字符")
    if len(password) > 128:
        problems.append("密码不能超过 128 个字符")
    if len(set(password)) < 4:
        problems.append("密码过于简单，请混合使用不同字符")
    return problems


def normalize_email(raw: str | None) -> str:
    return (raw or "").strip().lower()


def email_problems(email: str) -> list[str]:
    if not email:
        return ["请输入电子邮箱"]
    if len(email) > 254:
        return ["电子邮箱过长"]
    try:
        validate_email(email, check_deliverability=False, test_environment=True)
    except EmailNotValidError:
        return ["电子邮箱格式不正确"]
    return []


def check_new_user(errors: FieldErrors, email: str, password: str, name: str | None,
                   name_field: str = "name") -> None:
    for msg in email_problems(email):
        errors.add("email", msg)
    for msg in password_problems(password):
        errors.add("password", msg)
    if name is not None:
        name = name.strip()
        if not name:
            errors.add(name_field, "请输入姓名")
        elif len(name) > 64:
            errors.add(name_field, "姓名不能超过 64 个字符")


def ensure_email_free(email: str) -> None:
    if db.session.scalar(sa.select(User.id).where(User.email == email)) is not None:
        raise Conflict("该邮箱已注册", {"email": ["该邮箱已注册"]})


def new_user(*, email: str, password: str, name: str, role: str, phone: str | None = None,
             **org) -> User:
    user = User(email=email, password_hash=hash_password(password), name=name.strip(), role=role,
                phone=phone, **org)
    db.session.add(user)
    return user


def authenticate(email: str, password: str) -> User | None:
    """The user of these credentials, or None. After LOGIN_MAX_FAILURES wrong passwords in a row
    the account is locked for LOGIN_LOCKOUT_MINUTES: every attempt, even with the right password,
    raises TooManyAttempts until then (a guesser learns nothing more from trying)."""
    email = normalize_email(email)
    user = db.session.scalar(sa.select(User).where(User.email == email)) if email else None
    if user is None:
        check_password_hash(_DUMMY_HASH, password or "")
        return None
    now = utcnow()
    if user.locked_until is not None and user.locked_until > now:
        check_password_hash(_DUMMY_HASH, password or "")
        raise _locked(user.locked_until)
    if not check_password_hash(user.password_hash, password or ""):
        _note_failure(user, now)
        return None
    if not user.active:
        return None
    if user.failed_logins or user.locked_until is not None:
        user.failed_logins, user.locked_until = 0, None
        db.session.commit()
    return user


def _note_failure(user: User, now: datetime) -> None:
    """Count a wrong password (atomically: parallel guesses all count) and lock at the limit."""
    config = current_app.config
    failures = db.session.execute(
        sa.update(User).where(User.id == user.id)
        .values(failed_logins=User.failed_logins + 1).returning(User.failed_logins)
    ).scalar_one()
    if failures < config["LOGIN_MAX_FAILURES"]:
        db.session.commit()
        return
    until = now + timedelta(minutes=config["LOGIN_LOCKOUT_MINUTES"])
    db.session.execute(sa.update(User).where(User.id == user.id)
                       .values(failed_logins=0, locked_until=until))
    record("user.locked", "user", user.id, after={"locked_until": until, "failures": failures},
           actor=user)
    db.session.commit()
    raise _locked(until)


def _locked(until: datetime) -> TooManyAttempts:
    from matchmaker.web.filters import local_time

    return TooManyAttempts(
        f"登录失败次数过多，账户已临时锁定，请于 {local_time(until)} 之后再试，"
        "或联系管理员重置密码", until)


def note_login(user: User) -> None:
    user.last_login_at = utcnow()
    db.session.commit()


def change_password(user: User, current: str, new: str) -> None:
    """Replaces the session token too, which ends the user's other sessions."""
    errors = FieldErrors()
    if not check_password_hash(user.password_hash, current or ""):
        errors.add("current_password", "当前密码不正确")
    for msg in password_problems(new):
        errors.add("new_password", msg)
    errors.raise_if_any()
    user.password_hash = hash_password(new)
    user.session_token = new_session_token()
    user.password_changed_at = utcnow()
    db.session.execute(
        sa.update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    record("user.password_changed", "user", user.id, actor=user)
    db.session.commit()


def load_user_by_session_token(token: str) -> User | None:
    if not token:
        return None
    return db.session.scalar(sa.select(User).where(User.session_token == token, User.active))


# --- API tokens -----------------------------------------------------------------------------


def _token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def issue_token(user: User) -> tuple[str, datetime]:
    raw = secrets.token_urlsafe(32)
    expires = utcnow() + timedelta(hours=current_app.config["API_TOKEN_TTL_HOURS"])
    db.session.add(ApiToken(user_id=user.id, token_hash=_token_digest(raw), expires_at=expires))
    record("token.issued", "user", user.id, actor=user)
    db.session.commit()
    return raw, expires


def user_for_token(raw: str) -> User | None:
    if not raw or len(raw) > 200:
        return None
    # The token and its user in one round trip: every API request starts here.
    token = db.session.scalar(
        sa.select(ApiToken).join(ApiToken.user).options(contains_eager(ApiToken.user))
        .where(ApiToken.token_hash == _token_digest(raw)))
    now = utcnow()
    if token is None or token.revoked_at is not None or token.expires_at <= now:
        return None
    if not token.user.active:
        return None
    # Touch at most once a minute: an API client should not write on every read.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        token.last_used_at = now
        db.session.commit()
    return token.user


def revoke_token(raw: str) -> bool:
    token = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == _token_digest(raw)))
    if token is None or token.revoked_at is not None:
        return False
    token.revoked_at = utcnow()
    db.session.commit()
    return True
