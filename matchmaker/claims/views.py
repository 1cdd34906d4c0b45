"""The lead workflow's pages: 抢单, the bank's leads, a claim's page with its progress forms, the
enterprise's pick, cancel and rating (on the need's page), and the bank admin's reassignment.

Every rule is the service's (`matchmaker.claims.services`); these views pass the forms on and show
what the service says: field problems beside the fields (422), refusals of the moment (someone was
faster, the state moved on) as a flash message on the page the user came from. Who may see a claim
is `services.get_claim_for`: its bank's users, the need's enterprise and the office; anyone else
gets 404, as if it did not exist. Within the bank, only the claim's manager and the bank's admins
act on it (others 403). The office's queue, 派单 and trail pages are in `matchmaker.office.views`.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from matchmaker.accounts.permissions import OFFICE_ROLES, roles_required
from matchmaker.claims import queries, services, states
from matchmaker.claims.calendar import calendar
from matchmaker.claims.forms import (
    EVENT_FORMS,
    CancelSelectionForm,
    RatingForm,
    ReassignForm,
    event_data,
    event_form,
    to_int,
)
from matchmaker.claims.models import Claim
from matchmaker.database import utcnow
from matchmaker.enums import BANK_ROLES, CLAIM_STATUSES, ROLES
from matchmaker.errors import Conflict, Forbidden, InvalidInput, NotFound
from matchmaker.extensions import db
from matchmaker.needs.models import Need
from matchmaker.needs.services import owns
from matchmaker.web.filters import short_local
from matchmaker.web.forms import apply_service_errors

blueprint = Blueprint("claims", __name__, url_prefix="/claims")

PER_PAGE = 50
RATABLE = ("disbursed", "declined")
CANCELLABLE = ("selected", "contacted")

# What the bank does next, by claim status (the list of leads).
NEXT_ACTIONS = {
    "claimed": "等待企业选定",
    "not_selected": "未被选定，企业改选时可再获选定",
    "selected": "请联系企业并登记已对接",
    "contacted": "登记授信结果或拒绝",
    "credit_approved": "登记放款或拒绝",
    "disbursed": "已完成",
    "declined": "已结束",
    "lapsed": "已结束（未按时对接）",
    "cancelled": "已结束",
}
EVENT_LABELS = {"contacted": "已对接", "credit_approved": "已授信", "disbursed": "已放款",
                "declined": "拒绝"}
EVENT_DONE = {
    "contacted": "已登记对接，请继续跟进授信",
    "credit_approved": "已登记授信",
    "disbursed": "已登记放款，该需求已完成对接",
    "declined": "已登记拒绝",
}


def _user():
    return current_user._get_current_object()


def _claim_for(claim_id: int) -> Claim:
    try:
        return services.get_claim_for(claim_id, _user())
    except NotFound:
        abort(404)


def _acts_on(claim: Claim, user) -> bool:
    """The claim's manager and the bank's admins record progress (`check_bank_access`)."""
    return user.bank_id is not None and user.bank_id == claim.bank_id and (
        user.role == "bank_admin" or claim.manager_id == user.id)


def _reassign_form(claim: Claim, formdata: bool = False) -> ReassignForm:
    prefix = f"reassign{claim.id}"
    form = ReassignForm(prefix=prefix) if formdata else ReassignForm(
        formdata=None, prefix=prefix, data={"manager_id": str(claim.manager_id or "")})
    return form.set_managers(queries.bank_managers(claim.bank_id), claim.manager_id)


def _reassigns(claim: Claim, user) -> bool:
    return (user.role == "bank_admin" and user.bank_id == claim.bank_id
            and claim.status in states.LIVE_CLAIM)


# --- the bank's leads ----------------------------------------------------------------------------


@blueprint.get("/mine")
@roles_required(*BANK_ROLES)
def mine():
    """我的线索: a manager's claims; for a bank admin, every claim of the bank."""
    user = _user()
    base = queries.claims_for(user)
    managers, manager_id = [], None
    if user.role == "bank_admin":
        managers = queries.bank_managers(user.bank_id)
        manager_id = request.args.get("manager", type=int)
        if manager_id is not None:
            base = base.where(Claim.manager_id == manager_id)
    counts = queries.status_counts(base)
    status = request.args.get("status") or None
    if status not in CLAIM_STATUSES:
        status = None
    stmt = base.where(Claim.status == status) if status else base
    # The leads that need action now first, then the newest.
    urgent = sa.case((Claim.status.in_(tuple(states.PICKED_CLAIM)), 0), else_=1)
    page = db.paginate(queries.with_details(stmt).order_by(urgent, Claim.claimed_at.desc(),
                                                           Claim.id.desc()),
                       page=request.args.get("page", 1, type=int), per_page=PER_PAGE,
                       error_out=False)
    reassign_forms = {claim.id: _reassign_form(claim) for claim in page.items
                      if _reassigns(claim, user)}
    return render_template(
        "claims/mine.html", page=page, claims=page.items, counts=counts, status=status,
        total=sum(counts.values()), managers=managers, manager_id=manager_id,
        reassign_forms=reassign_forms, next_actions=NEXT_ACTIONS)


