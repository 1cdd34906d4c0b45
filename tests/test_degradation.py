"""The search cluster down: the site stays up, posting and grabbing work, search answers say so
(a notice on pages, 503 in the API), and the outbox keeps every change until search answers
again. "Down" is real here: ELASTICSEARCH_URL points at a port where nothing listens, and the
official client meets a refused connection. (Redis down is in test_worker_faults; the database
down in test_web_accounts.)"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from matchmaker.audit.models import OutboxEvent
from matchmaker.extensions import db
from tests import factories
from tests.webutil import text
from workers import jobs

DOWN = "http://127.0.0.1:9"  # the discard port: connection refused


@pytest.fixture
def app_config(app_config):
    return app_config | {"ELASTICSEARCH_URL": DOWN}


@pytest.fixture
def market(make):
    bank = make.bank()
    people = {"bank": bank, "admin": make.bank_user(bank, role="bank_admin"),
              "manager": make.bank_user(bank)}
    make.product(bank, admin=people["admin"])
    _, people["owner"] = make.enterprise()
    return people


def pending(topic_prefix: str) -> list[OutboxEvent]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(OutboxEvent).where(
        OutboxEvent.processed_at.is_(None), OutboxEvent.topic.startswith(topic_prefix))))


def test_posting_and_grabbing_work_while_search_is_down(app, client, market):
    owner = factories.api_token(client, market["owner"])
    response = client.post("/api/v1/needs", json=factories.NEED, headers=owner)
    assert response.status_code == 201, response.get_json()
    need_id = response.get_json()["id"]
    waiting = pending("need.")
    assert [row.object_id for row in waiting] == [str(need_id)]
    assert "Connection" in (waiting[0].last_error or "")

    manager = factories.api_token(client, market["manager"])
    grabbed = client.post(f"/api/v1/needs/{need_id}/claims", json={}, headers=manager)
    assert grabbed.status_code == 201, grabbed.get_json()


def test_search_answers_say_it_is_unavailable(app, client, market, make):
    need = make.need(market["owner"])
    manager = factories.api_token(client, market["manager"])
    for path, headers in (("/api/v1/leads", manager),
                          (f"/api/v1/needs/{need.id}/matches",
                           factories.api_token(client, market["owner"]))):
        response = client.get(path, headers=headers)
        assert response.status_code == 503, path
        assert "搜索服务暂时不可用" in response.get_json()["error"]

    factories.login(client, market["manager"])
    page = client.get("/bank/leads")
    assert page.status_code == 200 and "暂时不可用" in text(page)
    owner = factories.Account(market["owner"].user, market["owner"].email)
    client.post("/logout", data={})
    other = app.test_client()
    factories.login(other, owner)
    page = other.get(f"/needs/{need.id}")
    assert page.status_code == 200 and "暂时不可用" in text(page)


def test_the_outbox_catches_up_when_search_answers_again(app, client, market, make):
    need = make.need(market["owner"])
    assert pending("need.")
    # Search answers again (here: the embedded engine takes over the cluster's place).
    app.config["ELASTICSEARCH_URL"] = None
    app.extensions.pop("search_engine", None)
    jobs.drain_outbox()
    assert pending("need.") == []
    manager = factories.api_token(client, market["manager"])
    leads = client.get("/api/v1/leads", headers=manager).get_json()
    assert [lead["need_id"] for lead in leads["items"]] == [need.id]


@pytest.mark.sqlite_only
def test_the_api_answers_503_in_json_when_the_database_is_down(tmp_path, db_backend):
    from matchmaker import create_app
    from tests.conftest import base_config

    app = create_app(base_config(tmp_path, f"sqlite:///{tmp_path}/missing-dir/none.db"))
    client = app.test_client()
    for path in ("/api/v1/products", "/api/v1/regions"):
        response = client.get(path)
        assert response.status_code == 503, path
        assert response.get_json() == {"error": "服务暂时不可用，请稍后再试", "errors": {}}
    response = client.post("/api/v1/tokens", json={"email": "a@example.com", "password": "x" * 12})
    assert response.status_code == 503 and response.is_json
