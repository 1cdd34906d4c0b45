"""Property tests of the field validators: `matchmaker.validation` (the services' checks, also
behind the web forms), the API's marshmallow fields (`matchmaker.api.fields`) and the
统一社会信用代码 check (`enterprises.services.uscc_problem`, python-stdnum).

For each: valid input round-trips to the value it stands for; arbitrary input — text, numbers,
lists, objects — ends in a value or in the validator's own error (a Chinese message on the field,
or a marshmallow ValidationError), never in another exception; and the boundaries fall on the
right side. Amounts in 万元 are Decimals with two places, never floats.
"""

from __future__ import annotations

import datetime
import shutil
import time
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError
from stdnum.cn import uscc as uscc_std

from matchmaker import create_app, validation
from matchmaker.api import fields
from matchmaker.enterprises.services import uscc_problem
from matchmaker.errors import FieldErrors
from matchmaker.reference import codes
from tests.conftest import base_config

# Quick enough for every run: the module takes a few seconds.
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Anything a JSON body or a form can carry, and a few Python values besides.
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(),
                    st.decimals(), st.binary(max_size=8))
ANYTHING = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=4), inner, max_size=4)),
    max_leaves=8)
# Text shaped like numbers: signs, exponents (huge ones too), separators, other digits.
NUMBERISH = st.one_of(
    st.from_regex(r"\A\s?[+-]?\d{0,16}(\.\d{0,6})?([eE][+-]?\d{1,20})?\s?\Z"),
    st.builds(lambda m, e: f"{m}e{e}", st.integers(-99, 99), st.integers(-(10**20), 10**20)),
    st.sampled_from(["NaN", "-Infinity", "sNaN", "1_000", "１２", "٣", "0x10", "1,5", ".", "-"]),
)
MAX_AMOUNT = Decimal("10000000.00")


@pytest.fixture(scope="module", autouse=True)
def reference_data(sqlite_template, tmp_path_factory):
    """The reference tables (regions, categories, industries) the code checks look up."""
    instance = tmp_path_factory.mktemp("validation-properties")
    path = instance / "matchmaker.db"
    shutil.copyfile(sqlite_template, path)
    app = create_app(base_config(instance, f"sqlite:///{path}"))
    with app.app_context():
        yield


def check(validator, *args, **kwargs):
    """Run a FieldErrors validator on field "f": (value, messages)."""
    errors = FieldErrors()
    value = validator(errors, "f", *args, **kwargs)
    assert set(errors.errors) <= {"f"}
    assert all(isinstance(m, str) and m for m in errors.errors.get("f", []))
    return value, errors.errors.get("f", [])


def field_load(field, value):
    """A marshmallow field's result, or None after its own ValidationError."""
    try:
        return field.deserialize(value)
    except ValidationError as exc:
        assert exc.messages
        return None


# --- 统一社会信用代码 -----------------------------------------------------------------------------

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


@st.composite
def usccs(draw) -> str:
    """A valid code: registration authority and kind, a region, an organisation code, check."""
    body = (draw(st.sampled_from("159")) + draw(st.sampled_from("1239"))
            + draw(st.from_regex(r"\A[0-9]{6}\Z")) + "".join(draw(st.lists(
                st.sampled_from(ALPHABET), min_size=9, max_size=9))))
    return body + uscc_std.calc_check_digit(body)


@FAST
@given(usccs(), st.sampled_from([str, str.lower, lambda c: f"  {c[:8]} {c[8:]} ",
                                 lambda c: f"{c[:2]}-{c[2:8]}-{c[8:]}"]))
def test_valid_usccs_round_trip_in_any_spelling(code, spell):
    assert uscc_problem(spell(code)) == (code, None)


@FAST
@given(usccs(), st.integers(0, 17), st.sampled_from(ALPHABET))
def test_one_wrong_character_is_caught(code, position, character):
    changed = code[:position] + character + code[position + 1:]
    if changed != code:
        assert uscc_problem(changed)[1] is not None