# --- 抢单 ----------------------------------------------------------------------------------------


def _back_from_grab(need_id: int) -> str:
    if request.form.get("back") == "leads":
        return url_for("banks.leads")
    return url_for("needs.show", need_id=need_id)


@blueprint.post("/grab/<int:need_id>")
@roles_required("bank_manager")
def grab(need_id: int):
    try:
        claim = services.grab(need_id, _user())
    except NotFound:
        abort(404)
    except (InvalidInput, Conflict, Forbidden) as exc:
        flash(exc.message, "warning")
        return redirect(_back_from_grab(need_id))
    days = current_app.config["CONTACT_DEADLINE_WORKING_DAYS"]
    flash(f"抢单成功！企业联系方式见下方。企业选定贵行后，请在 {days} 个工作日内联系企业并登记对接",
          "success")
    return redirect(url_for("claims.show", claim_id=claim.id))


# --- a claim's page ------------------------------------------------------------------------------


def _render_claim(claim: Claim, forms: dict | None = None,
                  reassign_form: ReassignForm | None = None, status: int = 200):
    user = _user()
    need = claim.need
    acts = _acts_on(claim, user)
    kinds = []
    if acts and claim.status in states.PICKED_CLAIM and need.status not in states.CLOSED_NEED:
        kinds = [kind for kind in states.EVENT_TYPES
                 if states.can_move(states.CLAIM_TRANSITIONS, claim.status, kind)]
    forms = forms or {}
    event_forms = {kind: forms.get(kind) or event_form(kind) for kind in kinds}
    if not _reassigns(claim, user):
        reassign_form = None
    elif reassign_form is None:
        reassign_form = _reassign_form(claim)
    return render_template(
        "claims/show.html", claim=claim, need=need, enterprise=need.enterprise,
        contacts=services.sees_contacts(user, need), acts=acts,
        own_bank=user.bank_id is not None and user.bank_id == claim.bank_id,
        office=user.role in OFFICE_ROLES, owner=owns(user, need),
        event_forms=event_forms, event_buttons={k: EVENT_FORMS[k][1] for k in kinds},
        reassign_form=reassign_form, event_labels=EVENT_LABELS,
        next_action=NEXT_ACTIONS.get(claim.status),
    ), status


@blueprint.get("/<int:claim_id>")
@roles_required(*ROLES)
def show(claim_id: int):
    return _render_claim(_claim_for(claim_id))


@blueprint.post("/<int:claim_id>/events/<kind>")
@roles_required(*BANK_ROLES)
def record(claim_id: int, kind: str):
    """已对接 / 已授信 / 已放款 / 拒绝, on the claim the enterprise picked."""
    if kind not in EVENT_FORMS:
        abort(404)
    user = _user()
    claim = _claim_for(claim_id)
    try:
        services.check_bank_access(claim, user)
    except NotFound:
        abort(404)
    except Forbidden:
        abort(403)  # another manager's lead: not theirs to act on
    form = event_form(kind, request.form)
    try:
        services.record_event(claim, user, event_data(kind, form))
    except InvalidInput as exc:
        apply_service_errors(form, exc)
        return _render_claim(claim, forms={kind: form}, status=422)
    except (Conflict, Forbidden) as exc:
        flash(exc.message, "warning")
    else:
        flash(EVENT_DONE[kind], "success")
    return redirect(url_for("claims.show", claim_id=claim.id))


@blueprint.post("/<int:claim_id>/reassign")
@roles_required("bank_admin")
def reassign(claim_id: int):
    """A bank admin hands a lead to another of the bank's managers."""
    claim = _claim_for(claim_id)
    if claim.bank_id != current_user.bank_id:
        abort(404)
    back = (url_for("claims.mine") if request.form.get("back") == "mine"
            else url_for("claims.show", claim_id=claim.id))
    form = _reassign_form(claim, formdata=True)
    before = claim.manager_id
    try:
        services.reassign(claim, to_int(form.manager_id.data), _user())
    except NotFound:
        abort(404)
    except InvalidInput as exc:
        apply_service_errors(form, exc)
        return _render_claim(claim, reassign_form=form, status=422)
    except (Conflict, Forbidden) as exc:
        flash(exc.message, "warning")
    else:
        if claim.manager_id == before:
            flash(f"该线索本来就由{claim.manager.name}负责", "info")
        else:
            flash(f"已将线索「{claim.need.title}」转交给{claim.manager.name}", "success")
    return redirect(back)


# --- the enterprise's pick, cancel and rating (forms on the need's page) --------------------------


