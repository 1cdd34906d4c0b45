"""The audit log: what the services record (actor, role, IP, object, before → after), what they
never record (passwords, hashes, tokens, webhook secrets), that rows cannot be changed, and the
office's search — the page /office/audit, its CSV and GET /api/v1/audit — with its filters,
local dates, paging, escaping and permissions."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from matchmaker.accounts import services as accounts
from matchmaker.accounts.models import ApiToken, User
from matchmaker.audit import queries as audit_queries
from matchmaker.audit.models import AuditLog, AuditLogImmutable
from matchmaker.audit.services import REDACTED, record
from matchmaker.errors import Forbidden
from matchmaker.extensions import db
from matchmaker.notifications.settings import configure_webhook
from tests.factories import NEED, PASSWORD, Account, api_token, errors_of, login, make_uscc
from tests.webutil import field_errors, submit, text

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def entries(after_id: int = 0) -> list[AuditLog]:
    return list(db.session.scalars(sa.select(AuditLog).where(AuditLog.id > after_id)
                                   .order_by(AuditLog.id)))


def last_id() -> int:
    return db.session.scalar(sa.select(sa.func.max(AuditLog.id))) or 0


def add_entry(**values) -> AuditLog:
    """An audit row written directly (a chosen time, actor, IP …), as `record` would."""
    values = {"action": "need.updated", "object_type": "need", "object_id": "1",
              "created_at": T0} | values
    entry = AuditLog(**values)
    db.session.add(entry)
    db.session.commit()
    return entry


# --- coverage: a whole workflow over HTTP ------------------------------------------------------


def test_a_full_workflow_records_every_step_with_actor_role_ip_and_object(client, make):
    bank = make.bank()
    make.product(bank)
    manager = make.bank_user(bank)
    manager_headers = api_token(client, manager)
    start = last_id()

    registration = {
        "uscc": make_uscc(make.seq()), "name": "审计测试绿色科技有限公司", "region_code": "330502",
        "industry_code": "C", "size": "small", "env_credit": "blue", "contact_name": "王经理",
        "phone": "0572-1234567", "email": "audit-owner@example.com", "password": PASSWORD}
    assert client.post("/api/v1/enterprises", json=registration).status_code == 201
    owner = api_token(client, Account(None, registration["email"]))
    need = client.post("/api/v1/needs", json=NEED | {"publish": False}, headers=owner).get_json()
    assert client.post(f"/api/v1/needs/{need['id']}/publish", headers=owner).status_code == 200
    claim = client.post(f"/api/v1/needs/{need['id']}/claims", json={},
                        headers=manager_headers).get_json()
    assert client.post(f"/api/v1/needs/{need['id']}/selection", json={"claim_id": claim["id"]},
                       headers=owner).status_code == 200
    events = f"/api/v1/claims/{claim['id']}/events"
    for body in ({"type": "contacted"}, {"type": "credit_approved", "amount_wan": "150",
                                         "rate": "3.85"},
                 {"type": "disbursed", "amount_wan": "150"}):
        assert client.post(events, json=body, headers=manager_headers).status_code == 201
    assert client.post(f"/api/v1/claims/{claim['id']}/rating", json={"stars": 5},
                       headers=owner).status_code == 201

    rows = entries(start)
    assert [row.action for row in rows] == [
        "enterprise.registered", "user.created", "token.issued", "need.created",
        "need.published", "claim.grabbed", "claim.selected", "claim.contacted",
        "claim.credit_approved", "claim.disbursed", "claim.rated"]
    owner_user = db.session.scalar(sa.select(User).where(User.email == registration["email"]))
    for row in rows:
        assert row.actor_id is not None and row.actor_role, row.action
        assert row.ip == "127.0.0.1", row.action
        assert row.object_type and row.object_id, row.action
        assert row.after, row.action
        expected = manager.user if row.action in (
            "claim.grabbed", "claim.contacted", "claim.credit_approved",
            "claim.disbursed") else owner_user
        assert (row.actor_id, row.actor_role) == (expected.id, expected.role), row.action
    by_action = {row.action: row for row in rows}
    assert by_action["need.published"].before == {"status": "draft"}
    assert by_action["claim.grabbed"].object_type == "need"
    assert by_action["claim.grabbed"].object_id == str(need["id"])
    assert by_action["claim.grabbed"].after["claim_id"] == claim["id"]


# --- what is recorded for accounts -------------------------------------------------------------


@pytest.mark.sqlite_only
def test_web_logins_logouts_and_failures_are_recorded_without_the_password(app, make):
    _, owner = make.enterprise()
    start = last_id()
    client = app.test_client()
    login(client, Account(owner.user, owner.email, "wrong-password-123"))
    login(client, Account(None, "nobody@example.com", "wrong-password-456"))
    login(client, owner)
    submit(client, "/logout", {}, form_page="/")
    accounts.set_active(owner.user, False, actor=make.office().user)
    login(client, owner)

    rows = [r for r in entries(start) if r.action.startswith("user.log")]
    assert [(r.action, r.after.get("reason")) for r in rows] == [
        ("user.login_failed", "wrong_password"), ("user.login_failed", "unknown_email"),
        ("user.login", None), ("user.logout", None), ("user.login_failed", "inactive")]
    wrong, unknown, success, logout, inactive = rows
    assert (wrong.object_type, wrong.object_id) == ("user", str(owner.user.id))
    assert (unknown.object_type, unknown.object_id) == ("login", "nobody@example.com")
    assert wrong.actor_id is None and wrong.actor_role is None and wrong.ip == "127.0.0.1"
    assert (success.actor_id, success.actor_role) == (owner.user.id, "enterprise")
    assert logout.actor_id == owner.user.id and inactive.object_id == str(owner.user.id)
    dumped = json.dumps([[r.before, r.after] for r in entries(start)], ensure_ascii=False)
    assert "wrong-password" not in dumped and PASSWORD not in dumped


@pytest.mark.sqlite_only
def test_api_token_issue_failure_and_revoke_are_recorded(client, make):
    _, owner = make.enterprise()
    start = last_id()
    assert client.post("/api/v1/tokens", json={"email": owner.email,
                                               "password": "not-my-password"}).status_code == 401
    headers = api_token(client, owner)
    raw = headers["Authorization"].split()[1]
    assert client.delete("/api/v1/tokens", headers=headers).status_code == 204
    failed, issued, revoked = entries(start)
    assert (failed.action, failed.after) == ("user.login_failed", {
        "email": owner.email, "reason": "wrong_password", "via": "api"})
    token = db.session.scalar(sa.select(ApiToken).where(ApiToken.user_id == owner.user.id))
    assert issued.action == "token.issued" and issued.after["token_id"] == token.id
    assert revoked.action == "token.revoked" and revoked.before["revoked_at"] is None
    assert revoked.after["token_id"] == token.id and revoked.actor_id == owner.user.id
    dumped = json.dumps([[r.before, r.after] for r in entries(start)])
    assert raw not in dumped and token.token_hash not in dumped


@pytest.mark.sqlite_only
def test_no_password_hash_token_or_webhook_secret_reaches_the_log(client, make):
    """Password change, token issue and webhook configuration: the secrets they handle are in
    none of their rows (nor anywhere in the log)."""
    bank = make.bank()
    admin = make.bank_user(bank, role="bank_admin")
    user = admin.user
    start = last_id()
    old_hash = user.password_hash
    headers = api_token(client, admin)
    raw_token = headers["Authorization"].split()[1]
    token_hash = db.session.scalar(sa.select(ApiToken.token_hash))
    new_password = "a-brand-new-password-77"
    accounts.change_password(user, PASSWORD, new_password)
    saved = configure_webhook(bank, user, "https://bank.example.com/hook?key=bank-own-key-9",
                              ["new_lead"], True)
    again = configure_webhook(bank, user, "https://bank.example.com/hook2", ["new_lead"], True,
                              regenerate_secret=True)
    secrets_ = [PASSWORD, new_password, old_hash, user.password_hash, raw_token, token_hash,
                saved.secret, again.secret, "bank-own-key-9", user.session_token]
    rows = entries(start)
    assert {r.action for r in rows} >= {"token.issued", "user.password_changed",
                                        "webhook.created", "webhook.updated"}
    for row in rows:
        dumped = json.dumps([row.before, row.after], ensure_ascii=False)
        for secret in secrets_:
            assert secret not in dumped, (row.action, dumped)
    changed = next(r for r in rows if r.action == "user.password_changed")
    assert changed.after["tokens_revoked"] == 1 and changed.after["other_sessions_ended"]
    updated = next(r for r in rows if r.action == "webhook.updated")
    assert updated.before["url"] == "https://bank.example.com/hook?key=***"
    assert updated.after["secret_generated"] is True


def test_record_hides_secret_keys_and_keeps_long_object_ids(app):
    entry = record("user.created", "user", 1, before={"password": "p", "nested": [{"secret": 1}]},
                   after={"token": "t", "token_id": 7, "Password_Hash": "h"})
    job_id = "periodic-send_digests-2026-11-30T00:30:00+00:00-" + "f" * 40  # an RQ job id
    job = record("ops.job_deleted", "rq_job", job_id, before={"status": "failed"},
                 after={"status": "deleted", "job_id": job_id})
    db.session.commit()
    assert entry.before == {"password": REDACTED, "nested": [{"secret": REDACTED}]}
    assert entry.after == {"token": REDACTED, "token_id": 7, "Password_Hash": REDACTED}
    assert db.session.scalar(sa.select(AuditLog.object_id).where(AuditLog.id == job.id)) == job_id


@pytest.mark.sqlite_only
def test_deactivating_a_user_is_recorded_and_ends_access(client, make):
    bank = make.bank()
    manager = make.bank_user(bank)
    headers = api_token(client, manager)
    other_admin = make.bank_user(make.bank(), role="bank_admin")
    with pytest.raises(Forbidden):
        accounts.set_active(manager.user, False, actor=other_admin.user)
    with pytest.raises(Forbidden):
        accounts.set_active(manager.user, False, actor=manager.user)
    admin = make.bank_user(bank, role="bank_admin")
    start = last_id()
    accounts.set_active(manager.user, False, actor=admin.user, reason="离职")
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    (row,) = entries(start)
    assert row.action == "user.deactivated" and row.actor_id == admin.user.id
    assert row.before == {"active": True}
    assert row.after == {"active": False, "reason": "离职", "tokens_revoked": 1}
    result = client.application.test_cli_runner().invoke(
        args=["users", "activate", manager.email, "--reason", "返岗"])
    assert result.exit_code == 0, result.output
    row = entries(start)[-1]
    assert row.action == "user.activated" and row.actor_id is None and row.after["active"]


# --- append-only -------------------------------------------------------------------------------


def test_the_database_refuses_to_change_or_delete_an_entry(app):
    """SQL that bypasses the ORM (a script, a psql session) meets the table's triggers."""
    entry = add_entry(after={"title": "原文"})
    db.session.commit()
    for statement in ("UPDATE audit_log SET ip = '6.6.6.6'", "DELETE FROM audit_log"):
        with pytest.raises(sa.exc.DBAPIError, match="audit_log is append-only"):
            db.session.connection().exec_driver_sql(statement)
        db.session.rollback()
    assert db.session.get(AuditLog, entry.id).after == {"title": "原文"}
    add_entry()  # inserting is what the log is for
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count(AuditLog.id))) == 2


