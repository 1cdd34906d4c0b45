"""API tokens: exchange e-mail and password for a bearer token; revoke it."""

from __future__ import annotations

from flask import Response
from flask_smorest import abort
from marshmallow import fields

from matchmaker.accounts.services import authenticate, issue_token, revoke_token
from matchmaker.api.auth import bearer_token, token_required
from matchmaker.api.core import BaseSchema, api_blueprint
from matchmaker.api.fields import Str
from matchmaker.extensions import limit_logins

blp = api_blueprint("api_tokens", "/tokens", "访问令牌：以邮箱和密码换取 Bearer 令牌，或撤销令牌")


class TokenRequestSchema(BaseSchema):
    email = Str(max_length=320, required=True, metadata={"example": "manager@example.com"})
    password = Str(max_length=1024, required=True, metadata={"format": "password"})


class TokenSchema(BaseSchema):
    token = fields.String(required=True,
                          metadata={"description": "在 Authorization: Bearer 中发送"})
    expires_at = fields.DateTime(required=True, metadata={"description": "过期时间（UTC）"})


@blp.route("", methods=["POST"])
@limit_logins
@blp.arguments(TokenRequestSchema)
@blp.response(201, TokenSchema)
@blp.alt_response(401, response="UNAUTHORIZED")
@blp.alt_response(429, response="TOO_MANY_REQUESTS")
def issue(data):
    """换取访问令牌

    邮箱不存在、密码错误或账号已停用时一律返回 401，且说明相同。同一账号连续输错密码
    LOGIN_MAX_FAILURES 次（默认 5）后锁定 LOGIN_LOCKOUT_MINUTES 分钟（默认 15），其间返回 429；
    同一来源地址的登录与换取令牌请求共同受 LOGIN_RATE_LIMIT 限制（默认每分钟 20 次），超出时 429，
    响应头 Retry-After 给出等待秒数。
    """
    user = authenticate(data["email"], data["password"], via="api")
    if user is None:
        abort(401, message="邮箱或密码不正确")
    token, expires_at = issue_token(user)
    return {"token": token, "expires_at": expires_at}


@blp.route("", methods=["DELETE"])
@token_required()
@blp.response(204)
def revoke():
    """撤销当前令牌

    撤销请求头中出示的令牌；之后用它的请求得到 401。
    """
    revoke_token(bearer_token())
    return Response(status=204)
