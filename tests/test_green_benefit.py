"""The environmental-benefit estimator: its coefficient table, its formulas, the bank's share by
the 2013 guide, the need form's route, and standard coal financed on the office's dashboard."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from matchmaker.claims import services as claims
from matchmaker.errors import InvalidInput
from matchmaker.extensions import db
from matchmaker.green import benefit
from matchmaker.needs.models import Need
from matchmaker.office import stats
from tests.factories import login
from tests.webutil import csrf_token, text

D = Decimal


def result(project_type, **inputs) -> dict:
    return benefit.estimate(project_type, inputs).as_dict()


def field_of(project_type, **inputs) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        benefit.estimate(project_type, inputs)
    return list(caught.value.errors)


# --- the coefficient table --------------------------------------------------------------------


def test_every_coefficient_has_a_value_unit_source_and_year():
    table = benefit.coefficients()
    assert {"power_coal_gce_per_kwh", "grid_co2_t_per_mwh", "coal_tce_per_t", "gas_kgce_per_m3",
            "heat_tce_per_gj", "coal_co2_t_per_tce", "gas_co2_kg_per_m3",
            "pv_hours_per_year"} == set(table)
    for c in table.values():
        assert c.value > 0 and c.unit and c.name and c.source, c.key
        assert re.fullmatch(r"\d{4}", c.year), c.key
    assert "GB/T 2589-2020" in table["coal_tce_per_t"].source
    assert "2013" in table["power_coal_gce_per_kwh"].source
    assert "生态环境部" in table["grid_co2_t_per_mwh"].source
    # The module uses every row, and names no coefficient the table lacks.
    source = Path(benefit.__file__).read_text(encoding="utf-8")
    assert set(re.findall(r"""_c\(["'](\w+)["']\)""", source)) == set(table)


# --- the formulas -----------------------------------------------------------------------------


def test_solar_from_generation_and_from_capacity():
    measured = result("solar", annual_kwh="1000000")
    assert measured["coal_saving_tce"] == "305.50"  # 1,000,000 kWh × 305.5 gce/kWh
    assert measured["co2_reduction_t"] == "556.80"  # 1,000 MWh × 0.5568 t/MWh
    assert [c["key"] for c in measured["coefficients"]] == ["power_coal_gce_per_kwh",
                                                             "grid_co2_t_per_mwh"]
    estimated = result("solar", capacity_kw="2000")  # × 1000 h
    assert estimated["coal_saving_tce"] == "611.00" and estimated["co2_reduction_t"] == "1113.60"
    assert "pv_hours_per_year" in [c["key"] for c in estimated["coefficients"]]
    assert "2,000 kW × 1,000 h" in estimated["steps"][0]
    assert result("solar", capacity_kw="2000", hours="1100")["coal_saving_tce"] == "672.10"


def test_boiler_retrofit_on_coal_and_on_gas():
    coal = result("boiler", fuel="coal", fuel_before="1000", efficiency_before="70",
                  efficiency_after="87.5")
    # 1000 t × (1 − 70/87.5) = 200 t raw coal × 0.7143 = 142.86 tce × 2.772 = 396.01 t CO2
    assert coal["coal_saving_tce"] == "142.86" and coal["co2_reduction_t"] == "396.01"
    gas = result("boiler", fuel="gas", fuel_before="900000", efficiency_before="80",
                 efficiency_after="90")
    # 900,000 m³ × (1 − 80/90) = 100,000 m³ × 1.33 kgce = 133 tce; × 2.184 kg = 218.4 t CO2
    assert gas["coal_saving_tce"] == "133.00" and gas["co2_reduction_t"] == "218.40"


def test_waste_heat_power_and_heat():
    both = result("waste_heat", power_kwh="1000000", heat_gj="1000", boiler_efficiency="85")
    # power: 305.5 tce, 556.8 t; heat: 1000 GJ × 0.03412 ÷ 0.85 = 40.14 tce × 2.772 = 111.27 t
    assert both["coal_saving_tce"] == "345.64" and both["co2_reduction_t"] == "668.07"
    assert len(both["steps"]) == 2


def test_emc_adds_electricity_coal_and_gas_saved():
    saved = result("emc", electricity_kwh="1000000", coal_t="100", gas_m3="10000")
    # 305.5 + 71.43 + 13.3 tce; 556.8 + 198.00 + 21.84 t CO2
    assert saved["coal_saving_tce"] == "390.23" and saved["co2_reduction_t"] == "776.64"


def test_the_bank_share_follows_the_2013_guide():
    estimate = benefit.estimate("solar", {"annual_kwh": "1000000"})
    part = estimate.as_dict(D("600"), D("800"))
    assert part["bank_share"] == "0.7500"
    assert part["bank_coal_saving_tce"] == "229.13" and part["bank_co2_reduction_t"] == "417.60"
    assert estimate.as_dict(D("900"), D("800"))["bank_share"] == "1.0000"  # at most the whole
    assert estimate.as_dict(D("900"), None)["bank_share"] == "1.0000"  # investment unknown
    assert estimate.as_dict(None, D("800"))["bank_share"] is None


def test_bad_inputs_name_their_field():
    assert field_of("nuclear") == ["project_type"]
    assert field_of(None) == ["project_type"]
    assert field_of("solar") == ["annual_kwh"]
    assert field_of("solar", annual_kwh="-5") == ["annual_kwh"]
    assert field_of("solar", capacity_kw="abc") == ["capacity_kw"]
    assert field_of("solar", capacity_kw="10", hours="9000") == ["hours"]
    assert field_of("boiler", fuel="wood", fuel_before="10", efficiency_before="70",
                    efficiency_after="80") == ["fuel"]
    assert field_of("boiler", fuel="coal", fuel_before="10", efficiency_before="80",
                    efficiency_after="80") == ["efficiency_after"]
    assert field_of("boiler", fuel="coal", fuel_before="10", efficiency_before="0",
                    efficiency_after="80") == ["efficiency_before"]
    assert field_of("waste_heat", heat_gj="100") == ["boiler_efficiency"]
    assert field_of("waste_heat") == ["power_kwh"]
    assert field_of("emc") == ["electricity_kwh"]
    assert field_of("emc", gas_m3="1e13") == ["gas_m3"]


# --- the need form's route and field ----------------------------------------------------------


@pytest.mark.sqlite_only
def test_the_form_route_estimates_for_a_session_and_names_bad_fields(client, make):
    login(client, make.enterprise()[1])
    token = csrf_token(client, "/needs/new")
    page = text(client.get("/needs/new"))
    assert "环境效益测算" in page and 'data-url="/green/benefit"' in page
    assert 'data-gm-benefit-inputs="boiler"' in page and 'name="coal_saving_tce"' in page
    headers = {"X-CSRFToken": token}
    response = client.post("/green/benefit", headers=headers, json={
        "project_type": "solar", "annual_kwh": "1000000", "amount_wan": "600",
        "project_investment_wan": "800"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["co2_reduction_t"] == "556.80" and body["bank_share"] == "0.7500"
    assert body["coefficients"][0]["source"]
    bad = client.post("/green/benefit", headers=headers,
                      json={"project_type": "boiler", "fuel": "coal"})
    assert bad.status_code == 422
    assert set(bad.get_json()["errors"]) == {"fuel_before", "efficiency_before",
                                             "efficiency_after"}
    # A bad loan amount leaves the share out rather than failing the estimate.
    odd = client.post("/green/benefit", headers=headers,
                      json={"project_type": "emc", "coal_t": "10", "amount_wan": "abc"})
    assert odd.status_code == 200 and odd.get_json()["bank_share"] is None
    assert client.post("/green/benefit", json={"project_type": "emc"}).status_code == 400


@pytest.mark.sqlite_only
def test_the_estimator_route_is_401_without_a_session(client):
    token = csrf_token(client, "/login")
    response = client.post("/green/benefit", headers={"X-CSRFToken": token},
                           json={"project_type": "emc", "coal_t": "10"})
    assert response.status_code == 401


def test_standard_coal_financed_is_on_the_dashboard_by_the_loan_share(app, make, client):
    """A need stating 100 tce a year on an 800 万元 project, disbursed 600 万元: the office
    counts 75 tce a year (2013 guide), as it does the CO2."""
    bank = make.bank()
    admin = make.bank_user(bank, role="bank_admin")
    make.product(bank, admin, max_amount_wan="1000.00")
    manager = make.bank_user(bank)
    _enterprise, owner = make.enterprise()
    need = make.need(owner, amount_wan="600.00", project_investment_wan="800.00",
                     co2_reduction_t="200.00", coal_saving_tce="100.00")
    assert need.coal_saving_tce == D("100.00")
    claim = claims.grab(need.id, manager.user)
    claims.select_claim(db.session.get(Need, need.id), claim.id, owner.user)
    claims.record_event(claim, manager.user, {"type": "contacted"})
    claims.record_event(claim, manager.user, {"type": "credit_approved", "amount_wan": "600",
                                              "rate": "3.85"})
    claims.record_event(claim, manager.user, {"type": "disbursed", "amount_wan": "600"})
    summary = stats.summary(stats.Filters())
    assert summary["coal_saving_tce"] == D("75.00") and summary["co2_reduction_t"] == D("150.00")
    by_bank = stats.summary(stats.Filters(bank_id=bank.id))
    assert by_bank["coal_saving_tce"] == D("75.00")
    rows = stats.breakdown(stats.Filters(), "category")
    assert sum(r["coal_saving_tce"] for r in rows) == D("75.00")
    login(client, make.office())
    page = text(client.get("/office/dashboard"))
    assert "节约标准煤 75.00 吨/年" in page and "支持节约标准煤（吨/年）" in page