@pytest.mark.sqlite_only
def test_the_orm_refuses_to_change_or_delete_an_entry(app):
    entry = add_entry(after={"title": "原文"})
    entry.after = {"title": "篡改"}
    with pytest.raises(AuditLogImmutable):
        db.session.flush()
    db.session.rollback()
    entry = db.session.get(AuditLog, entry.id)
    db.session.delete(entry)
    with pytest.raises(AuditLogImmutable):
        db.session.flush()
    db.session.rollback()
    for statement in (sa.update(AuditLog).values(ip="6.6.6.6"), sa.delete(AuditLog)):
        with pytest.raises(AuditLogImmutable):
            db.session.execute(statement)
        db.session.rollback()
    assert db.session.get(AuditLog, entry.id).after == {"title": "原文"}
    # Adding rows is what the log is for; touching one without a change is no change.
    entry = db.session.get(AuditLog, entry.id)
    entry.ip = entry.ip
    add_entry()
    assert db.session.scalar(sa.select(sa.func.count(AuditLog.id))) == 2


# --- the office's search ------------------------------------------------------------------------


@pytest.fixture
def people(make):
    bank = make.bank()
    return {"office": make.office(name="金融办 李审计"), "admin": make.platform_admin(),
            "enterprise": make.enterprise()[1], "bank_manager": make.bank_user(bank),
            "bank_admin": make.bank_user(bank, role="bank_admin")}


