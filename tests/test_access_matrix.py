"""Every route of the URL map × every role, with the expected allow or deny.

The table below names, for each endpoint, who may use it on the objects of enterprise A and bank A
(a need of A grabbed by both banks, A's draft, A's claim, a product, a notification and a webhook
delivery of bank A). A new route without an entry fails `test_every_route_has_an_entry`, so the
table grows with the application.

Deny means: anonymous → the login page (web) or 401 (API); logged in → 403, or 404 where the
object's existence is itself another tenant's business. Allow means anything else but a 5xx.
Each state-changing request runs on a fresh copy of the world (the SQLite file is restored), so
one role's allowed grab or withdrawal cannot change what the next role meets.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from matchmaker import create_app
from matchmaker.extensions import db
from matchmaker.web.errors import CSRF_MESSAGE
from tests import factories
from tests.conftest import IsolatedClient, base_config
from tests.factories import login
from tests.webutil import csrf_token, text

ANON, ENT_A, ENT_B = "anonymous", "enterprise_a", "enterprise_b"
MGR_A, MGR_B, ADMIN_A, ADMIN_B = "manager_a", "manager_b", "bank_admin_a", "bank_admin_b"
OFFICE, ADMIN = "office", "admin"
ROLES = (ANON, ENT_A, ENT_B, MGR_A, MGR_B, ADMIN_A, ADMIN_B, OFFICE, ADMIN)

EVERYONE = set(ROLES)
LOGGED_IN = EVERYONE - {ANON}
ENTERPRISES = {ENT_A, ENT_B}
MANAGERS = {MGR_A, MGR_B}
BANK_ADMINS = {ADMIN_A, ADMIN_B}
BANKS = MANAGERS | BANK_ADMINS
STAFF = {OFFICE, ADMIN}

# endpoint → the roles allowed, on bank A's and enterprise A's objects.
EXPECTED: dict[str, set[str]] = {
    # public
    "web.index": EVERYONE,
    "web.healthz": EVERYONE,
    "accounts.login": EVERYONE,
    "accounts.logout": EVERYONE,
    "enterprises.register": EVERYONE,
    "products.catalogue": EVERYONE,
    "products.detail": EVERYONE,
    "api-docs.openapi_json": EVERYONE,
    "api_reference.green_catalog": EVERYONE,
    "api_reference.regions": EVERYONE,
    "api_enterprises.register": EVERYONE,
    "api_tokens.issue": EVERYONE,
    # anyone logged in, on their own things
    "accounts.password": LOGGED_IN,
    "notifications.index": LOGGED_IN,
    "notifications.preferences": LOGGED_IN,
    "notifications.read_all": LOGGED_IN,
    "notifications.unread_count": LOGGED_IN,
    "notifications.read": {MGR_A},  # manager A's notification
    "api_me.me": LOGGED_IN,
    "api_tokens.revoke": LOGGED_IN,
    "api_notifications.index": LOGGED_IN,
    "api_notifications.preferences": LOGGED_IN,
    "api_notifications.save_preferences": LOGGED_IN,
    "api_notifications.read_all": LOGGED_IN,
    "api_notifications.read": {MGR_A},
    "api_green.classify": LOGGED_IN,
    "green.suggest": LOGGED_IN,  # the need form's live helper (JSON, session + CSRF header)
    "green.estimate": LOGGED_IN,  # the need form's benefit estimator (JSON, session + CSRF)
    # enterprise
    "enterprises.profile": ENTERPRISES,
    "needs.new": ENTERPRISES,
    "needs.mine": ENTERPRISES,
    "needs.edit": {ENT_A},
    "needs.publish": {ENT_A},
    "needs.withdraw": {ENT_A},
    "needs.show": {ENT_A} | BANKS | STAFF,
    "claims.select": {ENT_A},
    "claims.cancel_selection": {ENT_A},
    "claims.rate": {ENT_A},
    "api_needs.create": ENTERPRISES,
    "api_needs.index": ENTERPRISES | BANKS | STAFF,
    "api_needs.show": {ENT_A} | BANKS | STAFF,
    "api_needs.update": {ENT_A},
    "api_needs.publish": {ENT_A},
    "api_needs.withdraw": {ENT_A},
    "api_claims.select": {ENT_A},
    "api_claims.cancel_selection": {ENT_A},
    "api_claims.rate": {ENT_A},
    "api_claims.trail": STAFF,
    "api_matching.need_matches": {ENT_A} | STAFF,
    # banks
    "banks.index": BANKS,
    "banks.leads": BANKS,
    "banks.users": BANK_ADMINS,
    "banks.new_user": BANK_ADMINS,
    "banks.user": {ADMIN_A},  # manager A
    "accounts.set_active": {ADMIN_A} | STAFF,  # manager A
    "claims.mine": BANKS,
    "claims.grab": MANAGERS,
    "claims.show": {ENT_A, MGR_A, ADMIN_A} | STAFF,  # bank A's claim
    "claims.record": {MGR_A, ADMIN_A},
    "claims.reassign": {ADMIN_A},
    "products.bank_list": BANKS,
    "products.bank_detail": {MGR_A, ADMIN_A},
    "products.templates": BANK_ADMINS,
    "products.new": BANK_ADMINS,
    "products.edit": {ADMIN_A},
    "products.toggle": {ADMIN_A},
    "notifications.webhook": BANK_ADMINS,
    "notifications.deliveries": BANK_ADMINS,
    "notifications.delivery": {ADMIN_A},
    "notifications.retry": {ADMIN_A},
    "api_matching.leads": BANKS,
    "api_green.need_flags": BANKS | STAFF,
    "api_claims.grab": MANAGERS,
    "api_claims.index": LOGGED_IN,  # each sees its own: test_claim_lists_are_per_tenant
    "api_claims.show": {ENT_A, MGR_A, ADMIN_A} | STAFF,
    "api_claims.record_event": {MGR_A, ADMIN_A},
    "api_claims.reassign": {ADMIN_A},
    "api_products.index": EVERYONE,  # the public catalogue, as on the web
    "api_products.show": EVERYONE,
    "api_products.create": BANK_ADMINS,
    "api_products.update": {ADMIN_A},
    "api_banks.index": LOGGED_IN,
    "api_banks.show": LOGGED_IN,
    "api_banks.create": STAFF,
    "api_banks.create_user": {ADMIN_A} | STAFF,
    "api_notifications.webhook": {ADMIN_A},
    "api_notifications.configure_webhook": {ADMIN_A},
    "api_notifications.deliveries": {ADMIN_A},
    "api_notifications.retry": {ADMIN_A},
    # the finance office
    "office.index": STAFF,
    "office.banks": STAFF,
    "office.bank": STAFF,
    "office.new_bank": STAFF,
    "office.new_bank_user": STAFF,
    "office.users": STAFF,
    "office.new_user": STAFF,
    "office.queue": STAFF,
    "office.assign": STAFF,
    "office.trail": STAFF,
    "office.dashboard": STAFF,
    "office.dashboard_csv": STAFF,
    "office.dashboard_xlsx": STAFF,
    "office.audit": STAFF,
    "office.audit_csv": STAFF,
    "api_audit.search": STAFF,
    "api_claims.assign": STAFF,
    "api_stats.summary": STAFF,
    "api_stats.breakdown": STAFF,
    "api_stats.banks": STAFF,
    # platform operations
    "ops.queues": {ADMIN},
    "ops.retry": {ADMIN},
    "ops.delete": {ADMIN},
}
BANK_A_NOTE = "甲行给企业的留言：可当天上门"
NOT_CHECKED = {"static"}  # files, served the same to everyone
# A valid body for the API's writes, so the request reaches the object check (a body that fails
# validation is refused first, whoever sends it, and would tell nothing about access).
API_BODIES = {
    "api_claims.select": lambda ids: {"claim_id": ids["claim"]},
    "api_claims.cancel_selection": lambda ids: {"reason": "改选其他银行"},
    "api_claims.rate": lambda ids: {"stars": 5},
    "api_claims.reassign": lambda ids: {"manager_id": ids["manager"]},
    "api_claims.record_event": lambda ids: {"type": "contacted"},
    "api_claims.assign": lambda ids: {"bank_id": ids["bank"]},
    "api_needs.update": lambda ids: {"title": "改过的标题"},
    "api_products.update": lambda ids: {"name": "改过的产品名"},
    "api_green.classify": lambda ids: {"text": "厂房屋顶分布式光伏电站建设"},
}
# Allowed roles meet these where the object the URL names cannot exist in this world.
NO_SUCH_OBJECT = {"ops.retry": 404, "ops.delete": 404}


@dataclass
class World:
    ids: dict[str, int]
    snapshot: Path
    database: Path
    cookies: dict[str, str]  # role → session cookie
    csrf: dict[str, str]  # role → CSRF token of that session
    tokens: dict[str, dict]  # role → API headers
    secrets: dict[str, str]  # what only bank A, enterprise A and the office may read


def url_arguments(ids: dict[str, int]) -> dict[str, object]:
    """Which object each URL variable names."""
    return {
        "need_id": ids["need"], "claim_id": ids["claim"], "product_id": ids["product"],
        "bank_id": ids["bank"], "user_id": ids["manager"], "notification_id": ids["notification"],
        "delivery_id": ids["delivery"], "kind": "contacted", "name": "summary",
        "job_id": "no-such-job", "filename": "app.css",
    }


def build_world(app) -> dict:
    from matchmaker.claims.models import Claim
    from matchmaker.claims.services import grab
    from matchmaker.notifications.models import Delivery, Notification
    from matchmaker.notifications.settings import configure_webhook

    make = factories.Factory(app)
    bank_a, bank_b = make.bank(name="甲银行"), make.bank(name="乙银行")
    admin_a = make.bank_user(bank_a, role="bank_admin")
    admin_b = make.bank_user(bank_b, role="bank_admin")
    manager_a = make.bank_user(bank_a, role="bank_manager")
    manager_b = make.bank_user(bank_b, role="bank_manager")
    product = make.product(bank_a, admin_a)
    make.product(bank_b, admin_b)
    # A webhook nobody listens on: its deliveries fail, which is all this world needs.
    configure_webhook(bank_a, admin_a.user, "https://hooks.bank-a.example/greenmatch",
                      ["new_lead"], True)
    enterprise_a, enterprise_b = make.enterprise()[1], make.enterprise()[1]
    need = make.need(enterprise_a)
    draft = make.need(enterprise_a, publish=False, title="尚未发布的草稿")
    claim = grab(need.id, manager_a.user, note=BANK_A_NOTE)
    grab(need.id, manager_b.user)
    accounts = {
        ENT_A: enterprise_a, ENT_B: enterprise_b, MGR_A: manager_a, MGR_B: manager_b,
        ADMIN_A: admin_a, ADMIN_B: admin_b, OFFICE: make.office(), ADMIN: make.platform_admin(),
    }
    notification = db.session.scalar(
        sa.select(Notification.id).where(Notification.user_id == manager_a.user.id).limit(1))
    delivery = db.session.scalar(
        sa.select(Delivery.id).where(Delivery.bank_id == bank_a.id).limit(1))
    assert notification and delivery, "the world needs a notification and a delivery of bank A"
    assert db.session.get(Claim, claim.id).bank_id == bank_a.id
    secrets = {"note": BANK_A_NOTE, "manager_email": manager_a.email,
               "manager_name": manager_a.user.name}
    ids = {"need": need.id, "claim": claim.id, "product": product.id, "bank": bank_a.id,
           "manager": manager_a.user.id, "notification": notification, "delivery": delivery,
           "draft": draft.id}
    return {"ids": ids, "accounts": accounts, "secrets": secrets}


@pytest.fixture(scope="module")
def world(tmp_path_factory, sqlite_template):
    instance = tmp_path_factory.mktemp("access-matrix")
    database = instance / "world.db"
    shutil.copyfile(sqlite_template, database)
    app = create_app(base_config(instance, f"sqlite:///{database}"))
    app.test_client_class = IsolatedClient
    with app.app_context():
        built = build_world(app)
        cookies, csrf, tokens = {}, {}, {}
        for role, account in built["accounts"].items():
            client = app.test_client()
            login(client, account)
            csrf[role] = csrf_token(client, "/account/password")
            cookies[role] = client.get_cookie("session").value
            tokens[role] = factories.api_token(client, account)
        anonymous = app.test_client()  # a visitor's session, with the token of the login form
        csrf[ANON] = csrf_token(anonymous, "/login")
        cookies[ANON] = anonymous.get_cookie("session").value
        db.session.remove()
        db.engine.dispose()
        snapshot = instance / "world.snapshot.db"
        shutil.copyfile(database, snapshot)
        yield app, World(built["ids"], snapshot, database, cookies, csrf, tokens,
                         built["secrets"])


def routes(app):
    return [rule for rule in app.url_map.iter_rules() if rule.endpoint not in NOT_CHECKED]


def test_every_route_has_an_entry(world):
    app, _ = world
    missing = sorted({rule.endpoint for rule in routes(app)} - set(EXPECTED))
    assert not missing, f"routes without an entry in the access matrix: {missing}"
    stale = sorted(set(EXPECTED) - {rule.endpoint for rule in app.url_map.iter_rules()})
    assert not stale, f"entries for routes that no longer exist: {stale}"


def request_as(app, world: World, role: str, method: str, path: str, endpoint: str):
    writes = method not in ("GET", "HEAD")
    if writes:  # a fresh copy of the world for each state-changing request
        db.session.remove()
        db.engine.dispose()
        shutil.copyfile(world.snapshot, world.database)
    client = app.test_client()
    headers, kwargs = {}, {}
    api = path.startswith("/api/")
    if api and role != ANON:
        headers.update(world.tokens[role])
    elif not api:
        client.set_cookie("session", world.cookies[role])
    if writes:
        if api:
            kwargs["json"] = API_BODIES.get(endpoint, lambda ids: {})(world.ids)
        else:
            kwargs["data"] = {"csrf_token": world.csrf[role]}
    return client.open(path, method=method, headers=headers, **kwargs)


def denied(response, role: str, api: bool) -> bool:
    if role == ANON and not api and response.status_code == 302:
        return response.location.startswith("/login")
    if role == ANON:
        return response.status_code == 401  # the API, and the web's JSON endpoints
    return response.status_code in (403, 404)


CASES = [pytest.param(endpoint, role, role in allowed, id=f"{endpoint}-{role}")
         for endpoint, allowed in sorted(EXPECTED.items()) for role in ROLES]


@pytest.mark.parametrize(("endpoint", "role", "allowed"), CASES)
def test_access(world, endpoint, role, allowed):
    app, state = world
    rules = [rule for rule in app.url_map.iter_rules() if rule.endpoint == endpoint]
    assert rules, f"no route {endpoint}"
    arguments = url_arguments(state.ids)
    for rule in rules:
        with app.test_request_context():
            path = app.url_for(endpoint, **{a: arguments[a] for a in rule.arguments})
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = request_as(app, state, role, method, path, endpoint)
            status = response.status_code
            what = f"{role} {method} {path}: {status}"
            assert status < 500, what
            api = path.startswith("/api/")
            if allowed:
                if status == NO_SUCH_OBJECT.get(endpoint):
                    continue
                assert not denied(response, role, api) and status not in (401, 403, 404), (
                    f"{what}, expected allowed")
            else:
                assert denied(response, role, api), f"{what}, expected denied"


@pytest.mark.parametrize("role", [ENT_B, MGR_B, ADMIN_B])
def test_other_tenants_read_nothing_of_bank_a_s_claim(world, role):
    """Bank B grabbed the same need and enterprise B is a stranger: neither reads bank A's note
    to the enterprise nor who bank A's manager is, on any page or answer about that need."""
    app, state = world
    need = state.ids["need"]
    paths = [f"/needs/{need}", "/claims/mine", "/bank/leads", "/notifications",
             f"/api/v1/needs/{need}", "/api/v1/claims", f"/api/v1/needs/{need}/matches",
             "/api/v1/notifications", "/api/v1/leads"]
    for path in paths:
        body = request_as(app, state, role, "GET", path, "").get_data(as_text=True)
        for name, secret in state.secrets.items():
            assert secret not in body, f"{role} reads bank A's {name} on {path}"


