"""What every web form shares: Chinese WTForms messages, service errors shown beside the fields,
lists of region codes typed as text, and the choices built from the reference tables."""

from __future__ import annotations

import re

from flask import current_app
from flask_wtf import FlaskForm
from wtforms import Field, SelectMultipleField
from wtforms.i18n import get_translations
from wtforms.validators import ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from matchmaker.accounts.services import email_problems, normalize_email, password_problems
from matchmaker.errors import ServiceError
from matchmaker.reference import codes

try:  # WTForms 3.3+: options inside and outside <optgroup> in one list
    from wtforms.fields import SelectChoice
except ImportError:  # pragma: no cover
    SelectChoice = None

# WTForms ships a Chinese catalogue for its built-in messages ("不是有效的选择。" …).
_ZH = get_translations(["zh"])

# "330500 330502", "330500,330502", "330500，330502", "330500、330502" and new lines all work.
_CODE_SEPARATORS = re.compile(r"[\s,，、;；]+")


class BaseForm(FlaskForm):
    """A Flask-WTF form (CSRF included) whose built-in messages are in Chinese."""

    class Meta:
        def get_translations(self, form):
            return _ZH


class Checked:
    """A WTForms validator that runs one of the services' own checks (value → Chinese messages).

    The service checks again when it is called; running its pure checks in the form as well
    shows every such problem in the first round, beside the other fields' messages.
    """

    def __init__(self, check):
        self.check = check

    def __call__(self, form, field):
        problems = self.check(field.data)
        if problems:
            raise ValidationError("；".join(problems))


class Needed:
    """Marks a field the service requires: the asterisk and `required` for assistive technology.

    It checks nothing. The service says what is missing, in its own words, together with every
    other problem of the submission (the forms post with `novalidate`).
    """

    def __init__(self):
        self.field_flags = {"required": True}

    def __call__(self, form, field):
        return None


class MultiCheckboxField(SelectMultipleField):
    """A multiple choice shown as check boxes (render with `forms.checkboxes`).

    The choices are not checked here (validate_choice=False): the service names unknown codes.
    """

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("validate_choice", False)
        super().__init__(*args, **kwargs)


def email_check(value: str | None) -> list[str]:
    return email_problems(normalize_email(value))


def password_check(value: str | None) -> list[str]:
    return password_problems(value)


def region_check(value: str | None) -> list[str]:
    info = codes.region((value or "").strip())
    return [] if info is not None and not info.retired else ["行政区划代码不存在"]


def apply_service_errors(form: FlaskForm, exc: ServiceError,
                         aliases: dict[str, str] | None = None) -> None:
    """Put a service's `{field: [messages]}` beside the form's fields; the rest above the form.

    The form keeps everything the user typed, so nothing is lost when a rule says no.
    """
    aliases = aliases or {}
    placed = False
    for name, messages in (exc.errors or {}).items():
        field = form._fields.get(aliases.get(name, name))
        if field is None or name == "csrf_token":
            form.form_errors.extend(messages)
        else:
            field.errors = [*field.errors, *messages]
        placed = True
    if not placed:
        form.form_errors.append(exc.message)


def strip(value):
    """A WTForms filter: surrounding spaces are never part of what the user meant."""
    return value.strip() if isinstance(value, str) else value


def parse_codes(raw: str | None) -> list[str]:
    """A text field of codes separated by spaces, commas or 、 → the list of codes, in order."""
    seen: list[str] = []
    for part in _CODE_SEPARATORS.split(raw or ""):
        part = part.strip()
        if part and part not in seen:
            seen.append(part)
    return seen


def password_hint() -> str:
    return f"至少 {current_app.config['PASSWORD_MIN_LENGTH']} 个字符，请混合使用字母、数字和符号"


def describe(field: Field, text: str) -> None:
    """Set a field's help text at request time (it may depend on the configuration)."""
    field.description = text


def industry_choices(placeholder: str = "请选择行业") -> list:
    """GB/T 4754 sections with their divisions, as option groups, after a blank placeholder.

    A section alone ("C 制造业") may be chosen when the enterprise does not know its division.
    """
    rows = codes.all_industries()
    sections = sorted((r for r in rows if r.level == 1), key=lambda r: r.code)
    divisions: dict[str, list] = {}
    for row in rows:
        if row.level == 2:
            divisions.setdefault(row.parent_code, []).append(row)
    groups: dict[str, list[tuple[str, str]]] = {}
    for section in sections:
        options = [(section.code, f"{section.code} {section.name}（门类，未细分）")]
        options += [(d.code, f"{section.code}{d.code} {d.name}")
                    for d in sorted(divisions.get(section.code, []), key=lambda r: r.code)]
        groups[f"{section.code} {section.name}"] = options
    if SelectChoice is None:  # WTForms < 3.3: option groups only, the placeholder in its own
        return {placeholder: [("", placeholder)], **groups}
    return [SelectChoice("", placeholder)] + [
        SelectChoice(value, label, optgroup=group)
        for group, options in groups.items()
        for value, label in options
    ]