@pytest.mark.sqlite_only
def test_only_the_office_and_admins_see_the_audit_log(app, people, tokens):
    anonymous = app.test_client()
    assert anonymous.get("/office/audit").status_code == 302
    assert anonymous.get("/api/v1/audit").status_code == 401
    for role, account in people.items():
        client = app.test_client()
        login(client, account)
        allowed = role in ("office", "admin")
        for path in ("/office/audit", "/office/audit/export.csv"):
            assert client.get(path).status_code == (200 if allowed else 403), (role, path)
        response = client.get("/api/v1/audit", headers=tokens(role))
        assert response.status_code == (200 if allowed else 403), role
        if allowed:  # the office's navigation leads there
            page = client.get("/office/").get_data(as_text=True)
            assert 'href="/office/audit"' in page and "审计日志" in page


@pytest.fixture
def sample(people):
    """Entries of known times, actors, roles, actions, objects and IPs."""
    office, manager = people["office"].user, people["bank_manager"].user
    rows = {
        "grab": add_entry(action="claim.grabbed", object_id="7", actor_id=manager.id,
                          actor_role="bank_manager", ip="10.1.2.3", created_at=T0,
                          before={"status": "open"}, after={"status": "claimed", "slot": 1}),
        "bank": add_entry(action="bank.created", object_type="bank", object_id="3",
                          actor_id=office.id, actor_role="office", ip="192.168.0.9",
                          created_at=T0 + timedelta(hours=1), after={"name": "湖州银行"}),
        "sweep": add_entry(action="need.escalated", object_id="7", created_at=T0 +
                           timedelta(hours=2), before={"status": "open"},
                           after={"status": "escalated"}),
        "v6": add_entry(action="need.updated", object_id="8", actor_id=office.id,
                        actor_role="office", ip="2001:db8::1", created_at=T0 + timedelta(days=1),
                        before={"title": "旧标题", "amount_wan": "10.00"},
                        after={"title": "新标题", "amount_wan": "10.00"}),
    }
    return rows


