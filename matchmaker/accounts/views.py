"""Log in, log out (POST with CSRF only) and change one's password."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user

from matchmaker.accounts import services
from matchmaker.accounts.forms import ActivationForm, LoginForm, PasswordForm
from matchmaker.accounts.models import User
from matchmaker.accounts.permissions import OFFICE_ROLES, roles_required
from matchmaker.banks.queries import bank_user
from matchmaker.claims.queries import live_claims_of_manager
from matchmaker.errors import InvalidInput, TooManyAttempts
from matchmaker.extensions import db, limit_logins
from matchmaker.web.forms import apply_service_errors, describe, password_hint
from matchmaker.web.redirects import safe_next

blueprint = Blueprint("accounts", __name__)

LOGIN_FAILED = "邮箱或密码不正确"


def clear_session() -> None:
    """Forget everything the session held, the CSRF secret included (a new one comes with the
    next form), so nothing of one visitor's session carries over to the next."""
    session.clear()
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)


def start_session(user) -> None:
    """A fresh session for `user`: nothing of the anonymous session carries over."""
    clear_session()
    login_user(user)


@blueprint.route("/login", methods=["GET", "POST"])
@limit_logins
def login():
    next_url = safe_next(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url or url_for("web.index"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = services.authenticate(form.email.data, form.password.data)
        except TooManyAttempts as exc:
            form.form_errors.append(exc.message)
            return render_template("accounts/login.html", form=form, next_url=next_url), 429
        if user is not None:
            services.note_login(user)
            start_session(user)
            flash(f"{user.name}，欢迎回来", "success")
            return redirect(next_url or url_for("web.index"))
        form.form_errors.append(LOGIN_FAILED)
    return render_template("accounts/login.html", form=form, next_url=next_url)


@blueprint.post("/logout")
def logout():
    """POST only, and CSRFProtect checks the token: no link or image can log anyone out."""
    if current_user.is_authenticated:
        services.note_logout(current_user._get_current_object())
    logout_user()
    clear_session()
    flash("您已安全退出", "info")
    return redirect(url_for("web.index"))


@blueprint.route("/account/password", methods=["GET", "POST"])
@login_required
def password():
    form = PasswordForm()
    describe(form.new_password, password_hint())
    if form.validate_on_submit():
        user = current_user._get_current_object()
        try:
            services.change_password(user, form.current_password.data, form.new_password.data)
        except InvalidInput as exc:
            apply_service_errors(form, exc)
        else:
            # The password change replaced the session token, which ends every OTHER session;
            # this one carries on under the new token.
            start_session(user)
            flash("密码已修改，其他设备上的登录已退出", "success")
            return redirect(url_for("web.index"))
    status = 422 if form.errors else 200
    return render_template("accounts/password.html", form=form), status


@blueprint.post("/users/<int:user_id>/active")
@roles_required("bank_admin", *OFFICE_ROLES)
def set_active(user_id: int):
    """停用 (active=0) or 启用 (active=1) an account: a bank admin for the bank's users, the
    office for anyone (`services.can_deactivate`); CSRFProtect checks the token. Deactivating
    ends the account's sessions and API tokens at once; its history stays."""
    if current_user.role == "bank_admin":  # another bank's user does not exist for it
        user = bank_user(current_user.bank_id, user_id)
    else:
        user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    form = ActivationForm()
    if form.active.data not in ("0", "1"):
        abort(400)
    back = _after_activation(user, request.form.get("back"))
    if not form.validate():
        flash("；".join(m for messages in form.errors.values() for m in messages), "danger")
        return redirect(back)
    services.set_active(user, form.active.data == "1", actor=current_user,
                        reason=form.reason.data or None)
    if user.active:
        flash(f"已启用 {user.name}（{user.email}）的账号，其可重新登录", "success")
    else:
        message = f"已停用 {user.name}（{user.email}）的账号：其登录会话和 API 令牌已全部失效"
        live = live_claims_of_manager(user.id)
        if live:
            message += f"。其名下还有 {live} 条在办线索，请在「本行线索」中转交给本行其他客户经理"
        flash(message, "success")
    return redirect(back)


def _after_activation(user: User, back: str | None) -> str:
    """The page the switch was on (one of the pages that show it), else the user's list."""
    if back == "office_bank" and user.bank_id is not None and current_user.role in OFFICE_ROLES:
        return url_for("office.bank", bank_id=user.bank_id)
    if back == "office_users" and current_user.role in OFFICE_ROLES:
        return url_for("office.users")
    if current_user.role == "bank_admin":
        return url_for("banks.user", user_id=user.id)
    if user.bank_id is not None:
        return url_for("office.bank", bank_id=user.bank_id)
    return url_for("office.users")
