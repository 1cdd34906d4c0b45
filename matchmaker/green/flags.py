"""Consistency flags (洗绿 / 漂绿 risk) shown to banks and the finance office beside a need.

Each flag explains itself in Chinese. They are screens that ask a loan officer to look closer,
never decisions: a need with flags stays open to every bank like any other.

* `industry` — the category is unlikely for the enterprise's GB/T 4754 industry
  (`data/industry_categories.tsv`: plausible categories per section and division, plus the
  projects any enterprise may run on its own premises).
* `env_credit` — the enterprise's environmental credit colour is 红 (不良) or 黑 (严重失信)
  (企业环境信用评价, 环发〔2013〕150号): green credit to it is restricted.
* `co2_outlier` — the stated annual CO2 reduction per 万元 borrowed is far above that of the
  published needs of the same category (robust z-score of the logarithm against the peers'
  median and MAD; the branch's needs when the item has too few), or, without peers, above what
  any common project type reaches per 万元.
* `description` — nothing of the category appears in the title or description: none of its
  catalog keywords and no word of its name (`classifier.Model.evidence`); what the text does
  suggest is named.

Over-claiming is the risk screened for; a reduction below the peers' is not flagged.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

import sqlalchemy as sa

from matchmaker.enums import ENV_CREDIT
from matchmaker.extensions import db
from matchmaker.green import catalog, classifier
from matchmaker.reference import codes

# Peers: other published needs of the category with a stated reduction and amount.
MIN_PEERS = 8
Z_LIMIT = 3.5  # robust z-score of log(t CO2 per 万元) above which a reduction is an outlier
MIN_RATIO_TO_MEDIAN = 5  # … and at least this many times the peers' median
# Without peers: t CO2 a year per 万元 borrowed that no common project type reaches. A 万元 buys
# about 0.25 kW of rooftop solar (≈ 0.16 t/a) or a share of a boiler retrofit (rarely > 5 t/a);
# 20 t/a per 万元 would pay back a coal boiler's whole retrofit in weeks.
ABSOLUTE_MAX_T_PER_WAN = Decimal(20)
FLAGGED_CREDIT = ("red", "black")


@dataclass(frozen=True)
class Flag:
    kind: str  # industry, env_credit, co2_outlier, description
    title: str
    detail: str
    severity: str = "warning"  # warning | danger (Bootstrap's colours)

    def as_dict(self) -> dict:
        return {"kind": self.kind, "title": self.title, "detail": self.detail,
                "severity": self.severity}


@cache
def industry_table() -> dict[str, tuple[str, ...]]:
    """Industry (section letter, division or `*`) → plausible category codes."""
    return {row["industry"]: tuple((row["categories"] or "").split())
            for row in catalog.read_tsv("industry_categories.tsv")}


def plausible_categories(industry_code: str | None) -> tuple[str, ...]:
    table = industry_table()
    found = list(table.get("*", ()))
    if industry_code:
        section = codes.industry_section(industry_code) or industry_code[:1]
        found += table.get(section, ())
        if industry_code != section:
            found += table.get(industry_code[:2], ())
    return tuple(dict.fromkeys(found))


def category_plausible(category: str, industry_code: str | None) -> bool:
    """A plausible code covers the category, or the category (a branch) covers one."""
    return any(codes.category_covers(p, category) or codes.category_covers(category, p)
               for p in plausible_categories(industry_code))


def _label(code: str) -> str:
    return f"{code} {catalog.name(code)}"


def industry_flag(need) -> Flag | None:
    enterprise = need.enterprise
    if category_plausible(need.green_category_code, enterprise.industry_code):
        return None
    industry = enterprise.industry.name if enterprise.industry else ""
    typical = [c for c in plausible_categories(enterprise.industry_code)
               if c not in industry_table().get("*", ())][:4]
    usual = ("；该行业企业通常申报 " + "、".join(_label(c) for c in typical)) if typical else ""
    return Flag(
        "industry", "分类与企业所属行业不常见",
        f"所选分类「{_label(need.green_category_code)}」很少由"
        f"「{enterprise.industry_code} {industry}」行业的企业实施{usual}。"
        "请核实项目是否由本企业实施、是否属于其主营业务，防止以非绿色项目套取绿色"
        "贷款。")


def env_credit_flag(need) -> Flag | None:
    colour = need.enterprise.env_credit
    if colour not in FLAGGED_CREDIT:
        return None
    label = ENV_CREDIT.get(colour, colour)
    meaning = "不良" if colour == "red" else "严重失信"
    return Flag(
        "env_credit", f"企业环境信用评价为{label}",
        f"该企业的企业环境信用评价为{label}（{meaning}，《企业环境信用评价办法（试行）》"
        "环发〔2013〕150号）。环境信用不良的企业申请绿色贷款存在洗绿风险，银行应从严审查"
        "或限制授信，除非资金用于整改其环境问题。", "danger")


def _peer_ratios(need, category: str) -> list[float]:
    from matchmaker.needs.models import Need

    # The ratio as a float computed by the database: converting thousands of Decimals in Python
    # was most of a need page's time.
    ratio = sa.cast(Need.co2_reduction_t, sa.Float) / sa.cast(Need.amount_wan, sa.Float)
    return list(db.session.scalars(
        sa.select(ratio)
        .where(Need.green_category_code.in_(codes.category_codes_under(category)),
               Need.id != need.id, Need.published_at.is_not(None),
               Need.co2_reduction_t > 0, Need.amount_wan > 0)))


def co2_flag(need) -> Flag | None:
    co2, amount = need.co2_reduction_t, need.amount_wan
    if not co2 or not amount or co2 <= 0 or amount <= 0:
        return None
    ratio = float(co2) / float(amount)
    category = need.green_category_code
    for group in dict.fromkeys([category, category.rsplit(".", 1)[0] if "." in category
                                else category]):
        peers = _peer_ratios(need, group)
        if len(peers) < MIN_PEERS:
            continue
        logs = [math.log10(r) for r in peers]
        median = statistics.median(logs)
        mad = statistics.median(abs(x - median) for x in logs) * 1.4826
        z = (math.log10(ratio) - median) / max(mad, 0.05)  # a floor: peers all alike
        times = ratio / 10 ** median
        if z > Z_LIMIT and times >= MIN_RATIO_TO_MEDIAN:
            return Flag(
                "co2_outlier", "预计减排量明显高于同类项目",
                f"该需求预计年减排 {co2} 吨 CO₂，相当于每万元融资 {ratio:.2f} 吨；"
                f"「{_label(group)}」类已发布的 {len(peers)} 笔需求中位数为每万元 "
                f"{10 ** median:.2f} 吨，本需求约为其 {times:.0f} 倍。请核实测算依据"
                "（可研、节能评估或第三方核算报告），防止夸大环境效益。")
        return None
    if Decimal(str(ratio)) > ABSOLUTE_MAX_T_PER_WAN:
        return Flag(
            "co2_outlier", "预计减排量明显高于常见项目",
            f"该需求预计年减排 {co2} 吨 CO₂，相当于每万元融资 {ratio:.2f} 吨，超过常见绿色项目"
            f"的水平（每万元每年通常不超过 {ABSOLUTE_MAX_T_PER_WAN} 吨；同类需求不足 "
            f"{MIN_PEERS} 笔，无法与同类比较）。请核实测算依据，防止夸大环境效益。")
    return None


def description_flag(need) -> Flag | None:
    text = "\n".join(part for part in (need.title, need.description) if part)
    model = classifier.model()
    leaves = catalog.leaves_under(need.green_category_code)
    if not leaves or model.evidence(text, leaves):
        return None
    suggestions = classifier.classify(text, limit=1)
    hint = (f"按描述内容，更可能属于「{_label(suggestions[0].code)}」。" if suggestions
            else "描述中也看不出属于哪一类绿色项目。")
    return Flag(
        "description", "描述中没有体现所选分类",
        f"需求标题和描述中找不到与「{_label(need.green_category_code)}」相关的内容（该类的"
        f"关键词或名称）。{hint}请核实资金用途是否确属所选绿色分类。")


CHECKS = (env_credit_flag, industry_flag, description_flag, co2_flag)


def flags_for(need) -> list[Flag]:
    """The consistency flags of a need, most serious first (empty: nothing to check)."""
    return [flag for check in CHECKS if (flag := check(need)) is not None]
