"""Marshmallow fields for the API: Chinese messages, length limits and no surprises.

Every field here turns bad input into a validation message (422), never into an exception deeper
down: strings are bounded and free of NUL bytes and lone surrogates (PostgreSQL and the password
hasher would fail on them), integers fit a 32-bit column, decimals fit `Numeric(14, 2)` and are
never NaN or infinite. Decimals travel as strings with a fixed number of places ("15.00") and are
accepted as strings or JSON numbers.
"""

from __future__ import annotations

import datetime
import decimal
import re

from marshmallow import ValidationError, fields, validate

INT32_MAX = 2**31 - 1
INT32_MIN = -(2**31)

# C0 control characters other than tab, newline and carriage return, DEL, and UTF-16 surrogates
# (JSON "\ud800" decodes to a lone surrogate, which no database or hash function accepts).
_BAD_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


class ChineseMessages:
    """Mixed in first so that these messages win over marshmallow's English defaults."""

    default_error_messages = {  # noqa: RUF012  (marshmallow merges these along the MRO)
        "required": "缺少必填字段",
        "null": "不能为 null",
        "validator_failed": "取值无效",
    }


def no_control_characters(value: str) -> None:
    if _BAD_CHARS.search(value):
        raise ValidationError("不能包含控制字符或无效的 Unicode 字符")


def not_blank(value: str) -> None:
    if value and not value.strip():  # "" is left to Length(min=1), which also documents it
        raise ValidationError("不能为空")


