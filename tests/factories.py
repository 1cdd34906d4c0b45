"""Builders that create test data through the real services (so the rules apply to fixtures too)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from stdnum.cn import uscc as uscc_std

from matchmaker.enterprises.services import Registration, register_enterprise

PASSWORD = "correct-horse-42"
_counter = itertools.count(1)

# A complete, valid need and product (as a client would send them); override what a test needs.
NEED = {
    "title": "林下经济基地扩建", "description": "扩建香榧林下种植基地，以林权抵押",
    "purpose": "project", "amount_wan": "150.50", "term_months": 36, "green_category": "4.1.4",
    "collateral": ["forest_rights"], "region_code": "330523", "rate_cap": "4.50",
    "co2_reduction_t": "120.00",
}
PRODUCT = {
    "name": "福林贷", "description": "以林权抵押的绿色贷款", "green_categories": ["4.1"],
    "collateral": ["forest_rights", "guarantee"], "min_amount_wan": "1.00",
    "max_amount_wan": "200.00", "min_term_months": 6, "max_term_months": 60,
    "rate_min": "3.50", "rate_max": "7.10", "region_codes": ["330500"],
    "enterprise_sizes": ["micro", "small"], "min_env_credit": "blue",
}


def make_uscc(n: int, region: str = "330502") -> str:
    """A valid 统一社会信用代码 for a company (91…) in `region`, unique per n."""
    body = f"91{region}MA{n:07d}"[:17]
    body = body.replace("I", "1").replace("O", "0")
    return body + uscc_std.calc_check_digit(body)


@dataclass
class Account:
    user: object
    email: str
    password: str = PASSWORD


class Factory:
    def __init__(self, app):
        self.app = app

    def seq(self) -> int:
        return next(_counter)

    def enterprise(self, **overrides):
        n = self.seq()
        data = dict(
            uscc=make_uscc(n), name=f"湖州测试绿色科技有限公司{n}", region_code="330502",
            industry_code="C", size="small", env_credit="blue", contact_name="王经理",
            phone="0572-1234567", email=f"enterprise{n}@example.com", password=PASSWORD,
        )
        data.update(overrides)
        enterprise, user = register_enterprise(Registration(**data))
        return enterprise, Account(user, user.email, data["password"])

    def office(self, **overrides):
        from matchmaker.office.services import create_office_user

        n = self.seq()
        data = dict(email=f"office{n}@example.com", password=PASSWORD, name="金融办 张三")
        data.update(overrides)
        user = create_office_user(actor=None, **data)
        return Account(user, user.email, data["password"])

    def platform_admin(self):
        from matchmaker.accounts.services import new_user
        from matchmaker.extensions import db

        n = self.seq()
        user = new_user(email=f"admin{n}@example.com", password=PASSWORD, name="运维", role="admin")
        db.session.commit()
        return Account(user, user.email)

    def bank(self, name: str | None = None, kind: str = "rural_commercial",
             region_codes=("330500",), actor=None):
        from matchmaker.banks.services import create_bank

        actor = actor or self.office().user
        return create_bank(name=name or f"湖州测试农商银行{self.seq()}", kind=kind,
                           region_codes=list(region_codes), actor=actor)

    def bank_user(self, bank, role: str = "bank_manager", region_codes=None, actor=None):
        from matchmaker.banks.services import create_bank_user

        n = self.seq()
        actor = actor or self.office().user
        if region_codes is None:
            region_codes = bank.region_codes if role == "bank_manager" else []
        user = create_bank_user(bank, email=f"{role}{n}@example.com", password=PASSWORD,
                                name=f"客户经理{n}", role=role, region_codes=list(region_codes),
                                actor=actor)
        return Account(user, user.email)

    def need(self, account: Account, publish: bool = True, **overrides):
        """A need of `account`'s enterprise (open, or a draft with publish=False)."""
        from matchmaker.needs.services import create_need

        return create_need(account.user, NEED | overrides, publish=publish)

    def product(self, bank, admin: Account | None = None, **overrides):
        """A product of `bank`, published by `admin` (a new bank_admin when not given)."""
        from matchmaker.products.services import create_product

        admin = admin or self.bank_user(bank, role="bank_admin")
        return create_product(bank, PRODUCT | overrides, actor=admin.user)


def login(client, account: Account, follow: bool = True):
    """Log in through the real form (CSRF token included)."""
    import re

    page = client.get("/login")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                      page.get_data(as_text=True))
    data = {"email": account.email, "password": account.password}
    if token:
        data["csrf_token"] = token.group(1)
    return client.post("/login", data=data, follow_redirects=follow)


def api_token(client, account: Account) -> dict:
    response = client.post("/api/v1/tokens", json={"email": account.email,
                                                   "password": account.password})
    assert response.status_code == 201, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def errors_of(response, status: int = 422) -> dict:
    """The `errors` of an API error answer, after checking its status and shape."""
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error", "errors"} and body["error"]
    return body["errors"]
