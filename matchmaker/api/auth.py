"""Bearer-token authentication for the API.

`Authorization: Bearer <token>` → `accounts.services.user_for_token`. The user is put on
`flask.g.api_user` (the audit log reads it) and made Flask-Login's `current_user` for the request.
Missing, unknown, expired and revoked tokens get 401; a role not allowed gets 403.
"""

from __future__ import annotations

from copy import deepcopy
from functools import wraps

from flask import g, request
from flask_smorest import abort

from matchmaker.accounts.services import user_for_token
from matchmaker.errors import Forbidden

SECURITY = [{"bearerAuth": []}]
SECURITY_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "先用 POST /api/v1/tokens 以邮箱和密码换取令牌，再在请求头中发送 "
                   "`Authorization: Bearer <token>`。",
}


def bearer_token() -> str | None:
    """The token of `Authorization: Bearer <token>`, or None when the header is absent or not of
    that form."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        return None
    return token


def authenticate():
    """The user of the presented token, or abort with 401."""
    header = request.headers.get("Authorization")
    if not header:
        abort(401, message="缺少访问令牌：请在请求头中发送 Authorization: Bearer <token>")
    token = bearer_token()
    if token is None:
        abort(401, message="Authorization 请求头格式应为 Bearer <token>")
    user = user_for_token(token)
    if user is None:
        abort(401, message="访问令牌无效、已过期或已撤销，请重新获取")
    g.api_user = user
    g._login_user = user  # Flask-Login's current_user for this request only; no session written
    return user


def current_api_user():
    return g.get("api_user")


def optional_user():
    """For public operations that show more to some users: the token's user when an
    Authorization header is sent (401 when that token is bad, never a silent downgrade), else
    None."""
    if "Authorization" not in request.headers:
        return None
    return authenticate()


def token_required(*roles: str):
    """Require a valid bearer token, and one of `roles` when any are given.

    Put it directly under `@blp.route(...)` so that authentication happens before the body is
    parsed (an anonymous caller gets 401, not a 422 about its body). It also documents the
    operation: `security: bearerAuth`, the 401/403 responses and `x-roles`.
    """

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            user = authenticate()
            if roles and user.role not in roles:
                raise Forbidden("当前账号的角色无权进行此操作")
            return view(*args, **kwargs)

        doc = deepcopy(getattr(view, "_apidoc", {}))
        manual = doc.setdefault("manual_doc", {})
        manual["security"] = SECURITY
        if roles:
            manual["x-roles"] = list(roles)
        responses = doc.setdefault("response", {}).setdefault("responses", {})
        responses.setdefault(401, []).append("UNAUTHORIZED")
        if roles:
            responses.setdefault(403, []).append("FORBIDDEN")
        wrapped._apidoc = doc
        wrapped.allowed_roles = roles
        return wrapped

    return decorator
