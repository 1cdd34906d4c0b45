"""Schemathesis fuzzing of every operation of /api/v1/openapi.json, as every role.

Schemathesis generates requests for each operation from the document — positive (valid by the
schema) and negative (invalid) — once per test session; each role (enterprise, bank_manager,
bank_admin, office, admin, and an anonymous caller) then sends them, in-process to the WSGI app,
in a world of its own seeded through the real services: two banks with products, an enterprise
with drafts (one past its deadline) and open, grabbed, picked and closed needs, another
enterprise's need, claims, notifications and a failed webhook delivery.

Before a request is sent, its id fields (path, query and body: need_id, claim_id, bank_id, …)
are often replaced by ids of the world's objects and its code fields (green_category,
region_code, uscc, email, …) by valid codes — most of the time in a positive request, less
often in a negative one — so that requests get past the 404s and 422s into the business rules.
The choice is seeded by the role, the operation and the example's number: the run is
deterministic.

Every answer must:
- not be a 5xx;
- have a status code the operation lists explicitly (the document's `default` response does not
  count), a JSON content type, and a body matching the documented schema for that status;
- when it is a 422, name at least one field in `errors`.

Bounded for CI: EXAMPLES per operation and mode, hypothesis derandomized, no example database,
no shrinking; SQLite only (the other API tests cover the services' SQL on both backends).
`FUZZ_EXAMPLES=200 pytest tests/test_api_fuzz.py` searches longer.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import random
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core import NotSet
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from matchmaker.claims.services import grab, record_event, select_claim
from matchmaker.extensions import db
from matchmaker.needs.services import local_today
from matchmaker.notifications.models import Delivery, Notification
from matchmaker.notifications.settings import configure_webhook
from tests.factories import PASSWORD, api_token, make_uscc

pytestmark = pytest.mark.sqlite_only

ROLES = ("enterprise", "bank_manager", "bank_admin", "office", "admin", "anonymous")
# Examples generated per operation and mode. A caller the operation refuses sends only the first
# few: its requests end at the role check.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", 10))
REFUSED_EXAMPLES = 2
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]

# Fields (path, query or body) holding an id of one of the world's objects, and their kind.
ID_FIELDS = {
    "need_id": "need", "claim_id": "claim", "bank_id": "bank", "product_id": "product",
    "notification_id": "notification", "delivery_id": "delivery", "manager_id": "user",
}
# Positive requests carry decimals as the API documents them (strings with up to two places):
# ordinary ones, at the limits of Numeric(14, 2), just past the documented bounds, and in
# scientific notation with exponents up to beyond what Python's decimal context allows.
schemathesis.openapi.format("decimal", st.one_of(
    st.decimals(min_value=0, max_value=40, places=2),
    st.decimals(min_value=0, max_value=1000, places=2),
    st.decimals(min_value=-(10**12) + 1, max_value=10**12 - 1, places=2),
    st.sampled_from(["0", "0.01", "36", "36.01", "99.99", "10000000.00", "10000000.01",
                     "100000000.01", "999999999999.99", "-0.01"]),
    st.builds("{}e{}".format, st.integers(-99, 99),
              st.one_of(st.integers(-4, 16), st.sampled_from([-(10**7), 10**6, 10**7, 10**19]))),
).map(str))
CATEGORIES = ["4.1.4", "4.1", "4", "1.1.1", "3.2.1", "6.2"]
TEXTS = ["林下经济基地扩建", "屋顶光伏", "湖州绿色农商银行", "王经理", "企业已另行融资"]
REGIONS = ["330523", "330502", "330500", "330000", "110101"]


# --- the world ---------------------------------------------------------------------------------


@dataclass
class World:
    accounts: dict = field(default_factory=dict)  # role -> Account
    ids: dict = field(default_factory=dict)  # kind -> [id, …]


def seed_world(make, monkeypatch) -> World:
    from matchmaker.notifications import delivery

    # Webhook calls never leave the machine: the bank "answers" 204 at once.
    monkeypatch.setattr(delivery, "_send_webhook", lambda d: (204, None))

    office = make.office()
    admin = make.platform_admin()
    bank = make.bank(actor=office.user)
    other_bank = make.bank(actor=office.user)
    bank_admin = make.bank_user(bank, role="bank_admin", actor=office.user)
    other_admin = make.bank_user(other_bank, role="bank_admin", actor=office.user)
    configure_webhook(bank, bank_admin.user, "http://127.0.0.1:9/greenmatch", ["new_lead"], True)
    products = [make.product(bank, bank_admin),
                make.product(bank, bank_admin, name="能效贷", active=False),
                make.product(other_bank, other_admin, name="排污权质押贷")]
    manager = make.bank_user(bank, actor=office.user)
    other_manager = make.bank_user(other_bank, actor=office.user)

    _, owner = make.enterprise()
    _, stranger = make.enterprise()
    draft = make.need(owner, publish=False, title="草稿：屋顶光伏")
    stale = make.need(owner, publish=False, title="草稿：截止日期已过",
                      deadline=local_today().isoformat())
    stale.deadline = local_today() - timedelta(days=1)  # no longer publishable
    open_need = make.need(owner, title="待抢单：林下经济")
    grabbed = make.need(owner, title="已抢单：香榧基地")
    picked = make.need(owner, title="已选定：竹林碳汇")
    closed = make.need(owner, title="已放款：生态茶园")
    strangers = make.need(stranger, title="另一家企业的需求")

    claims = [grab(grabbed.id, manager.user), grab(grabbed.id, other_manager.user)]
    picked_claim = grab(picked.id, manager.user)
    select_claim(picked, picked_claim.id, owner.user)
    closed_claim = grab(closed.id, manager.user)
    select_claim(closed, closed_claim.id, owner.user)
    for event in ({"type": "contacted"},
                  {"type": "credit_approved", "amount_wan": "100.00", "rate": "4.20"},
                  {"type": "disbursed", "amount_wan": "100.00"}):
        record_event(closed_claim, manager.user, event)
    claims += [picked_claim, closed_claim, grab(strangers.id, other_manager.user)]

    db.session.expire_all()
    for sent in db.session.scalars(sa.select(Delivery)):  # for the fuzzer to send again
        sent.status, sent.lease_until = "failed", None
    db.session.commit()

    world = World(accounts={"enterprise": owner, "bank_manager": manager,
                            "bank_admin": bank_admin, "office": office, "admin": admin})
    world.ids = {
        "need": [n.id for n in (draft, stale, open_need, grabbed, picked, closed, strangers)],
        "claim": [c.id for c in claims],
        "bank": [bank.id, other_bank.id],
        "product": [p.id for p in products],
        "notification": list(db.session.scalars(sa.select(Notification.id))),
        "delivery": list(db.session.scalars(sa.select(Delivery.id))),
        "user": [manager.user.id, other_manager.user.id, bank_admin.user.id],
    }
    assert world.ids["delivery"] and world.ids["notification"]
    return world


def realistic(name: str, rng: random.Random, world: World):
    """A value of field `name` that gets past validation, or None to keep the generated one."""
    if name in ID_FIELDS:
        return rng.choice(world.ids[ID_FIELDS[name]])
    serial = rng.randrange(10**6)
    values = {
        "green_category": lambda: rng.choice(CATEGORIES),
        "green_categories": lambda: rng.sample(CATEGORIES, rng.randint(1, 2)),
        "region_code": lambda: rng.choice(REGIONS),
        "region_codes": lambda: rng.sample(REGIONS, rng.randint(1, 2)),
        "industry_code": lambda: rng.choice(["C", "38", "A"]),
        "uscc": lambda: make_uscc(1_000_000 + serial),  # the factories' are below
        "email": lambda: rng.choice([f"fuzz{serial}@example.com",
                                     *(a.email for a in world.accounts.values())]),
        "password": lambda: PASSWORD,
        "phone": lambda: "0572-1234567",
        "url": lambda: "https://open.bank.example/greenmatch",
        **dict.fromkeys(("name", "title", "contact_name", "description", "reason", "note",
                         "comment"), lambda: rng.choice(TEXTS) + str(serial)),
    }
    return values[name]() if name in values else None


# --- generation, shared by the roles -------------------------------------------------------------


_schema: list = []
_generated: dict[str, list[dict]] = {}


def api_schema(spec: dict):
    if not _schema:
        schema = schemathesis.openapi.from_dict(spec)
        schema.config.generation.update(with_security_parameters=False)
        _schema.append(schema)
    return _schema[0]


def has_inputs(spec: dict, operation) -> bool:
    item = spec["paths"][operation.path]
    definition = item[operation.method.lower()]
    return "parameters" in item or "parameters" in definition or "requestBody" in definition


def generated(spec: dict, operation) -> list[dict]:
    """The requests schemathesis generates for `operation`: positive ones, then negative ones
    (when it has parameters or a body to make invalid)."""
    if operation.label not in _generated:
        requests: list[dict] = []
        modes = [GenerationMode.POSITIVE]
        if has_inputs(spec, operation):
            modes.append(GenerationMode.NEGATIVE)
        for mode in modes:
            with contextlib.suppress(Unsatisfiable):  # nothing left to generate
                collect(operation, mode, requests)
        _generated[operation.label] = requests
    return _generated[operation.label]


def collect(operation, mode: GenerationMode, into: list[dict]) -> None:
    positive = mode is GenerationMode.POSITIVE

    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def keep(case):
        request = {"path_parameters": dict(case.path_parameters or {}),
                   "query": dict(case.query or {}), "positive": positive}
        if not isinstance(case.body, NotSet):
            request |= {"body": copy.deepcopy(case.body), "media_type": case.media_type}
        into.append(request)

    keep()


def with_world(request: dict, rng: random.Random, world: World) -> dict:
    """A copy of `request` whose id and code fields are often the world's: most of the time in a
    positive request, less often in a negative one (whose point is its invalid values)."""
    request = copy.deepcopy(request)
    chance = 0.8 if request.pop("positive") else 0.4
    body = request["body"] if isinstance(request.get("body"), dict) else {}
    for container in (request["path_parameters"], request["query"], body):
        for name in list(container):
            if rng.random() < chance:
                value = realistic(name, rng, world)
                if value is not None:
                    container[name] = value
    return request


# --- checks beyond schemathesis' ----------------------------------------------------------------


def explicitly_documented(spec: dict, case, response) -> None:
    """The status is one the operation lists, not only covered by `default`."""
    listed = set(spec["paths"][case.operation.path][case.method.lower()]["responses"])
    listed.discard("default")
    assert str(response.status_code) in listed, (
        f"{case.operation.label}: {response.status_code} is not documented (lists "
        f"{sorted(listed)})")


def field_errors_named(case, response) -> None:
    if response.status_code == 422:
        body = json.loads(response.content)
        assert body["errors"], f"{case.operation.label}: 422 without a field: {body}"


def describe(response) -> str:
    sent = response.request
    body = sent.body if isinstance(sent.body, bytes) else (sent.body or "").encode()
    return (f"sent: {sent.method} {sent.url}\n  body: {body[:600]!r}\n"
            f"got: {response.status_code} {response.content[:600]!r}")


# --- the test ----------------------------------------------------------------------------------


def allowed(operation: dict, role: str) -> bool:
    if "security" not in operation:
        return True
    if role == "anonymous":
        return False
    return role in operation.get("x-roles", ROLES)


@pytest.mark.parametrize("role", ROLES)
def test_fuzz_every_operation(app, client, make, monkeypatch, caplog, role):
    world = seed_world(make, monkeypatch)
    spec = client.get("/api/v1/openapi.json").get_json()
    operations = [result.ok() for result in api_schema(spec).get_all_operations()]
    assert len(operations) >= 44
    account = world.accounts.get(role)
    auth = {"headers": api_token(client, account) if account else {}}

    failures: list[str] = []
    for operation in operations:
        requests = generated(spec, operation)
        if not allowed(spec["paths"][operation.path][operation.method.lower()], role):
            requests = requests[:REFUSED_EXAMPLES]
        for number, request in enumerate(requests):
            rng = random.Random(f"{role} {operation.label} {number}")
            case = operation.Case(**with_world(request, rng, world))
            caplog.clear()
            with app.app_context():  # a context per request, as in production
                response = case.call(app=app, headers=auth["headers"])
            db.session.expire_all()
            if case.method == "DELETE" and response.status_code == 204 and account:
                # The caller revoked its own token: take a new one for the next requests.
                auth["headers"] = api_token(client, account)
            try:
                case.validate_response(response, checks=CHECKS)
                explicitly_documented(spec, case, response)
                field_errors_named(case, response)
            except (AssertionError, schemathesis.errors.FailureGroup) as exc:
                logged = "\n".join(  # the app's traceback of a 500
                    logging.Formatter().format(r) for r in caplog.records
                    if r.levelno >= logging.ERROR and r.name.startswith("matchmaker"))
                failures.append(f"--- {role} {operation.label} #{number}\n{exc}\n"
                                f"{describe(response)}\n{logged}")
                break  # one failure per operation is enough to report
    assert not failures, f"{len(failures)} operations failed:\n" + "\n".join(failures)