@FAST
@given(st.one_of(st.text(), st.from_regex(r"\A[0-9A-Z -]{16,20}\Z"), usccs().map(lambda c: c[:17])))
@example("")
@example("9133050" + "2MA00000O1X")
def test_any_text_gets_a_code_or_a_message(text):
    code, problem = uscc_problem(text)
    if problem is None:
        assert uscc_std.is_valid(code) and len(code) == 18 and code == code.upper()
    else:
        assert isinstance(problem, str) and "统一社会信用代码" in problem


@pytest.mark.parametrize("text, message", [
    ("", "请输入统一社会信用代码"),
    ("91330502MA0000001", "应为 18 位"),
    ("91330502MA00000010X", "应为 18 位"),
    ("A1330502MA0000001X", "格式不正确"),
    ("91330502MA000000IX", "格式不正确"),  # I is not in the alphabet
])
def test_uscc_boundaries(text, message):
    assert message in uscc_problem(text)[1]


def test_a_wrong_check_character_says_so():
    code = "91330502MA0000001"
    good = code + uscc_std.calc_check_digit(code)
    bad = code + ("0" if good[-1] != "0" else "1")
    assert uscc_problem(good) == (good, None)
    assert "校验位" in uscc_problem(bad)[1]


# --- amounts in 万元, rates: Decimal, two places --------------------------------------------------

AMOUNTS = st.decimals(min_value=Decimal("0.01"), max_value=MAX_AMOUNT, places=2)


def spellings(amount: Decimal):
    """How a client may send an amount: a string in several forms, or a JSON number."""
    forms = st.sampled_from([str(amount), f"{amount:f}", f" {amount} ", f"{amount:.4f}",
                             float(amount)])
    if amount == amount.to_integral_value():
        forms = st.one_of(forms, st.just(int(amount)))
    return forms


@FAST
@given(AMOUNTS.flatmap(lambda a: st.tuples(st.just(a), spellings(a))))
def test_valid_amounts_round_trip_as_two_place_decimals(pair):
    amount, sent = pair
    value, problems = check(validation.decimal, sent, "金额", minimum=Decimal(0),
                            exclusive_minimum=True, maximum=MAX_AMOUNT)
    assert problems == [] and isinstance(value, Decimal) and value == amount
    assert value.as_tuple().exponent == -2
    field = fields.DecimalString(minimum="0.01", maximum=MAX_AMOUNT)
    loaded = field.deserialize(sent)
    assert isinstance(loaded, Decimal) and loaded == amount
    assert field._serialize(loaded, "amount_wan", {}) == f"{amount:.2f}"
    assert field.deserialize(field._serialize(loaded, "amount_wan", {})) == amount


@FAST
@given(st.one_of(ANYTHING, NUMBERISH))
@example("1e1000000")
@example("-1e999999999999999999")
@example("1e-1000000000000000000")
def test_any_amount_input_gets_a_decimal_in_range_or_a_message(value):
    result, problems = check(validation.decimal, value, "金额", minimum=Decimal("0.01"),
                             maximum=MAX_AMOUNT, required=False)
    if result is not None:
        assert problems == [] and isinstance(result, Decimal) and result.is_finite()
        assert Decimal("0.01") <= result <= MAX_AMOUNT and result.as_tuple().exponent == -2
    loaded = field_load(fields.DecimalString(minimum="0.01", maximum=MAX_AMOUNT), value)
    if loaded is not None:
        assert isinstance(loaded, Decimal) and Decimal("0.01") <= loaded <= MAX_AMOUNT
        assert loaded == loaded.quantize(Decimal("0.01"))


@pytest.mark.parametrize("sent, ok", [
    ("0.01", True), ("0.009", False), ("0", False), ("-0.01", False),
    ("10000000.00", True), ("10000000.01", False), ("1.005", False), ("1.50", True),
    ("1e2", True), ("1E+2", True), ("NaN", False), ("Infinity", False), ("", False),
    ("1e15", False), ("999999999999999", False), ("1e1000000", False), ("-1e1000000", False),
    (True, False), (1.5, True), (float("nan"), False),
])
def test_amount_boundaries(sent, ok):
    value, problems = check(validation.decimal, sent, "金额", minimum=Decimal(0),
                            exclusive_minimum=True, maximum=MAX_AMOUNT)
    assert (value is not None, bool(problems)) == (ok, not ok), (value, problems)
    loaded = field_load(fields.DecimalString(minimum="0.01", maximum=MAX_AMOUNT), sent)
    assert (loaded is not None) == ok, loaded


