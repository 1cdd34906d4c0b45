"""What every web form shares: Chinese WTForms messages, service errors shown beside the fields,
lists of region codes typed as text, and the choices built from the reference tables."""

from __future__ import annotations

import re

from flask import current_app
from flask_wtf import FlaskForm
from wtforms import Field
from wtforms.i18n import get_translations
from wtforms.validators import ValidationError

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