def shown_ids(page) -> list[int]:
    return [int(i) for i in re.findall(r'data-audit-id="(\d+)"', page.get_data(as_text=True))]


def api_ids(client, tokens, **query) -> list[int]:
    response = client.get("/api/v1/audit", query_string=query, headers=tokens("office"))
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["items"]]


def test_filters_work_on_the_api_and_the_page(client, tokens, people, sample):
    ids = {name: entry.id for name, entry in sample.items()}
    cases = [
        ({}, ["v6", "sweep", "bank", "grab"]),
        ({"actor": "李审计"}, ["v6", "bank"]),
        ({"actor": people["bank_manager"].email.upper()}, ["grab"]),
        ({"actor": "%"}, []),  # a literal per cent sign, not a wildcard
        ({"role": "office"}, ["v6", "bank"]),
        ({"role": "system"}, ["sweep"]),
        ({"action": "claim.grabbed"}, ["grab"]),
        ({"action": "need.*"}, ["v6", "sweep"]),
        ({"object_type": "need"}, ["v6", "sweep", "grab"]),
        ({"object_type": "need", "object_id": "7"}, ["sweep", "grab"]),
        ({"ip": "10.1.2.3"}, ["grab"]),
        ({"ip": "192.168."}, ["bank"]),
        ({"ip": "2001:0db8::0001"}, ["v6"]),  # the same address, written out
        ({"from": "2026-03-02"}, ["v6"]),
        ({"from": "2026-03-01", "to": "2026-03-01"}, ["sweep", "bank", "grab"]),
        ({"role": "office", "action": "bank.created", "from": "2026-03-01"}, ["bank"]),
    ]
    login(client, people["office"])
    window = {"from": "2026-03-01", "to": "2026-03-02"}  # not the entries the fixtures made now
    for case, expected in cases:
        query = window | case
        assert api_ids(client, tokens, **query) == [ids[n] for n in expected], query
        page = client.get("/office/audit", query_string=query)
        assert page.status_code == 200, query
        assert shown_ids(page) == [ids[n] for n in expected], query


