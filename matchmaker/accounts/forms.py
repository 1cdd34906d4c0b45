"""Login and password forms."""

from __future__ import annotations

from wtforms import EmailField, PasswordField
from wtforms.validators import EqualTo, InputRequired, Length

from matchmaker.web.forms import BaseForm


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