def test_bank_a_and_the_enterprise_do_read_it(world):
    """The counter-check: the same pages do show it to those allowed, so the test above could
    fail."""
    app, state = world
    for role in (ENT_A, MGR_A, OFFICE):
        body = request_as(app, state, role, "GET", f"/api/v1/claims/{state.ids['claim']}",
                          "").get_data(as_text=True)
        assert state.secrets["note"] in body and state.secrets["manager_email"] in body, role


def web_writes(app):
    return [(rule, method) for rule in routes(app) if not rule.rule.startswith("/api/")
            for method in sorted(rule.methods - {"GET", "HEAD", "OPTIONS"})]


def test_every_web_form_refuses_a_post_without_its_csrf_token(world):
    """For each web route that changes state, a role allowed to use it is refused (400) when the
    token is missing or is another session's: no other site can submit a form as the user."""
    app, state = world
    arguments = url_arguments(state.ids)
    checked = 0
    for rule, method in web_writes(app):
        allowed = EXPECTED[rule.endpoint]
        role = next(r for r in ROLES if r in allowed and r != ANON) if allowed - {ANON} else ANON
        with app.test_request_context():
            path = app.url_for(rule.endpoint, **{a: arguments[a] for a in rule.arguments})
        other = next(r for r in ROLES if r != role)
        for token in ("", state.csrf[other]):
            db.session.remove()
            db.engine.dispose()
            shutil.copyfile(state.snapshot, state.database)
            client = app.test_client()
            client.set_cookie("session", state.cookies[role])
            response = client.open(path, method=method, data={"csrf_token": token})
            assert response.status_code == 400, f"{role} {method} {path} token={token!r}"
            assert CSRF_MESSAGE in text(response), f"{method} {path}"
        checked += 1
    assert checked > 20  # the forms of this application; a broken route list checks nothing


