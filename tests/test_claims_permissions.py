"""Permission tests for every action and role of the lead workflow.

One table: for each endpoint (and a few states that matter), the exact status every actor gets —
anonymous, the owner enterprise, another enterprise, the manager of bank A who grabbed the need,
another manager of bank A, bank A's admin, a manager and the admin of bank B (which did not
grab), the office and the platform admin. The rules:

* no token → 401;
* a role the endpoint never allows → 403, checked before the body (a bad body still gets 403);
* an object the caller may not see (another bank's claim, another enterprise's need) → 404;
* allowed → the success status, or the business 409 for the state, or 422 for a bad body.

Each actor meets the endpoint's scene (a need of the owner grabbed by bank A, taken to the
state the row names, built through the services) in that known state. Every refused request —
and every read — must leave the database as it was: need and claim states, and no new audit,
outbox, event or rating rows; so a refused actor hands the same scene to the next, and a fresh
one is built only after a change. Successes must change what they promise.

Then: which bank users see the enterprise's contact fields (only after their bank grabbed), and
what GET /claims lists for each role.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from matchmaker.audit.models import AuditLog, OutboxEvent
from matchmaker.claims import services
from matchmaker.claims.models import Claim, ClaimEvent, Rating
from matchmaker.extensions import db
from matchmaker.needs.models import Need

ANONYMOUS = "anonymous"
# Every actor and its role (None: no token at all).
ACTORS: dict[str, str | None] = {
    ANONYMOUS: None,
    "owner": "enterprise",              # posted the need
    "other_enterprise": "enterprise",
    "grabber": "bank_manager",          # bank A's manager who grabbed the need
    "colleague": "bank_manager",        # another manager of bank A
    "bank_admin": "bank_admin",         # bank A's admin
    "other_manager": "bank_manager",    # bank B's manager; bank B did not grab
    "other_bank_admin": "bank_admin",   # bank B's admin
    "office": "office",
    "platform_admin": "admin",
}
OFFICE = ("office", "admin")
CONTACT = {"contact_name": "联系人赵六", "phone": "0572-7654321",
           "email": "contact-zhao@example.com", "address": "湖州市吴兴区绿色大道 8 号"}
CONTACT_FIELDS = set(CONTACT)
MISSING_ID = 2147483647  # INT32_MAX: a valid id that exists nowhere


def statuses(*codes: int) -> dict[str, int]:
    """The expected status per actor, in the order of ACTORS."""
    assert len(codes) == len(ACTORS)
    return dict(zip(ACTORS, codes, strict=True))


@pytest.fixture
def people(app, make):
    """Bank A and bank B (each a product, an admin and managers), the owner enterprise (with
    distinctive contact details) and another one, the office and the platform admin."""
    app.config["MANAGER_DAILY_GRAB_LIMIT"] = 10_000  # every scene grabs once more
    office = make.office()
    bank_a = make.bank(region_codes=["330500"], actor=office.user)
    bank_b = make.bank(region_codes=["330500"], actor=office.user)
    admin_a = make.bank_user(bank_a, role="bank_admin", actor=office.user)
    admin_b = make.bank_user(bank_b, role="bank_admin", actor=office.user)
    make.product(bank_a, admin_a)
    make.product(bank_b, admin_b)
    _enterprise, owner = make.enterprise(**CONTACT)
    _other, other = make.enterprise()
    return {
        "owner": owner, "other_enterprise": other,
        "grabber": make.bank_user(bank_a, actor=office.user),
        "colleague": make.bank_user(bank_a, actor=office.user),
        "bank_admin": admin_a,
        "other_manager": make.bank_user(bank_b, actor=office.user),
        "other_bank_admin": admin_b,
        "office": office, "platform_admin": make.platform_admin(),
        "bank_a": bank_a, "bank_b": bank_b,
    }


@pytest.fixture
def heads(tokens, people) -> dict[str, dict]:
    """Request headers per actor. Issuing a token writes an audit row, so all are issued first."""
    return {actor: ({} if role is None else tokens(actor)) for actor, role in ACTORS.items()}


def uid(people, actor: str) -> int:
    return people[actor].user.id


# --- scenes --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scene:
    need: int
    claim: int  # bank A's claim, grabbed by "grabber"


def build(make, people, stage: str) -> Scene:
    """A fresh need of the owner grabbed by bank A's "grabber", then taken to `stage`:
    claimed (grabbed only), selected (the owner picked bank A) or disbursed (need closed)."""
    need = make.need(people["owner"])
    claim = services.grab(need.id, people["grabber"].user)
    if stage in ("selected", "disbursed"):
        services.select_claim(need, claim.id, people["owner"].user)
    if stage == "disbursed":
        for event in ({"type": "contacted"},
                      {"type": "credit_approved", "amount_wan": "100", "rate": "3.85"},
                      {"type": "disbursed", "amount_wan": "100"}):
            services.record_event(claim, people["grabber"].user, event)
    assert stage in ("claimed", "selected", "disbursed")
    return Scene(need.id, claim.id)


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def snapshot() -> dict:
    """Everything a lead action may change, read fresh from the database."""
    db.session.expire_all()
    return {
        "needs": db.session.execute(sa.select(Need.id, Need.status).order_by(Need.id)).all(),
        "claims": db.session.execute(
            sa.select(Claim.id, Claim.need_id, Claim.bank_id, Claim.status, Claim.manager_id,
                      Claim.slot).order_by(Claim.id)).all(),
        "audit_rows": count(AuditLog), "outbox_rows": count(OutboxEvent),
        "claim_events": count(ClaimEvent), "ratings": count(Rating),
    }


def differences(before: dict, after: dict) -> dict:
    return {key: (before[key], after[key]) for key in before if before[key] != after[key]}


# --- what a success must have done ---------------------------------------------------------------


def claim_of(scene: Scene) -> Claim:
    return db.session.get(Claim, scene.claim)


def need_of(scene: Scene) -> Need:
    return db.session.get(Need, scene.need)


def grabbed_by_bank_b(scene, people, body):
    claim = db.session.get(Claim, body["id"])
    assert (claim.need_id, claim.bank_id, claim.status, claim.manager_id) == (
        scene.need, people["bank_b"].id, "claimed", uid(people, "other_manager"))
    assert set(body["contact"]) >= CONTACT_FIELDS  # grabbing reveals how to reach the enterprise


def picked(scene, people, body):
    assert (claim_of(scene).status, need_of(scene).status) == ("selected", "selected")


def pick_cancelled(scene, people, body):
    # Nobody else grabbed: the need goes to the finance office.
    assert (claim_of(scene).status, need_of(scene).status) == ("cancelled", "escalated")


def assigned_to_bank_b(scene, people, body):
    claim = db.session.get(Claim, body["id"])
    assert (claim.bank_id, claim.assigned_by_office) == (people["bank_b"].id, True)
    assert need_of(scene).status == "assigned"


def contacted(scene, people, body):
    assert (claim_of(scene).status, need_of(scene).status) == ("contacted", "contacted")


def rated(scene, people, body):
    assert claim_of(scene).rating.stars == 5


def reassigned(scene, people, body):
    assert claim_of(scene).manager_id == uid(people, "colleague")


# --- the table -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: str                      # formatted with need= and claim=
    roles: tuple[str, ...] | None  # token_required's roles; None: any signed-in user
    stage: str
    expected: dict[str, int]
    body: Callable[[Scene, dict], dict] | None = None
    bad_body: dict | None = None   # fails the schema: 422 once the role is allowed
    done: Callable | None = None   # checks a success changed what it should

    def role_allowed(self, actor: str) -> bool:
        role = ACTORS[actor]
        return role is not None and (self.roles is None or role in self.roles)


GRAB = "/api/v1/needs/{need}/claims"
SELECT = "/api/v1/needs/{need}/selection"
CANCEL = "/api/v1/needs/{need}/selection/cancel"
ASSIGN = "/api/v1/needs/{need}/assignment"
TRAIL = "/api/v1/needs/{need}/trail"
NEED = "/api/v1/needs/{need}"
CLAIMS = "/api/v1/claims"
CLAIM = "/api/v1/claims/{claim}"
EVENTS = "/api/v1/claims/{claim}/events"
RATING = "/api/v1/claims/{claim}/rating"
REASSIGN = "/api/v1/claims/{claim}/reassign"


def pick_body(scene, people):
    return {"claim_id": scene.claim}


def cancel_body(scene, people):
    return {"reason": "银行迟迟不联系"}


def assign_body(scene, people):
    return {"bank_id": people["bank_b"].id, "note": "请尽快对接"}


def contacted_body(scene, people):
    return {"type": "contacted", "note": "已电话联系"}


def rating_body(scene, people):
    return {"stars": 5, "comment": "放款很快"}


def reassign_body(scene, people):
    return {"manager_id": uid(people, "colleague")}


def grab_body(scene, people):
    return {}


ENDPOINTS = [
    #                            anon own oth grb col adA mgB adB off adm
    Endpoint("grab", "POST", GRAB, ("bank_manager",), "claimed",
             statuses(401, 403, 403, 409, 409, 403, 201, 403, 403, 403),
             grab_body, {"product_id": "x"}, grabbed_by_bank_b),
    # A picked need is no longer open to banks that did not grab it: 404 for bank B.
    Endpoint("grab a picked need", "POST", GRAB, ("bank_manager",), "selected",
             statuses(401, 403, 403, 409, 409, 403, 404, 403, 403, 403),
             grab_body, {"note": 7}),
    Endpoint("select", "POST", SELECT, ("enterprise",), "claimed",
             statuses(401, 200, 404, 403, 403, 403, 403, 403, 403, 403),
             pick_body, {}, picked),
    Endpoint("select on a picked need", "POST", SELECT, ("enterprise",), "selected",
             statuses(401, 409, 404, 403, 403, 403, 403, 403, 403, 403),
             pick_body, {"claim_id": 0}),
    Endpoint("cancel selection", "POST", CANCEL, ("enterprise",), "selected",
             statuses(401, 200, 404, 403, 403, 403, 403, 403, 403, 403),
             cancel_body, {}, pick_cancelled),
    Endpoint("cancel with nothing picked", "POST", CANCEL, ("enterprise",), "claimed",
             statuses(401, 409, 404, 403, 403, 403, 403, 403, 403, 403),
             cancel_body, {"reason": 5}),
    Endpoint("assign", "POST", ASSIGN, OFFICE, "claimed",
             statuses(401, 403, 403, 403, 403, 403, 403, 403, 201, 201),
             assign_body, {"bank_id": "x"}, assigned_to_bank_b),
    Endpoint("assign a picked need", "POST", ASSIGN, OFFICE, "selected",
             statuses(401, 403, 403, 403, 403, 403, 403, 403, 409, 409),
             assign_body, {}),
    Endpoint("trail", "GET", TRAIL, OFFICE, "claimed",
             statuses(401, 403, 403, 403, 403, 403, 403, 403, 200, 200)),
    Endpoint("show need", "GET", NEED, None, "claimed",
             statuses(401, 200, 404, 200, 200, 200, 200, 200, 200, 200)),
    Endpoint("list claims", "GET", CLAIMS, None, "claimed",
             statuses(401, 200, 200, 200, 200, 200, 200, 200, 200, 200)),
    Endpoint("show claim", "GET", CLAIM, None, "claimed",
             statuses(401, 200, 404, 200, 200, 200, 404, 404, 200, 200)),
    # The claim's manager or its bank's admin; another manager of the bank 403; bank B 404.
    Endpoint("record progress", "POST", EVENTS, ("bank_manager", "bank_admin"), "selected",
             statuses(401, 403, 403, 201, 403, 201, 404, 404, 403, 403),
             contacted_body, {"type": "nonsense"}, contacted),
    Endpoint("record progress before the pick", "POST", EVENTS, ("bank_manager", "bank_admin"),
             "claimed",
             statuses(401, 403, 403, 409, 403, 409, 404, 404, 403, 403),
             contacted_body, {"type": "nonsense"}),
    Endpoint("rate", "POST", RATING, ("enterprise",), "disbursed",
             statuses(401, 201, 404, 403, 403, 403, 403, 403, 403, 403),
             rating_body, {"stars": 9}, rated),
    Endpoint("rate before the need closed", "POST", RATING, ("enterprise",), "selected",
             statuses(401, 409, 404, 403, 403, 403, 403, 403, 403, 403),
             rating_body, {"stars": 0}),
    Endpoint("reassign", "POST", REASSIGN, ("bank_admin",), "claimed",
             statuses(401, 403, 403, 403, 403, 200, 403, 404, 403, 403),
             reassign_body, {}, reassigned),
    Endpoint("reassign a closed lead", "POST", REASSIGN, ("bank_admin",), "disbursed",
             statuses(401, 403, 403, 403, 403, 409, 403, 404, 403, 403),
             reassign_body, {"manager_id": "x"}),
]


def test_the_table_follows_the_rules():
    """Roles an endpoint never allows are 403 in the table, anonymous is always 401."""
    for endpoint in ENDPOINTS:
        for actor, expected in endpoint.expected.items():
            if actor == ANONYMOUS:
                assert expected == 401, endpoint.name
            elif not endpoint.role_allowed(actor):
                assert expected == 403, (endpoint.name, actor)


def send(client, endpoint: Endpoint, scene: Scene, headers: dict, body: dict | None):
    url = endpoint.path.format(need=scene.need, claim=scene.claim)
    if endpoint.method == "GET":
        return client.get(url, headers=headers)
    return client.post(url, json=body, headers=headers)


def problem(actor: str, what: str, response=None) -> str:
    text = f"{actor}: {what}"
    if response is not None:
        text += f" — {response.get_data(as_text=True)[:160]}"
    return text


def check_error_shape(response) -> bool:
    body = response.get_json(silent=True) or {}
    return set(body) == {"error", "errors"} and bool(body["error"])


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.name for e in ENDPOINTS])
def test_every_actor_gets_the_expected_status(client, people, heads, make, endpoint):
    """Each actor meets the endpoint's scene in its known state: a fresh one is built for the
    first actor and after any request that changed the database; a refused request (checked to
    change nothing) hands the very same state on to the next actor."""
    problems: list[str] = []
    scene = None
    for actor, expected in endpoint.expected.items():
        if scene is None:
            scene = build(make, people, endpoint.stage)
            before = snapshot()

        # Roles first, then the body: a bad body is 401/403 for those never allowed, else 422.
        if endpoint.bad_body is not None:
            wanted = 401 if actor == ANONYMOUS else 403 if not endpoint.role_allowed(actor) \
                else 422
            bad = send(client, endpoint, scene, heads[actor], endpoint.bad_body)
            if bad.status_code != wanted:
                problems.append(problem(actor, f"bad body: expected {wanted}, got "
                                               f"{bad.status_code}", bad))
            if changed := differences(before, snapshot()):
                problems.append(problem(actor, f"bad body ({bad.status_code}) changed {changed}"))
                scene = build(make, people, endpoint.stage)
                before = snapshot()

        response = send(client, endpoint, scene, heads[actor],
                        endpoint.body(scene, people) if endpoint.body else None)
        got = response.status_code
        if got != expected:
            problems.append(problem(actor, f"expected {expected}, got {got}", response))
        after = snapshot()
        if got >= 400 and not check_error_shape(response):
            problems.append(problem(actor, "error answer without error/errors", response))
        if got == 404:  # as if it did not exist: the very answer a missing id gets
            missing = send(client, endpoint, Scene(MISSING_ID, MISSING_ID), heads[actor],
                           endpoint.body(scene, people) if endpoint.body else None)
            if (missing.status_code, missing.get_json()) != (404, response.get_json()):
                problems.append(problem(actor, "404 unlike a missing id's: "
                                               f"{missing.get_data(as_text=True)[:160]}",
                                        response))
            after = snapshot()
        if got >= 400 or endpoint.method == "GET":
            if changed := differences(before, after):
                problems.append(problem(actor, f"{got} but the database changed: {changed}"))
                scene = None
            continue
        if got == expected and endpoint.done is not None:
            if after["audit_rows"] != before["audit_rows"] + 1:
                problems.append(problem(actor, "a success should write one audit row: "
                                               f"{before['audit_rows']} → {after['audit_rows']}"))
            try:
                endpoint.done(scene, people, response.get_json())
            except AssertionError as exc:
                problems.append(problem(actor, f"success did not do its job: {exc!r}"))
        scene = None  # a success moved the scene on
    assert not problems, f"{endpoint.name}:\n" + "\n".join(problems)


# Fields of a body that passes each schema, so that only the object can be missing.
VALID_FIELDS = {"grab": set(), "select": {"claim_id"}, "cancel selection": {"reason"},
                "assign": {"bank_id"}, "record progress": {"type"}, "rate": {"stars"},
                "reassign": {"manager_id"}, "trail": None, "show need": None, "show claim": None}


def test_unknown_ids_are_404_to_those_allowed_and_401_or_403_to_the_others(client, people,
                                                                           heads):
    scene = Scene(MISSING_ID, MISSING_ID)
    body = {"claim_id": MISSING_ID, "reason": "r", "bank_id": people["bank_b"].id,
            "type": "contacted", "stars": 5, "manager_id": uid(people, "colleague")}
    before = snapshot()
    problems = []
    for endpoint in ENDPOINTS:
        if endpoint.name not in VALID_FIELDS:
            continue
        fields = VALID_FIELDS[endpoint.name]
        for actor in ACTORS:
            wanted = 401 if actor == ANONYMOUS else 404 if endpoint.role_allowed(actor) else 403
            response = send(client, endpoint, scene, heads[actor],
                            None if fields is None else {k: body[k] for k in fields})
            if response.status_code != wanted:
                problems.append(problem(f"{endpoint.name}, {actor}",
                                        f"expected {wanted}, got {response.status_code}",
                                        response))
    assert not problems, "\n".join(problems)
    assert not differences(before, snapshot())


def test_objects_named_in_the_body_must_belong_to_the_same_need_or_bank(client, people, heads,
                                                                        make):
    """A claim of another need, a manager of another bank: 422 naming the field, as for an id
    that does not exist, and nothing changes."""
    scene = build(make, people, "claimed")
    foreign = build(make, people, "claimed")  # the owner's other need
    others_need = make.need(people["other_enterprise"])
    others_claim = services.grab(others_need.id, people["other_manager"].user).id
    before = snapshot()

    pick = SELECT.format(need=scene.need)
    answers = [client.post(pick, json={"claim_id": claim_id}, headers=heads["owner"])
               for claim_id in (foreign.claim, others_claim, MISSING_ID)]
    assert {r.status_code for r in answers} == {422}
    assert len({r.get_data(as_text=True) for r in answers}) == 1  # nothing tells them apart
    assert "claim_id" in answers[0].get_json()["errors"]

    reassign = REASSIGN.format(claim=scene.claim)
    for manager in ("other_manager", "other_bank_admin", "bank_admin"):
        response = client.post(reassign, json={"manager_id": uid(people, manager)},
                               headers=heads["bank_admin"])
        assert response.status_code == 422, (manager, response.get_json())
        assert "manager_id" in response.get_json()["errors"]

    assign = ASSIGN.format(need=scene.need)
    response = client.post(assign, json={"bank_id": people["bank_b"].id,
                                         "manager_id": uid(people, "colleague")},
                           headers=heads["office"])
    assert response.status_code == 422 and "manager_id" in response.get_json()["errors"]
    # Bank A already grabbed: the office may not assign the need to it again.
    response = client.post(assign, json={"bank_id": people["bank_a"].id}, headers=heads["office"])
    assert response.status_code == 409, response.get_json()
    assert not differences(before, snapshot())


# --- contact details -----------------------------------------------------------------------------


def enterprise_of(response) -> dict:
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["enterprise"]


def test_contacts_only_for_the_owner_the_office_and_banks_that_grabbed(client, people, heads,
                                                                       make):
    scene = build(make, people, "claimed")  # bank A grabbed, bank B did not
    url = NEED.format(need=scene.need)
    sees_all = {"owner", "office", "platform_admin"}
    bank_a = {"grabber", "colleague", "bank_admin"}
    bank_b = {"other_manager", "other_bank_admin"}
    for actor in sees_all | bank_a | bank_b:
        response = client.get(url, headers=heads[actor])
        seen = enterprise_of(response)
        body = response.get_json()
        if actor in bank_b:
            assert not CONTACT_FIELDS & set(seen), actor
            text = response.get_data(as_text=True)
            assert not [v for v in CONTACT.values() if v in text], actor
        else:
            assert {k: seen[k] for k in CONTACT} == CONTACT, actor
        assert ("uscc" in seen) == (actor in sees_all), actor
        assert ("claims" in body) == (actor in sees_all), actor
    hidden = client.get(url, headers=heads["other_enterprise"])
    assert hidden.status_code == 404
    assert not [v for v in CONTACT.values() if v in hidden.get_data(as_text=True)]

    # The list shows the same fields as the need itself.
    for actor in bank_a | bank_b:
        items = client.get("/api/v1/needs", headers=heads[actor]).get_json()["items"]
        [item] = [i for i in items if i["id"] == scene.need]
        assert bool(CONTACT_FIELDS & set(item["enterprise"])) == (actor in bank_a), actor

    # Bank A's users see the contact on the claim too.
    for actor in bank_a:
        claim = client.get(CLAIM.format(claim=scene.claim), headers=heads[actor]).get_json()
        assert {k: claim["contact"][k] for k in CONTACT} == CONTACT, actor

    # Once bank B grabs, its users see the contact details too (but still not the uscc).
    grabbed = client.post(GRAB.format(need=scene.need), json={}, headers=heads["other_manager"])
    assert grabbed.status_code == 201, grabbed.get_json()
    assert {k: grabbed.get_json()["contact"][k] for k in CONTACT} == CONTACT
    for actor in bank_b:
        seen = enterprise_of(client.get(url, headers=heads[actor]))
        assert {k: seen[k] for k in CONTACT} == CONTACT, actor
        assert "uscc" not in seen, actor


def test_a_bank_that_did_not_grab_never_sees_contacts_on_a_picked_need(client, people, heads,
                                                                       make):
    """Picked needs are hidden from banks that did not grab them, contacts included."""
    scene = build(make, people, "selected")
    for actor in ("other_manager", "other_bank_admin"):
        response = client.get(NEED.format(need=scene.need), headers=heads[actor])
        assert response.status_code == 404, actor
        assert not [v for v in CONTACT.values() if v in response.get_data(as_text=True)]
        listed = client.get("/api/v1/needs", headers=heads[actor]).get_json()["items"]
        assert scene.need not in [item["id"] for item in listed], actor
    seen = enterprise_of(client.get(NEED.format(need=scene.need), headers=heads["colleague"]))
    assert {k: seen[k] for k in CONTACT} == CONTACT


# --- GET /claims ---------------------------------------------------------------------------------


def test_each_role_lists_only_the_claims_it_may_see(client, people, heads, make):
    owner_need = make.need(people["owner"])
    by_grabber = services.grab(owner_need.id, people["grabber"].user).id
    by_bank_b = services.grab(owner_need.id, people["other_manager"].user).id
    second_need = make.need(people["owner"])
    by_colleague = services.grab(second_need.id, people["colleague"].user).id
    others_need = make.need(people["other_enterprise"])
    on_other_enterprise = services.grab(others_need.id, people["grabber"].user).id
    every = {by_grabber, by_bank_b, by_colleague, on_other_enterprise}
    expected = {
        "grabber": {by_grabber, on_other_enterprise},          # a manager: their own
        "colleague": {by_colleague},
        "bank_admin": {by_grabber, by_colleague, on_other_enterprise},  # the whole bank
        "other_manager": {by_bank_b},
        "other_bank_admin": {by_bank_b},
        "owner": {by_grabber, by_bank_b, by_colleague},        # the claims on its needs
        "other_enterprise": {on_other_enterprise},
        "office": every, "platform_admin": every,
    }
    assert client.get(CLAIMS).status_code == 401
    for actor, ids in expected.items():
        response = client.get(CLAIMS, headers=heads[actor])
        assert response.status_code == 200, (actor, response.get_json())
        body = response.get_json()
        assert {item["id"] for item in body["items"]} == ids, actor
        assert body["total"] == len(ids), actor
        # Whoever may list a claim may reach the enterprise behind it.
        assert all("contact" in item for item in body["items"]), actor
        # Filters narrow the list, never widen it.
        for need in (owner_need, second_need, others_need):
            narrowed = client.get(CLAIMS, query_string={"need_id": need.id},
                                  headers=heads[actor]).get_json()
            assert {item["id"] for item in narrowed["items"]} == {
                i for i in ids if db.session.get(Claim, i).need_id == need.id}, (actor, need.id)
