"""The finance office's pages: banks, their users, the office's own accounts, and the lead
workflow's queue (needs nobody grabbed, picks that lapsed) with 派单 and each need's audit trail."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from matchmaker.accounts.models import User
from matchmaker.accounts.permissions import OFFICE_ROLES, roles_required
from matchmaker.banks import queries as bank_queries
from matchmaker.banks.forms import BankForm, BankUserForm
from matchmaker.banks.models import Bank
from matchmaker.banks.services import create_bank, create_bank_user
from matchmaker.claims import queries as claim_queries
from matchmaker.claims import services as claim_services
from matchmaker.claims import states
from matchmaker.claims.forms import AssignForm, to_int
from matchmaker.enums import (
    CLAIM_STATUSES,
    DECLINE_REASONS,
    ENTERPRISE_SIZES,
    NEED_STATUSES,
    ROLES,
)
from matchmaker.errors import Conflict, Forbidden, InvalidInput
from matchmaker.extensions import db
from matchmaker.needs.models import Need
from matchmaker.needs.services import can_view
from matchmaker.office import queries, reports, stats
from matchmaker.office.forms import DashboardFilterForm, OfficeUserForm
from matchmaker.office.services import create_office_user
from matchmaker.reference import codes
from matchmaker.web.filters import local_time
from matchmaker.web.forms import apply_service_errors, parse_codes

blueprint = Blueprint("office", __name__, url_prefix="/office")

office_only = roles_required(*OFFICE_ROLES)


def _actor():
    return current_user._get_current_object()


@blueprint.get("/")
@office_only
def index():
    work = claim_queries.office_queue()
    return render_template("office/index.html", counts=queries.platform_counts(),
                           queue_count=len(work["escalated"]) + len(work["lapsed"]))


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


# --- the lead workflow: queue, 派单, trail --------------------------------------------------------


def _visible_need(need_id: int) -> Need:
    need = db.session.get(Need, need_id)
    if need is None or not can_view(_actor(), need):
        abort(404)
    return need


def _bank_options(need: Need, banks: list[Bank]) -> list[tuple[Bank, bool]]:
    """Active banks that have not grabbed the need, those with eligible products first."""
    taken = {claim.bank_id for claim in need.claims}
    options = [(bank, bool(claim_services.eligible_products(need, bank.id)))
               for bank in banks if bank.id not in taken]
    return sorted(options, key=lambda pair: (not pair[1], pair[0].name))


def _assign_form(need: Need, banks: list[Bank], formdata: bool = False) -> AssignForm:
    prefix = f"assign{need.id}"
    form = AssignForm(prefix=prefix) if formdata else AssignForm(formdata=None, prefix=prefix)
    return form.set_banks(_bank_options(need, banks))


def _active_banks() -> list[Bank]:
    return list(db.session.scalars(sa.select(Bank).where(Bank.active.is_(True))
                                   .order_by(Bank.name)))


def _render_queue(failed: AssignForm | None = None, failed_need_id: int | None = None,
                  status: int = 200):
    work = claim_queries.office_queue()
    banks = _active_banks()
    forms = {}
    for need in work["escalated"] + work["lapsed"]:
        if need.status in states.ASSIGNABLE_NEED and need.id not in forms:
            forms[need.id] = (failed if failed is not None and need.id == failed_need_id
                              else _assign_form(need, banks))
    return render_template("office/queue.html", escalated=work["escalated"],
                           lapsed=work["lapsed"], assign_forms=forms), status


@blueprint.get("/queue")
@office_only
def queue():
    """待办队列: needs nobody grabbed (escalated) and needs whose pick lapsed."""
    return _render_queue()


@blueprint.post("/needs/<int:need_id>/assign")
@office_only
def assign(need_id: int):
    """派单: give the need to a bank; the bank's manager covering the region takes it."""
    need = _visible_need(need_id)
    form = _assign_form(need, _active_banks(), formdata=True)
    try:
        claim = claim_services.assign(need, to_int(form.bank_id.data), _actor(),
                                      note=form.note.data)
    except InvalidInput as exc:
        apply_service_errors(form, exc)
        return _render_queue(form, need.id, status=422)
    except (Conflict, Forbidden) as exc:
        flash(exc.message, "warning")
    else:
        manager = f"（客户经理：{claim.manager.name}）" if claim.manager else \
            "（该行暂无负责该地区的客户经理，请联系该行管理员分配）"
        flash(f"已将「{need.title}」派给{claim.bank.name}{manager}，请企业选定该行", "success")
    return redirect(url_for("office.queue"))


TRAIL_ACTIONS = {
    "need.created": "发布需求", "need.updated": "修改需求", "need.published": "发布草稿",
    "need.withdrawn": "撤回需求", "need.escalated": "上报金融办", "need.expired": "过期",
    "claim.grabbed": "抢单", "claim.selected": "选定银行",
    "claim.selection_cancelled": "取消选定", "claim.contacted": "已对接",
    "claim.credit_approved": "已授信", "claim.disbursed": "已放款", "claim.declined": "拒绝",
    "claim.lapsed": "选定超时失效", "claim.assigned": "派单", "claim.reassigned": "转交线索",
    "claim.rated": "评价", "claim.contact_reminder": "对接提醒",
}
TRAIL_FIELDS = {
    "status": "需求状态", "claim_status": "抢单状态", "claim_id": "抢单记录", "bank_id": "银行",
    "manager_id": "客户经理", "amount_wan": "金额（万元）", "rate": "年利率（%）",
    "reason_code": "拒绝原因", "reason": "原因", "note": "备注", "slot": "抢单序号",
    "product_id": "产品", "contact_due_at": "对接期限", "stars": "评分", "comment": "评价",
    "not_selected_bank_ids": "未被选定的银行", "eligible_product": "有适用产品",
    "published_at": "发布时间", "deadline": "截止日期", "cancelled_claim_ids": "取消的抢单",
}


