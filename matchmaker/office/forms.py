"""Finance-office user accounts."""

from __future__ import annotations

from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import EqualTo, InputRequired, Length

from matchmaker.web.forms import (
    BaseForm,
    Checked,
    describe,
    email_check,
    password_check,
    password_hint,
    strip,
)


class OfficeUserForm(BaseForm):
    name = StringField("姓名", validators=[InputRequired("请输入姓名"), Length(max=64)],
                       filters=[strip])
    email = EmailField("电子邮箱（登录账号）",
                       validators=[InputRequired("请输入电子邮箱"), Checked(email_check)],
                       filters=[strip])
    password = PasswordField("初始密码", validators=[InputRequired("请设置初始密码"),
                                                     Checked(password_check)])
    confirm = PasswordField(
        "确认初始密码",
        validators=[InputRequired("请再次输入初始密码"),
                    EqualTo("password", message="两次输入的密码不一致")],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        describe(self.password, password_hint() + "；请通过安全渠道告知本人，并提醒其登录后修改")