def test_a_day_is_a_shanghai_day(client, tokens, people):
    """23:30 UTC on 1 March is 07:30 on 2 March in Shanghai: it belongs to 2 March."""
    late = add_entry(created_at=datetime(2026, 3, 1, 23, 30, tzinfo=UTC))
    early = add_entry(created_at=datetime(2026, 3, 1, 15, 59, 59, tzinfo=UTC))  # 23:59:59 local
    assert api_ids(client, tokens, **{"from": "2026-03-02", "to": "2026-03-02"}) == [late.id]
    assert api_ids(client, tokens, **{"from": "2026-03-01", "to": "2026-03-01"}) == [early.id]
    assert api_ids(client, tokens, to="2026-03-01") == [early.id]
    login(client, people["office"])
    page = text(client.get("/office/audit", query_string={"from": "2026-03-02"}))
    assert "2026-03-02 07:30:00" in page and "2026-03-01 23:59:59" not in page


@pytest.mark.sqlite_only
def test_stored_values_are_shown_as_text(client, people):
    add_entry(after={"title": "<script>alert('x')</script>"}, ip="<b>1</b>",
              object_id="<img src=x>", object_type="need")
    login(client, people["office"])
    raw = client.get("/office/audit").get_data(as_text=True)
    assert "<script>alert" not in raw and "<img src=x>" not in raw
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in raw
    assert "&lt;img src=x&gt;" in raw


@pytest.mark.sqlite_only
def test_changes_show_only_the_keys_that_changed_with_labels(client, tokens, people, sample):
    login(client, people["office"])
    page = re.sub(r"<[^>]+>", "", text(client.get("/office/audit",
                                                  query_string={"action": "need.updated"})))
    assert "需求标题：旧标题 → 新标题" in page and "金额（万元）" not in page
    assert "修改需求" in page and "2001:db8::1" in page and "金融办 李审计" in page
    grab = client.get("/api/v1/audit", query_string={"action": "claim.grabbed"},
                      headers=tokens("office")).get_json()["items"][0]
    assert grab["action_label"] == "抢单" and grab["actor_role"] == "bank_manager"
    assert {c["field"]: (c["before"], c["after"]) for c in grab["changes"]} == {
        "status": ("待抢单", "已抢单"), "slot": ("—", "1")}
    assert grab["before"] == {"status": "open"}