@pytest.mark.parametrize("sent", ["1e1000000", "9e999999999999999999", "-1e99999999"])
def test_huge_exponents_are_refused_at_once(sent):
    started = time.perf_counter()
    assert check(validation.decimal, sent, "金额")[1]
    assert check(validation.integer, sent, "期限", minimum=1, maximum=360)[1]
    assert field_load(fields.DecimalString(), sent) is None
    assert time.perf_counter() - started < 0.5


# --- integers (terms in months, stars, paging) ---------------------------------------------------


@FAST
@given(st.integers(1, 360).flatmap(lambda n: st.tuples(st.just(n), st.sampled_from(
    [n, str(n), f" {n} ", f"{n}.0", float(n)]))))
def test_valid_integers_round_trip(pair):
    number, sent = pair
    value, problems = check(validation.integer, sent, "期限", minimum=1, maximum=360)
    assert problems == [] and type(value) is int and value == number


@FAST
@given(st.one_of(ANYTHING, NUMBERISH))
@example("1e1000000")
def test_any_integer_input_gets_an_int_in_range_or_a_message(value):
    result, problems = check(validation.integer, value, "期限", minimum=1, maximum=360,
                             required=False)
    if result is not None:
        assert problems == [] and type(result) is int and 1 <= result <= 360
    for field in (fields.Int(minimum=1, maximum=360), fields.Int(strict=False)):
        loaded = field_load(field, value)
        if loaded is not None:
            assert type(loaded) is int and fields.INT32_MIN <= loaded <= fields.INT32_MAX


def test_api_integers_are_strict_in_bodies_and_32_bit():
    strict, query = fields.Int(), fields.Int(strict=False)
    assert strict.deserialize(7) == 7 and field_load(strict, "7") is None
    assert field_load(strict, 7.0) is None and field_load(strict, True) is None
    assert query.deserialize("7") == 7
    assert strict.deserialize(fields.INT32_MAX) == fields.INT32_MAX
    assert field_load(strict, fields.INT32_MAX + 1) is None
    assert field_load(strict, fields.INT32_MIN - 1) is None


# --- codes: regions, green categories, industries, enumerations ---------------------------------


def current_regions() -> list[str]:
    return sorted(code for code, info in codes._tables().regions.items() if not info.retired)


def retired_regions() -> list[str]:
    return sorted(code for code, info in codes._tables().regions.items() if info.retired)


@FAST
@given(st.data())
def test_known_codes_round_trip(data):
    region = data.draw(st.sampled_from(current_regions()))
    category = data.draw(st.sampled_from([c.code for c in codes.all_categories()]))
    pad = data.draw(st.sampled_from(["", " ", "\t", "\u3000"]))
    assert check(validation.region_code, pad + region + pad) == (region, [])
    assert check(validation.category_code, pad + category + pad) == (category, [])
    assert check(validation.region_codes, [region, region]) == ([region], [])
    assert check(validation.category_codes, [category]) == ([category], [])
    assert fields.known_region(region) is None and fields.known_category(category) is None


def test_retired_regions_are_refused_for_new_records_but_known_to_filters():
    retired = retired_regions()
    if not retired:
        pytest.skip("this python-stdnum lists no retired region")
    code = retired[0]
    assert check(validation.region_code, code)[0] is None
    assert check(validation.region_codes, [code])[0] == []
    assert fields.known_region(code) is None  # old records keep their codes


def test_region_codes_inside_the_banks_regions():
    assert check(validation.region_codes, ["330523"], within=["330500"]) == (["330523"], [])
    value, problems = check(validation.region_codes, ["110101"], within=["330500"])
    assert value == [] and "不在所属银行的服务地区内" in problems[0]


