from datetime import timedelta

import pytest
import sqlalchemy as sa

from matchmaker.accounts import services
from matchmaker.accounts.models import ApiToken
from matchmaker.database import utcnow
from matchmaker.errors import Conflict, InvalidInput
from matchmaker.extensions import db
from tests.factories import PASSWORD


def test_production_hash_is_scrypt(tmp_path):
    from matchmaker import create_app

    app = create_app({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x" * 40})
    with app.app_context():
        assert services.hash_password("correct-horse-42").startswith("scrypt:")


def test_authenticate(app, make):
    _, account = make.enterprise()
    assert services.authenticate(account.email.upper(), PASSWORD).id == account.user.id
    assert services.authenticate(account.email, "wrong-password-1") is None
    assert services.authenticate("nobody@example.com", PASSWORD) is None
    account.user.active = False
    db.session.commit()
    assert services.authenticate(account.email, PASSWORD) is None


@pytest.mark.parametrize("password", ["short", "", "aaaaaaaaaaaa", "x" * 129])
def test_weak_passwords_are_refused(app, make, password):
    with pytest.raises(InvalidInput) as err:
        make.enterprise(password=password)
    assert "password" in err.value.errors


def test_password_change_rotates_session_token_and_revokes_api_tokens(app, make):
    _, account = make.enterprise()
    old_session = account.user.session_token
    raw, _ = services.issue_token(account.user)
    assert services.user_for_token(raw).id == account.user.id
    with pytest.raises(InvalidInput) as err:
        services.change_password(account.user, "wrong-current-1", "new-password-123")
    assert "current_password" in err.value.errors
    services.change_password(account.user, PASSWORD, "new-password-123")
    assert account.user.session_token != old_session
    assert services.load_user_by_session_token(old_session) is None
    assert services.user_for_token(raw) is None
    assert services.authenticate(account.email, "new-password-123") is not None


def test_tokens_are_stored_hashed_expire_and_can_be_revoked(app, make):
    _, account = make.enterprise()
    raw, expires = services.issue_token(account.user)
    stored = db.session.scalars(sa.select(ApiToken.token_hash)).all()
    assert raw not in stored and len(stored[0]) == 64
    assert expires > utcnow() + timedelta(hours=1)
    token = db.session.scalars(sa.select(ApiToken)).one()
    token.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert services.user_for_token(raw) is None

    raw2, _ = services.issue_token(account.user)
    assert services.revoke_token(raw2) is True
    assert services.user_for_token(raw2) is None
    assert services.revoke_token(raw2) is False
    assert services.user_for_token("") is None
    assert services.user_for_token("x" * 10_000) is None


def test_enterprise_registration_rules(app, make):
    enterprise, _ = make.enterprise(uscc="9144030071526726XG")
    with pytest.raises(Conflict) as err:
        make.enterprise(uscc="9144030071526726XG")
    assert "uscc" in err.value.errors
    with pytest.raises(InvalidInput) as err:
        make.enterprise(uscc="9144030071526726XH", region_code="999999", industry_code="Z9",
                        size="huge", env_credit="purple", email="not-an-email")
    assert set(err.value.errors) >= {"uscc", "region_code", "industry_code", "size",
                                     "env_credit", "email"}
    assert err.value.errors["uscc"] == ["统一社会信用代码校验位不正确，请核对"]
    with pytest.raises(Conflict) as err:
        make.enterprise(email=enterprise.email)
    assert "email" in err.value.errors


def test_bank_users_are_confined_to_their_bank(app, make):
    from matchmaker.banks.services import create_bank_user
    from matchmaker.errors import Forbidden

    bank_a, bank_b = make.bank(), make.bank(region_codes=["330521"])
    admin_a = make.bank_user(bank_a, role="bank_admin")
    manager = create_bank_user(bank_a, email="m1@example.com", password=PASSWORD, name="李四",
                               role="bank_manager", region_codes=["330502"], actor=admin_a.user)
    assert manager.bank_id == bank_a.id and manager.region_codes == ["330502"]
    with pytest.raises(Forbidden):
        create_bank_user(bank_b, email="m2@example.com", password=PASSWORD, name="x",
                         role="bank_manager", region_codes=["330521"], actor=admin_a.user)
    with pytest.raises(InvalidInput) as err:  # outside the bank's regions
        create_bank_user(bank_b, email="m3@example.com", password=PASSWORD, name="x",
                         role="bank_manager", region_codes=["330502"], actor=make.office().user)
    assert "region_codes" in err.value.errors
