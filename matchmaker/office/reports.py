"""The dashboard's tables — columns, Chinese headers, number formats — and their exports.

One definition serves the page, the XLSX workbook (openpyxl, one sheet per table) and the CSV
files, so the three show the same numbers: money with two places in 万元, rates as percentages
with two places, medians with one.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from matchmaker.office import stats

# kind → (XLSX number format, how the page and the CSV write it)
FORMATS = {
    "int": "#,##0",
    "money": "#,##0.00",
    "rate": "0.00%",
    "float": "0.0",
    "text": "@",
}


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    kind: str = "int"


@dataclass(frozen=True)
class Table:
    name: str  # file and sheet name
    title: str
    columns: tuple[Column, ...]


OUTCOME_COLUMNS = (
    Column("needs_posted", "发布需求数"),
    Column("amount_requested_wan", "申请金额（万元）", "money"),
    Column("needs_claimed", "获抢单需求数"),
    Column("claim_rate", "对接率", "rate"),
    Column("needs_credit_approved", "获授信需求数"),
    Column("credit_rate", "授信率", "rate"),
    Column("amount_approved_wan", "授信金额（万元）", "money"),
    Column("amount_disbursed_wan", "放款金额（万元）", "money"),
    Column("co2_reduction_t", "支持碳减排（吨/年）", "money"),
    Column("coal_saving_tce", "支持节约标准煤（吨/年）", "money"),
)

SUMMARY_ROWS = (
    Column("needs_posted", "发布需求数"),
    Column("amount_requested_wan", "申请金额（万元）", "money"),
    Column("needs_claimed", "获抢单需求数"),
    Column("claim_rate", "对接率（获抢单需求 ÷ 发布需求）", "rate"),
    Column("needs_assigned", "金融办派单需求数"),
    Column("picks_due", "到期的选定数"),
    Column("picks_contacted_on_time", "按期联系的选定数"),
    Column("contacted_on_time_rate", "按期联系率", "rate"),
    Column("needs_credit_approved", "获授信需求数"),
    Column("credit_rate", "授信率（获授信需求 ÷ 发布需求）", "rate"),
    Column("amount_approved_wan", "授信金额（万元）", "money"),
    Column("amount_disbursed_wan", "放款金额（万元）", "money"),
    Column("median_hours_to_first_claim", "首次抢单用时中位数（小时）", "float"),
    Column("median_days_to_credit", "授信用时中位数（天）", "float"),
    Column("co2_reduction_t", "支持碳减排（吨/年，按银行贷款份额）", "money"),
    Column("coal_saving_tce", "支持节约标准煤（吨/年，按银行贷款份额）", "money"),
)

BREAKDOWN_TITLES = {"category": "按绿色产业大类", "region": "按地区", "month": "按月份",
                    "industry": "按国民经济行业门类",
                    "category2024": "按绿色低碳转型产业大类（2024）"}
BREAKDOWN_KEY_HEADERS = {"category": "绿色产业大类", "region": "地区", "month": "月份",
                         "industry": "行业门类", "category2024": "2024 目录大类"}

BANK_COLUMNS = (
    Column("bank_name", "银行", "text"),
    Column("grabs", "抢单数"),
    Column("assigned", "派单数"),
    Column("median_hours_to_grab", "抢单用时中位数（小时）", "float"),
    Column("picks", "被选定数"),
    Column("contacted_on_time_rate", "按期联系率", "rate"),
    Column("credit_approved", "授信笔数"),
    Column("credit_rate", "授信率（授信 ÷ 抢单与派单）", "rate"),
    Column("amount_approved_wan", "授信金额（万元）", "money"),
    Column("amount_disbursed_wan", "放款金额（万元）", "money"),
    Column("average_rating", "企业平均评分", "float"),
    Column("ratings", "评分数"),
)


def breakdown_table(by: str) -> Table:
    return Table(f"breakdown_{by}", BREAKDOWN_TITLES[by],
                 (Column("label", BREAKDOWN_KEY_HEADERS[by], "text"), *OUTCOME_COLUMNS))


BANK_TABLE = Table("banks", "银行排行", BANK_COLUMNS)
SUMMARY_TABLE = Table("summary", "关键指标", (Column("label", "指标", "text"),
                                          Column("value", "数值", "text")))
TABLE_NAMES = ("summary", *(f"breakdown_{by}" for by in stats.BREAKDOWNS), "banks")


def display(value, kind: str) -> str:
    """How the page and the CSV write a value."""
    if value is None:
        return "—" if kind != "text" else ""
    if kind == "rate":
        return f"{Decimal(value) * 100:.2f}%"
    if kind == "money":
        return f"{Decimal(value):,.2f}"
    if kind == "float":
        return f"{float(value):.1f}" if not isinstance(value, Decimal) else f"{value:.2f}"
    if kind == "int":
        return f"{int(value):,}"
    return str(value)


def summary_rows(summary: dict) -> list[dict]:
    return [{"key": column.key, "label": column.header, "kind": column.kind,
             "raw": summary.get(column.key),
             "value": display(summary.get(column.key), column.kind)} for column in SUMMARY_ROWS]


@dataclass
class Report:
    """Every table of the dashboard for one set of filters."""

    filters: stats.Filters
    summary: dict
    breakdowns: dict[str, list[dict]]
    banks: list[dict]

    @classmethod
    def build(cls, filters: stats.Filters) -> Report:
        banks = stats.banks(filters)
        picks = (sum(row["picks_due"] for row in banks),
                 sum(row["picks_contacted_on_time"] for row in banks))
        return cls(filters, stats.summary(filters, picks), stats.breakdowns(filters), banks)

    def table(self, name: str) -> tuple[Table, list[dict]]:
        if name == "summary":
            return SUMMARY_TABLE, [{"label": r["label"], "value": r["value"]}
                                   for r in summary_rows(self.summary)]
        if name == "banks":
            return BANK_TABLE, self.banks
        if name.startswith("breakdown_") and name[10:] in self.breakdowns:
            return breakdown_table(name[10:]), self.breakdowns[name[10:]]
        raise KeyError(name)


def filters_text(filters: stats.Filters) -> str:
    from matchmaker import enums
    from matchmaker.reference.codes import category_label, region_label

    parts = [f"期间：{filters.start or '不限'} 至 {filters.end or '不限'}（按发布日期，北京时间）"]
    if filters.region_code:
        parts.append(f"地区：{region_label(filters.region_code)}")
    if filters.category:
        parts.append(f"绿色产业大类：{category_label(filters.category)}")
    if filters.bank_id:
        from matchmaker.banks.models import Bank
        from matchmaker.extensions import db

        bank = db.session.get(Bank, filters.bank_id)
        parts.append(f"银行：{bank.name if bank else filters.bank_id}")
    if filters.size:
        parts.append(f"企业规模：{enums.ENTERPRISE_SIZES.get(filters.size, filters.size)}")
    return "；".join(parts)


def to_csv(report: Report, name: str) -> bytes:
    """One table as CSV, UTF-8 with a byte-order mark so that Excel reads the Chinese."""
    table, rows = report.table(name)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([column.header for column in table.columns])
    for row in rows:
        writer.writerow([_csv_value(row.get(c.key), c.kind) for c in table.columns])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _csv_value(value, kind: str) -> str:
    if value is None:
        return ""
    if kind == "money":
        return f"{Decimal(value):.2f}"
    if kind == "int":
        return str(int(value))
    return display(value, kind)


def to_xlsx(report: Report) -> bytes:
    workbook = Workbook()
    workbook.remove(workbook.active)
    header_font = Font(bold=True, color="FFFFFF")
    header_fill = PatternFill("solid", fgColor="198754")
    for name in TABLE_NAMES:
        table, rows = report.table(name)
        sheet = workbook.create_sheet(table.title[:31])
        sheet.append([filters_text(report.filters)])
        sheet.append([column.header for column in table.columns])
        for cell in sheet[2]:
            cell.font, cell.fill = header_font, header_fill
            cell.alignment = Alignment(horizontal="center", wrap_text=True)
        if name == "summary":
            for item in summary_rows(report.summary):
                sheet.append([item["label"], _xlsx_value(item["raw"], item["kind"])])
                sheet.cell(sheet.max_row, 2).number_format = FORMATS[item["kind"]]
        else:
            for row in rows:
                sheet.append([_xlsx_value(row.get(c.key), c.kind) for c in table.columns])
                for index, column in enumerate(table.columns, start=1):
                    sheet.cell(sheet.max_row, index).number_format = FORMATS[column.kind]
        for index, column in enumerate(table.columns, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = max(
                12, min(40, len(column.header) * 2 + 2))
        sheet.freeze_panes = "A3"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _xlsx_value(value, kind: str):
    if value is None:
        return None
    if kind in ("money", "rate"):
        return Decimal(value)
    if kind == "float":
        return float(value)
    return value


def chart_data(report: Report) -> dict:
    """What the charts draw (static/js/dashboard.js), from the same rows as the tables."""
    months = report.breakdowns["month"]
    return {
        "trend": {
            "categories": [r["key"] for r in months],
            "series": [
                {"name": "发布需求", "type": "bar", "data": [r["needs_posted"] for r in months]},
                {"name": "获抢单", "type": "bar", "data": [r["needs_claimed"] for r in months]},
                {"name": "获授信", "type": "bar",
                 "data": [r["needs_credit_approved"] for r in months]},
                {"name": "对接率（%）", "type": "line", "yAxisIndex": 1,
                 "data": [_percent(r["claim_rate"]) for r in months]},
            ],
        },
        **{by: {
            "categories": [r["label"] for r in report.breakdowns[by]],
            "series": [
                {"name": "申请金额（万元）", "type": "bar",
                 "data": [float(r["amount_requested_wan"]) for r in report.breakdowns[by]]},
                {"name": "授信金额（万元）", "type": "bar",
                 "data": [float(r["amount_approved_wan"]) for r in report.breakdowns[by]]},
            ],
        } for by in ("category", "region", "industry", "category2024")},
    }


def _percent(rate) -> float | None:
    return None if rate is None else float(rate * 100)
