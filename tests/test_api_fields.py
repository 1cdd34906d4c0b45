"""The API's marshmallow fields on their own: bounded, typed, Chinese messages, no exceptions."""

from __future__ import annotations

from decimal import Decimal

import pytest
from marshmallow import ValidationError

from matchmaker.api.core import BaseSchema
from matchmaker.api.fields import Code, DecimalString, Int, ListOf, Str


class Sample(BaseSchema):
    amount_wan = DecimalString(minimum=0, required=True)
    rate = DecimalString(max_digits=5, minimum=0, maximum=100)
    term_months = Int(minimum=1, maximum=600)
    page = Int(minimum=1, strict=False)
    title = Str(max_length=10)
    note = Str(max_length=10, blank=True, allow_none=True)
    size = Code(["micro", "small"])
    regions = ListOf(Str(max_length=6), min_items=1, max_items=3)


def load(**data) -> dict:
    data.setdefault("amount_wan", "1")
    return Sample().load(data)


def errors(**data) -> dict:
    data.setdefault("amount_wan", "1")
    with pytest.raises(ValidationError) as info:
        Sample().load(data)
    return info.value.messages


@pytest.mark.parametrize("value, expected", [
    ("15", Decimal("15.00")),
    (15, Decimal("15.00")),
    (15.5, Decimal("15.50")),
    (0.1, Decimal("0.10")),
    ("3.850", Decimal("3.85")),
    (" 3.85 ", Decimal("3.85")),
    ("999999999999.99", Decimal("999999999999.99")),
])
def test_decimals_accept_strings_and_numbers(value, expected):
    assert load(amount_wan=value)["amount_wan"] == expected


def test_decimals_travel_as_strings_with_two_places():
    dumped = Sample().dump({"amount_wan": Decimal("15"), "rate": Decimal("3.8")})
    assert dumped == {"amount_wan": "15.00", "rate": "3.80"}


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), "NaN", "-nan",
                                   "sNaN", "Infinity", "-Infinity"])
def test_decimals_refuse_nan_and_infinity(value):
    assert errors(amount_wan=value) == {"amount_wan": ["不能是 NaN 或无穷大"]}


@pytest.mark.parametrize("value", ["abc", "", "1,000", True, False, None, [], {}, ["1"],
                                   "1" * 65])
def test_decimals_refuse_what_is_not_a_number(value):
    assert list(errors(amount_wan=value)) == ["amount_wan"]


@pytest.mark.parametrize("value", ["1000000000000", 1e20, "1e400", 10**200,
                                   "1e1000000", "-1e1000000", "9e999999999999999999"])
def test_decimals_refuse_what_does_not_fit_the_column(value):
    assert errors(amount_wan=value) == {"amount_wan": ["数值超出范围"]}


@pytest.mark.parametrize("value", ["0.005", 15.555, "1.001"])
def test_decimals_refuse_more_places_than_they_keep(value):
    assert errors(amount_wan=value) == {"amount_wan": ["最多保留 2 位小数"]}


def test_decimal_ranges():
    assert errors(amount_wan="-1") == {"amount_wan": ["不能小于 0"]}
    assert list(errors(rate="100.01")) == ["rate"]
    assert errors(rate="1000") == {"rate": ["数值超出范围"]}  # Numeric(5, 2)
    assert load(rate=100)["rate"] == Decimal("100.00")


def test_integers_are_strict_in_bodies_and_bounded():
    assert load(term_months=12)["term_months"] == 12
    for value in ("12", 12.5, 12.0, True, None, [12], float("nan"), float("inf")):
        assert list(errors(term_months=value)) == ["term_months"], value
    assert errors(term_months=0) == {"term_months": ["应在 1 到 600 之间"]}
    assert list(errors(term_months=10**30)) == ["term_months"]


def test_query_integers_accept_text_but_stay_bounded():
    assert load(page="3")["page"] == 3
    for value in ("3.5", "abc", "9" * 25, str(2**31)):
        assert list(errors(page=value)) == ["page"], value


def test_strings_are_typed_bounded_and_clean():
    assert load(title="绿色信贷")["title"] == "绿色信贷"
    assert errors(title="x" * 100_000) == {"title": ["不能超过 10 个字符"]}
    assert errors(title=12) == {"title": ["应为字符串"]}
    assert errors(title=b"bytes") == {"title": ["应为字符串"]}
    assert errors(title="") == {"title": ["不能为空"]}
    assert errors(title="   ") == {"title": ["不能为空"]}
    assert list(errors(title="a\x00b")) == ["title"]
    assert list(errors(title="\ud800")) == ["title"]
    assert load(note="a\nb\tc\r")["note"] == "a\nb\tc\r"
    assert load(note="")["note"] == ""
    assert load(note=None)["note"] is None
    assert errors(title=None) == {"title": ["不能为 null"]}


def test_codes_are_one_of_the_set():
    assert load(size="micro")["size"] == "micro"
    assert errors(size="huge") == {"size": ["取值应为以下之一：micro, small"]}
    assert list(errors(size=1)) == ["size"]


def test_lists_are_typed_and_bounded():
    assert load(regions=["330502"])["regions"] == ["330502"]
    assert errors(regions=[]) == {"regions": ["至少需要 1 项"]}
    assert errors(regions=["1", "2", "3", "4"]) == {"regions": ["最多 3 项"]}
    assert errors(regions="330502") == {"regions": ["应为列表"]}
    assert errors(regions=["330502", 7]) == {"regions": {1: ["应为字符串"]}}


def test_required_and_unknown_fields():
    with pytest.raises(ValidationError) as info:
        Sample().load({"unexpected": "ignored"})
    assert info.value.messages == {"amount_wan": ["缺少必填字段"]}
    assert "unexpected" not in load(unexpected=1)
