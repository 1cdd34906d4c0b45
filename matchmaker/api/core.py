"""Building blocks shared by every API module: blueprint, request parser, base schemas.

A module adding endpoints creates its blueprint with `api_blueprint(...)`, writes schemas that
derive from `BaseSchema`, protects operations with `matchmaker.api.auth.token_required` and is
listed in `matchmaker.api.API_MODULES`.
"""

from __future__ import annotations

import json

from flask import g
from flask_smorest import Blueprint, abort
from marshmallow import EXCLUDE, Schema, fields
from webargs import core as webargs_core
from webargs.flaskparser import FlaskParser, is_json_request

API_PREFIX = "/api/v1"


class ApiParser(FlaskParser):
    """webargs' Flask parser, with every way a body can be unreadable ending in a 400."""

    def _raw_load_json(self, req):
        data = req.get_data(cache=True)
        if not is_json_request(req):
            if data:
                abort(400, message="请求体必须是 JSON，并设置 Content-Type: application/json")
            return webargs_core.missing
        try:
            return webargs_core.parse_json(data)
        except json.JSONDecodeError:
            raise
        except (ValueError, RecursionError) as exc:
            # An integer of more than 4,300 digits, or nesting deeper than the recursion limit.
            return self._handle_invalid_json_error(exc, req)

    def _handle_invalid_json_error(self, error, req, *args, **kwargs):
        abort(400, exc=error, messages={"json": ["请求体不是合法的 JSON"]})


class ApiBlueprint(Blueprint):
    ARGUMENTS_PARSER = ApiParser()


def api_blueprint(name: str, path: str, description: str) -> ApiBlueprint:
    """A blueprint under /api/v1 that never looks at the session cookie.

    `name` must differ from the web blueprints' names ("banks" is taken): use "api_<thing>".
    """
    blp = ApiBlueprint(name, __name__, url_prefix=API_PREFIX + path, description=description)
    blp.before_request(_forget_session_user)
    blp.after_request(_challenge)
    return blp


def _forget_session_user() -> None:
    """The API authenticates by bearer token only: a browser's session cookie, sent along with a
    (CSRF-exempt) API request, must not make anyone `current_user`.
    """
    from matchmaker.extensions import login_manager

    g._login_user = login_manager.anonymous_user()
    g.api_user = None


def _challenge(response):
    if response.status_code == 401:
        response.headers.setdefault("WWW-Authenticate", 'Bearer realm="GreenMatch API"')
    return response


class BaseSchema(Schema):
    """Fields a client sends that we do not know are ignored (clients may send more)."""

    class Meta:
        unknown = EXCLUDE

    error_messages = {  # noqa: RUF012
        "type": "请求体应为 JSON 对象",
        "unknown": "未知字段",
    }


class ErrorSchema(Schema):
    """Every error response: a message and the problems by field."""

    error = fields.String(required=True, metadata={"description": "给人看的错误说明"})
    errors = fields.Dict(
        keys=fields.String(), values=fields.List(fields.String()), required=True,
        metadata={"description": "按字段列出的问题，{字段: [说明, …]}；无字段问题时为 {}"},
    )


def items_schema(item_schema: type[Schema], name: str) -> type[Schema]:
    """The `{"items": [...]}` envelope every list comes back in."""
    return Schema.from_dict(
        {"items": fields.List(fields.Nested(item_schema), required=True)}, name=name
    )