@FAST
@given(st.one_of(ANYTHING, st.from_regex(r"\A\d{1,8}\Z"), st.from_regex(r"\A[\d.]{1,8}\Z")))
@example(True)  # not a list of codes: was a TypeError in region_codes and category_codes
@example(["micro", ["small"]])  # a list is no code: was "unhashable type" in choice(s)
@example({"330523": "micro"})
def test_any_code_input_gets_a_known_code_or_a_message(value):
    region, _ = check(validation.region_code, value, required=False)
    assert region is None or (codes.region(region) and not codes.region(region).retired)
    category, _ = check(validation.category_code, value, required=False)
    assert category is None or codes.category(category)
    regions, _ = check(validation.region_codes, value, required=False)
    assert all(codes.region(r) for r in regions)
    categories, _ = check(validation.category_codes, value, required=False)
    assert all(codes.category(c) for c in categories)
    chosen, _ = check(validation.choice, value, "规模", {"micro": "微型", "small": "小型"})
    assert chosen in (None, "micro", "small")
    chosen, _ = check(validation.choices, value, "规模", {"micro": "微型", "small": "小型"},
                      required=False)
    assert set(chosen) <= {"micro", "small"}
    if isinstance(value, str):
        for validator in (fields.known_region, fields.known_category):
            try:
                validator(value)
            except ValidationError as exc:
                assert exc.messages


@FAST
@given(st.one_of(st.text(max_size=6), st.sampled_from(["C", "c", "38", "C38", "c38", " C ",
                                                         "A01", "Z", "99"])))
def test_industry_codes_normalise_to_a_section_or_division(text):
    code = codes.normalize_industry_code(text)
    assert isinstance(code, str)
    info = codes.industry(code)
    if info is not None:
        assert code == info.code and (code.isalpha() or code.isdigit())
        assert codes.industry_section(code) is not None


# --- dates ---------------------------------------------------------------------------------------


@FAST
@given(st.dates())
def test_valid_dates_round_trip(day):
    assert fields.Day().deserialize(day.isoformat()) == day
    assert fields.Day()._serialize(day, "d", {}) == day.isoformat()


@FAST
@given(st.one_of(ANYTHING, st.from_regex(r"\A\d{4}-\d{2}-\d{2}\s?\Z"), st.dates().map(str)))
@example("2025-02-29")
@example("0000-01-01")
@example("２０２５-０１-０１")
@example("2025-01-01\n")
def test_any_date_input_gets_that_date_or_a_message(value):
    day = field_load(fields.Day(), value)
    if day is not None:
        assert isinstance(day, datetime.date) and day.isoformat() == value


@pytest.mark.parametrize("text, ok", [
    ("2024-02-29", True), ("2025-02-29", False), ("2025-12-31", True), ("2025-13-01", False),
    ("0001-01-01", True), ("9999-12-31", True), ("2025-1-1", False), ("20250101", False),
    ("2025-01-01T00:00:00", False), ("2025-W01-1", False),
])
def test_date_boundaries(text, ok):
    assert (field_load(fields.Day(), text) is not None) == ok


def test_date_ranges_of_filters():
    first, last = datetime.date(1970, 1, 1), datetime.date(2999, 12, 31)
    day = fields.Day(validate=fields.day_range(first, last))
    assert day.deserialize("1970-01-01") == first and day.deserialize("2999-12-31") == last
    assert field_load(day, "1969-12-31") is None and field_load(day, "3000-01-01") is None


# --- text ----------------------------------------------------------------------------------------


@FAST
@given(ANYTHING)
def test_any_text_input_gets_clean_text_or_a_message(value):
    text, problems = check(validation.text, value, "标题", 10, required=False)
    assert isinstance(text, str)
    if not problems:
        assert len(text) <= 10 and text == text.strip()
    loaded = field_load(fields.Str(max_length=10), value)
    if loaded is not None:
        assert isinstance(loaded, str) and 1 <= len(loaded) <= 10 and loaded.strip()
        assert not fields._BAD_CHARS.search(loaded)
