"""Enterprise self-registration and the enterprise's own profile."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user

from matchmaker.accounts.permissions import roles_required
from matchmaker.accounts.services import note_login
from matchmaker.accounts.views import start_session
from matchmaker.enterprises.forms import RegistrationForm
from matchmaker.enterprises.services import Registration, register_enterprise
from matchmaker.errors import Conflict, InvalidInput
from matchmaker.extensions import limit_signups
from matchmaker.web.forms import apply_service_errors

blueprint = Blueprint("enterprises", __name__)


@blueprint.route("/register", methods=["GET", "POST"])
@limit_signups
def register():
    if current_user.is_authenticated:
        flash("您已登录；如需为另一家企业注册，请先退出登录", "info")
        return redirect(url_for("web.index"))
    form = RegistrationForm()
    if form.validate_on_submit():
        try:
            _enterprise, user = register_enterprise(Registration(
                uscc=form.uscc.data, name=form.name.data, region_code=form.region_code.data,
                industry_code=form.industry_code.data, size=form.size.data,
                env_credit=form.env_credit.data, contact_name=form.contact_name.data,
                phone=form.phone.data, email=form.email.data, password=form.password.data,
                address=form.address.data,
            ))
        except (InvalidInput, Conflict) as exc:
            apply_service_errors(form, exc)
        else:
            note_login(user)
            start_session(user)
            flash("注册成功，欢迎使用绿色金融银企对接平台", "success")
            return redirect(url_for("enterprises.profile"))
    status = 422 if form.errors else 200
    return render_template("enterprises/register.html", form=form), status


@blueprint.get("/enterprise")
@roles_required("enterprise")
def profile():
    return render_template("enterprises/profile.html", enterprise=current_user.enterprise)
