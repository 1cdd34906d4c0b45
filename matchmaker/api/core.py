"""Building blocks shared by every API module: blueprint, request parser, base schemas.

A module adding endpoints creates its blueprint with `api_blueprint(...)`, writes schemas that
derive from `BaseSchema`, puts ids in paths with `id_part("…_id")` (not `int(max=…)`: see
`IdConverter`), protects operations with `matchmaker.api.auth.token_required` and is listed in
`matchmaker.api.API_MODULES`. tests/test_api_fuzz.py fuzzes whatever the document lists.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from flask import g
from flask_smorest import Blueprint, abort
from marshmallow import EXCLUDE, Schema, fields
from webargs import core as webargs_core
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter, ValidationError

from matchmaker.api.fields import INT32_MAX, Int
from matchmaker.extensions import db

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

    def arguments(self, schema, *, location="json", **kwargs):
        """flask-smorest's, and a body that is not JSON is documented as the 400 it gets."""
        decorator = super().arguments(schema, location=location, **kwargs)
        if location != "json":
            return decorator

        def documented(func):
            view = decorator(func)
            view._apidoc["arguments"]["responses"][400] = "BAD_REQUEST"
            return view

        return documented


class IdConverter(IntegerConverter):
    """`<id:need_id>`: the id of a row in a path, an unsigned integer that fits a 32-bit column.

    A larger number is the id of nothing: 404. (Werkzeug's `int(max=…)` would not match the rule
    instead, and when the same path has a rule for another method — GET and PUT
    /banks/{id}/webhook — the answer would be 405.) Documented as an integer from 0 to INT32_MAX.
    """

    def __init__(self, map, *args, **kwargs) -> None:
        super().__init__(map, max=INT32_MAX)

    def to_python(self, value: str) -> int:
        try:
            return super().to_python(value)
        except ValidationError:
            raise NotFound() from None


def id_part(name: str) -> str:
    """The path part of an id parameter: `id_part("need_id")` is `<id:need_id>`."""
    return f"<id:{name}>"


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


# --- paged lists -------------------------------------------------------------------------------

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100


class PagingQuerySchema(BaseSchema):
    """`page` and `per_page` in the query string; list query schemas derive from this."""

    page = Int(minimum=1, strict=False, load_default=1,
               metadata={"description": "页码，从 1 开始"})
    per_page = Int(minimum=1, maximum=MAX_PER_PAGE, strict=False, load_default=DEFAULT_PER_PAGE,
                   metadata={"description": f"每页条数，1 到 {MAX_PER_PAGE}，默认 "
                                            f"{DEFAULT_PER_PAGE}"})


def page_schema(item_schema: type[Schema], name: str) -> type[Schema]:
    """`{"items": [...], "page", "per_page", "total"}`: one page of a longer list."""
    return Schema.from_dict({
        "items": fields.List(fields.Nested(item_schema), required=True),
        "page": fields.Integer(required=True, metadata={"description": "当前页码"}),
        "per_page": fields.Integer(required=True, metadata={"description": "每页条数"}),
        "total": fields.Integer(required=True, metadata={"description": "符合条件的总条数"}),
    }, name=name)


def paginate(stmt, query: dict) -> tuple[list, dict]:
    """The rows of one page of `stmt` (already ordered) and the paging fields of the answer."""
    page, per_page = query["page"], query["per_page"]
    total = db.session.scalar(
        sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())
    )
    rows = list(db.session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)))
    return rows, {"page": page, "per_page": per_page, "total": total}
