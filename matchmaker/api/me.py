"""The user a token belongs to."""

from __future__ import annotations

from marshmallow import fields

from matchmaker.api.auth import current_api_user, token_required
from matchmaker.api.core import BaseSchema, api_blueprint
from matchmaker.enums import ROLES

blp = api_blueprint("api_me", "/me", "当前用户")


class OrganisationSchema(BaseSchema):
    type = fields.String(required=True, metadata={
        "enum": ["enterprise", "bank", "office", "platform"],
        "description": "enterprise 企业、bank 银行、office 金融办；"
                       "平台管理员为 platform（id 为 null）",
    })
    id = fields.Integer(required=True, allow_none=True)
    name = fields.String(required=True)


class MeSchema(BaseSchema):
    id = fields.Integer(required=True)
    email = fields.String(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True, metadata={"enum": list(ROLES)})
    enterprise_id = fields.Integer(required=True, allow_none=True)
    bank_id = fields.Integer(required=True, allow_none=True)
    office_id = fields.Integer(required=True, allow_none=True)
    region_codes = fields.List(fields.String(), required=True,
                               metadata={"description": "客户经理与银行管理员覆盖的地区"})
    organisation = fields.Nested(OrganisationSchema, required=True)


def organisation_of(user) -> dict:
    for kind, org in (("enterprise", user.enterprise), ("bank", user.bank),
                      ("office", user.office)):
        if org is not None:
            return {"type": kind, "id": org.id, "name": org.name}
    return {"type": "platform", "id": None, "name": "GreenMatch"}


def me_payload(user) -> dict:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "enterprise_id": user.enterprise_id,
        "bank_id": user.bank_id,
        "office_id": user.office_id,
        "region_codes": user.region_codes,
        "organisation": organisation_of(user),
    }


@blp.route("", methods=["GET"])
@token_required()
@blp.response(200, MeSchema)
def me():
    """当前用户及其所属机构"""
    return me_payload(current_api_user())
