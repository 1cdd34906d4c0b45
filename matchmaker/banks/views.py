"""Pages for bank users: their bank, and (for the bank's admin) the bank's 客户经理.

Every look-up is scoped to `current_user.bank_id`: a bank admin can neither see nor change another
bank's users, whatever id is put in the address (404).
"""

from __future__ import annotations

import logging

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from matchmaker.accounts.permissions import roles_required
from matchmaker.banks import queries
from matchmaker.banks.forms import ManagerForm
from matchmaker.banks.services import create_bank_user
from matchmaker.enums import BANK_ROLES
from matchmaker.errors import Conflict, InvalidInput
from matchmaker.reference import codes
from matchmaker.web.forms import apply_service_errors, parse_codes
from search.service import leads_for_bank

log = logging.getLogger(__name__)

blueprint = Blueprint("banks", __name__, url_prefix="/bank")


@blueprint.get("/")
@roles_required(*BANK_ROLES)
def index():
    return render_template("banks/index.html", bank=current_user.bank)


PER_PAGE = 20


@blueprint.get("/leads")
@roles_required(*BANK_ROLES)
def leads():
    """线索收件箱: open needs eligible for the bank's products, best match first."""
    page = request.args.get("page", 1, type=int)
    page = page if 1 <= page <= 10_000 else 1
    category = (request.args.get("category") or "").strip() or None
    if category and codes.category(category) is None:
        category = None
    try:
        rows, total = leads_for_bank(current_user.bank_id, category=category,
                                     limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
        search_down = False
    except Exception:  # the page stays up when the index is unavailable
        log.exception("lead inbox failed for bank %s", current_user.bank_id)
        rows, total, search_down = [], 0, True
    top_categories = [c for c in codes.all_categories() if c.level == 1]
    return render_template("banks/leads.html", bank=current_user.bank, leads=rows, total=total,
                           page=page, pages=max(1, -(-total // PER_PAGE)), category=category,
                           top_categories=top_categories, search_down=search_down)


@blueprint.get("/users")
@roles_required("bank_admin")
def users():
    return render_template("banks/users.html", bank=current_user.bank,
                           users=queries.bank_users(current_user.bank_id))


@blueprint.route("/users/new", methods=["GET", "POST"])
@roles_required("bank_admin")
def new_user():
    bank = current_user.bank
    form = ManagerForm()
    if form.validate_on_submit():
        try:
            user = create_bank_user(
                bank, email=form.email.data, password=form.password.data, name=form.name.data,
                role="bank_manager", region_codes=parse_codes(form.region_codes.data),
                phone=form.phone.data or None, actor=current_user._get_current_object(),
            )
        except (InvalidInput, Conflict) as exc:
            apply_service_errors(form, exc)
        else:
            flash(f"已开通客户经理账号：{user.name}（{user.email}）", "success")
            return redirect(url_for("banks.user", user_id=user.id))
    elif not form.is_submitted():
        form.region_codes.data = " ".join(bank.region_codes)
    status = 422 if form.errors else 200
    return render_template("banks/user_new.html", form=form, bank=bank), status


@blueprint.get("/users/<int:user_id>")
@roles_required("bank_admin")
def user(user_id: int):
    user = queries.bank_user(current_user.bank_id, user_id)
    if user is None:
        abort(404)
    return render_template("banks/user.html", bank=current_user.bank, user=user)
