"""The finance office's pages: banks, their users, and the office's own accounts."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user

from matchmaker.accounts.permissions import OFFICE_ROLES, roles_required
from matchmaker.banks import queries as bank_queries
from matchmaker.banks.forms import BankForm, BankUserForm
from matchmaker.banks.models import Bank
from matchmaker.banks.services import create_bank, create_bank_user
from matchmaker.errors import Conflict, InvalidInput
from matchmaker.extensions import db
from matchmaker.office import queries
from matchmaker.office.forms import OfficeUserForm
from matchmaker.office.services import create_office_user
from matchmaker.web.forms import apply_service_errors, parse_codes

blueprint = Blueprint("office", __name__, url_prefix="/office")

office_only = roles_required(*OFFICE_ROLES)


def _actor():
    return current_user._get_current_object()


@blueprint.get("/")
@office_only
def index():
    return render_template("office/index.html", counts=queries.platform_counts())


@blueprint.get("/banks")
@office_only
def banks():
    return render_template("office/banks.html", banks=bank_queries.all_banks())


@blueprint.route("/banks/new", methods=["GET", "POST"])
@office_only
def new_bank():
    form = BankForm()
    if form.validate_on_submit():
        try:
            bank = create_bank(name=form.name.data, kind=form.kind.data,
                               region_codes=parse_codes(form.region_codes.data), actor=_actor())
        except (InvalidInput, Conflict) as exc:
            apply_service_errors(form, exc)
        else:
            flash(f"已创建银行：{bank.name}。下一步可为其开通管理员账号", "success")
            return redirect(url_for("office.bank", bank_id=bank.id))
    status = 422 if form.errors else 200
    return render_template("office/bank_new.html", form=form), status


@blueprint.get("/banks/<int:bank_id>")
@office_only
def bank(bank_id: int):
    bank = db.get_or_404(Bank, bank_id)
    return render_template("office/bank.html", bank=bank,
                           users=bank_queries.bank_users(bank.id))


@blueprint.route("/banks/<int:bank_id>/users/new", methods=["GET", "POST"])
@office_only
def new_bank_user(bank_id: int):
    bank = db.get_or_404(Bank, bank_id)
    form = BankUserForm()
    if form.validate_on_submit():
        try:
            user = create_bank_user(
                bank, email=form.email.data, password=form.password.data, name=form.name.data,
                role=form.role.data, region_codes=parse_codes(form.region_codes.data),
                phone=form.phone.data or None, actor=_actor(),
            )
        except (InvalidInput, Conflict) as exc:
            apply_service_errors(form, exc)
        else:
            flash(f"已为{bank.name}开通{user.role_label}账号：{user.email}", "success")
            return redirect(url_for("office.bank", bank_id=bank.id))
    elif not form.is_submitted():
        form.region_codes.data = " ".join(bank.region_codes)
    status = 422 if form.errors else 200
    return render_template("office/bank_user_new.html", form=form, bank=bank), status


@blueprint.get("/users")
@office_only
def users():
    return render_template("office/users.html", users=queries.office_users())


@blueprint.route("/users/new", methods=["GET", "POST"])
@office_only
def new_user():
    form = OfficeUserForm()
    if form.validate_on_submit():
        actor = _actor()
        try:
            user = create_office_user(email=form.email.data, password=form.password.data,
                                      name=form.name.data, actor=actor, office=actor.office)
        except (InvalidInput, Conflict) as exc:
            apply_service_errors(form, exc)
        else:
            flash(f"已开通金融办账号：{user.email}", "success")
            return redirect(url_for("office.users"))
    status = 422 if form.errors else 200
    return render_template("office/user_new.html", form=form), status