class Str(ChineseMessages, fields.String):
    """A bounded string. `blank=False` (the default) refuses "" and whitespace-only values."""

    default_error_messages = {  # noqa: RUF012
        "invalid": "应为字符串",
        "invalid_utf8": "不是合法的 UTF-8 字符串",
    }

    def __init__(self, *, max_length: int, blank: bool = False, **kwargs):
        validators = [validate.Length(max=max_length, error="不能超过 {max} 个字符"),
                      no_control_characters]
        if not blank:
            validators.insert(0, validate.Length(min=1, error="不能为空"))
            validators.append(not_blank)
        extra = kwargs.pop("validate", None)
        if extra is not None:
            validators.extend(extra if isinstance(extra, list | tuple) else [extra])
        super().__init__(validate=validators, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        # bytes never come from JSON; refuse them too rather than decode.
        if not isinstance(value, str):
            raise self.make_error("invalid")
        return value


class Code(Str):
    """One of a fixed set of stable codes (DESIGN section 4); the set is listed in the schema."""

    def __init__(self, codes, **kwargs):
        super().__init__(max_length=64, blank=True, **kwargs)
        self.validators = [validate.OneOf(list(codes), error="取值应为以下之一：{choices}")]


class Int(ChineseMessages, fields.Integer):
    """An integer that fits a 32-bit column. JSON bodies are strict (1.5 and "1" are refused);
    pass `strict=False` for query strings, whose values are always text.
    """

    default_error_messages = {  # noqa: RUF012
        "invalid": "应为整数",
        "too_large": "数值过大",
    }

    def __init__(self, *, minimum: int = INT32_MIN, maximum: int = INT32_MAX,
                 strict: bool = True, **kwargs):
        extra = kwargs.pop("validate", None)
        validators = [validate.Range(min=minimum, max=maximum,
                                     error="应在 {min} 到 {max} 之间")]
        if extra is not None:
            validators.extend(extra if isinstance(extra, list | tuple) else [extra])
        super().__init__(strict=strict, validate=validators, **kwargs)

    def _validated(self, value) -> int:
        if isinstance(value, str) and len(value) > 20:
            raise self.make_error("invalid")
        return super()._validated(value)


class DecimalString(ChineseMessages, fields.Decimal):
    """A decimal with `places` places, sent as a string ("15.00"), accepted as a string or a
    number. More places than that are refused rather than rounded (as the services do), and so
    are values that would not fit `Numeric(max_digits, places)`, NaN and the infinities.
    """

    default_error_messages = {  # noqa: RUF012
        "invalid": "应为数字，例如 \"15.00\"",
        "special": "不能是 NaN 或无穷大",
        "too_large": "数值超出范围",
        "places": "最多保留 {places} 位小数",
    }

    def __init__(self, places: int = 2, *, max_digits: int = 14, minimum=None, maximum=None,
                 **kwargs):
        self.max_digits = max_digits
        # Documented as it travels: a string of at most 64 characters (numbers accepted too).
        kwargs["metadata"] = {"maxLength": 64, **kwargs.get("metadata", {})}
        extra = kwargs.pop("validate", None)
        validators = []
        if minimum is not None or maximum is not None:
            validators.append(validate.Range(
                min=None if minimum is None else decimal.Decimal(str(minimum)),
                max=None if maximum is None else decimal.Decimal(str(maximum)),
                error=_range_message(minimum, maximum),
            ))
        if extra is not None:
            validators.extend(extra if isinstance(extra, list | tuple) else [extra])
        super().__init__(places, as_string=True, validate=validators, **kwargs)
        self.place_count = places
        self._limit = decimal.Decimal(10) ** (max_digits - places)

    def _validated(self, value) -> decimal.Decimal:
        if isinstance(value, str) and len(value) > 64:
            raise self.make_error("invalid")
        if not isinstance(value, str | int | float | decimal.Decimal) or isinstance(value, bool):
            raise self.make_error("invalid")
        try:
            raw = decimal.Decimal(str(value).strip())
        except (decimal.InvalidOperation, ValueError) as exc:
            raise self.make_error("invalid") from exc
        if raw.is_nan() or raw.is_infinite():
            raise self.make_error("special")
        if raw.copy_abs() >= self._limit:  # abs() would raise Overflow for "1e1000000"
            raise self.make_error("too_large")
        if raw != raw.quantize(self.places):
            raise self.make_error("places", places=self.place_count)
        return super()._validated(raw)


def _range_message(minimum, maximum) -> str:
    if minimum is not None and maximum is not None:
        return f"应在 {minimum} 到 {maximum} 之间"
    if minimum is not None:
        return f"不能小于 {minimum}"
    return f"不能大于 {maximum}"


class ListOf(ChineseMessages, fields.List):
    """A bounded list; `min_items=1` refuses an empty list."""

    default_error_messages = {"invalid": "应为列表"}  # noqa: RUF012

    def __init__(self, inner, *, max_items: int, min_items: int = 0, **kwargs):
        validators = [validate.Length(max=max_items, error="最多 {max} 项")]
        if min_items:
            validators.insert(0, validate.Length(min=min_items, error="至少需要 {min} 项"))
        super().__init__(inner, validate=validators, **kwargs)


class Bool(ChineseMessages, fields.Boolean):
    """true or false. JSON bodies are strict (1, "true" and "yes" are refused); pass
    `strict=False` for query strings, which accept true/false/1/0.
    """

    default_error_messages = {"invalid": "应为 true 或 false"}  # noqa: RUF012
    QUERY_VALUES = {"true": True, "1": True, "false": False, "0": False}  # noqa: RUF012

    def __init__(self, *, strict: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.strict = strict

    def _deserialize(self, value, attr, data, **kwargs) -> bool:
        if value is True or value is False:
            return value
        if not self.strict and isinstance(value, str) and value.strip().lower() in \
                self.QUERY_VALUES:
            return self.QUERY_VALUES[value.strip().lower()]
        raise self.make_error("invalid")


_DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class Day(ChineseMessages, fields.Date):
    """A calendar date written YYYY-MM-DD (nothing else: no week dates, no times)."""

    default_error_messages = {  # noqa: RUF012
        "invalid": "日期格式应为 YYYY-MM-DD",
        "format": "日期格式应为 YYYY-MM-DD",
    }

    def __init__(self, **kwargs):
        kwargs["metadata"] = {"maxLength": 10, "pattern": _DAY_RE.pattern, "example": "2025-12-31",
                              **kwargs.get("metadata", {})}
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> datetime.date:
        if not isinstance(value, str) or not _DAY_RE.match(value):
            raise self.make_error("invalid")
        try:
            return datetime.date.fromisoformat(value)
        except ValueError as exc:
            raise self.make_error("invalid") from exc


def day_range(first: datetime.date, last: datetime.date) -> validate.Range:
    return validate.Range(min=first, max=last,
                          error=f"日期应在 {first.isoformat()} 到 {last.isoformat()} 之间")


def known_category(value: str) -> None:
    """A code of the green industry catalog (for filters; the services check what is saved)."""
    from matchmaker.reference import codes

    if codes.category(value.strip()) is None:
        raise ValidationError("绿色产业分类代码不存在")


def known_region(value: str) -> None:
    """A GB/T 2260 code we know, current or retired (for filters: old records keep theirs)."""
    from matchmaker.reference import codes

    if codes.region(value.strip()) is None:
        raise ValidationError("行政区划代码不存在")
