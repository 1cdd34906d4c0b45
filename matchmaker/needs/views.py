"""An enterprise's financing needs: post (draft or publish), list, view, edit, publish, withdraw.

Every rule is the service's (`matchmaker.needs.services`); these views pass the form on and show
what the service says beside the fields. Who may see a need is `can_view` (drafts only to their
owner, open needs to every bank user without the enterprise's contact details, everything to
the finance office); anyone else gets 404, as if it did not exist.
"""

from __future__ import annotations

import logging

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from matchmaker.accounts.permissions import OFFICE_ROLES, roles_required
from matchmaker.enums import BANK_ROLES, NEED_STATUSES
from matchmaker.errors import Conflict, InvalidInput
from matchmaker.extensions import db
from matchmaker.green.flags import flags_for
from matchmaker.needs import queries
from matchmaker.needs.forms import NeedForm, WithdrawForm, need_values
from matchmaker.needs.models import Need
from matchmaker.needs.services import (
    EDITABLE_STATUSES,
    WITHDRAWABLE_STATUSES,
    can_view,
    create_need,
    owns,
    publish_need,
    update_need,
    withdraw_need,
)
from matchmaker.web.forms import apply_service_errors
from search.service import matches_for_need

log = logging.getLogger(__name__)
blueprint = Blueprint("needs", __name__, url_prefix="/needs")


def _user():
    return current_user._get_current_object()


def _visible_need(need_id: int) -> Need:
    need = db.session.get(Need, need_id)
    if need is None or not can_view(_user(), need):
        abort(404)
    return need


def _own_need(need_id: int) -> Need:
    need = db.session.get(Need, need_id)
    if need is None or not owns(_user(), need):
        abort(404)
    return need


def _status(form) -> int:
    return 422 if form.errors else 200


@blueprint.route("/new", methods=["GET", "POST"])
@roles_required("enterprise")
def new():
    form = NeedForm()
    if form.validate_on_submit():
        publish = bool(form.publish.data)
        try:
            need = create_need(_user(), form.service_data(), publish=publish)
        except InvalidInput as exc:
            apply_service_errors(form, exc)
        else:
            flash("需求已发布，辖内银行现在可以看到并抢单" if publish
                  else "草稿已保存，核对无误后可随时发布", "success")
            return redirect(url_for("needs.show", need_id=need.id))
    elif not form.is_submitted():
        form.region_code.data = current_user.enterprise.region_code
    return render_template("needs/form.html", form=form, need=None), _status(form)


@blueprint.get("/mine")
@roles_required("enterprise")
def mine():
    status = request.args.get("status") or None
    if status not in NEED_STATUSES:
        status = None
    enterprise_id = current_user.enterprise_id
    return render_template("needs/mine.html", status=status,
                           needs=queries.enterprise_needs(enterprise_id, status),
                           counts=queries.status_counts(enterprise_id))


def _render_show(need: Need, withdraw_form: WithdrawForm | None = None, status: int = 200,
                 **workflow_forms):
    """The need's page; `workflow_forms` (cancel_form, rating_form, rating_claim_id) carry a
    lead-workflow form back with its errors (see `matchmaker.claims.views`)."""
    from matchmaker.claims.views import need_claims_context

    user = _user()
    owner = owns(user, need)
    full = owner or user.role in OFFICE_ROLES  # contact details, claims, history
    if owner and withdraw_form is None and need.status in WITHDRAWABLE_STATUSES:
        withdraw_form = WithdrawForm(formdata=None)
    matches, search_down = [], False
    if full:
        try:
            matches = matches_for_need(need, limit=10)
        except Exception:  # the page stays up when the index is unavailable
            log.exception("matching failed for need %s", need.id)
            search_down = True
    # 洗绿 consistency flags: for the banks and the office, who judge the need, not its owner.
    checks = user.role in BANK_ROLES + OFFICE_ROLES
    return render_template(
        "needs/show.html", need=need, enterprise=need.enterprise, owner=owner, full=full,
        matches=matches, search_down=search_down, checks=checks,
        flags=flags_for(need) if checks else [],
        editable=owner and need.status in EDITABLE_STATUSES,
        withdraw_form=withdraw_form if owner else None,
        revisions=queries.revisions(need.id) if full else [],
        **need_claims_context(need, user, **workflow_forms),
    ), status


@blueprint.get("/<int:need_id>")
@login_required
def show(need_id: int):
    return _render_show(_visible_need(need_id))


@blueprint.route("/<int:need_id>/edit", methods=["GET", "POST"])
@roles_required("enterprise")
def edit(need_id: int):
    need = _own_need(need_id)
    if need.status not in EDITABLE_STATUSES:
        flash(f"该需求{need.status_label}，不能再修改", "warning")
        return redirect(url_for("needs.show", need_id=need.id))
    form = NeedForm(data=need_values(need))
    if form.validate_on_submit():
        was_open = need.status == "open"
        try:
            update_need(need, form.service_data(), _user())
            if need.status == "draft" and form.publish.data:
                publish_need(need, _user())
        except InvalidInput as exc:
            apply_service_errors(form, exc)
        except Conflict as exc:
            flash(exc.message, "warning")
            return redirect(url_for("needs.show", need_id=need.id))
        else:
            if was_open:
                flash("修改已保存，修改记录见本页下方", "success")
            elif need.status == "open":
                flash("需求已发布，辖内银行现在可以看到并抢单", "success")
            else:
                flash("草稿已保存", "success")
            return redirect(url_for("needs.show", need_id=need.id))
    return render_template("needs/form.html", form=form, need=need), _status(form)


@blueprint.post("/<int:need_id>/publish")
@roles_required("enterprise")
def publish(need_id: int):
    """Publish a draft as it is (a button on its page; CSRFProtect checks the token)."""
    need = _own_need(need_id)
    try:
        publish_need(need, _user())
    except InvalidInput as exc:
        problems = [m for messages in exc.errors.values() for m in messages] or [exc.message]
        flash("草稿还不能发布，请修改后再发布：" + "；".join(problems), "danger")
        return redirect(url_for("needs.edit", need_id=need.id))
    except Conflict as exc:
        flash(exc.message, "warning")
    else:
        flash("需求已发布，辖内银行现在可以看到并抢单", "success")
    return redirect(url_for("needs.show", need_id=need.id))


@blueprint.post("/<int:need_id>/withdraw")
@roles_required("enterprise")
def withdraw(need_id: int):
    need = _own_need(need_id)
    form = WithdrawForm()
    if form.validate_on_submit():
        try:
            withdraw_need(need, form.reason.data, _user())
        except InvalidInput as exc:
            apply_service_errors(form, exc)
        except Conflict as exc:
            flash(exc.message, "warning")
            return redirect(url_for("needs.show", need_id=need.id))
        else:
            flash("需求已撤回", "success")
            return redirect(url_for("needs.show", need_id=need.id))
    return _render_show(need, withdraw_form=form, status=422)
