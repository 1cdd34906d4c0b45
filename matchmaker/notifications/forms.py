"""Forms of the notification pages: the channel grid of 通知设置 and a bank's webhook.

The fields carry what was sent to `matchmaker.notifications.settings`, which checks every rule
and names every problem in Chinese; the views put those messages beside the fields.
"""

from __future__ import annotations

from wtforms import BooleanField, StringField, SubmitField

from matchmaker.notifications import kinds
from matchmaker.web.forms import BaseForm, MultiCheckboxField, Needed, select_choices, strip


def cell(kind: str, channel: str) -> str:
    """The value of one check box of the grid: "new_lead:email"."""
    return f"{kind}:{channel}"


class PreferencesForm(BaseForm):
    """Every cell of the grid (kind × channel) is a check box; a cell left unchecked is off."""

    enabled = MultiCheckboxField("通知设置")

    def set_grid(self, rows) -> PreferencesForm:
        self.enabled.choices = select_choices(
            (cell(row.kind, channel), f"{row.label} · {label}")
            for row in rows for channel, label in kinds.CHANNELS.items())
        if not self.is_submitted():
            self.enabled.data = [cell(row.kind, channel) for row in rows
                                 for channel, on in row.enabled.items() if on]
        return self

    def choices_for(self, rows) -> list[dict]:
        """What `settings.save_preferences` takes: every cell of the user's grid, on or off,
        and anything else that was posted (which the service refuses, naming it)."""
        posted = set(self.enabled.data or [])
        chosen = [{"kind": row.kind, "channel": channel,
                   "enabled": cell(row.kind, channel) in posted}
                  for row in rows for channel in kinds.CHANNELS]
        known = {cell(item["kind"], item["channel"]) for item in chosen}
        for value in sorted(posted - known):
            kind, _, channel = str(value).partition(":")
            chosen.append({"kind": kind, "channel": channel, "enabled": True})
        return chosen


class WebhookForm(BaseForm):
    url = StringField("Webhook 地址", validators=[Needed()], filters=[strip],
                      description="贵行接收通知的 HTTPS 地址（最长 500 个字符，不含用户名和密码），"
                                  "例如 https://open.bank.example.com/greenmatch/webhook")
    kinds = MultiCheckboxField(
        "推送的通知类型",
        choices=select_choices((code, kinds.label(code)) for code in kinds.WEBHOOK_KINDS),
        description="涉及本行的事件，按需勾选")
    active = BooleanField("启用", default=True,
                          description="停用后不再推送新的通知，已失败的投递也不能重新发送")
    save = SubmitField("保存")
    regenerate = SubmitField("保存并重新生成密钥")
