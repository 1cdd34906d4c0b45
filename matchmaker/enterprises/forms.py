"""Enterprise self-registration."""

from __future__ import annotations

from wtforms import EmailField, PasswordField, SelectField, StringField, TelField
from wtforms.validators import EqualTo, InputRequired, Length, Optional

from matchmaker.enterprises.services import uscc_problem
from matchmaker.enums import ENTERPRISE_SIZES, ENV_CREDIT
from matchmaker.web.forms import (
    BaseForm,
    Checked,
    describe,
    email_check,
    industry_choices,
    password_check,
    password_hint,
    region_check,
    strip,
    with_placeholder,
)


def uscc_check(value: str | None) -> list[str]:
    _code, problem = uscc_problem(value)
    return [problem] if problem else []


class RegistrationForm(BaseForm):
    uscc = StringField(
        "统一社会信用代码",
        validators=[InputRequired("请输入统一社会信用代码"), Length(max=30), Checked(uscc_check)],
        filters=[strip],
        description="18 位，见营业执照，例如 91330502MA2B3C4D58",
    )
    name = StringField("企业名称", validators=[InputRequired("请输入企业名称"), Length(max=128)],
                       filters=[strip])
    region_code = StringField(
        "行政区划代码",
        validators=[InputRequired("请选择或填写所在地区"), Checked(region_check)],
        filters=[strip],
        description="6 位国家标准 GB/T 2260 行政区划代码，例如 330502（浙江省湖州市吴兴区）",
    )
    industry_code = SelectField("所属行业（国民经济行业分类）",
                                validators=[InputRequired("请选择所属行业")])
    size = SelectField("企业规模", choices=with_placeholder(ENTERPRISE_SIZES),
                       validators=[InputRequired("请选择企业规模")])
    env_credit = SelectField(
        "环境信用评价等级", choices=with_placeholder(ENV_CREDIT),
        validators=[InputRequired("请选择环境信用评价等级")],
        description="生态环境部门评定的企业环境信用等级，从好到差依次为绿、蓝、黄、红、黑",
    )
    address = StringField("经营地址（选填）", validators=[Optional(), Length(max=200)],
                          filters=[strip])
    contact_name = StringField("联系人", validators=[InputRequired("请输入联系人"), Length(max=64)],
                               filters=[strip])
    phone = TelField("联系电话", validators=[InputRequired("请输入联系电话"), Length(max=32)],
                     filters=[strip])
    email = EmailField("电子邮箱",
                       validators=[InputRequired("请输入电子邮箱"), Checked(email_check)],
                       filters=[strip], description="用于登录和接收对接通知")
    password = PasswordField("登录密码", validators=[InputRequired("请设置登录密码"),
                                                     Checked(password_check)])
    confirm = PasswordField(
        "确认密码",
        validators=[InputRequired("请再次输入密码"),
                    EqualTo("password", message="两次输入的密码不一致")],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.industry_code.choices = industry_choices()
        describe(self.password, password_hint())
