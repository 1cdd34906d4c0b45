"""The lead workflow's pages, through real forms with real CSRF tokens: a manager grabs from the
need page or the inbox, the enterprise sees the banks and picks one, the others see 未被选定, the
picked manager records progress (field errors in Chinese, 422), the enterprise cancels a pick or
rates the bank, a bank admin reassigns, the office works its queue (派单) and reads the trail."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from matchmaker.claims import services
from matchmaker.claims.models import Claim
from matchmaker.extensions import db
from matchmaker.needs.models import Need
from matchmaker.needs.services import create_need
from matchmaker.products.models import Product
from matchmaker.web.filters import countdown
from tests.factories import NEED, login
from tests.webutil import field_errors, submit, text

CONTACT = {"contact_name": "联系人赵六", "phone": "0572-7654321",
           "email": "contact-zhao@example.com", "address": "湖州市吴兴区绿色大道 8 号"}


@pytest.fixture
def people(make):
    """Banks A, B, C and D (a product, an admin and a manager each; A a second manager), the
    enterprise (with distinctive contact details) and its open need, another enterprise, the
    office."""
    office = make.office()
    people = {"office": office}
    for key in "abcd":
        bank = make.bank(name=f"测试银行{key.upper()}{make.seq()}", region_codes=["330500"],
                         actor=office.user)
        admin = make.bank_user(bank, role="bank_admin", actor=office.user)
        make.product(bank, admin, name=f"绿色贷{key.upper()}")
        people[f"bank_{key}"] = bank
        people[f"admin_{key}"] = admin
        people[f"manager_{key}"] = make.bank_user(bank, actor=office.user)
    people["colleague_a"] = make.bank_user(people["bank_a"], actor=office.user)
    _enterprise, people["owner"] = make.enterprise(**CONTACT)
    people["other_enterprise"] = make.enterprise()[1]
    people["need"] = make.need(people["owner"])
    return people


def as_user(app, account):
    client = app.test_client()
    login(client, account)
    return client


def fresh(obj):
    db.session.expire_all()
    return db.session.get(type(obj), obj.id)


def claim_of(need: Need, bank) -> Claim:
    return next(c for c in fresh(need).claims if c.bank_id == bank.id)


def grab_on_page(client, need: Need):
    return submit(client, f"/claims/grab/{need.id}", {"back": "need"},
                  form_page=f"/needs/{need.id}")


def record(client, claim: Claim, kind: str, **fields):
    data = {f"{kind}-{name}": value for name, value in fields.items()}
    return submit(client, f"/claims/{claim.id}/events/{kind}", data,
                  form_page=f"/claims/{claim.id}")


def test_grab_pick_progress_and_rate(app, people):
    need = people["need"]
    manager = as_user(app, people["manager_a"])
    page = text(manager.get(f"/needs/{need.id}"))
    assert f'action="/claims/grab/{need.id}"' in page and CONTACT["phone"] not in page
    assert "个工作日内无人抢单将上报金融办" in page

    response = grab_on_page(manager, need)
    claim_a = claim_of(need, people["bank_a"])
    assert response.status_code == 302
    assert response.headers["Location"] == f"/claims/{claim_a.id}"
    page = text(manager.get(response.headers["Location"]))
    assert "抢单成功" in page
    for value in CONTACT.values():  # the grabbing bank sees how to reach the enterprise
        assert value in page
    page = text(manager.get(f"/needs/{need.id}"))
    assert CONTACT["phone"] in page and f'href="/claims/{claim_a.id}"' in page
    assert f'action="/claims/grab/{need.id}"' not in page

    for key in "bc":
        assert grab_on_page(as_user(app, people[f"manager_{key}"]), need).status_code == 302
    late = as_user(app, people["manager_d"])
    assert f'action="/claims/grab/{need.id}"' not in text(late.get(f"/needs/{need.id}"))
    response = grab_on_page(late, need)
    assert response.headers["Location"] == f"/needs/{need.id}"
    assert "该需求已有3家银行抢单" in text(late.get(response.headers["Location"]))
    assert len(fresh(need).claims) == 3

    # The enterprise sees the three banks, their products and managers, and picks A.
    owner = as_user(app, people["owner"])
    page = text(owner.get(f"/needs/{need.id}"))
    for key in "abc":
        assert people[f"bank_{key}"].name in page and f"绿色贷{key.upper()}" in page
        assert people[f"manager_{key}"].user.email in page
    assert page.count("选定这家银行") == 3
    response = submit(owner, f"/claims/{claim_a.id}/select", {}, form_page=f"/needs/{need.id}")
    assert response.status_code == 302 and response.headers["Location"] == f"/needs/{need.id}"
    page = text(owner.get(f"/needs/{need.id}"))
    assert "已选定" in page and "选定这家银行" not in page
    assert "剩余 5 个工作日" in page and "取消选定" in page
    assert fresh(need).status == "selected"

    claim_b = claim_of(need, people["bank_b"])
    page = text(as_user(app, people["manager_b"]).get(f"/claims/{claim_b.id}"))
    assert "未被选定" in page and "登记已对接" not in page

    page = text(manager.get(f"/claims/{claim_a.id}"))
    assert "剩余 5 个工作日" in page and "登记已对接" in page and "登记拒绝" in page
    assert "登记已授信" not in page  # only the forms valid for the status

    # Another manager of bank A may look but not act.
    colleague = as_user(app, people["colleague_a"])
    assert colleague.get(f"/claims/{claim_a.id}").status_code == 200
    assert record(colleague, claim_a, "contacted", note="冒名").status_code == 403
    assert fresh(claim_a).status == "selected"

    assert record(manager, claim_a, "contacted", note="已电话联系").status_code == 302
    page = text(manager.get(f"/claims/{claim_a.id}"))
    assert "已登记对接" in page and "已电话联系" in page and "登记已授信" in page

    response = record(manager, claim_a, "credit_approved", amount_wan="很多", rate="3.85")
    assert response.status_code == 422
    assert field_errors(response, "credit_approved-amount_wan") == ["授信金额应为数字"]
    assert 'value="3.85"' in response.get_data(as_text=True)  # what was typed stays
    assert record(manager, claim_a, "credit_approved", amount_wan="100",
                  rate="3.85").status_code == 302

    response = record(manager, claim_a, "disbursed", amount_wan="120")
    assert response.status_code == 422
    assert field_errors(response, "disbursed-amount_wan") == ["放款金额不能大于 100.00"]
    assert fresh(claim_a).status == "credit_approved"
    assert record(manager, claim_a, "disbursed", amount_wan="100").status_code == 302
    claim_a = fresh(claim_a)
    assert claim_a.status == "disbursed" and claim_a.disbursed_amount_wan == Decimal("100.00")
    assert fresh(need).status == "disbursed"
    assert "登记" not in re.sub(r"已登记放款[^<]*", "", text(manager.get(f"/claims/{claim_a.id}")))

    # The enterprise rates the bank, once.
    page = text(owner.get(f"/needs/{need.id}"))
    assert "已放款" in page and "提交评价" in page
    response = submit(owner, f"/claims/{claim_a.id}/rating", {f"rating{claim_a.id}-stars": ""},
                      form_page=f"/needs/{need.id}")
    assert response.status_code == 422
    assert field_errors(response, f"rating{claim_a.id}-stars") == ["请输入评分"]
    response = submit(owner, f"/claims/{claim_a.id}/rating",
                      {f"rating{claim_a.id}-stars": "5", f"rating{claim_a.id}-comment": "效率高"},
                      form_page=f"/needs/{need.id}")
    assert response.status_code == 302
    page = text(owner.get(f"/needs/{need.id}"))
    assert "★★★★★" in page and "效率高" in page and "提交评价" not in page
    assert fresh(claim_a).rating.stars == 5


def test_who_sees_a_claim(app, people):
    need = people["need"]
    claim = services.grab(need.id, people["manager_a"].user)
    path = f"/claims/{claim.id}"
    for key, status in (("manager_a", 200), ("colleague_a", 200), ("admin_a", 200),
                        ("owner", 200), ("office", 200), ("manager_b", 404), ("admin_b", 404),
                        ("other_enterprise", 404)):
        assert as_user(app, people[key]).get(path).status_code == status, key
    # Read-only for the enterprise and the office: no progress forms.
    for key in ("owner", "office"):
        page = text(as_user(app, people[key]).get(path))
        assert CONTACT["phone"] in page and "/events/" not in page
    assert as_user(app, people["manager_b"]).get("/claims/999999").status_code == 404
    # Another bank's users cannot post to it either.
    other = as_user(app, people["manager_b"])
    assert record(other, claim, "contacted").status_code == 404
    assert app.test_client().get(path).status_code == 302  # anonymous: the login page


def test_cancel_a_pick_needs_a_reason(app, people):
    need = people["need"]
    claim_a = services.grab(need.id, people["manager_a"].user)
    claim_b = services.grab(need.id, people["manager_b"].user)
    services.select_claim(fresh(need), claim_a.id, people["owner"].user)
    owner = as_user(app, people["owner"])
    response = submit(owner, f"/claims/needs/{need.id}/cancel-selection", {"cancel-reason": " "},
                      form_page=f"/needs/{need.id}")
    assert response.status_code == 422
    assert field_errors(response, "cancel-reason") == ["请输入取消原因"]
    assert fresh(claim_a).status == "selected"
    response = submit(owner, f"/claims/needs/{need.id}/cancel-selection",
                      {"cancel-reason": "迟迟未联系"}, form_page=f"/needs/{need.id}")
    assert response.status_code == 302
    assert fresh(claim_a).status == "cancelled" and fresh(claim_b).status == "claimed"
    assert fresh(need).status == "claimed"
    page = text(owner.get(f"/needs/{need.id}"))
    assert "您可以在其余抢单银行中另选一家" in page and "迟迟未联系" in page
    assert page.count("选定这家银行") == 1
    # A bank cannot cancel the pick.
    response = submit(as_user(app, people["manager_a"]),
                      f"/claims/needs/{need.id}/cancel-selection", {"cancel-reason": "x"},
                      form_page="/")
    assert response.status_code == 403


def test_a_decline_with_its_reason(app, people):
    need = people["need"]
    claim = services.grab(need.id, people["manager_a"].user)
    services.select_claim(fresh(need), claim.id, people["owner"].user)
    admin = as_user(app, people["admin_a"])  # the bank's admin may act on any of its leads
    response = record(admin, claim, "declined", reason_code="nonsense")
    assert response.status_code == 422
    assert field_errors(response, "declined-reason_code") == ["请选择拒绝原因"]
    assert record(admin, claim, "declined", reason_code="insufficient_collateral",
                  note="抵押物估值不足").status_code == 302
    assert fresh(claim).status == "declined" and fresh(need).status == "declined"
    page = text(as_user(app, people["owner"]).get(f"/needs/{need.id}"))
    assert "抵押不足" in page and "抵押物估值不足" in page and "提交评价" in page


def test_a_state_conflict_is_flashed(app, people):
    need = people["need"]
    claim = services.grab(need.id, people["manager_a"].user)
    services.select_claim(fresh(need), claim.id, people["owner"].user)
    manager = as_user(app, people["manager_a"])
    response = record(manager, claim, "disbursed", amount_wan="10")
    assert response.status_code == 302
    assert "请先登记授信" in text(manager.get(response.headers["Location"]))
    assert fresh(claim).status == "selected"


def test_my_leads_with_tabs_and_the_admins_reassignment(app, people):
    need = people["need"]
    claim = services.grab(need.id, people["manager_a"].user)
    other = create_need(people["owner"].user, NEED | {"title": "另一个项目"})
    picked = services.grab(other.id, people["manager_a"].user)
    services.select_claim(fresh(other), picked.id, people["owner"].user)

    manager = as_user(app, people["manager_a"])
    page = text(manager.get("/claims/mine"))
    assert "我的线索" in page and need.title in page and people["need"].enterprise.name in page
    assert "全部 2" in re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    assert "剩余 5 个工作日" in page  # the selected lead's contact deadline
    assert "reassign" not in page  # only the bank admin reassigns
    selected_only = text(manager.get("/claims/mine?status=selected"))
    assert "另一个项目" in selected_only and f'href="/claims/{claim.id}"' not in selected_only

    admin = as_user(app, people["admin_a"])
    page = text(admin.get("/claims/mine"))
    assert "本行线索" in page and people["colleague_a"].user.name in page
    assert f'action="/claims/{claim.id}/reassign"' in page
    response = submit(admin, f"/claims/{claim.id}/reassign",
                      {f"reassign{claim.id}-manager_id": "abc", "back": "mine"},
                      form_page="/claims/mine")
    assert response.status_code == 422
    assert field_errors(response, f"reassign{claim.id}-manager_id") == [
        "请选择该银行在职的客户经理"]
    response = submit(admin, f"/claims/{claim.id}/reassign",
                      {f"reassign{claim.id}-manager_id": str(people["colleague_a"].user.id),
                       "back": "mine"}, form_page="/claims/mine")
    assert response.status_code == 302 and response.headers["Location"] == "/claims/mine"
    assert fresh(claim).manager_id == people["colleague_a"].user.id
    assert "已将线索" in text(admin.get("/claims/mine"))
    by_manager = text(admin.get(f"/claims/mine?manager={people['colleague_a'].user.id}"))
    assert f'href="/claims/{claim.id}"' in by_manager and "另一个项目" not in by_manager
    assert f'href="/claims/{claim.id}"' not in text(manager.get("/claims/mine"))

    # Managers do not reassign; another bank's admin does not see the claim.
    data = {f"reassign{claim.id}-manager_id": str(people["manager_a"].user.id)}
    assert submit(manager, f"/claims/{claim.id}/reassign", data,
                  form_page="/claims/mine").status_code == 403
    assert submit(as_user(app, people["admin_b"]), f"/claims/{claim.id}/reassign", data,
                  form_page="/claims/mine").status_code == 404
    assert fresh(claim).manager_id == people["colleague_a"].user.id
    # The page is the bank's: others are refused.
    for key in ("owner", "office"):
        assert as_user(app, people[key]).get("/claims/mine").status_code == 403


def test_office_queue_assign_and_trail(app, people):
    need = people["need"]
    assert services.sweep(now=need.published_at + timedelta(days=10))["escalated"] == 1
    assert fresh(need).status == "escalated"
    # A bank without an eligible product is listed last, unmarked.
    plain = people["bank_d"]
    for product in db.session.scalars(db.select(Product).where(Product.bank_id == plain.id)):
        product.active = False
    db.session.commit()

    office = as_user(app, people["office"])
    assert "待办队列" in text(office.get("/office/"))
    page = text(office.get("/office/queue"))
    assert need.title in page and "无人抢单" in page and "已过" in page
    marked = f"{people['bank_a'].name}（有适用产品）"
    assert marked in page and f"{plain.name}（有适用产品）" not in page
    assert page.index(marked) < page.index(plain.name)

    prefix = f"assign{need.id}"
    response = submit(office, f"/office/needs/{need.id}/assign", {f"{prefix}-bank_id": ""},
                      form_page="/office/queue")
    assert response.status_code == 422
    assert field_errors(response, f"{prefix}-bank_id") == ["请选择在用的银行"]
    response = submit(office, f"/office/needs/{need.id}/assign",
                      {f"{prefix}-bank_id": str(people["bank_a"].id),
                       f"{prefix}-note": "请优先对接"}, form_page="/office/queue")
    assert response.status_code == 302 and response.headers["Location"] == "/office/queue"
    claim = claim_of(need, people["bank_a"])
    assert claim.assigned_by_office and claim.manager_id in (
        people["manager_a"].user.id, people["colleague_a"].user.id)
    assert fresh(need).status == "assigned"
    page = text(office.get("/office/queue"))
    assert "已将" in page and f'id="need-{need.id}"' not in page  # off the queue

    # The enterprise picks the assigned bank; the manager records contact.
    owner = as_user(app, people["owner"])
    assert "金融办派单" in text(owner.get(f"/needs/{need.id}"))
    assert submit(owner, f"/claims/{claim.id}/select", {},
                  form_page=f"/needs/{need.id}").status_code == 302
    assert fresh(need).status == "selected"

    # The trail, from the need page.
    assert f'href="/office/needs/{need.id}/trail"' in text(office.get(f"/needs/{need.id}"))
    page = text(office.get(f"/office/needs/{need.id}/trail"))
    for label in ("发布需求", "上报金融办", "派单", "选定银行"):
        assert label in page, label
    assert people["office"].user.name in page and "金融办" in page
    assert "需求状态：待抢单" in page and "需求状态：已上报金融办" in page
    assert people["bank_a"].name in page  # bank ids shown by name
    for key in ("owner", "manager_a", "admin_a"):
        client = as_user(app, people[key])
        assert client.get(f"/office/needs/{need.id}/trail").status_code == 403, key
        assert client.get("/office/queue").status_code == 403, key
        assert submit(client, f"/office/needs/{need.id}/assign",
                      {f"{prefix}-bank_id": str(people["bank_b"].id)},
                      form_page="/").status_code == 403, key
    assert len(fresh(need).claims) == 1


def test_a_post_without_the_csrf_token_is_refused(app, people):
    need = people["need"]
    manager = as_user(app, people["manager_a"])
    response = manager.post(f"/claims/grab/{need.id}", data={"back": "need"})
    assert response.status_code == 400
    assert "安全令牌" in text(response)
    assert fresh(need).claims == []


@pytest.mark.sqlite_only
def test_grab_from_the_lead_inbox(app, people):
    need = people["need"]
    manager = as_user(app, people["manager_a"])
    page = manager.get("/bank/leads").get_data(as_text=True)
    assert f'action="/claims/grab/{need.id}"' in page
    response = submit(manager, f"/claims/grab/{need.id}", {"back": "leads"},
                      form_page="/bank/leads")
    claim = claim_of(need, people["bank_a"])
    assert response.headers["Location"] == f"/claims/{claim.id}"
    # An admin sees the inbox without 抢单 buttons (managers grab).
    assert "/claims/grab/" not in as_user(app, people["admin_b"]).get("/bank/leads").get_data(
        as_text=True)
    # A refusal is flashed on the inbox.
    services.grab(need.id, people["manager_b"].user)
    services.grab(need.id, people["manager_c"].user)
    late = as_user(app, people["manager_d"])
    response = submit(late, f"/claims/grab/{need.id}", {"back": "leads"}, form_page="/bank/")
    assert response.headers["Location"] == "/bank/leads"
    assert "该需求已有3家银行抢单" in text(late.get("/bank/leads"))


def test_navigation_links(app, people):
    page = text(as_user(app, people["manager_a"]).get("/"))
    assert 'href="/claims/mine"' in page and "我的线索" in page
    page = text(as_user(app, people["admin_a"]).get("/"))
    assert 'href="/claims/mine"' in page and "本行线索" in page
    page = text(as_user(app, people["office"]).get("/"))
    assert 'href="/office/queue"' in page and 'href="/claims/mine"' not in page


@pytest.mark.sqlite_only
def test_countdown(app):
    # 2025-11-24 is a Monday; 14:00 in Shanghai is 06:00 UTC.
    now = datetime(2025, 11, 24, 1, 0, tzinfo=UTC)
    assert countdown(None) == ""
    assert countdown(now - timedelta(seconds=1), now) == "已超时"
    assert countdown(now, now) == "已超时"
    assert countdown(datetime(2025, 11, 27, 6, 0, tzinfo=UTC), now) == \
        "剩余 3 个工作日（截止 11月27日 14:00）"
    assert countdown(now + timedelta(hours=5, minutes=30), now).startswith("剩余 5 小时")
    assert countdown(now + timedelta(minutes=10), now).startswith("剩余 10 分钟")
    # Friday to Monday: one working day, over the weekend.
    friday = datetime(2025, 11, 28, 6, 0, tzinfo=UTC)
    assert countdown(friday + timedelta(days=3), friday).startswith("剩余 1 个工作日")
    assert "2026年" in countdown(datetime(2026, 1, 5, 6, 0, tzinfo=UTC), now)
