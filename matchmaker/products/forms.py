"""Forms for loan products (a bank admin's) and the filters of the public product catalogue.

As for needs, the product form only carries what was typed to `matchmaker.products.services`,
which checks every rule (ranges, the bank's regions, …) and names each problem in Chinese.
"""

from __future__ import annotations

from wtforms import BooleanField, SelectField, SelectMultipleField, StringField, TextAreaField

from matchmaker.enums import COLLATERAL, ENTERPRISE_SIZES, ENV_CREDIT
from matchmaker.products.models import Product
from matchmaker.products.services import FIELDS
from matchmaker.reference import codes
from matchmaker.web.forms import (
    BaseForm,
    Checked,
    MultiCheckboxField,
    Needed,
    category_choices,
    region_check,
    region_choices,
    select_choices,
    strip,
)


def env_credit_choices() -> list:
    """Best to worst; each says which colours it lets in."""
    labels = list(ENV_CREDIT.values())
    return select_choices(
        (code, f"{label}（接受{'、'.join(labels[:rank + 1])}）")
        for rank, (code, label) in enumerate(ENV_CREDIT.items())
    )


class ProductForm(BaseForm):
    name = StringField("产品名称", validators=[Needed()], filters=[strip],
                       description="例如：福林贷、能效贷、排污权质押贷款")
    description = TextAreaField("产品介绍（选填）", filters=[strip],
                                description="适用对象、额度与期限、担保方式、办理流程、优惠政策等")
    green_categories = SelectMultipleField(
        "支持的绿色产业分类", validate_choice=False, validators=[Needed()],
        description="可多选；选中类或大类即覆盖其下所有小类（如 4.1 覆盖 4.1.4）",
    )
    collateral = MultiCheckboxField(
        "接受的担保方式", choices=select_choices(COLLATERAL.items()), validators=[Needed()],
        description="选择“信用”表示无需抵押担保，提供任何担保方式的企业均可申请",
    )
    min_amount_wan = StringField("最低金额（万元）", validators=[Needed()], filters=[strip])
    max_amount_wan = StringField("最高金额（万元）", validators=[Needed()], filters=[strip])
    min_term_months = StringField("最短期限（月）", validators=[Needed()], filters=[strip])
    max_term_months = StringField("最长期限（月）", validators=[Needed()], filters=[strip])
    rate_min = StringField("最低年利率（%）", validators=[Needed()], filters=[strip])
    rate_max = StringField("最高年利率（%）", validators=[Needed()], filters=[strip])
    region_codes = SelectMultipleField(
        "服务地区", validate_choice=False, validators=[Needed()],
        description="本行服务地区及其下辖区县，可多选；选地市即覆盖其下所有区县",
    )
    enterprise_sizes = MultiCheckboxField("服务的企业规模",
                                          choices=select_choices(ENTERPRISE_SIZES.items()),
                                          validators=[Needed()])
    min_env_credit = SelectField(
        "最低环境信用等级", choices=env_credit_choices(), default="yellow",
        validate_choice=False, validators=[Needed()],
        description="生态环境部门评定的企业环境信用，从好到差依次为绿、蓝、黄、红、黑",
    )
    active = BooleanField("上架销售（在产品目录中公开，参与需求匹配）", default=True)

    def __init__(self, *args, bank, **kwargs):
        super().__init__(*args, **kwargs)
        self.green_categories.choices = category_choices(placeholder=None)
        # Codes already chosen outside the bank's regions stay listed (the service says why).
        self.region_codes.choices = region_choices(bank.region_codes,
                                                   keep=list(self.region_codes.data or []))

    def service_data(self) -> dict:
        return {name: getattr(self, name).data for name in FIELDS}


def _text(value) -> str:
    return "" if value is None else str(value)


def product_values(product: Product) -> dict:
    """A saved product as the form's initial values."""
    return {
        "name": product.name, "description": product.description or "",
        "green_categories": product.category_codes, "collateral": list(product.collateral or []),
        "min_amount_wan": _text(product.min_amount_wan),
        "max_amount_wan": _text(product.max_amount_wan),
        "min_term_months": _text(product.min_term_months),
        "max_term_months": _text(product.max_term_months),
        "rate_min": _text(product.rate_min), "rate_max": _text(product.rate_max),
        "region_codes": product.region_codes,
        "enterprise_sizes": list(product.enterprise_sizes or []),
        "min_env_credit": product.min_env_credit, "active": product.active,
    }


def template_values(template, bank) -> dict:
    """A product template (matchmaker.demo.data) as the form's initial values for `bank`: its
    regions default to the bank's regions."""
    data = template.form_data()
    values = {key: (_text(value) if key not in ("green_categories", "collateral",
                                                "enterprise_sizes") else list(value))
              for key, value in data.items()}
    values["region_codes"] = list(bank.region_codes)
    values["active"] = True
    return values


class ActiveForm(BaseForm):
    """上架 / 停售 buttons: the wanted state and the CSRF token."""

    active = StringField()


def category_check(value: str | None) -> list[str]:
    return [] if not value or codes.category(value) else ["绿色产业分类代码不存在"]


class CatalogueForm(BaseForm):
    """Filters of the public catalogue (GET, so no CSRF token)."""

    class Meta:
        csrf = False

    category = SelectField("绿色产业分类", validate_choice=False,
                           validators=[Checked(category_check)])
    region = StringField("地区（行政区划代码）", filters=[strip],
                         validators=[Checked(lambda v: region_check(v) if v else [])])
    q = StringField("关键词", filters=[strip])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.category.choices = category_choices("全部分类")
