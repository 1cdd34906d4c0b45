"""Users, passwords, sessions and API tokens."""

from __future__ import annotations

import functools
import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy.orm import contains_eager, joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from matchmaker.accounts.models import ApiToken, User, new_session_token
from matchmaker.audit.services import ANONYMOUS, record
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


def _printable(value: str, limit: int) -> str:
    return "".join(ch for ch in value if ch.isprintable())[:limit]


def _login_failed(email: str, user: User | None, reason: str, via: str) -> None:
    """Audit a refused login: nobody is the actor (the caller proved no identity); the object
    is the account when the e-mail names one, else the e-mail that was tried. Never the
    password."""
    shown = _printable(email, 254)
    if user is not None:
        record("user.login_failed", "user", user.id,
               after={"email": shown, "reason": reason, "via": via}, actor=ANONYMOUS)
    else:
        record("user.login_failed", "login", shown or "-",
               after={"email": shown, "reason": reason, "via": via}, actor=ANONYMOUS)
    db.session.commit()


def authenticate(email: str, password: str, via: str = "web") -> User | None:
    """The active user with this e-mail and password, or None. A refusal is audited
    (`via`: "web" or "api") with a reason only the office sees; the caller tells nobody more
    than "邮箱或密码不正确". After LOGIN_MAX_FAILURES wrong passwords in a row the account is
    locked for LOGIN_LOCKOUT_MINUTES: every attempt, even with the right password, raises
    TooManyAttempts until then (a guesser learns nothing more from trying)."""
    email = normalize_email(email)
    user = db.session.scalar(sa.select(User).where(User.email == email)) if email else None
    if user is None:
        check_password_hash(_DUMMY_HASH, password or "")
        _login_failed(email, None, "unknown_email", via)
        return None
    now = utcnow()
    if user.locked_until is not None and user.locked_until > now:
        check_password_hash(_DUMMY_HASH, password or "")
        _login_failed(email, user, "locked", via)
        raise _locked(user.locked_until)
    if not check_password_hash(user.password_hash, password or ""):
        _login_failed(email, user, "wrong_password", via)
        _note_failure(user, now)
        return None
    if not user.active:
        _login_failed(email, user, "inactive", via)
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
           actor=ANONYMOUS)
    db.session.commit()
    raise _locked(until)


def _locked(until: datetime) -> TooManyAttempts:
    from matchmaker.web.filters import local_time

    return TooManyAttempts(
        f"登录失败次数过多，账户已临时锁定，请于 {local_time(until)} 之后再试，"
        "或联系管理员重置密码", until)


def note_login(user: User) -> None:
    """A web session starts (after `authenticate`, or right after registration)."""
    before = user.last_login_at
    user.last_login_at = utcnow()
    record("user.login", "user", user.id, before={"last_login_at": before},
           after={"last_login_at": user.last_login_at, "via": "web"}, actor=user)
    db.session.commit()


def note_logout(user: User) -> None:
    """A web session ends (the view then clears the session)."""
    record("user.logout", "user", user.id, after={"via": "web"}, actor=user)
    db.session.commit()


def change_password(user: User, current: str, new: str) -> None:
    """Replaces the session token too, which ends the user's other sessions."""
    errors = FieldErrors()
    if not check_password_hash(user.password_hash, current or ""):
        errors.add("current_password", "当前密码不正确")
    for msg in password_problems(new):
        errors.add("new_password", msg)
    errors.raise_if_any()
    before = user.password_changed_at
    user.password_hash = hash_password(new)
    user.session_token = new_session_token()
    user.password_changed_at = utcnow()
    revoked = _revoke_all_tokens(user)
    # Only that it changed, when, and what it ended: never the password or its hash.
    record("user.password_changed", "user", user.id, before={"password_changed_at": before},
           after={"password_changed_at": user.password_changed_at, "other_sessions_ended": True,
                  "tokens_revoked": revoked}, actor=user)
    db.session.commit()


def _revoke_all_tokens(user: User) -> int:
    """Revoke the user's live API tokens; how many there were."""
    return db.session.execute(
        sa.update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    ).rowcount or 0


@functools.cache
def _user_by_session_token():
    """Built once (when the models are all mapped): every web request runs it, and SQLAlchemy
    then keeps its cache key too."""
    return (sa.select(User)
            .options(joinedload(User.enterprise), joinedload(User.bank), joinedload(User.office))
            .where(User.session_token == sa.bindparam("token"), User.active))


def load_user_by_session_token(token: str) -> User | None:
    """The session's user, with the organisation every page's header names (one query)."""
    if not token:
        return None
    return db.session.scalar(_user_by_session_token(), {"token": token})


# --- API tokens -----------------------------------------------------------------------------


def _token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def issue_token(user: User) -> tuple[str, datetime]:
    raw = secrets.token_urlsafe(32)
    expires = utcnow() + timedelta(hours=current_app.config["API_TOKEN_TTL_HOURS"])
    token = ApiToken(user_id=user.id, token_hash=_token_digest(raw), expires_at=expires)
    db.session.add(token)
    db.session.flush()
    # The token's row id identifies it; the token and its hash stay out of the log.
    record("token.issued", "user", user.id, after={"token_id": token.id, "expires_at": expires},
           actor=user)
    db.session.commit()
    return raw, expires


@functools.cache
def _token_with_user():
    """The token and its user in one round trip: every API request starts here (the statement
    is built once, as the session's is)."""
    return (sa.select(ApiToken).join(ApiToken.user).options(contains_eager(ApiToken.user))
            .where(ApiToken.token_hash == sa.bindparam("digest")))


def user_for_token(raw: str) -> User | None:
    if not raw or len(raw) > 200:
        return None
    token = db.session.scalar(_token_with_user(), {"digest": _token_digest(raw)})
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
    record("token.revoked", "user", token.user_id, before={"token_id": token.id,
                                                            "revoked_at": None},
           after={"token_id": token.id, "revoked_at": token.revoked_at}, actor=token.user)
    db.session.commit()
    return True


# --- deactivation ---------------------------------------------------------------------------


def can_deactivate(actor: User | None, user: User) -> bool:
    """The office and platform admins, for anyone; a bank's admin, for the bank's users. Nobody
    for themselves (an office without an active account could not undo it)."""
    from matchmaker.accounts.permissions import OFFICE_ROLES, can_manage_bank_users

    if actor is None or actor.id == user.id:
        return False
    if actor.role in OFFICE_ROLES:
        return True
    return user.bank_id is not None and user.role != "admin" and \
        can_manage_bank_users(actor, user.bank_id)


def set_active(user: User, active: bool, actor: User | None, reason: str | None = None) -> User:
    """Deactivate (or reactivate) an account. Deactivating ends its sessions and revokes its API
    tokens; the account and its history stay. `actor` None is the command line."""
    from matchmaker.errors import Forbidden

    if actor is not None and not can_deactivate(actor, user):
        raise Forbidden("无权停用或启用该账号")
    if user.active == active:
        return user
    user.active = active
    revoked = 0
    if not active:
        user.session_token = new_session_token()
        revoked = _revoke_all_tokens(user)
    after = {"active": active}
    if reason:
        after["reason"] = _printable(reason.strip(), 200)
    if revoked:
        after["tokens_revoked"] = revoked
    record("user.activated" if active else "user.deactivated", "user", user.id,
           before={"active": not active}, after=after, actor=actor or ANONYMOUS)
    db.session.commit()
    return user
