"""Loan products: the public catalogue (/products) and a bank's own products (/bank/products).

A bank admin publishes (from scratch or from a template), edits, puts on sale and takes off sale
the bank's products; its 客户经理 see them read-only. Every look-up under /bank/products is
scoped to the user's bank: another bank's product is 404, whatever id is in the address. Every
rule is the service's (`matchmaker.products.services`).
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from matchmaker.accounts.permissions import roles_required
from matchmaker.demo.data import PRODUCT_TEMPLATES, PRODUCT_TEMPLATES_BY_KEY
from matchmaker.enums import BANK_ROLES
from matchmaker.errors import InvalidInput
from matchmaker.extensions import db
from matchmaker.products import queries
from matchmaker.products.forms import (
    ActiveForm,
    CatalogueForm,
    ProductForm,
    product_values,
    template_values,
)
from matchmaker.products.models import Product
from matchmaker.products.services import create_product, set_active, update_product
from matchmaker.web.forms import apply_service_errors

blueprint = Blueprint("products", __name__)

PER_PAGE = 12


@blueprint.app_template_filter("category_order")
def category_order(categories) -> list:
    """Green categories (or their codes) in the catalog's order: 4.1.4 before 4.1.10."""
    return sorted(categories, key=lambda c: tuple(
        int(part) for part in getattr(c, "code", c).split(".")))


def _user():
    return current_user._get_current_object()


def _status(form) -> int:
    return 422 if form.errors else 200


# --- the public catalogue ----------------------------------------------------------------------


@blueprint.get("/products")
def catalogue():
    """Active products, by green category and region (each covering both ways) and keyword."""
    form = CatalogueForm(formdata=request.args)
    page = None
    if form.validate():
        stmt = queries.public_products(category=form.category.data or None,
                                       region=form.region.data or None, q=form.q.data or None)
        page = db.paginate(stmt, page=request.args.get("page", 1, type=int), per_page=PER_PAGE,
                           error_out=False)
    filtered = any((form.category.data, form.region.data, form.q.data))

    def page_url(number: int) -> str:
        return url_for("products.catalogue", **{**request.args.to_dict(), "page": number})

    return render_template("products/catalogue.html", form=form, page=page, filtered=filtered,
                           page_url=page_url), _status(form)


@blueprint.get("/products/<int:product_id>")
def detail(product_id: int):
    product = db.session.get(Product, product_id)
    if product is None or not queries.can_see(current_user, product):
        abort(404)
    return render_template("products/detail.html", product=product,
                           public=queries.is_public(product))


# --- a bank's products -------------------------------------------------------------------------


def _bank_product(product_id: int) -> Product:
    product = queries.bank_product(current_user.bank_id, product_id)
    if product is None:
        abort(404)
    return product


@blueprint.get("/bank/products")
@roles_required(*BANK_ROLES)
def bank_list():
    return render_template("products/bank_list.html", bank=current_user.bank,
                           products=queries.bank_products(current_user.bank_id),
                           toggle_form=ActiveForm(formdata=None))


@blueprint.get("/bank/products/templates")
@roles_required("bank_admin")
def templates():
    bank = current_user.bank
    suitable = [t for t in PRODUCT_TEMPLATES if bank.kind in t.bank_kinds]
    others = [t for t in PRODUCT_TEMPLATES if bank.kind not in t.bank_kinds]
    return render_template("products/templates.html", bank=bank, suitable=suitable,
                           others=others)


@blueprint.route("/bank/products/new", methods=["GET", "POST"])
@roles_required("bank_admin")
def new():
    bank = current_user.bank
    key = request.args.get("template") or None
    template = PRODUCT_TEMPLATES_BY_KEY.get(key) if key else None
    if key and template is None:
        abort(404)
    initial = template_values(template, bank) if template else {"region_codes": bank.region_codes}
    form = ProductForm(data=initial, bank=bank)
    if form.validate_on_submit():
        try:
            product = create_product(bank, form.service_data(), actor=_user())
        except InvalidInput as exc:
            apply_service_errors(form, exc)
        else:
            flash(f"已发布产品：{product.name}" if product.active
                  else f"已保存产品：{product.name}（未上架）", "success")
            return redirect(url_for("products.bank_detail", product_id=product.id))
    return render_template("products/form.html", form=form, bank=bank, product=None,
                           template=template), _status(form)


@blueprint.get("/bank/products/<int:product_id>")
@roles_required(*BANK_ROLES)
def bank_detail(product_id: int):
    return render_template("products/bank_detail.html", product=_bank_product(product_id),
                           toggle_form=ActiveForm(formdata=None))


@blueprint.route("/bank/products/<int:product_id>/edit", methods=["GET", "POST"])
@roles_required("bank_admin")
def edit(product_id: int):
    product = _bank_product(product_id)
    form = ProductForm(data=product_values(product), bank=product.bank)
    if form.validate_on_submit():
        try:
            update_product(product, form.service_data(), actor=_user())
        except InvalidInput as exc:
            apply_service_errors(form, exc)
        else:
            flash(f"已保存修改：{product.name}", "success")
            return redirect(url_for("products.bank_detail", product_id=product.id))
    return render_template("products/form.html", form=form, bank=product.bank, product=product,
                           template=None), _status(form)


@blueprint.post("/bank/products/<int:product_id>/active")
@roles_required("bank_admin")
def toggle(product_id: int):
    """上架 (active=1) or 停售 (active=0); CSRFProtect checks the token."""
    product = _bank_product(product_id)
    form = ActiveForm()
    wanted = form.active.data
    if wanted not in ("0", "1"):
        abort(400)
    try:
        set_active(product, wanted == "1", actor=_user())
    except InvalidInput as exc:
        problems = [m for messages in exc.errors.values() for m in messages] or [exc.message]
        flash(f"{product.name} 的内容需要先修改：" + "；".join(problems), "danger")
        return redirect(url_for("products.edit", product_id=product.id))
    flash(f"{product.name} 已上架，企业可在产品目录中看到" if product.active
          else f"{product.name} 已停售，不再在产品目录中展示", "success")
    back = request.form.get("back")
    if back == "detail":
        return redirect(url_for("products.bank_detail", product_id=product.id))
    return redirect(url_for("products.bank_list"))
