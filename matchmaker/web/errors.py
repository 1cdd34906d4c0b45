"""Error pages for the web and JSON errors for the API, never a traceback."""

from __future__ import annotations

import logging

from flask import Flask, current_app, g, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

from matchmaker.database import utcnow
from matchmaker.errors import ServiceError, TooManyAttempts

log = logging.getLogger(__name__)

MESSAGES = {
    400: "请求格式不正确",
    401: "需要登录或有效的访问令牌",
    403: "无权访问",
    404: "页面或对象不存在",
    405: "不支持该请求方法",
    409: "与现有数据冲突",
    413: "请求内容过大",
    422: "输入有误",
    429: "请求过于频繁，请稍后再试",
    500: "服务器内部错误",
    503: "服务暂时不可用，请稍后再试",
}

# A form posted without its token, or after the session that issued it ended.
CSRF_MESSAGE = "页面已过期或缺少安全令牌，请刷新页面后重新提交"


def wants_json() -> bool:
    return request.path.startswith("/api/")


def _flatten(messages) -> dict[str, list[str]]:
    """webargs nests errors by location and index; the API promises {field: [messages]}."""
    if isinstance(messages, dict) and set(messages) <= {"json", "query", "form", "view_args",
                                                        "headers", "files", "cookies", "path"}:
        merged: dict[str, list[str]] = {}
        for part in messages.values():
            for field, msgs in _flatten(part).items():
                merged.setdefault(field, []).extend(msgs)
        return merged
    if isinstance(messages, list):
        return {"_schema": [str(m) for m in messages]}
    result: dict[str, list[str]] = {}
    for field, value in (messages or {}).items():
        result[str(field)] = _messages(value)
    return result


def _messages(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        out: list[str] = []
        for item in value:
            out.extend(_messages(item))
        return out
    if isinstance(value, dict):
        out = []
        for key, item in value.items():
            out.extend(f"{key}: {msg}" for msg in _messages(item))
        return out
    return [str(value)]


def json_error(status: int, message: str | None = None, errors: dict | None = None):
    body = {"error": message or MESSAGES.get(status, "错误"), "errors": errors or {}}
    return jsonify(body), status


def register(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def handle_service_error(exc: ServiceError):
        if wants_json():
            response = json_error(exc.status, exc.message, exc.errors)
        else:
            response = render_template("errors/error.html", status=exc.status,
                                       message=exc.message), exc.status
        if isinstance(exc, TooManyAttempts):
            seconds = max(1, int((exc.until - utcnow()).total_seconds()) + 1)
            response = (*response, {"Retry-After": str(seconds)})
        return response

    @app.errorhandler(HTTPException)
    def handle_http_exception(exc: HTTPException):
        status = exc.code or 500
        if wants_json():
            data = getattr(exc, "data", None) or {}
            errors = _flatten(data.get("messages")) if "messages" in data else {}
            message = data.get("message") if isinstance(data.get("message"), str) else None
            if status == 400 and errors:
                message = "请求体不是合法的 JSON"
            return json_error(status, message or _describe(exc, status), errors)
        if status >= 500:
            _skip_loading_the_user()
        template = f"errors/{status}.html" if status in (403, 404) else "errors/error.html"
        if isinstance(exc, CSRFError):
            message = CSRF_MESSAGE
        else:
            message = MESSAGES.get(status, exc.description)
        return render_template(template, status=status, message=message), status

    @app.errorhandler(OperationalError)
    def handle_database_down(exc: OperationalError):
        log.error("database unavailable: %s", exc.orig)
        return handle_http_exception(ServiceUnavailable())

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return handle_http_exception(exc)
        log.exception("unhandled error on %s %s", request.method, request.path)
        return handle_http_exception(InternalServerError())


def _skip_loading_the_user() -> None:
    """A 5xx page must render even when the database is what failed. Flask-Login loads the user
    for every template (its context processor), so give it an anonymous one unless the request
    has loaded the real one already; errors/error.html shows no user details for a 5xx anyway."""
    if "_login_user" not in g:
        g._login_user = current_app.login_manager.anonymous_user()


def _describe(exc: HTTPException, status: int) -> str:
    if exc.description and status not in MESSAGES and not exc.description.startswith("The "):
        return exc.description
    return MESSAGES.get(status, "错误")