def test_the_api_ignores_the_session_cookie(world):
    """The API is exempt from CSRF because it authenticates by bearer token only: a logged-in
    browser session (which another site could ride) gets 401 there."""
    app, state = world
    client = app.test_client()
    client.set_cookie("session", state.cookies[ENT_A])
    response = client.post(f"/api/v1/needs/{state.ids['need']}/withdraw", json={})
    assert response.status_code == 401
    assert client.get("/api/v1/me").status_code == 401


@pytest.mark.parametrize("role", ROLES)
def test_a_draft_is_its_enterprise_s_alone(world, role):
    """Not another enterprise, not a bank, not even the office: a draft answers as a missing id
    does, on every page and operation that names it."""
    app, state = world
    draft = state.ids["draft"]
    reads = [f"/needs/{draft}", f"/needs/{draft}/edit", f"/api/v1/needs/{draft}",
             f"/api/v1/needs/{draft}/matches", f"/api/v1/needs/{draft}/trail",
             f"/office/needs/{draft}/trail"]
    for path in reads:
        response = request_as(app, state, role, "GET", path, "")
        api = path.startswith("/api/")
        if role == ENT_A and "trail" not in path:
            assert response.status_code == 200, path
        else:
            assert denied(response, role, api), f"{role} GET {path}: {response.status_code}"
    listed = request_as(app, state, role, "GET", "/api/v1/needs", "")
    if listed.status_code == 200:
        ids = [need["id"] for need in listed.get_json()["items"]]
        assert (draft in ids) == (role == ENT_A), role
