"""The need form's green helpers: the session-authenticated JSON routes and the form's markup."""

from __future__ import annotations

import pytest

from tests.factories import login
from tests.webutil import csrf_token, text

pytestmark = pytest.mark.sqlite_only
SUGGEST = "/green/suggest"


@pytest.fixture
def enterprise_client(client, make):
    login(client, make.enterprise()[1])
    return client


def post_json(client, url, body, token):
    return client.post(url, json=body, headers={"X-CSRFToken": token})


def test_suggest_answers_a_logged_in_session_with_its_csrf_token(enterprise_client):
    token = csrf_token(enterprise_client, "/needs/new")
    response = post_json(enterprise_client, SUGGEST,
                         {"text": "锅炉节能改造\n燃煤锅炉改为燃气锅炉并加装余热回收"}, token)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    suggestions = response.get_json()["suggestions"]
    assert suggestions[0]["code"] == "1.5.1"
    assert set(suggestions[0]) == {"code", "name", "confidence", "reasons"}


def test_suggest_refuses_a_post_without_the_csrf_token(enterprise_client):
    response = enterprise_client.post(SUGGEST, json={"text": "屋顶光伏"})
    assert response.status_code == 400


def test_suggest_is_401_json_without_a_session(client):
    token = csrf_token(client, "/login")
    response = post_json(client, SUGGEST, {"text": "屋顶光伏"}, token)
    assert response.status_code == 401
    assert set(response.get_json()) == {"error", "errors"}


def test_suggest_names_the_field_of_bad_input(enterprise_client):
    token = csrf_token(enterprise_client, "/needs/new")
    for body in ({}, {"text": ""}, {"text": "  "}, {"text": 5}, {"text": "光" * 6001}, ["text"]):
        response = post_json(enterprise_client, SUGGEST, body, token)
        assert response.status_code == 422, body
        assert list(response.get_json()["errors"]) == ["text"], body


def test_the_need_form_carries_the_suggestion_box_and_its_script(enterprise_client):
    page = text(enterprise_client.get("/needs/new"))
    assert "建议的绿色分类" in page
    assert 'data-gm-category-suggest' in page and 'data-url="/green/suggest"' in page
    assert 'data-target="green_category"' in page and 'data-sources="title description"' in page
    assert '/static/js/green.js' in page