def _trail_value(key: str, value, names: dict) -> str:
    if value is None or value == "":
        return "—"
    if key == "status":
        return NEED_STATUSES.get(value, str(value))
    if key == "claim_status":
        return CLAIM_STATUSES.get(value, str(value))
    if key == "reason_code":
        return DECLINE_REASONS.get(value, str(value))
    if key == "bank_id":
        return names["banks"].get(value, f"#{value}")
    if key == "manager_id":
        return names["users"].get(value, f"#{value}")
    if key == "not_selected_bank_ids" and isinstance(value, list):
        return "、".join(names["banks"].get(v, f"#{v}") for v in value) or "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if key.endswith("_at") and isinstance(value, str):
        try:
            return local_time(datetime.fromisoformat(value))
        except ValueError:
            return value
    if isinstance(value, list):
        return "、".join(str(v) for v in value) or "—"
    if isinstance(value, dict):
        return "；".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


def _trail_rows(rows: list[dict]) -> list[dict]:
    """The trail with Chinese labels, and bank and manager names for their ids."""
    bank_ids, user_ids = set(), set()
    for row in rows:
        for part in (row["before"] or {}, row["after"] or {}):
            if isinstance(part.get("bank_id"), int):
                bank_ids.add(part["bank_id"])
            bank_ids.update(v for v in part.get("not_selected_bank_ids") or []
                            if isinstance(v, int))
            if isinstance(part.get("manager_id"), int):
                user_ids.add(part["manager_id"])
    names = {
        "banks": dict(db.session.execute(sa.select(Bank.id, Bank.name)
                                         .where(Bank.id.in_(bank_ids))).all()) if bank_ids else {},
        "users": dict(db.session.execute(sa.select(User.id, User.name)
                                         .where(User.id.in_(user_ids))).all()) if user_ids else {},
    }

    def describe(part) -> list[tuple[str, str]]:
        if not isinstance(part, dict):
            return []
        return [(TRAIL_FIELDS.get(key, key), _trail_value(key, value, names))
                for key, value in part.items()]

    return [row | {"label": TRAIL_ACTIONS.get(row["action"], row["action"]),
                   "role_label": ROLES.get(row["actor_role"] or "", row["actor_role"] or ""),
                   "before_items": describe(row["before"]), "after_items": describe(row["after"])}
            for row in rows]


@blueprint.get("/needs/<int:need_id>/trail")
@office_only
def trail(need_id: int):
    """A need's audit trail: who, what, before → after, when, from where."""
    need = _visible_need(need_id)
    return render_template("office/trail.html", need=need,
                           rows=_trail_rows(claim_queries.need_trail(need.id)))


# --- dashboard and exports ------------------------------------------------------------------------

def _dashboard_form() -> tuple[DashboardFilterForm, stats.Filters | None]:
    """The filters from the query string; None when they do not validate (shown in the form)."""
    form = DashboardFilterForm(request.args)
    form.region_code.choices = [("", "全部地区"), *queries.need_region_choices()]
    form.category.choices = [("", "全部大类")] + [
        (c.code, f"{c.code} {c.name}") for c in codes.all_categories() if c.level == 1]
    form.bank_id.choices = [("", "全部银行")] + [(str(b.id), b.name)
                                              for b in bank_queries.all_banks()]
    form.size.choices = [("", "全部规模"), *ENTERPRISE_SIZES.items()]
    if request.args and not form.validate():
        return form, None
    return form, stats.Filters(
        start=form.start.data, end=form.end.data, region_code=form.region_code.data or None,
        category=form.category.data or None,
        bank_id=int(form.bank_id.data) if form.bank_id.data else None,
        size=form.size.data or None)


@blueprint.get("/dashboard")
@office_only
def dashboard():
    form, filters = _dashboard_form()
    if filters is None:
        return render_template("office/dashboard.html", form=form, report=None), 422
    report = reports.Report.build(filters)
    sort = request.args.get("sort", "grabs")
    if sort not in {c.key for c in reports.BANK_COLUMNS}:
        sort = "grabs"
    descending = request.args.get("dir", "desc") != "asc"
    known = sorted((r for r in report.banks if r[sort] is not None), key=lambda r: r[sort],
                   reverse=descending)
    report.banks = known + [r for r in report.banks if r[sort] is None]  # blanks last
    return render_template("office/dashboard.html", form=form, report=report,
                           reports=reports, sort=sort, descending=descending,
                           charts=reports.chart_data(report))


@blueprint.get("/dashboard/export.xlsx")
@office_only
def dashboard_xlsx():
    _, filters = _dashboard_form()
    if filters is None:
        abort(422)
    body = reports.to_xlsx(reports.Report.build(filters))
    return _download(body, "绿色金融对接统计.xlsx",
                     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@blueprint.get("/dashboard/<name>.csv")
@office_only
def dashboard_csv(name: str):
    if name not in reports.TABLE_NAMES:
        abort(404)
    _, filters = _dashboard_form()
    if filters is None:
        abort(422)
    body = reports.to_csv(reports.Report.build(filters), name)
    return _download(body, f"{name}.csv", "text/csv; charset=utf-8")


def _download(body: bytes, filename: str, mimetype: str):
    from urllib.parse import quote

    response = make_response(body)
    response.mimetype = mimetype
    ascii_name = filename if filename.isascii() else "greenmatch-stats.xlsx"
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}")
    return response