BAD_FILTERS = [  # (query, the page's field, the API's field, the message)
    ({"from": "2026-02-30"}, "from", "from", "日期"),
    ({"from": "2026-03-05", "to": "2026-03-01"}, "to", "to", "结束日期不能早于开始日期"),
    ({"ip": "10.1.2.x"}, "ip", "ip", "IP 地址格式不正确"),
    ({"ip": "abc"}, "ip", "ip", "IP 地址格式不正确"),
    ({"object_id": "7"}, "object_id", "object_type", "请同时选择对象类型"),
    ({"action": "DROP TABLE"}, "action", "action", "操作代码格式不正确"),
    ({"role": "root"}, "role", "role", "不是有效的选择"),
    ({"actor": "x" * 101}, "actor", "actor", "不能超过 100 个字符"),
    ({"object_type": "need", "object_id": "x" * 129}, "object_id", "object_id",
     "不能超过 128 个字符"),
]


@pytest.mark.sqlite_only
def test_bad_filters_get_a_chinese_message_not_a_500(client, tokens, people):
    login(client, people["office"])
    for query, field, api_field, message in BAD_FILTERS:
        page = client.get("/office/audit", query_string=query)
        assert page.status_code == 422, query
        assert any(message in m for m in field_errors(page, field)), (query, text(page)[-3000:])
        assert client.get("/office/audit/export.csv", query_string=query).status_code == 422
        errors = errors_of(client.get("/api/v1/audit", query_string=query,
                                      headers=tokens("office")))
        assert api_field in errors, (query, errors)
    page = client.get("/office/audit", query_string={"before": "yesterday"})
    assert page.status_code == 422 and "分页参数无效" in text(page)
    errors = errors_of(client.get("/api/v1/audit", query_string={"before": "9" * 30},
                                  headers=tokens("office")))
    assert "before" in errors


def test_pages_follow_each_other_newest_first(client, tokens, people, monkeypatch):
    # Two entries at the same instant: the id orders them, and paging neither skips nor repeats.
    made = [add_entry(created_at=T0 + timedelta(minutes=m)) for m in (0, 1, 1, 2, 3)]
    expected = [e.id for e in sorted(made, key=lambda e: (e.created_at, e.id), reverse=True)]
    seen, cursor = [], None
    while True:
        query = {"limit": 2, "to": "2026-03-02"} | ({"before": cursor} if cursor else {})
        body = client.get("/api/v1/audit", query_string=query, headers=tokens("office")).get_json()
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == expected
    monkeypatch.setattr(audit_queries, "PAGE_SIZE", 3)
    login(client, people["office"])
    first = client.get("/office/audit", query_string={"to": "2026-03-02"})
    assert shown_ids(first) == expected[:3]
    next_url = re.search(r'href="([^"]+)" rel="next"', first.get_data(as_text=True)).group(1)
    second = client.get(next_url.replace("&amp;", "&"))
    assert shown_ids(second) == expected[3:]
    assert 'rel="next"' not in text(second) and "回到最新" in text(second)


