"""Finance-office user accounts."""

from __future__ import annotations

from wtforms import DateField, SelectField, ValidationError
from wtforms.validators import Optional

from matchmaker.accounts.forms import NewAccountForm
from matchmaker.web.forms import BaseForm


class OfficeUserForm(NewAccountForm):
    """A finance-office user."""



class DashboardFilterForm(BaseForm):
    """The dashboard's filters (GET, no CSRF: reading only). Choices are set by the view."""

    class Meta:
        csrf = False

    start = DateField("发布日期自", validators=[Optional()])
    end = DateField("至", validators=[Optional()])
    region_code = SelectField("地区", choices=[], validate_choice=True, default="")
    category = SelectField("绿色产业大类", choices=[], default="")
    bank_id = SelectField("银行", choices=[], default="")
    size = SelectField("企业规模", choices=[], default="")

    def validate_end(self, field):
        if field.data and self.start.data and field.data < self.start.data:
            raise ValidationError("结束日期不能早于开始日期")
