"""Small session-authenticated JSON endpoints behind the need form's helpers (static/js/green.js).

The API (`/api/v1/green/...`) takes bearer tokens only and ignores the session cookie, so the
browser's form talks to these instead: a logged-in session, the CSRF token in the `X-CSRFToken`
header (CSRFProtect checks it), JSON in and out, errors as `{"error", "errors": {field: [...]}}`.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, make_response, request
from flask_login import current_user

from matchmaker import validation
from matchmaker.errors import FieldErrors, InvalidInput
from matchmaker.green import classifier
from matchmaker.web.errors import json_error

blueprint = Blueprint("green", __name__, url_prefix="/green")


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


def _body() -> dict:
    """The JSON object sent, or the form fields; anything else counts as empty."""
    if request.is_json:
        data = request.get_json(silent=True)
        return data if isinstance(data, dict) else {}
    return request.form.to_dict()


def _json(handler):
    """Run `handler(body)` for a logged-in user and answer JSON (401 when not logged in, 422
    with the fields' messages for bad input)."""
    if not current_user.is_authenticated:
        return _no_store(make_response(json_error(401, "请先登录")))
    try:
        return _no_store(jsonify(handler(_body())))
    except InvalidInput as exc:
        return _no_store(make_response(json_error(422, exc.message, exc.errors)))


@blueprint.post("/suggest")
def suggest():
    """`{"text"}` → `{"suggestions": [{code, name, confidence, reasons}]}` (建议的绿色分类)."""

    def handler(body: dict) -> dict:
        errors = FieldErrors()
        text = validation.text(errors, "text", body.get("text"), "项目描述",
                               classifier.MAX_TEXT_LENGTH)
        errors.raise_if_any()
        return {"suggestions": [s.as_dict() for s in classifier.classify(text)]}

    return _json(handler)
