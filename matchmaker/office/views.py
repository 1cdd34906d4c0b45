"""The finance office's pages: banks, their users, the office's own accounts, the lead
workflow's queue (needs nobody grabbed, picks that lapsed) with 派单 and each need's audit trail,
the search over the whole audit log, and the dashboard."""

from __future__ import annotations

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

from matchmaker.accounts.permissions import OFFICE_ROLES, roles_required
from matchmaker.audit import display
from matchmaker.audit import queries as audit_queries
from matchmaker.banks import queries as bank_queries
from matchmaker.banks.forms import BankForm, BankUserForm
from matchmaker.banks.models import Bank
from matchmaker.banks.services import create_bank, create_bank_user
from matchmaker.claims import queries as claim_queries
from matchmaker.claims import services as claim_services
from matchmaker.claims import states
from matchmaker.claims.forms import AssignForm, to_int
from matchmaker.enums import ENTERPRISE_SIZES, ROLES
from matchmaker.errors import Conflict, Forbidden, InvalidInput
from matchmaker.extensions import db
from matchmaker.needs.models import Need
from matchmaker.needs.services import can_view
from matchmaker.office import queries, reports, stats
from matchmaker.office.forms import AuditFilterForm, DashboardFilterForm, OfficeUserForm
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


def _trail_rows(rows: list[dict]) -> list[dict]:
    """The trail with Chinese labels, and bank, manager and product names for their ids."""
    names = display.names_for(rows)
    return [row | {"label": display.action_label(row["action"]),
                   "role_label": ROLES.get(row["actor_role"] or "", row["actor_role"] or ""),
                   "before_items": display.items(row["before"], names),
                   "after_items": display.items(row["after"], names)}
            for row in rows]


@blueprint.get("/needs/<int:need_id>/trail")
@office_only
def trail(need_id: int):
    """A need's audit trail: who, what, before → after, when, from where."""
    need = _visible_need(need_id)
    return render_template("office/trail.html", need=need,
                           rows=_trail_rows(claim_queries.need_trail(need.id)))


# --- the audit log: search, CSV ---------------------------------------------------------------


def _audit_form() -> tuple[AuditFilterForm, audit_queries.Filters | None]:
    """The filters from the query string; None when they do not validate (shown in the form)."""
    form = AuditFilterForm(request.args)
    form.role.choices = [("", "全部角色"), *ROLES.items(),
                         (audit_queries.SYSTEM, "系统或匿名（无操作人）")]
    actions = [("", "全部操作"), *display.ACTION_GROUPS.items(),
               *sorted(display.ACTION_LABELS.items())]
    if form.action.data and form.action.data not in dict(actions):
        actions.append((form.action.data, form.action.data))
    form.action.choices = actions
    types = [("", "全部对象"), *display.OBJECT_TYPES.items()]
    if form.object_type.data and form.object_type.data not in dict(types):
        types.append((form.object_type.data, form.object_type.data))
    form.object_type.choices = types
    if request.args and not form.validate():
        return form, None
    return form, form.filters()


def _audit_cursor(form: AuditFilterForm) -> tuple[audit_queries.Cursor | None, bool]:
    """The `before` cursor of the query string: (cursor, valid)."""
    raw = request.args.get("before")
    if not raw:
        return None, True
    try:
        return audit_queries.Cursor.decode(raw), True
    except ValueError:
        form.form_errors.append("分页参数无效，请从第一页重新查询")
        return None, False


def _object_link(row: dict) -> str | None:
    """The page of the entry's object, where there is one."""
    kind, ident = row["object_type"], row["object_id"]
    if not ident.isdigit():
        return None
    if kind == "need":
        return url_for("needs.show", need_id=int(ident))
    if kind == "bank":
        return url_for("office.bank", bank_id=int(ident))
    if kind == "product":
        return url_for("products.detail", product_id=int(ident))
    return None


def _audit_rows(rows: list[dict]) -> list[dict]:
    names = display.names_for(rows)
    return [row | {"label": display.action_label(row["action"]),
                   "role_label": display.role_label(row["actor_role"], row["ip"]),
                   "object_label": display.object_label(row["object_type"]),
                   "object_url": _object_link(row),
                   "trail_url": url_for("office.trail", need_id=int(row["object_id"]))
                   if row["object_type"] == "need" and row["object_id"].isdigit() else None,
                   "changes": display.diff(row, names)}
            for row in rows]


@blueprint.get("/audit")
@office_only
def audit():
    """审计日志: every audited change, newest first, with filters and a CSV export."""
    form, filters = _audit_form()
    cursor, cursor_ok = _audit_cursor(form)
    if filters is None or not cursor_ok:
        return render_template("office/audit.html", form=form, rows=None, next_cursor=None,
                               filtered=True), 422
    rows, following = audit_queries.search(filters, cursor)
    args = {k: v for k, v in request.args.items() if k != "before" and v}
    return render_template(
        "office/audit.html", form=form, rows=_audit_rows(rows), filtered=bool(args),
        first_page=cursor is None, args=args,
        next_url=url_for("office.audit", **args, before=following.encode())
        if following else None)


CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value) -> str:
    """Text for a CSV cell; one that a spreadsheet would run as a formula gets a leading '."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(CSV_FORMULA_START) else text


@blueprint.get("/audit/export.csv")
@office_only
def audit_csv():
    import csv
    import io
    import json

    _, filters = _audit_form()
    if filters is None:
        abort(422)
    rows, truncated = audit_queries.export(filters)
    rows = _audit_rows(rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["时间（北京时间）", "操作人", "邮箱", "角色", "IP", "操作", "操作代码",
                     "对象类型", "对象编号", "变更", "之前（JSON）", "之后（JSON）"])
    for row in rows:
        writer.writerow([_csv_cell(v) for v in (
            local_time(row["created_at"], "%Y-%m-%d %H:%M:%S"),
            row["actor_name"] or ("" if row["actor_id"] is None else f"#{row['actor_id']}"),
            row["actor_email"], row["role_label"], row["ip"], row["label"], row["action"],
            row["object_label"], row["object_id"],
            "；".join(f"{c['label']}：{c['before']} → {c['after']}" for c in row["changes"]),
            json.dumps(row["before"], ensure_ascii=False) if row["before"] is not None else "",
            json.dumps(row["after"], ensure_ascii=False) if row["after"] is not None else "",
        )])
    if truncated:
        writer.writerow([f"（仅导出最新的 {audit_queries.EXPORT_LIMIT} 条，请缩小筛选范围）"])
    body = ("\ufeff" + buffer.getvalue()).encode("utf-8")
    return _download(body, "审计日志.csv", "text/csv; charset=utf-8",
                     ascii_name="greenmatch-audit.csv")


# --- dashboard and exports ------------------------------------------------------------------------

def _dashboard_form() -> tuple[DashboardFilterForm, stats.Filters | None]:
    """The filters from the query string; None when they do not validate (shown in the form)."""
    form = DashboardFilterForm(request.args)
    form.region_code.choices = [("", "全部地区"), *queries.need_region_choices()]
    form.category.choices = [("", "全部大类")] + [
        (c.code, f"{c.code} {c.name}") for c in codes.all_categories() if c.level == 1]
    form.bank_id.choices = [("", "全部银行")] + [(str(bank_id), name)
                                              for bank_id, name in bank_queries.bank_choices()]
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


def _download(body: bytes, filename: str, mimetype: str, ascii_name: str | None = None):
    from urllib.parse import quote

    response = make_response(body)
    response.mimetype = mimetype
    ascii_name = filename if filename.isascii() else (ascii_name or "greenmatch-stats.xlsx")
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}")
    return response