def select_choices(pairs) -> list:
    """(value, label) pairs as WTForms choices (SelectChoice where WTForms has it: tuples are
    deprecated from WTForms 3.3)."""
    if SelectChoice is None:  # pragma: no cover
        return list(pairs)
    return [SelectChoice(value, label) for value, label in pairs]


def with_placeholder(mapping: dict[str, str], label: str = "请选择") -> list:
    """A blank "请选择" option first, then the mapping's codes with their Chinese labels."""
    return select_choices([("", label), *mapping.items()])


def _choice(value: str, label: str, optgroup: str | None = None, **attributes):
    if SelectChoice is None:  # pragma: no cover  (WTForms < 3.3: no attributes, no groups)
        return (value, label)
    return SelectChoice(value, label, render_kw=attributes, optgroup=optgroup)


def category_choices(placeholder: str | None = "请选择绿色产业分类") -> list:
    """The 2019 green industry catalog (6 / 30 / 211) as one option group per top-level
    category, each level indented, after an optional blank placeholder.

    Any level may be chosen: a branch ("4.1") or a leaf ("4.1.4"). Each option carries
    `data-parent` so static/js/app.js keeps the ancestors of a match visible while filtering.
    """
    rows = codes.all_categories()  # depth first: 1, 1.1, 1.1.1, …, 1.2, …, 2, …
    tops = {row.code: row for row in rows if row.level == 1}
    choices = [_choice("", placeholder)] if placeholder is not None else []
    for row in rows:
        top = tops.get(row.code.split(".")[0])
        group = f"{top.code} {top.name}" if top else None
        if row.level == 1:
            label = f"{row.code} {row.name}（整个大类）"
        else:
            label = "\u3000" * (row.level - 1) + f"{row.code} {row.name}"
        attributes = {"data_parent": row.parent_code} if row.parent_code else {}
        choices.append(_choice(row.code, label, group, **attributes))
    return choices


# GB/T 2260 groupings that are no place of their own (330501 市辖区 is 湖州市's districts).
_PLACEHOLDER_REGIONS = {"市辖区", "县", "省直辖县级行政区划", "省直辖县级行政单位",
                        "自治区直辖县级行政区划"}


def region_choices(roots: list[str], keep: list[str] | None = None) -> list:
    """The regions at and below `roots` (e.g. a bank's 330500 → 湖州市 and its counties), one
    option group per prefecture (a province root lists its prefectures and their counties).

    `keep`: codes already chosen that fall outside `roots` (say the bank's coverage changed);
    they stay listed, so saving a form never drops them silently (the service says why not).
    """
    wanted = sorted({c for c in roots if codes.region(c) is not None})
    # A root inside another root adds nothing: 330000 already lists 330500.
    wanted = [c for c in wanted if not any(o != c and codes.region_covers(o, c) for o in wanted)]
    choices: list = []
    seen: set[str] = set()

    def add(code: str, label: str, group: str, parent: str | None = None) -> None:
        if code not in seen:
            seen.add(code)
            attributes = {"data_parent": parent} if parent else {}
            choices.append(_choice(code, label, group, **attributes))

    def prefecture(info, parent: str | None = None) -> None:
        if info.name in _PLACEHOLDER_REGIONS:  # 省直辖县级行政区划: its counties, in the province
            province = codes.region(info.parent_code)
            for county in codes.current_regions(info.code):
                add(county.code, f"{county.full_name} {county.code}",
                    province.full_name if province else info.full_name, parent)
            return
        add(info.code, f"{info.full_name}（全市） {info.code}", info.full_name, parent)
        for county in codes.current_regions(info.code):
            if county.name not in _PLACEHOLDER_REGIONS:
                add(county.code, f"\u3000{county.name} {county.code}", info.full_name, info.code)

    for code in wanted:
        info = codes.region(code)
        if info.level == 1:
            add(info.code, f"{info.full_name}（全省） {info.code}", info.full_name)
            for city in codes.current_regions(info.code):
                if city.level == 2 and codes.current_regions(city.code):
                    prefecture(city, info.code)
                else:  # county-level units directly under a province (e.g. 省直辖县)
                    add(city.code, f"{city.full_name} {city.code}", info.full_name, info.code)
        elif info.level == 2:
            prefecture(info)
        else:
            parent = codes.region(info.parent_code)
            add(info.code, f"{info.full_name} {info.code}",
                parent.full_name if parent else info.full_name)
    for code in keep or []:
        if code not in seen:
            info = codes.region(code)
            if info is None or info.retired:
                note = "（代码不存在或已撤销）"
            elif any(codes.region_covers(root, code) for root in wanted):
                note = ""
            else:
                note = "（不在本行服务地区内）"
            add(code, f"{info.full_name if info else code} {code}{note}", "其他已选地区")
    return choices
