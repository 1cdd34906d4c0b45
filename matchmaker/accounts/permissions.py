"""Role checks for web views. The API has its own in `matchmaker.api.auth`."""

from functools import wraps

from flask import abort
from flask_login import current_user, login_required

OFFICE_ROLES = ("office", "admin")


def roles_required(*roles: str):
    """Logged-in users of one of `roles`; others get 403, anonymous users the login page."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        wrapped.allowed_roles = roles
        return wrapped

    return decorator


def can_manage_bank_users(user, bank_id: int) -> bool:
    if user.role in OFFICE_ROLES:
        return True
    return user.role == "bank_admin" and user.bank_id == bank_id
