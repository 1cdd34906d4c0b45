"""The audit log for the finance office and platform admins: the filters of /office/audit."""

from __future__ import annotations

from marshmallow import ValidationError, fields, validates_schema

from matchmaker.accounts.permissions import OFFICE_ROLES
from matchmaker.api.auth import token_required
from matchmaker.api.core import BaseSchema, api_blueprint
from matchmaker.api.fields import Code, Day, Int, Str
from matchmaker.audit import display
from matchmaker.audit import queries as audit_queries
from matchmaker.audit.models import OBJECT_ID_MAX

blp = api_blueprint("api_audit", "/audit",
                    "审计日志：每一次状态变更的操作人、角色、IP、对象、变更前后与时间（金融办）")


def _check(problem):
    def validator(value):
        message = problem(value)
        if message:
            raise ValidationError(message)

    return validator


class AuditQuerySchema(BaseSchema):
    start = Day(data_key="from", metadata={"description": "日期自（含，北京时间）"})
    end = Day(data_key="to", metadata={"description": "日期至（含，北京时间）"})
    actor = Str(max_length=audit_queries.ACTOR_MAX, validate=_check(audit_queries.actor_problem),
                metadata={"description": "操作人的邮箱或姓名包含（不区分大小写）"})
    role = Code(audit_queries.ROLE_CODES, metadata={
        "description": "操作人的角色；system 为无操作人的记录（定时任务、命令行、登录失败）"})
    action = Str(max_length=48, validate=_check(audit_queries.action_problem), metadata={
        "description": "操作代码，如 need.created；need.* 表示需求的全部操作"})
    object_type = Str(max_length=32, validate=_check(audit_queries.object_type_problem),
                      metadata={"description": "对象类型：" + "、".join(
                          f"{code}（{label}）" for code, label in display.OBJECT_TYPES.items())})
    object_id = Str(max_length=OBJECT_ID_MAX, validate=_check(audit_queries.object_id_problem),
                    metadata={"description": "对象编号（须同时给出 object_type）"})
    ip = Str(max_length=audit_queries.IP_MAX, validate=_check(audit_queries.ip_problem),
             metadata={"description": "IP 地址，或其开头部分（如 10.1.）"})
    before = Str(max_length=40, metadata={
        "description": "分页游标：上一页响应中的 next_cursor，返回比它更早的记录"})
    limit = Int(minimum=1, maximum=audit_queries.MAX_PAGE_SIZE, strict=False,
                load_default=audit_queries.PAGE_SIZE,
                metadata={"description": f"每页条数，1 到 {audit_queries.MAX_PAGE_SIZE}，默认 "
                                         f"{audit_queries.PAGE_SIZE}"})

    @validates_schema
    def _together(self, data, **kwargs):
        problems = {}
        if message := audit_queries.period_problem(data.get("start"), data.get("end")):
            problems["to"] = [message]
        if message := audit_queries.object_problem(data.get("object_type"),
                                                   data.get("object_id")):
            problems["object_type"] = [message]
        if data.get("before"):
            try:
                audit_queries.Cursor.decode(data["before"])
            except ValueError:
                problems["before"] = ["分页游标无效，请使用上一页响应中的 next_cursor"]
        if problems:
            raise ValidationError(problems)


class ChangeSchema(BaseSchema):
    field = fields.String(required=True, metadata={"description": "字段代码"})
    label = fields.String(required=True, metadata={"description": "字段的中文名称"})
    before = fields.String(required=True, metadata={"description": "之前（可读文本）"})
    after = fields.String(required=True, metadata={"description": "之后（可读文本）"})


class AuditEntrySchema(BaseSchema):
    id = fields.Integer(required=True)
    created_at = fields.DateTime(required=True, metadata={"description": "时间（UTC）"})
    actor_id = fields.Integer(required=True, allow_none=True,
                              metadata={"description": "操作人；null 为系统"})
    actor_name = fields.String(required=True, allow_none=True)
    actor_email = fields.String(required=True, allow_none=True)
    actor_role = fields.String(required=True, allow_none=True,
                               metadata={"description": "操作时的角色"})
    ip = fields.String(required=True, allow_none=True)
    action = fields.String(required=True)
    action_label = fields.String(required=True)
    object_type = fields.String(required=True)
    object_id = fields.String(required=True)
    before = fields.Dict(required=True, allow_none=True, metadata={"description": "之前（原始）"})
    after = fields.Dict(required=True, allow_none=True, metadata={"description": "之后（原始）"})
    changes = fields.List(fields.Nested(ChangeSchema), required=True, metadata={
        "description": "变更的字段（新建时为全部字段）"})


class AuditPageSchema(BaseSchema):
    items = fields.List(fields.Nested(AuditEntrySchema), required=True)
    next_cursor = fields.String(required=True, allow_none=True, metadata={
        "description": "下一页（更早的记录）的游标，作为 before 传入；null 表示没有更多"})
    limit = fields.Integer(required=True)


def filters_of(query: dict) -> audit_queries.Filters:
    return audit_queries.Filters(
        start=query.get("start"), end=query.get("end"), actor=(query.get("actor") or "").strip()
        or None, role=query.get("role") or None, action=query.get("action"),
        object_type=query.get("object_type"), object_id=query.get("object_id"),
        ip=(query.get("ip") or "").strip() or None)


@blp.route("", methods=["GET"])
@token_required(*OFFICE_ROLES)
@blp.arguments(AuditQuerySchema, location="query")
@blp.response(200, AuditPageSchema)
def search(query):
    """查询审计日志（金融办、平台管理员）

    最新的在前，按游标分页：把响应中的 next_cursor 作为 before 传入即得下一页。日期为北京时间，
    例如 UTC 23:30 的记录属于北京时间的次日。before/after 为原始记录（不含密码、令牌与密钥），
    changes 为可读的变更字段。
    """
    cursor = audit_queries.Cursor.decode(query["before"]) if query.get("before") else None
    rows, following = audit_queries.search(filters_of(query), cursor, query["limit"])
    names = display.names_for(rows)
    items = [row | {"action_label": display.action_label(row["action"]),
                    "changes": [{"field": c["key"], "label": c["label"], "before": c["before"],
                                 "after": c["after"]} for c in display.diff(row, names)]}
             for row in rows]
    return {"items": items, "next_cursor": following.encode() if following else None,
            "limit": query["limit"]}
