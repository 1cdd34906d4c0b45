"""Environmental benefit of common project types: standard coal saved and CO2 reduced a year,
and the bank's share of it by the 2013 guide.

Every coefficient is a row of `data/benefit_coefficients.tsv` (value, unit, source, year); the
formulas below name them. The methods follow 银监会《绿色信贷项目节能减排量测算指引》(2013):

* **solar** (光伏等可再生能源发电): coal saved = annual generation × the previous year's national
  thermal-power coal consumption per kWh supplied; CO2 = generation × the grid's CO2 factor.
  Without a measured generation, capacity × equivalent full-load hours.
* **boiler** (锅炉/窑炉节能改造): fuel saved = annual fuel use × (1 − η_before ÷ η_after); coal
  saved and CO2 by the fuel's standard-coal and CO2 factors.
* **waste_heat** (余热余压利用): electricity generated counts as solar does; heat recovered (GJ)
  replaces a coal-fired boiler of the stated efficiency: coal saved = heat × the heat factor ÷
  efficiency, CO2 = that coal × coal's CO2 factor.
* **emc** (合同能源管理 / 节能改造): electricity, raw coal and natural gas saved a year, each by its
  factor, added up.

The bank's share of a project's annual reduction = reduction × loan ÷ total project investment
(capped at the whole reduction); unknown investment: the whole reduction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import cache

from matchmaker import validation
from matchmaker.errors import FieldErrors
from matchmaker.green import catalog

PROJECT_TYPES = {
    "solar": "光伏等可再生能源发电",
    "boiler": "锅炉（窑炉）节能改造",
    "waste_heat": "余热余压利用",
    "emc": "合同能源管理 / 节能改造",
}
FUELS = {"coal": "原煤（吨）", "gas": "天然气（立方米）"}
# The green category each type usually belongs to (for the form's hint).
TYPE_CATEGORIES = {"solar": "3.2.2", "boiler": "1.5.1", "waste_heat": "1.5.3", "emc": "6.2.2"}
# The inputs of each type, as the need form's helper shows them: (name, label, choices or None).
INPUTS = {
    "solar": (("annual_kwh", "年发电量（kWh，已知时填写）", None),
              ("capacity_kw", "装机容量（kW，未知年发电量时填写）", None),
              ("hours", "年等效利用小时数（h，选填，默认 1000）", None)),
    "boiler": (("fuel", "改造前燃料", FUELS),
               ("fuel_before", "改造前年燃料消耗量（吨原煤或立方米天然气）", None),
               ("efficiency_before", "改造前热效率（%）", None),
               ("efficiency_after", "改造后热效率（%）", None)),
    "waste_heat": (("power_kwh", "年余热发电量（kWh）", None),
                   ("heat_gj", "年回收热量（GJ）", None),
                   ("boiler_efficiency", "被替代锅炉热效率（%，填写回收热量时必填）", None)),
    "emc": (("electricity_kwh", "年节电量（kWh）", None),
            ("coal_t", "年节约原煤（吨）", None),
            ("gas_m3", "年节约天然气（立方米）", None)),
}
MAX_QUANTITY = Decimal("1e12")  # kWh, GJ, t, m³ a year: beyond any single project
TWO = Decimal("0.01")


@dataclass(frozen=True)
class Coefficient:
    key: str
    value: Decimal
    unit: str
    name: str
    source: str
    year: str

    def as_dict(self) -> dict:
        return {"key": self.key, "value": str(self.value), "unit": self.unit, "name": self.name,
                "source": self.source, "year": self.year}


@cache
def coefficients() -> dict[str, Coefficient]:
    return {row["key"]: Coefficient(row["key"], Decimal(row["value"]), row["unit"], row["name"],
                                    row["source"], row["year"])
            for row in catalog.read_tsv("benefit_coefficients.tsv")}


def _c(key: str) -> Decimal:
    return coefficients()[key].value


@dataclass
class Estimate:
    project_type: str
    coal_saving_tce: Decimal = Decimal(0)
    co2_reduction_t: Decimal = Decimal(0)
    steps: list[str] = field(default_factory=list)  # the calculation, in Chinese
    used: list[str] = field(default_factory=list)  # keys of the coefficients used

    def add(self, coal: Decimal, co2: Decimal, step: str, *keys: str) -> None:
        self.coal_saving_tce += coal
        self.co2_reduction_t += co2
        self.steps.append(step)
        self.used.extend(k for k in keys if k not in self.used)

    def as_dict(self, loan_wan: Decimal | None = None,
                investment_wan: Decimal | None = None) -> dict:
        share = bank_share(loan_wan, investment_wan)
        return {
            "project_type": self.project_type,
            "project_type_label": PROJECT_TYPES[self.project_type],
            "coal_saving_tce": str(_round(self.coal_saving_tce)),
            "co2_reduction_t": str(_round(self.co2_reduction_t)),
            "steps": list(self.steps),
            "coefficients": [coefficients()[k].as_dict() for k in self.used],
            "bank_share": None if share is None else str(share.quantize(Decimal("0.0001"))),
            "bank_coal_saving_tce": None if share is None
            else str(_round(self.coal_saving_tce * share)),
            "bank_co2_reduction_t": None if share is None
            else str(_round(self.co2_reduction_t * share)),
        }


def _round(value: Decimal) -> Decimal:
    return value.quantize(TWO, rounding=ROUND_HALF_UP)


def _fmt(value: Decimal) -> str:
    text = f"{value:,.4f}".rstrip("0").rstrip(".")
    return text


def bank_share(loan_wan, investment_wan) -> Decimal | None:
    """The share of a project's reduction the loan finances (2013 guide): loan ÷ investment,
    at most 1; None without a loan amount; 1 when the investment is unknown."""
    if loan_wan is None or Decimal(loan_wan) <= 0:
        return None
    if investment_wan is None or Decimal(investment_wan) <= 0:
        return Decimal(1)
    return min(Decimal(1), Decimal(loan_wan) / Decimal(investment_wan))


def _quantity(errors: FieldErrors, data: dict, name: str, label: str,
              required: bool = False, maximum: Decimal = MAX_QUANTITY) -> Decimal | None:
    return validation.decimal(errors, name, data.get(name), label, minimum=Decimal(0),
                              maximum=maximum, places=4, required=required)


def _efficiency(errors: FieldErrors, data: dict, name: str, label: str) -> Decimal | None:
    value = validation.decimal(errors, name, data.get(name), label, minimum=Decimal(0),
                               exclusive_minimum=True, maximum=Decimal(100), places=2)
    return None if value is None else value / 100


def _electricity(estimate: Estimate, kwh: Decimal, what: str) -> None:
    coal = kwh * _c("power_coal_gce_per_kwh") / Decimal(1_000_000)
    co2 = kwh * _c("grid_co2_t_per_mwh") / Decimal(1000)
    estimate.add(coal, co2,
                 f"{what} {_fmt(kwh)} kWh × {_c('power_coal_gce_per_kwh')} gce/kWh = "
                 f"{_fmt(_round(coal))} 吨标准煤；× {_c('grid_co2_t_per_mwh')} tCO₂/MWh = "
                 f"{_fmt(_round(co2))} 吨 CO₂",
                 "power_coal_gce_per_kwh", "grid_co2_t_per_mwh")


def _fuel(estimate: Estimate, fuel: str, amount: Decimal, what: str) -> None:
    if fuel == "coal":
        coal = amount * _c("coal_tce_per_t")
        co2 = coal * _c("coal_co2_t_per_tce")
        estimate.add(coal, co2,
                     f"{what} {_fmt(_round(amount))} 吨原煤 × {_c('coal_tce_per_t')} = "
                     f"{_fmt(_round(coal))} 吨标准煤；× {_c('coal_co2_t_per_tce')} tCO₂/tce = "
                     f"{_fmt(_round(co2))} 吨 CO₂", "coal_tce_per_t", "coal_co2_t_per_tce")
    else:
        coal = amount * _c("gas_kgce_per_m3") / Decimal(1000)
        co2 = amount * _c("gas_co2_kg_per_m3") / Decimal(1000)
        estimate.add(coal, co2,
                     f"{what} {_fmt(_round(amount))} 立方米天然气 × "
                     f"{_c('gas_kgce_per_m3')} kgce/m³ = "
                     f"{_fmt(_round(coal))} 吨标准煤；× {_c('gas_co2_kg_per_m3')} kgCO₂/m³ = "
                     f"{_fmt(_round(co2))} 吨 CO₂", "gas_kgce_per_m3", "gas_co2_kg_per_m3")


def estimate(project_type, data: dict) -> Estimate:
    """The annual benefit of one project. Raises InvalidInput naming each bad field."""
    errors = FieldErrors()
    if project_type not in PROJECT_TYPES:
        errors.add("project_type", "请选择项目类型：" + "、".join(PROJECT_TYPES.values()))
        errors.raise_if_any()
    result = Estimate(project_type)
    if project_type == "solar":
        kwh = _quantity(errors, data, "annual_kwh", "年发电量")
        capacity = _quantity(errors, data, "capacity_kw", "装机容量")
        hours = _quantity(errors, data, "hours", "年利用小时数", maximum=Decimal(8760))
        if not errors and not kwh and not capacity:
            errors.add("annual_kwh", "请填写年发电量，或填写装机容量以估算")
        errors.raise_if_any()
        if not kwh:
            hours = hours or _c("pv_hours_per_year")
            kwh = capacity * hours
            result.steps.append(f"年发电量按装机容量估算：{_fmt(capacity)} kW × {_fmt(hours)} h "
                                f"= {_fmt(kwh)} kWh")
            if "hours" not in data or data.get("hours") in (None, ""):
                result.used.append("pv_hours_per_year")
        _electricity(result, kwh, "年发电量")
    elif project_type == "boiler":
        fuel = data.get("fuel")
        if fuel not in FUELS:
            errors.add("fuel", "请选择燃料：原煤或天然气")
        used = _quantity(errors, data, "fuel_before", "改造前年燃料消耗量", required=True)
        before = _efficiency(errors, data, "efficiency_before", "改造前热效率")
        after = _efficiency(errors, data, "efficiency_after", "改造后热效率")
        if before is not None and after is not None and after <= before:
            errors.add("efficiency_after", "改造后热效率应高于改造前")
        errors.raise_if_any()
        saved = used * (1 - before / after)
        unit = "吨" if fuel == "coal" else "立方米"
        result.steps.append(
            f"年节约燃料 = {_fmt(used)} {unit} × (1 − {_fmt(before * 100)}% ÷ "
            f"{_fmt(after * 100)}%) = {_fmt(_round(saved))} {unit}")
        _fuel(result, fuel, saved, "节约")
    elif project_type == "waste_heat":
        kwh = _quantity(errors, data, "power_kwh", "年余热发电量")
        heat = _quantity(errors, data, "heat_gj", "年回收热量")
        efficiency = None
        if data.get("heat_gj") not in (None, "") or data.get("boiler_efficiency") not in (None, ""):
            efficiency = _efficiency(errors, data, "boiler_efficiency", "被替代锅炉热效率")
        if not errors and not kwh and not heat:
            errors.add("power_kwh", "请填写年余热发电量或年回收热量")
        errors.raise_if_any()
        if kwh:
            _electricity(result, kwh, "年余热发电量")
        if heat:
            coal = heat * _c("heat_tce_per_gj") / efficiency
            co2 = coal * _c("coal_co2_t_per_tce")
            result.add(coal, co2,
                       f"年回收热量 {_fmt(heat)} GJ × {_c('heat_tce_per_gj')} tce/GJ ÷ "
                       f"{_fmt(efficiency * 100)}% = {_fmt(_round(coal))} 吨标准煤；× "
                       f"{_c('coal_co2_t_per_tce')} tCO₂/tce = {_fmt(_round(co2))} 吨 CO₂",
                       "heat_tce_per_gj", "coal_co2_t_per_tce")
    else:  # emc
        kwh = _quantity(errors, data, "electricity_kwh", "年节电量")
        coal = _quantity(errors, data, "coal_t", "年节约原煤")
        gas = _quantity(errors, data, "gas_m3", "年节约天然气")
        if not errors and not (kwh or coal or gas):
            errors.add("electricity_kwh", "请至少填写年节电量、年节约原煤或年节约天然气之一")
        errors.raise_if_any()
        if kwh:
            _electricity(result, kwh, "年节电量")
        if coal:
            _fuel(result, "coal", coal, "年节约")
        if gas:
            _fuel(result, "gas", gas, "年节约")
    return result
