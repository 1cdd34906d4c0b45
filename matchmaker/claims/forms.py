"""Forms of the lead workflow: record progress, cancel a pick, rate, reassign, 派单.

The fields carry what was typed (as text) to `matchmaker.claims.services`, which checks every rule
and names every problem in Chinese; the views put those messages beside the fields.

A page shows several of these forms at once (a form per claim or per need, two progress forms
side by side), so each form gets a prefix that keeps its field ids apart. A prefixed form would
also prefix its CSRF field, so these forms leave the token to the app-wide CSRFProtect, which
checks every POST; the templates render the token with `claims/_macros.html` `csrf()`.
"""

from __future__ import annotations

from wtforms import SelectField, StringField, TextAreaField

from matchmaker.enums import DECLINE_REASONS
from matchmaker.web.forms import BaseForm, Needed, select_choices, strip, with_placeholder

STARS = {"5": "★★★★★ 5 星 非常满意", "4": "★★★★ 4 星 满意", "3": "★★★ 3 星 一般",
         "2": "★★ 2 星 不满意", "1": "★ 1 星 很不满意"}


class PrefixedForm(BaseForm):
    """A form among several on one page; CSRFProtect checks its token (see the module doc)."""

    class Meta:
        csrf = False


class ContactedForm(PrefixedForm):
    note = TextAreaField("对接情况（选填）", filters=[strip],
                         description="例如：已电话联系企业财务负责人，约定下周实地调查")


class CreditForm(PrefixedForm):
    amount_wan = StringField("授信金额（万元）", validators=[Needed()], filters=[strip],
                             description="大于 0，不超过企业的融资金额，最多两位小数")
    rate = StringField("授信年利率（%）", validators=[Needed()], filters=[strip],
                       description="例如 3.85")
    note = TextAreaField("备注（选填）", filters=[strip])


class DisbursedForm(PrefixedForm):
    amount_wan = StringField("放款金额（万元）", validators=[Needed()], filters=[strip],
                             description="不超过授信金额")
    rate = StringField("放款年利率（%，选填）", filters=[strip],
                       description="不填则按授信利率")
    note = TextAreaField("备注（选填）", filters=[strip])


class DeclineForm(PrefixedForm):
    reason_code = SelectField("拒绝原因",
                              choices=with_placeholder(DECLINE_REASONS, "请选择拒绝原因"),
                              validate_choice=False, validators=[Needed()])
    note = TextAreaField("说明（选填）", filters=[strip])


# The progress forms by event type, with the button of each.
EVENT_FORMS = {
    "contacted": (ContactedForm, "登记已对接"),
    "credit_approved": (CreditForm, "登记已授信"),
    "disbursed": (DisbursedForm, "登记已放款"),
    "declined": (DeclineForm, "登记拒绝"),
}


def event_form(kind: str, formdata=None):
    """The progress form of `kind`, prefixed with it (`formdata=None`: an empty form)."""
    form_class, _label = EVENT_FORMS[kind]
    if formdata is None:
        return form_class(formdata=None, prefix=kind)
    return form_class(prefix=kind)


def event_data(kind: str, form) -> dict:
    """What `services.record_event` takes."""
    data = {"type": kind, "note": form.note.data}
    for name in ("amount_wan", "rate", "reason_code"):
        if name in form._fields:
            data[name] = form._fields[name].data
    return data


class CancelSelectionForm(PrefixedForm):
    reason = TextAreaField("取消原因", validators=[Needed()], filters=[strip],
                           description="例如：银行迟迟未联系、条件不合适；最多 200 字")


class RatingForm(PrefixedForm):
    stars = SelectField("评分", choices=with_placeholder(STARS, "请选择评分"),
                        validate_choice=False, validators=[Needed()])
    comment = TextAreaField("评价（选填）", filters=[strip],
                            description="服务态度、效率、利率等，最多 500 字")


class ReassignForm(PrefixedForm):
    manager_id = SelectField("转交给", validate_choice=False, validators=[Needed()])

    def set_managers(self, managers, current_id: int | None = None) -> ReassignForm:
        self.manager_id.choices = select_choices(
            [("", "请选择客户经理")]
            + [(str(m.id), f"{m.name}{'（当前）' if m.id == current_id else ''}")
               for m in managers])
        return self


class AssignForm(PrefixedForm):
    bank_id = SelectField("派给银行", validate_choice=False, validators=[Needed()])
    note = TextAreaField("派单说明（选填）", filters=[strip])

    def set_banks(self, options) -> AssignForm:
        """`options`: (bank, has_eligible_products) pairs, the eligible ones first."""
        self.bank_id.choices = select_choices(
            [("", "请选择银行")]
            + [(str(bank.id), f"{bank.name}{'（有适用产品）' if eligible else ''}")
               for bank, eligible in options])
        return self


def to_int(value) -> int | None:
    """A posted id as an int; anything else as None (the service then names the field)."""
    value = (value or "").strip() if isinstance(value, str) else value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10:
        return int(value)
    return None
