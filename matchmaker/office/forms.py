"""Finance-office forms: user accounts, the dashboard's and the audit search's filters."""

from __future__ import annotations

from wtforms import DateField, SelectField, StringField, ValidationError
from wtforms.validators import Optional

from matchmaker.accounts.forms import NewAccountForm
from matchmaker.audit import queries as audit_queries
from matchmaker.web.forms import BaseForm, strip


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


def _check(problem):
    """A WTForms validator from one of `matchmaker.audit.queries`' checks (value → message)."""

    def validator(form, field):
        if field.data:
            message = problem(field.data)
            if message:
                raise ValidationError(message)

    return validator


class AuditFilterForm(BaseForm):
    """The audit search's filters (GET, no CSRF: reading only). Choices are set by the view;
    an action or object type not in them (from a link or an older entry) is still accepted when
    it has the form of a code."""

    class Meta:
        csrf = False

    # Named as in GET /api/v1/audit, so a page's query string works on the API too.
    start = DateField("日期自", validators=[Optional()], name="from")
    end = DateField("至", validators=[Optional()], name="to")
    actor = StringField("操作人（邮箱或姓名）", filters=[strip],
                        validators=[Optional(), _check(audit_queries.actor_problem)])
    role = SelectField("角色", choices=[], default="")
    action = SelectField("操作", choices=[], default="", validate_choice=False,
                         validators=[Optional(), _check(audit_queries.action_problem)])
    object_type = SelectField("对象类型", choices=[], default="", validate_choice=False,
                              validators=[Optional(), _check(audit_queries.object_type_problem)])
    object_id = StringField("对象编号", filters=[strip],
                            validators=[Optional(), _check(audit_queries.object_id_problem)])
    ip = StringField("IP 地址", filters=[strip],
                     validators=[Optional(), _check(audit_queries.ip_problem)])

    def validate_end(self, field):
        message = audit_queries.period_problem(self.start.data, field.data)
        if message:
            raise ValidationError(message)

    def validate_object_id(self, field):
        message = audit_queries.object_problem(self.object_type.data, field.data)
        if message:
            raise ValidationError(message)

    def filters(self) -> audit_queries.Filters:
        return audit_queries.Filters(
            start=self.start.data, end=self.end.data, actor=self.actor.data or None,
            role=self.role.data or None, action=self.action.data or None,
            object_type=self.object_type.data or None, object_id=self.object_id.data or None,
            ip=self.ip.data or None)
