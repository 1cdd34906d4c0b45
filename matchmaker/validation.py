"""Field checks shared by services: each adds a Chinese message to FieldErrors and returns the
cleaned value (or None), so a service can report every problem of a submission at once."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from matchmaker.errors import FieldErrors
from matchmaker.reference import codes


def text(errors: FieldErrors, field: str, value, label: str, maximum: int,
         required: bool = True) -> str:
    if value is not None and not isinstance(value, str):
        errors.add(field, f"{label}应为文本")
        return ""
    value = (value or "").strip()
    if not value:
        if required:
            errors.add(field, f"请输入{label}")
    elif len(value) > maximum:
        errors.add(field, f"{label}不能超过 {maximum} 个字符")
    return value


def decimal(errors: FieldErrors, field: str, value, label: str, *, minimum: Decimal | None = None,
            maximum: Decimal | None = None, exclusive_minimum: bool = False, places: int = 2,
            required: bool = True) -> Decimal | None:
    if value is None or value == "":
        if required:
            errors.add(field, f"请输入{label}")
        return None
    if isinstance(value, bool):
        errors.add(field, f"{label}应为数字")
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        errors.add(field, f"{label}应为数字")
        return None
    if not number.is_finite():
        errors.add(field, f"{label}应为有限的数字")
        return None
    # copy_abs, not abs(): abs() rounds to the context and raises Overflow for "1e1000000".
    if number.copy_abs() >= Decimal("1e15"):
        errors.add(field, f"{label}数值过大")
        return None
    step = Decimal(1).scaleb(-places)
    if number != number.quantize(step):
        errors.add(field, f"{label}最多保留 {places} 位小数")
        return None
    if minimum is not None:
        if exclusive_minimum and number <= minimum:
            errors.add(field, f"{label}必须大于 {minimum}")
            return None
        if not exclusive_minimum and number < minimum:
            errors.add(field, f"{label}不能小于 {minimum}")
            return None
    if maximum is not None and number > maximum:
        errors.add(field, f"{label}不能大于 {maximum}")
        return None
    return number.quantize(step)


def integer(errors: FieldErrors, field: str, value, label: str, *, minimum: int, maximum: int,
            required: bool = True) -> int | None:
    if value is None or value == "":
        if required:
            errors.add(field, f"请输入{label}")
        return None
    if isinstance(value, bool):
        errors.add(field, f"{label}应为整数")
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        errors.add(field, f"{label}应为整数")
        return None
    if not number.is_finite() or number != number.to_integral_value():
        errors.add(field, f"{label}应为整数")
        return None
    # Compared as a Decimal: int("1e1000000") would build a million-digit number first.
    if not minimum <= number <= maximum:
        errors.add(field, f"{label}应在 {minimum} 到 {maximum} 之间")
        return None
    return int(number)


def choice(errors: FieldErrors, field: str, value, label: str,
           allowed: dict[str, str]) -> str | None:
    if not isinstance(value, str) or value not in allowed:  # a list is no key of `allowed`
        errors.add(field, f"请选择{label}")
        return None
    return value


def choices(errors: FieldErrors, field: str, values, label: str, allowed: dict[str, str],
            required: bool = True) -> list[str]:
    """A list of codes from `allowed`, in the catalogue's order, without repeats."""
    if values is None:
        values = []
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, Iterable):
        errors.add(field, f"{label}应为列表")
        return []
    values = list(values)
    unknown = [str(v)[:32] for v in values if not isinstance(v, str) or v not in allowed]
    if unknown:
        errors.add(field, f"未知的{label}：{'、'.join(unknown[:5])}")
    if required and not values:
        errors.add(field, f"请至少选择一项{label}")
    return [code for code in allowed if code in values]


def _listed(errors: FieldErrors, field: str, values, label: str) -> list:
    """`values` as a list: None is empty, one code is a list of it, anything else an error."""
    if values is None:
        return []
    if isinstance(values, str):
        return [values]
    if not isinstance(values, list | tuple):
        errors.add(field, f"{label}应为列表")
        return []
    return list(values)


def category_code(errors: FieldErrors, field: str, value, *, required: bool = True) -> str | None:
    value = value.strip() if isinstance(value, str) else value
    if not value:
        if required:
            errors.add(field, "请选择绿色产业分类")
        return None
    if not isinstance(value, str) or codes.category(value) is None:
        errors.add(field, f"绿色产业分类代码不存在：{str(value)[:16]}")
        return None
    return value


def category_codes(errors: FieldErrors, field: str, values, *, required: bool = True) -> list[str]:
    values = _listed(errors, field, values, "绿色产业分类")
    cleaned: list[str] = []
    for value in values:
        code = category_code(errors, field, value)
        if code and code not in cleaned:
            cleaned.append(code)
    if required and not values:
        errors.add(field, "请至少选择一个绿色产业分类")
    return sorted(cleaned, key=lambda c: tuple(int(p) for p in c.split(".")))


def region_code(errors: FieldErrors, field: str, value, *, required: bool = True) -> str | None:
    value = value.strip() if isinstance(value, str) else value
    if not value:
        if required:
            errors.add(field, "请选择地区")
        return None
    info = codes.region(value) if isinstance(value, str) else None
    if info is None or info.retired:
        errors.add(field, f"行政区划代码不存在：{str(value)[:12]}")
        return None
    return value


def region_codes(errors: FieldErrors, field: str, values, *, within: list[str] | None = None,
                 required: bool = True) -> list[str]:
    """Current GB/T 2260 codes, each inside one of `within` when given."""
    values = _listed(errors, field, values, "地区")
    cleaned: list[str] = []
    for value in values:
        code = str(value).strip()
        info = codes.region(code)
        if info is None or info.retired:
            errors.add(field, f"行政区划代码不存在：{code[:12]}")
        elif within is not None and not any(codes.region_covers(w, code) for w in within):
            errors.add(field, f"{info.full_name} 不在所属银行的服务地区内")
        elif code not in cleaned:
            cleaned.append(code)
    if required and not values:
        errors.add(field, "请至少选择一个地区")
    return cleaned
