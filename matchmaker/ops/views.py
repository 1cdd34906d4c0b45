"""队列管理 (/ops/queues): the platform admin's page of queues, workers, periodic jobs and failed
jobs. Thin: the services read Redis and act; these views render and redirect."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_login import current_user

from matchmaker.accounts.permissions import roles_required
from matchmaker.errors import Conflict, NotFound
from matchmaker.ops import services

blueprint = Blueprint("ops", __name__, url_prefix="/ops")

admin_only = roles_required("admin")


@blueprint.get("/queues")
@admin_only
def queues():
    return render_template("ops/queues.html", view=services.overview(current_app.config),
                           in_process=current_app.config.get("RUN_PERIODIC_IN_PROCESS"))


def _act(action, job_id: str, done: str):
    try:
        job = action(current_app.config, job_id, current_user._get_current_object())
    except (NotFound, Conflict) as exc:
        flash(exc.message, "warning")
    else:
        flash(f"{done}：{job.label}（{job.id}）", "success")
    return redirect(url_for("ops.queues"))


@blueprint.post("/queues/failed/<job_id>/retry")
@admin_only
def retry(job_id: str):
    return _act(services.retry_failed, job_id, "已重新排队")


@blueprint.post("/queues/failed/<job_id>/delete")
@admin_only
def delete(job_id: str):
    return _act(services.delete_failed, job_id, "已删除失败任务")
