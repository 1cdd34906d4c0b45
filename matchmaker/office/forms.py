"""Finance-office user accounts."""

from __future__ import annotations

from matchmaker.accounts.forms import NewAccountForm


class OfficeUserForm(NewAccountForm):
    """A finance-office user."""

