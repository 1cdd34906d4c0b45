"""Forms for an enterprise's financing needs.

The fields only carry what was typed (as text) to `matchmaker.needs.services`, which checks every
rule and names every problem in Chinese; the views put those messages beside the fields. So one
round shows all problems, and the form always keeps what the user typed.
"""

from __future__ import annotations

from wtforms import SelectField, StringField, SubmitField, TextAreaField
from wtforms.widgets import DateInput

from matchmaker.enums import COLLATERAL, PURPOSES
from matchmaker.needs.models import Need
from matchmaker.needs.services import FIELDS
from matchmaker.web.forms import (
    BaseForm,
    MultiCheckboxField,
    Needed,
    category_choices,
    select_choices,
    strip,
    with_placeholder,
)


class NeedForm(BaseForm):
    title = StringField("需求标题", validators=[Needed()], filters=[strip],
                        description="一句话说明项目和融资需求，例如：安吉县竹林碳汇项目林权抵押贷款")
    purpose = SelectField("资金用途", choices=with_placeholder(PURPOSES, "请选择资金用途"),
                          validate_choice=False, validators=[Needed()])
    description = TextAreaField("需求描述（选填）", filters=[strip],
                                description="项目内容、资金用途、还款来源、已有授信等，越具体越容易匹配")
    amount_wan = StringField("融资金额（万元）", validators=[Needed()], filters=[strip],
                             description="大于 0，最多两位小数，例如 150.50")
    term_months = StringField("融资期限（月）", validators=[Needed()], filters=[strip],
                              description="1～360 个月")
    green_category = SelectField(
        "绿色产业分类", validate_choice=False, validators=[Needed()],
        description="《绿色产业指导目录（2019年版）》；可选大类、中类或小类，越细匹配越准",
    )
    collateral = MultiCheckboxField("可提供的担保方式", choices=select_choices(COLLATERAL.items()),
                                    validators=[Needed()], description="可多选")
    region_code = StringField(
        "项目所在地区", validators=[Needed()], filters=[strip],
        description="6 位 GB/T 2260 行政区划代码，默认为本企业所在地区",
    )
    rate_cap = StringField("可接受的年利率上限（%，选填）", filters=[strip],
                           description="例如 4.50 表示年利率不高于 4.50%")
    co2_reduction_t = StringField("预计年二氧化碳减排量（吨，选填）", filters=[strip],
                                  description="按项目可研或节能评估报告测算，用于环境效益统计")
    coal_saving_tce = StringField("预计年节约标准煤（吨，选填）", filters=[strip],
                                  description="可用下方“环境效益测算”按项目类型估算")
    project_investment_wan = StringField("项目总投资（万元，选填）", filters=[strip],
                                         description="用于核算贷款对应的减排量")
    deadline = StringField("需求截止日期（选填）", widget=DateInput(), filters=[strip],
                           description="过了该日期仍无银行对接，需求将不再展示")
    # The buttons: 保存草稿 (save_draft) and 发布 (publish); editing an open need 保存修改.
    save_draft = SubmitField("保存草稿")
    publish = SubmitField("发布")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.green_category.choices = category_choices()

    def service_data(self) -> dict:
        """What the service takes: its field names, the values as typed."""
        return {name: getattr(self, name).data for name in FIELDS}


def need_values(need: Need) -> dict:
    """A saved need as the form's initial values."""

    def text(value) -> str:
        return "" if value is None else str(value)

    return {
        "title": need.title, "purpose": need.purpose, "description": need.description or "",
        "amount_wan": text(need.amount_wan), "term_months": text(need.term_months),
        "green_category": need.green_category_code, "collateral": list(need.collateral or []),
        "region_code": need.region_code, "rate_cap": text(need.rate_cap),
        "co2_reduction_t": text(need.co2_reduction_t),
        "coal_saving_tce": text(need.coal_saving_tce),
        "project_investment_wan": text(need.project_investment_wan),
        "deadline": need.deadline.isoformat() if need.deadline else "",
    }


class WithdrawForm(BaseForm):
    reason = TextAreaField("撤回原因", validators=[Needed()], filters=[strip],
                           description="例如：已通过其他渠道获得融资；项目推迟。抢单的银行会看到需求已撤回")
