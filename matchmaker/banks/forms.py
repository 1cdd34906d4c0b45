"""Forms for banks and their users (used by the finance office and by a bank's admin)."""

from __future__ import annotations

from wtforms import SelectField, StringField, TelField
from wtforms.validators import InputRequired, Length, Optional

from matchmaker.accounts.forms import NewAccountForm
from matchmaker.enums import BANK_KINDS, ROLES
from matchmaker.web.forms import (
    BaseForm,
    select_choices,
    strip,
    with_placeholder,
)

REGION_CODES_HELP = ("6 位 GB/T 2260 行政区划代码，多个代码用空格或逗号分隔；"
                     "地市代码（如 330500 湖州市）覆盖其下所有区县")


class BankForm(BaseForm):
    name = StringField("银行名称", validators=[InputRequired("请输入银行名称"), Length(max=64)],
                       filters=[strip], description="例如：浙江湖州农村商业银行")
    kind = SelectField("银行类型", choices=with_placeholder(BANK_KINDS),
                       validators=[InputRequired("请选择银行类型")])
    region_codes = StringField("服务地区", default="330500", filters=[strip],
                               validators=[InputRequired("请至少填写一个地区")],
                               description=REGION_CODES_HELP)


class ManagerForm(NewAccountForm):
    """A bank user created by the bank's own admin: always a 客户经理."""

    phone = TelField("手机号码（选填）", validators=[Optional(), Length(max=32)], filters=[strip])
    region_codes = StringField("负责地区", filters=[strip],
                               description=REGION_CODES_HELP + "；须在本行服务地区之内")

class BankUserForm(ManagerForm):
    """A bank user created by the finance office: the bank's admin or a 客户经理."""

    role = SelectField(
        "角色",
        choices=select_choices([(role, ROLES[role]) for role in ("bank_admin", "bank_manager")]),
        default="bank_manager",
        validators=[InputRequired("请选择角色")],
        description="银行管理员管理本行的客户经理和产品；客户经理接收并抢单",
    )
