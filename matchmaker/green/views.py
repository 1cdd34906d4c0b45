"""Small session-authenticated JSON endpoints behind the need form's helpers (static/js/green.js).

The API (`/api/v1/green/...`) takes bearer tokens only and ignores the session cookie, so the
browser's form talks to these instead: a logged-in session, the CSRF token in the `X-CSRFToken`
header (CSRFProtect checks it), JSON in and out, errors as `{"error", "errors": {field: [...]}}`.
"""

from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, jsonify, make_response, request
from flask_login import current_user

from matchmaker import validation
from matchmaker.errors import FieldErrors, InvalidInput
from matchmaker.green import benefit, classifier
from matchmaker.web.errors import json_error

blueprint = Blueprint("green", __name__, url_prefix="/green")


@blueprint.app_context_processor
def benefit_helper() -> dict:
    """The estimator's project types and inputs, for the need form's helper."""
    return {"benefit_types": benefit.PROJECT_TYPES, "benefit_inputs": benefit.INPUTS,
            "benefit_categories": benefit.TYPE_CATEGORIES}


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


def _optional_amount(body: dict, name: str) -> Decimal | None:
    """The need form's amount or investment, when it is a valid positive amount (else None: the
    share is then left out; the form itself reports a bad amount)."""
    errors = FieldErrors()
    value = validation.decimal(errors, name, body.get(name), name, minimum=Decimal(0),
                               exclusive_minimum=True, required=False)
    return None if errors else value


@blueprint.post("/benefit")
def estimate():
    """`{"project_type", inputs…, "amount_wan"?, "project_investment_wan"?}` → standard coal
    saved and CO2 reduced a year, the calculation, the coefficients with their sources, and the
    loan's share by the 2013 guide (环境效益测算)."""

    def handler(body: dict) -> dict:
        result = benefit.estimate(body.get("project_type"), body)
        return result.as_dict(_optional_amount(body, "amount_wan"),
                              _optional_amount(body, "project_investment_wan"))

    return _json(handler)
