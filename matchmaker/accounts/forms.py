"""Login and password forms, and the switch that deactivates or reactivates an account."""

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


class LoginForm(BaseForm):
    email = EmailField("电子邮箱", validators=[InputRequired("请输入电子邮箱"), Length(max=254)])
    password = PasswordField("密码", validators=[InputRequired("请输入密码"), Length(max=128)])


class PasswordForm(BaseForm):
    current_password = PasswordField("当前密码", validators=[InputRequired("请输入当前密码")])
    new_password = PasswordField("新密码", validators=[InputRequired("请输入新密码")])
    confirm = PasswordField(
        "再次输入新密码",
        validators=[InputRequired("请再次输入新密码"),
                    EqualTo("new_password", message="两次输入的新密码不一致")],
    )


class NewAccountForm(BaseForm):
    """The fields of an account someone else opens (office users, bank users, managers)."""

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


class ActivationForm(BaseForm):
    """停用 / 启用 an account: the wanted state, an optional reason (kept in the audit log)."""

    active = StringField()
    reason = StringField("停用原因（可选）", filters=[strip],
                         validators=[Length(max=200, message="停用原因最多 200 字")])
