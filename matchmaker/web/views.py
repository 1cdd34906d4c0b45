"""The landing page (and each role's home) and the health check."""

from __future__ import annotations

import contextlib
import logging

import sqlalchemy as sa
from flask import Blueprint, jsonify, render_template
from flask_login import current_user

from matchmaker.extensions import db

blueprint = Blueprint("web", __name__)
log = logging.getLogger(__name__)


@blueprint.get("/")
def index():
    """What the platform is and for whom; once logged in, the links of the user's role."""
    return render_template("web/index.html", user=current_user)


@blueprint.get("/healthz")
def healthz():
    """For load balancers and monitoring: 200 when the database answers, 503 when it does not."""
    try:
        db.session.execute(sa.text("SELECT 1"))
    except Exception as exc:  # any failure to reach the database means "not ready"
        log.error("health check: database unavailable: %s", exc)
        with contextlib.suppress(Exception):
            db.session.rollback()
        return jsonify(status="error", database="unavailable"), 503
    return jsonify(status="ok", database="ok")