def _need_page(need: Need, **kwargs):
    from matchmaker.needs.views import _render_show

    return _render_show(need, **kwargs)


@blueprint.post("/<int:claim_id>/select")
@roles_required("enterprise")
def select(claim_id: int):
    claim = _claim_for(claim_id)
    need = claim.need
    if not owns(_user(), need):
        abort(404)
    try:
        chosen = services.select_claim(need, claim.id, _user())
    except (InvalidInput, Conflict, Forbidden) as exc:
        flash(exc.message, "warning")
    else:
        due = short_local(chosen.contact_due_at)
        flash(f"已选定{chosen.bank.name}。该行须在 {due} 前与您联系；逾期未联系，选定自动失效，"
              "您可另选", "success")
    return redirect(url_for("needs.show", need_id=need.id))


@blueprint.post("/needs/<int:need_id>/cancel-selection")
@roles_required("enterprise")
def cancel_selection(need_id: int):
    need = db.session.get(Need, need_id)
    if need is None or not owns(_user(), need):
        abort(404)
    form = CancelSelectionForm(prefix="cancel")
    try:
        claim = services.cancel_selection(need, form.reason.data, _user())
    except InvalidInput as exc:
        apply_service_errors(form, exc)
        return _need_page(need, cancel_form=form, status=422)
    except (Conflict, Forbidden) as exc:
        flash(exc.message, "warning")
    else:
        if need.status == "escalated":
            flash(f"已取消选定{claim.bank.name}。没有其他抢单银行，需求已上报金融办派单", "success")
        else:
            flash(f"已取消选定{claim.bank.name}，您可以在其余抢单银行中另选一家", "success")
    return redirect(url_for("needs.show", need_id=need.id))


@blueprint.post("/<int:claim_id>/rating")
@roles_required("enterprise")
def rate(claim_id: int):
    claim = _claim_for(claim_id)
    need = claim.need
    if not owns(_user(), need):
        abort(404)
    form = RatingForm(prefix=f"rating{claim.id}")
    try:
        services.rate(claim, _user(), form.stars.data, form.comment.data)
    except InvalidInput as exc:
        apply_service_errors(form, exc)
        return _need_page(need, rating_form=form, rating_claim_id=claim.id, status=422)
    except (Conflict, Forbidden) as exc:
        flash(exc.message, "warning")
    else:
        flash(f"感谢评价！您对{claim.bank.name}的评价已提交", "success")
    return redirect(url_for("needs.show", need_id=need.id))


# --- what the need's page shows of the workflow -------------------------------------------------


def escalation_note(need: Need, now: datetime | None = None) -> str | None:
    """While a published need has no grab: when it goes to the finance office."""
    if need.status != "open" or need.claims:
        return None
    due = services.escalation_deadline(need)
    if due is None:
        return None
    now = now or utcnow()
    if due <= now:
        return "已超过期限仍无人抢单，即将上报金融办"
    days = calendar().working_days_between(now, due)
    when = f"（{short_local(due, now)} 前）"
    if days < 1:
        return f"今天无人抢单将上报金融办{when}"
    return f"{days} 个工作日内无人抢单将上报金融办{when}"


def need_claims_context(need: Need, user, cancel_form: CancelSelectionForm | None = None,
                        rating_form: RatingForm | None = None,
                        rating_claim_id: int | None = None) -> dict:
    """The need page's part of the workflow, for `needs/show.html`."""
    owner = owns(user, need)
    claims = list(need.claims)
    picked = services.picked_claim(need)
    context = {
        "claims": claims, "picked": picked, "contacts": services.sees_contacts(user, need),
        "can_pick": owner and need.status in states.PICKING_NEED,
        "pickable": states.PICKABLE_CLAIM, "cancel_form": None, "rating_forms": {},
        "my_claim": None, "can_grab": False, "grab_blocked": None,
        "escalation": escalation_note(need), "event_labels": EVENT_LABELS,
        "office": user.role in OFFICE_ROLES,
    }
    if owner:
        if picked is not None and picked.status in CANCELLABLE:
            context["cancel_form"] = cancel_form or CancelSelectionForm(formdata=None,
                                                                        prefix="cancel")
        if need.status in RATABLE:
            context["rating_forms"] = {
                c.id: (rating_form if rating_form is not None and c.id == rating_claim_id
                       else RatingForm(formdata=None, prefix=f"rating{c.id}"))
                for c in claims if c.status in RATABLE and c.rating is None}
    if user.bank_id is not None:
        mine = services.bank_claim(need, user.bank_id)
        context["my_claim"] = mine
        cap = current_app.config["CLAIM_CAP"]
        if (user.role == "bank_manager" and mine is None
                and need.status in states.GRABBABLE_NEED and len(claims) < cap):
            if services.eligible_products(need, user.bank_id):
                context["can_grab"] = True
            else:
                context["grab_blocked"] = "本行没有适用于该需求的在售产品，不能抢单"
    return context
