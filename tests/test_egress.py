"""Webhooks reach only public addresses (SSRF): refused when typed in, refused again at delivery
time by the address actually connected to, and redirects are never followed."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from matchmaker.errors import InvalidInput
from matchmaker.extensions import db
from matchmaker.notifications import egress
from matchmaker.notifications.models import Delivery, DeliveryAttempt
from matchmaker.notifications.settings import configure_webhook

PRIVATE = ["http://127.0.0.1:6379/", "http://10.0.0.5/hook", "http://192.168.1.20/hook",
           "http://172.16.0.1/hook", "http://169.254.169.254/latest/meta-data/",
           "http://100.64.0.1/hook", "http://[::1]/hook", "http://[::ffff:127.0.0.1]/hook",
           "http://[fd00::1]/hook", "http://0.0.0.0/hook", "http://224.0.0.1/hook",
           "http://localhost:8080/hook", "http://api.localhost/hook",
           "http://redis.internal/hook", "http://nas.local/hook", "http://intranet/hook"]
PUBLIC = ["https://hooks.bank-a.example.com/greenmatch", "http://8.8.8.8/hook",
          "https://[2001:4860:4860::8888]/hook"]


@pytest.fixture
def policy(app):
    app.config["WEBHOOK_ALLOW_PRIVATE_NETWORKS"] = False


@pytest.fixture
def bank(make):
    bank = make.bank()
    return bank, make.bank_user(bank, role="bank_admin")


@pytest.mark.sqlite_only
@pytest.mark.parametrize("url", PRIVATE)
def test_private_addresses_are_refused_when_typed_in(app, policy, bank, url):
    bank, admin = bank
    with pytest.raises(InvalidInput) as refused:
        configure_webhook(bank, admin.user, url, ["new_lead"], True)
    assert refused.value.errors["url"][0].startswith("Webhook 地址不能指向")


@pytest.mark.sqlite_only
@pytest.mark.parametrize("url", PUBLIC)
def test_public_addresses_are_accepted(app, policy, bank, url):
    bank, admin = bank
    assert configure_webhook(bank, admin.user, url, ["new_lead"], True).hook.url == url


def test_the_api_names_the_field(app, policy, make, client):
    from tests.factories import api_token

    bank = make.bank()
    admin = make.bank_user(bank, role="bank_admin")
    response = client.put(f"/api/v1/banks/{bank.id}/webhook", headers=api_token(client, admin),
                          json={"url": "http://169.254.169.254/latest/", "kinds": ["new_lead"],
                                "active": True})
    assert response.status_code == 422
    assert "内网" in response.get_json()["errors"]["url"][0]


def send_one(app, make, bank, admin, url) -> Delivery:
    """A lead for the bank's webhook at `url`, saved while private addresses were allowed (a
    name that resolved to a public address then, and to a private one now)."""
    configure_webhook(bank, admin.user, url, ["new_lead"], True)
    make.product(bank, admin)
    app.config["WEBHOOK_ALLOW_PRIVATE_NETWORKS"] = False
    make.need(make.enterprise()[1])
    delivery = db.session.scalar(sa.select(Delivery).where(Delivery.bank_id == bank.id,
                                                           Delivery.channel == "webhook"))
    assert delivery is not None
    return delivery


def attempts_of(delivery_id: int) -> list[DeliveryAttempt]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(DeliveryAttempt).where(
        DeliveryAttempt.delivery_id == delivery_id)))


def test_delivery_connects_only_to_a_checked_public_address(app, make, bank, receiver):
    bank, admin = bank
    hook = receiver()
    delivery = send_one(app, make, bank, admin, hook.url)
    tries = attempts_of(delivery.id)
    assert tries and not tries[-1].ok
    assert "内网或保留地址 127.0.0.1" in tries[-1].error
    assert hook.requests == []  # nothing reached the private address


def test_redirects_are_not_followed(app, make, bank, receiver):
    bank, admin = bank
    elsewhere = receiver()
    hook = receiver([("redirect", elsewhere.url)])
    configure_webhook(bank, admin.user, hook.url, ["new_lead"], True)
    make.product(bank, admin)
    make.need(make.enterprise()[1])
    delivery = db.session.scalar(sa.select(Delivery).where(Delivery.bank_id == bank.id,
                                                           Delivery.channel == "webhook"))
    tries = attempts_of(delivery.id)
    assert tries[0].status_code == 302 and not tries[0].ok
    assert len(hook.requests) == 1 and elsewhere.requests == []


@pytest.mark.sqlite_only
def test_every_resolved_address_must_be_public(app, policy, monkeypatch):
    """A name resolving to a public and a private address is refused as a whole (the resolver
    could hand the private one to the next connection)."""
    import socket

    original = socket.getaddrinfo

    def two_addresses(host, port, *args, **kwargs):
        if host == "mixed.bank.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
                    (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", port))]
        return original(host, port, *args, **kwargs)

    # No DNS on the test machines: the answer such a name would get, given directly.
    monkeypatch.setattr(socket, "getaddrinfo", two_addresses)
    with pytest.raises(egress.PrivateAddress, match=r"10\.1\.2\.3"):
        egress._public_socket(("mixed.bank.example", 443), 1)


def test_the_policy_is_on_unless_switched_off():
    from matchmaker import config as config_module

    assert config_module.load("/nonexistent")["WEBHOOK_ALLOW_PRIVATE_NETWORKS"] is False