@pytest.mark.sqlite_only
def test_csv_export_follows_the_filters_and_defuses_formulas(client, people, sample):
    add_entry(action="need.updated", object_id="=HYPERLINK(\"x\")",
              actor_id=people["office"].user.id, actor_role="office", before={"title": "a"},
              after={"title": "b"})
    login(client, people["office"])
    response = client.get("/office/audit/export.csv",
                          query_string={"role": "office", "to": "2026-03-02"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    body = response.get_data().decode("utf-8")
    assert body.startswith("\ufeff时间（北京时间）,操作人")
    lines = body.strip().splitlines()
    assert len(lines) == 1 + 3  # header, the two office entries of the sample, the new one
    assert ',"\'=HYPERLINK' in body and "bank.created" in body and "claim.grabbed" not in body
    assert "greenmatch-audit.csv" in response.headers["Content-Disposition"]


# --- indexes ------------------------------------------------------------------------------------


def _fill(conn, n: int, actor_ids: list[int]) -> None:
    """`n` entries, one a minute back from T0, spread over actions, objects, actors and IPs."""
    sqlite = conn.dialect.name == "sqlite"
    actor = "CASE " + " ".join(f"WHEN n % {len(actor_ids)} = {i} THEN {a}"
                               for i, a in enumerate(actor_ids)) + " END"
    if sqlite:  # stored as SQLAlchemy stores naive UTC on SQLite
        created = "strftime('%Y-%m-%d %H:%M:%S', :t0, '-' || n || ' minutes') || '.000000'"
        series = "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < :n) "
        source, t0 = "FROM g", T0.strftime("%Y-%m-%d %H:%M:%S")
    else:
        created = "CAST(:t0 AS TIMESTAMPTZ) - n * INTERVAL '1 minute'"
        series, source, t0 = "", "FROM generate_series(1, :n) AS g(n)", T0
    action = ("CASE n % 4 WHEN 0 THEN 'need.updated' WHEN 1 THEN 'claim.grabbed' "
              "WHEN 2 THEN 'user.login' ELSE 'product.updated' END")
    conn.execute(sa.text(
        f"{series}INSERT INTO audit_log (created_at, actor_id, actor_role, ip, action, "
        f"object_type, object_id, before, after) SELECT {created}, {actor}, 'office', "
        f"'10.0.' || (n % 200) || '.1', {action}, 'need', CAST(n % 20000 AS VARCHAR(16)), "
        f"NULL, :after {source}"), {"n": n, "t0": t0, "after": '{"status": "open"}'})
    conn.execute(sa.text("ANALYZE audit_log"))
    conn.execute(sa.text("ANALYZE users"))


def _audit_query(run) -> tuple[str, object]:
    """The SQL and parameters of the audit query that `run()` executes."""
    captured = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "FROM audit_log" in statement and not captured:
            captured.append((statement, parameters))

    sa.event.listen(db.engine, "before_cursor_execute", capture)
    try:
        run()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", capture)
    return captured[0]


def test_searches_over_100k_entries_use_indexes(app, people):
    """The plans of the searches the page and the API run, over 100,000 entries (written and
    rolled back in one transaction, which the plans are made in)."""
    Filters = audit_queries.Filters
    cursor = audit_queries.Cursor(T0 - timedelta(days=10), 10**9)
    searches = {
        "newest": (Filters(), None),
        "next page": (Filters(), cursor),
        "time range": (Filters(start=(T0 - timedelta(days=3)).date(),
                               end=(T0 - timedelta(days=2)).date()), None),
        "actor": (Filters(actor="李审计"), None),
        "action": (Filters(action="user.login"), None),
        "object": (Filters(object_type="need", object_id="123"), None),
    }
    queries = {name: _audit_query(lambda f=f, c=c: audit_queries.search(f, c))
               for name, (f, c) in searches.items()}
    actors = [people[r].user.id for r in ("office", "admin", "bank_manager")]
    sqlite = db.engine.dialect.name == "sqlite"
    db.session.remove()
    with db.engine.connect() as conn:
        transaction = conn.begin()
        _fill(conn, 100_000, actors)
        assert conn.scalar(sa.text("SELECT count(*) FROM audit_log")) > 100_000
        for name, (statement, parameters) in queries.items():
            rows = conn.exec_driver_sql(("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ")
                                        + statement, parameters).all()
            plan = "\n".join(str(row[-1] if sqlite else row[0]) for row in rows)
            assert "Seq Scan on audit_log" not in plan, (name, plan)
            assert not any(line.strip() == "SCAN audit_log" for line in plan.splitlines()), \
                (name, plan)
            assert "ix_audit_log" in plan, (name, plan)
        transaction.rollback()

