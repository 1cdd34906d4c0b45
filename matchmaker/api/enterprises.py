"""Enterprise self-registration through the API."""

from __future__ import annotations

from marshmallow import fields

from matchmaker.api.core import BaseSchema, api_blueprint
from matchmaker.api.fields import Code, Str
from matchmaker.enterprises.services import Registration, register_enterprise
from matchmaker.enums import ENTERPRISE_SIZES, ENV_CREDIT
from matchmaker.extensions import limit_signups

blp = api_blueprint("api_enterprises", "/enterprises", "企业注册")


class EnterpriseRegistrationSchema(BaseSchema):
    uscc = Str(max_length=64, required=True,
               metadata={"description": "统一社会信用代码（18 位，校验位会被核对）",
                         "example": "91330502MA0000001X"})
    name = Str(max_length=128, required=True, metadata={"description": "企业名称"})
    region_code = Str(max_length=12, required=True,
                      metadata={"description": "所在地 GB/T 2260 行政区划代码",
                                "example": "330502"})
    industry_code = Str(max_length=8, required=True,
                        metadata={"description": "GB/T 4754 门类字母或两位大类代码，如 C 或 38"})
    size = Code(ENTERPRISE_SIZES, required=True, metadata={"description": "企业规模"})
    env_credit = Code(ENV_CREDIT, required=True, metadata={"description": "环境信用评价等级"})
    contact_name = Str(max_length=64, required=True, metadata={"description": "联系人"})
    phone = Str(max_length=32, required=True, metadata={"description": "联系电话"})
    email = Str(max_length=254, required=True,
                metadata={"description": "联系邮箱，也是首个用户的登录名"})
    password = Str(max_length=128, required=True, load_only=True,
                   metadata={"description": "首个用户的密码", "format": "password"})
    address = Str(max_length=200, blank=True, allow_none=True, load_default=None,
                  metadata={"description": "地址（可选）"})


class EnterpriseSchema(BaseSchema):
    id = fields.Integer(required=True)
    uscc = fields.String(required=True)
    name = fields.String(required=True)
    region_code = fields.String(required=True)
    industry_code = fields.String(required=True)
    size = fields.String(required=True, metadata={"enum": list(ENTERPRISE_SIZES)})
    env_credit = fields.String(required=True, metadata={"enum": list(ENV_CREDIT)})
    contact_name = fields.String(required=True)
    phone = fields.String(required=True)
    email = fields.String(required=True)
    address = fields.String(allow_none=True)
    user_id = fields.Integer(required=True, metadata={"description": "同时创建的企业用户"})


@blp.route("", methods=["POST"])
@limit_signups
@blp.arguments(EnterpriseRegistrationSchema)
@blp.response(201, EnterpriseSchema)
@blp.alt_response(409, response="CONFLICT")
@blp.alt_response(429, response="TOO_MANY_REQUESTS")
def register(data):
    """注册企业及其首个用户

    任何人可调用。统一社会信用代码的校验位会被核对（错误时 422，errors.uscc）；代码已注册时
    409（errors.uscc），邮箱已注册时 409（errors.email）。
    """
    enterprise, user = register_enterprise(Registration(**data))
    return {
        "id": enterprise.id,
        "uscc": enterprise.uscc,
        "name": enterprise.name,
        "region_code": enterprise.region_code,
        "industry_code": enterprise.industry_code,
        "size": enterprise.size,
        "env_credit": enterprise.env_credit,
        "contact_name": enterprise.contact_name,
        "phone": enterprise.phone,
        "email": enterprise.email,
        "address": enterprise.address,
        "user_id": user.id,
    }
