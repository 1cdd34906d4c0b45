"""Demo and template data: banks, loan-product templates, enterprise and need templates.

Pure data (no database, no Flask), importable anywhere. The product templates are modelled on the
real products of DOMAIN.md section 6 and the category hints of section 2; `product_form_data()`
returns one as the fields of the product form / `POST /api/v1/products`, so the product form can
offer them as a starting point.

Money is in 万元 (`Decimal` with two places), rates in % a year, terms in months. Category codes
are 2019 catalog codes (a code covers its descendants, "4.1" covers "4.1.4"); collateral, sizes,
environmental credit, purposes and bank kinds are the stable codes of `matchmaker.enums`.
`template_problems()` checks all of this against the shipped reference files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

D = Decimal

# The fixed "now" of the demo: every timestamp is placed relative to it, never to the clock, so
# that two runs give identical rows. A Friday, 08:00 in Beijing.
REFERENCE_TIME = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
RANDOM_SEED = 20181018  # 绿贷通 went online in October 2018

DEMO_EMAIL_DOMAIN = "demo.greenmatch.cn"
DEMO_PASSWORD = "GreenMatch-2026"  # noqa: S105  (published on purpose: demo accounts only)

# One fixed login per role: (role, e-mail). The organisation each belongs to is chosen by the seed.
DEMO_LOGINS = (
    ("office", f"office@{DEMO_EMAIL_DOMAIN}"),
    ("admin", f"admin@{DEMO_EMAIL_DOMAIN}"),
    ("bank_admin", f"bankadmin@{DEMO_EMAIL_DOMAIN}"),
    ("bank_manager", f"manager@{DEMO_EMAIL_DOMAIN}"),
    ("enterprise", f"enterprise@{DEMO_EMAIL_DOMAIN}"),
)

# --- places ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class County:
    code: str
    name: str  # 安吉县
    short: str  # 安吉
    towns: tuple[str, ...]
    weight: float  # share of the city's enterprises


CITY_CODE = "330500"
CITY_NAME = "湖州市"
CITY_SHORT = "湖州"
CITY_COUNTIES = (
    County("330502", "吴兴区", "吴兴",
           ("织里镇", "八里店镇", "东林镇", "妙西镇", "埭溪镇", "道场乡", "月河街道"), 24),
    County("330503", "南浔区", "南浔",
           ("练市镇", "双林镇", "菱湖镇", "和孚镇", "善琏镇", "旧馆街道", "南浔镇"), 18),
    County("330521", "德清县", "德清",
           ("武康街道", "新市镇", "乾元镇", "洛舍镇", "钟管镇", "莫干山镇", "禹越镇"), 18),
    County("330522", "长兴县", "长兴",
           ("雉城街道", "泗安镇", "和平镇", "李家巷镇", "煤山镇", "夹浦镇", "林城镇"), 22),
    County("330523", "安吉县", "安吉",
           ("递铺街道", "孝丰镇", "天荒坪镇", "梅溪镇", "天子湖镇", "鄣吴镇", "溪龙乡"), 18),
)

PROVINCE_CODE = "330000"
PROVINCE_NAME = "浙江省"
# Prefectures (3301…3311): short name, telephone area code, share of the province's enterprises.
PREFECTURES = {
    "330100": ("杭州", "0571", 20),
    "330200": ("宁波", "0574", 16),
    "330300": ("温州", "0577", 12),
    "330400": ("嘉兴", "0573", 8),
    "330500": ("湖州", "0572", 7),
    "330600": ("绍兴", "0575", 9),
    "330700": ("金华", "0579", 9),
    "330800": ("衢州", "0570", 4),
    "330900": ("舟山", "0580", 2),
    "331000": ("台州", "0576", 9),
    "331100": ("丽水", "0578", 4),
}

ROADS = ("人民路", "解放路", "工业大道", "开发区大道", "凤凰路", "青年路", "振兴路", "兴业路",
         "创业大道", "环城北路", "迎宾大道", "滨湖路", "科技路", "纬三路", "经一路", "园区大道",
         "绿色大道", "竹海路", "太湖路", "商贸路")

# --- people ------------------------------------------------------------------------------------

SURNAMES = ("沈", "钱", "王", "陈", "张", "李", "吴", "周", "徐", "朱", "杨", "金", "胡", "俞",
            "姚", "潘", "陆", "费", "施", "蒋", "闵", "孙", "赵", "刘", "黄", "郑", "方", "章",
            "叶", "邱", "唐", "高", "严", "许", "邵", "丁", "范", "汪", "顾", "褚")
GIVEN_NAMES = ("建国", "建华", "伟", "芳", "丽", "军", "敏", "静", "强", "磊", "洋", "艳", "勇",
               "杰", "娟", "涛", "明", "超", "秀英", "霞", "平", "刚", "晓峰", "海峰", "志强",
               "红梅", "国庆", "卫东", "雪芳", "丽华", "建明", "永林", "国良", "金龙", "伟民",
               "林峰", "佳", "欣怡", "浩", "宇", "晨", "婷", "晓燕", "文斌", "一鸣", "志明", "俊杰",
               "海燕", "春燕", "荣华", "利民", "德明", "冬梅", "新华", "跃进", "丹", "琳", "斌",
               "鑫", "亮")
MOBILE_PREFIXES = ("139", "138", "137", "135", "136", "158", "159", "150", "151", "152", "187",
                   "188", "180", "181", "189", "133", "153", "177", "199")

# 字号 (trade names) are two characters, one from each list.
TRADE_NAME_FIRST = ("绿", "恒", "华", "天", "金", "鑫", "宏", "永", "盛", "新", "昌", "泰", "瑞",
                    "嘉", "明", "正", "兴", "隆", "富", "丰", "诚", "信", "康", "安", "佳", "利",
                    "源", "鸿", "凯", "德", "远", "博", "中", "浩", "海", "东", "大", "顺", "万",
                    "宝", "汇", "通", "联", "创", "森", "竹", "青", "林", "春", "晨", "翔", "越",
                    "美", "益", "旺", "庆", "立", "荣", "达", "苕", "龙", "峰", "山", "溪", "禾")
TRADE_NAME_SECOND = ("源", "达", "泰", "盛", "丰", "华", "鑫", "隆", "通", "昌", "诚", "益", "森",
                     "禾", "康", "和", "宇", "峰", "润", "晟", "邦", "锦", "辉", "创", "瑞", "安",
                     "欣", "成", "业", "茂", "嘉", "澜", "川", "桥", "林", "舟", "蓝", "悦", "航",
                     "远", "信", "升", "兴", "德", "美", "阳", "新", "跃", "祥", "恒", "力", "凯")

# --- banks -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BankSpec:
    name: str
    kind: str  # matchmaker.enums.BANK_KINDS
    brand: str  # what a branch name starts with: 中国工商银行 → 中国工商银行安吉支行
    counties: tuple[str, ...] | None = None  # None: the whole city


# The banks of a 湖州-like city (35, as 绿贷通 had at launch): real names of real kinds.
CITY_BANKS = (
    BankSpec("国家开发银行浙江省分行", "policy", "国家开发银行"),
    BankSpec("中国农业发展银行湖州市分行", "policy", "中国农业发展银行"),
    BankSpec("中国进出口银行浙江省分行", "policy", "中国进出口银行"),
    BankSpec("中国工商银行湖州分行", "state_owned", "中国工商银行"),
    BankSpec("中国农业银行湖州分行", "state_owned", "中国农业银行"),
    BankSpec("中国银行湖州市分行", "state_owned", "中国银行"),
    BankSpec("中国建设银行湖州分行", "state_owned", "中国建设银行"),
    BankSpec("交通银行湖州分行", "state_owned", "交通银行"),
    BankSpec("中国邮政储蓄银行湖州市分行", "state_owned", "中国邮政储蓄银行"),
    BankSpec("兴业银行湖州分行", "joint_stock", "兴业银行"),
    BankSpec("浙商银行湖州分行", "joint_stock", "浙商银行"),
    BankSpec("招商银行湖州分行", "joint_stock", "招商银行"),
    BankSpec("中信银行湖州分行", "joint_stock", "中信银行"),
    BankSpec("中国光大银行湖州分行", "joint_stock", "中国光大银行"),
    BankSpec("华夏银行湖州分行", "joint_stock", "华夏银行"),
    BankSpec("中国民生银行湖州分行", "joint_stock", "中国民生银行"),
    BankSpec("上海浦东发展银行湖州分行", "joint_stock", "上海浦东发展银行"),
    BankSpec("平安银行湖州分行", "joint_stock", "平安银行"),
    BankSpec("广发银行湖州分行", "joint_stock", "广发银行"),
    BankSpec("湖州银行", "city_commercial", "湖州银行"),
    BankSpec("杭州银行湖州分行", "city_commercial", "杭州银行"),
    BankSpec("宁波银行湖州分行", "city_commercial", "宁波银行"),
    BankSpec("浙江泰隆商业银行湖州分行", "city_commercial", "浙江泰隆商业银行"),
    BankSpec("浙江稠州商业银行湖州分行", "city_commercial", "浙江稠州商业银行"),
    BankSpec("浙江民泰商业银行湖州分行", "city_commercial", "浙江民泰商业银行"),
    BankSpec("台州银行湖州分行", "city_commercial", "台州银行"),
    BankSpec("湖州吴兴农村商业银行", "rural_commercial", "湖州吴兴农村商业银行", ("330502",)),
    BankSpec("浙江南浔农村商业银行", "rural_commercial", "浙江南浔农村商业银行", ("330503",)),
    BankSpec("浙江德清农村商业银行", "rural_commercial", "浙江德清农村商业银行", ("330521",)),
    BankSpec("浙江长兴农村商业银行", "rural_commercial", "浙江长兴农村商业银行", ("330522",)),
    BankSpec("浙江安吉农村商业银行", "rural_commercial", "浙江安吉农村商业银行", ("330523",)),
    BankSpec("浙江德清湖商村镇银行", "village", "浙江德清湖商村镇银行", ("330521",)),
    BankSpec("浙江长兴联合村镇银行", "village", "浙江长兴联合村镇银行", ("330522",)),
    BankSpec("浙江安吉交银村镇银行", "village", "浙江安吉交银村镇银行", ("330523",)),
    BankSpec("浙江网商银行", "other", "浙江网商银行"),
)
# The bank of the demo manager and bank-admin logins: a local bank with many products.
FEATURED_BANK = "湖州银行"

# Province scale: banks with province-wide or prefecture-wide coverage (None: whole province).
PROVINCE_BANKS = (
    BankSpec("国家开发银行浙江省分行", "policy", "国家开发银行"),
    BankSpec("中国农业发展银行浙江省分行", "policy", "中国农业发展银行"),
    BankSpec("中国进出口银行浙江省分行", "policy", "中国进出口银行"),
    BankSpec("中国工商银行浙江省分行", "state_owned", "中国工商银行"),
    BankSpec("中国农业银行浙江省分行", "state_owned", "中国农业银行"),
    BankSpec("中国银行浙江省分行", "state_owned", "中国银行"),
    BankSpec("中国建设银行浙江省分行", "state_owned", "中国建设银行"),
    BankSpec("交通银行浙江省分行", "state_owned", "交通银行"),
    BankSpec("中国邮政储蓄银行浙江省分行", "state_owned", "中国邮政储蓄银行"),
    BankSpec("浙商银行", "joint_stock", "浙商银行"),
    BankSpec("兴业银行杭州分行", "joint_stock", "兴业银行"),
    BankSpec("招商银行杭州分行", "joint_stock", "招商银行"),
    BankSpec("中信银行杭州分行", "joint_stock", "中信银行"),
    BankSpec("上海浦东发展银行杭州分行", "joint_stock", "上海浦东发展银行"),
    BankSpec("中国民生银行杭州分行", "joint_stock", "中国民生银行"),
    BankSpec("中国光大银行杭州分行", "joint_stock", "中国光大银行"),
    BankSpec("华夏银行杭州分行", "joint_stock", "华夏银行"),
    BankSpec("平安银行杭州分行", "joint_stock", "平安银行"),
    BankSpec("广发银行杭州分行", "joint_stock", "广发银行"),
    BankSpec("渤海银行杭州分行", "joint_stock", "渤海银行"),
    BankSpec("恒丰银行杭州分行", "joint_stock", "恒丰银行"),
    BankSpec("浙江网商银行", "other", "浙江网商银行"),
    BankSpec("杭州银行", "city_commercial", "杭州银行", ("330100", "330400", "330600", "330500")),
    BankSpec("宁波银行", "city_commercial", "宁波银行", ("330200", "330100", "330600", "331000")),
    BankSpec("温州银行", "city_commercial", "温州银行", ("330300", "330100", "331000")),
    BankSpec("嘉兴银行", "city_commercial", "嘉兴银行", ("330400", "330100", "330500")),
    BankSpec("湖州银行", "city_commercial", "湖州银行", ("330500", "330100", "330400")),
    BankSpec("绍兴银行", "city_commercial", "绍兴银行", ("330600", "330100", "330200")),
    BankSpec("金华银行", "city_commercial", "金华银行", ("330700", "330100", "331100")),
    BankSpec("台州银行", "city_commercial", "台州银行",
             ("331000", "330100", "330200", "330300", "330500")),
    BankSpec("浙江泰隆商业银行", "city_commercial", "浙江泰隆商业银行",
             ("331000", "330100", "330200", "330300", "330700", "331100")),
    BankSpec("浙江民泰商业银行", "city_commercial", "浙江民泰商业银行",
             ("331000", "330100", "330300", "330700", "330800")),
    BankSpec("浙江稠州商业银行", "city_commercial", "浙江稠州商业银行",
             ("330700", "330100", "330600", "330800", "330900")),
)
# Village banks of the province (real ones), by county.
PROVINCE_VILLAGE_BANKS = (
    BankSpec("浙江德清湖商村镇银行", "village", "浙江德清湖商村镇银行", ("330521",)),
    BankSpec("浙江长兴联合村镇银行", "village", "浙江长兴联合村镇银行", ("330522",)),
    BankSpec("浙江安吉交银村镇银行", "village", "浙江安吉交银村镇银行", ("330523",)),
    BankSpec("浙江平湖工银村镇银行", "village", "浙江平湖工银村镇银行", ("330482",)),
    BankSpec("浙江嘉善联合村镇银行", "village", "浙江嘉善联合村镇银行", ("330421",)),
    BankSpec("浙江温岭联合村镇银行", "village", "浙江温岭联合村镇银行", ("331081",)),
    BankSpec("浙江三门银座村镇银行", "village", "浙江三门银座村镇银行", ("331022",)),
    BankSpec("浙江玉环永兴村镇银行", "village", "浙江玉环永兴村镇银行", ("331083",)),
    BankSpec("浙江苍南建信村镇银行", "village", "浙江苍南建信村镇银行", ("330327",)),
    BankSpec("浙江乐清联合村镇银行", "village", "浙江乐清联合村镇银行", ("330382",)),
)
# Rural commercial banks whose real name differs from the "浙江{county}农村商业银行" pattern.
RURAL_BANK_NAMES = {
    ("330102", "330105", "330106", "330108"): "杭州联合农村商业银行",
    ("330109",): "浙江萧山农村商业银行",
    ("330110",): "浙江杭州余杭农村商业银行",
    ("330111",): "浙江富阳农村商业银行",
    ("330112",): "浙江临安农村商业银行",
    ("330212",): "宁波鄞州农村商业银行",
    ("330502",): "湖州吴兴农村商业银行",
    ("330503",): "浙江南浔农村商业银行",
    ("330603",): "浙江绍兴瑞丰农村商业银行",
}

# --- loan-product templates --------------------------------------------------------------------

ALL_SIZES = ("micro", "small", "medium", "large")


@dataclass(frozen=True)
class ProductTemplate:
    key: str
    name: str
    description: str  # as a bank would write it
    categories: tuple[str, ...]  # 2019 catalog codes; a code covers its descendants
    collateral: tuple[str, ...]  # accepted; "credit" means no collateral needed (accepts any)
    min_amount_wan: Decimal
    max_amount_wan: Decimal
    min_term_months: int
    max_term_months: int
    rate_min: Decimal
    rate_max: Decimal
    enterprise_sizes: tuple[str, ...]
    min_env_credit: str  # the worst colour accepted
    bank_kinds: tuple[str, ...]  # kinds of bank that publish it
    modelled_on: str  # the real product of DOMAIN.md section 6 (or the plan that names it)
    only_banks: tuple[str, ...] = ()  # brand products: bank names containing one of these

    def form_data(self) -> dict:
        """The fields of the product form and of `POST /api/v1/products`."""
        return {
            "name": self.name,
            "description": self.description,
            "green_categories": list(self.categories),
            "collateral": list(self.collateral),
            "min_amount_wan": self.min_amount_wan,
            "max_amount_wan": self.max_amount_wan,
            "min_term_months": self.min_term_months,
            "max_term_months": self.max_term_months,
            "rate_min": self.rate_min,
            "rate_max": self.rate_max,
            "enterprise_sizes": list(self.enterprise_sizes),
            "min_env_credit": self.min_env_credit,
        }


COMMERCIAL = ("state_owned", "joint_stock", "city_commercial", "rural_commercial")

PRODUCT_TEMPLATES: tuple[ProductTemplate, ...] = (
    ProductTemplate(
        "fulindai", "福林贷",
        "面向林农、家庭林场和林业专业合作社的普惠林业贷款。以村级林业合作基金提供担保，借款人以林权向"
        "合作基金反担保，整村授信、一次核定。单户额度最高20万元，授信期限3年，随借随还、按日计息；"
        "符合条件的可享受最高3个百分点的财政贴息。",
        ("4.1.4", "4.1.5", "4.1.6", "4.1.10"), ("forest_rights", "guarantee"),
        D("1.00"), D("20.00"), 3, 36, D("5.50"), D("7.20"), ("micro", "small"), "yellow",
        ("rural_commercial", "village"), "三明农商银行 福林贷（2016）"),
    ProductTemplate(
        "linquan_anjie", "林权按揭贷",
        "以林地经营权和林木所有权作抵押的中长期贷款，用于森林资源培育、林下经济和森林康养项目。"
        "贷款期限最长15年，可按年分期还款；由林权收储机构提供收储担保，发生风险时由收储机构收购处置"
        "林权，林农和林业企业无需另找担保。",
        ("4.1.4", "4.1.5", "4.1.6", "4.1.10"), ("forest_rights",),
        D("10.00"), D("500.00"), 12, 180, D("4.20"), D("6.50"), ("micro", "small", "medium"),
        "yellow", ("joint_stock", "rural_commercial", "city_commercial"),
        "兴业银行三明分行 林权按揭贷（2014）"),
    ProductTemplate(
        "linpiao", "林票质押贷",
        "以国有林场与村集体、林农合作经营形成的林票作质押，林票持有人凭林票即可申请，用于林木抚育、"
        "林下种养和生产周转。质押率最高为林票评估价值的80%，到期可凭林票收益还款。",
        ("4.1.4", "4.1.6"), ("forest_rights",),
        D("5.00"), D("300.00"), 12, 60, D("4.00"), D("6.00"), ("micro", "small", "medium"),
        "yellow", ("joint_stock", "rural_commercial"), "兴业银行三明分行 林票质押贷（2021）"),
    ProductTemplate(
        "nengxiaodai", "能效贷",
        "支持企业实施锅炉窑炉改造、电机系统能效提升、余热余压利用、绿色照明等节能改造项目。可以项目"
        "节能收益、合同能源管理未来收益权或设备作抵质押，还款计划与节能收益的回收期相匹配。",
        ("1.5", "6.2.2"), ("future_income", "receivables", "equipment"),
        D("50.00"), D("5000.00"), 12, 96, D("3.60"), D("5.50"), ("small", "medium", "large"),
        "blue", COMMERCIAL, "兴业银行、北京银行 节能贷 / 能效融资"),
    ProductTemplate(
        "jienengdai", "节能贷",
        "专为节能服务公司（ESCO）设计：以合同能源管理项目的未来收益权或应收账款质押，无需额外不动产"
        "抵押，贷款期限与节能效益分享期相匹配，最长7年。",
        ("6.2.2", "6.2.1", "1.5"), ("future_income", "receivables"),
        D("100.00"), D("5000.00"), 12, 84, D("3.70"), D("5.30"), ("small", "medium", "large"),
        "blue", ("joint_stock", "city_commercial", "state_owned"),
        "兴业银行 节能贷（合同能源管理）"),
    ProductTemplate(
        "tanxiaodai", "能源碳效贷",
        "依据工业企业能源碳效评价等级差异化定价：碳效等级越高，利率越低、额度越高，一级、二级碳效"
        "企业可采用信用方式。用于节能降碳改造、清洁生产和园区绿色升级。",
        ("1.5", "2.1", "2.3", "2.4", "6.2.1"), ("credit", "guarantee", "real_estate", "equipment"),
        D("50.00"), D("3000.00"), 6, 36, D("3.45"), D("5.20"), ("small", "medium", "large"),
        "blue", ("state_owned", "city_commercial", "rural_commercial"),
        "湖州银行业 能源碳效贷、农行湖州 绿色工业碳效贷（2021）"),
    ProductTemplate(
        "paiwuquan", "排污权质押贷款",
        "企业以依法取得并在生态环境部门登记的排污权（化学需氧量、氨氮、二氧化硫、氮氧化物排放指标）"
        "作质押，贷款额度不超过排污权评估价值的80%，期限不超过排污权有效期，用于污染治理和生产经营。"
        "存在超标排放或环境信用评价不良的企业不予受理。",
        ("6.2.5", "2.3", "2.4"), ("pollution_rights",),
        D("10.00"), D("1000.00"), 6, 36, D("3.80"), D("5.80"), ("small", "medium", "large"),
        "blue", ("rural_commercial", "state_owned", "city_commercial"),
        "农商行和国有银行 排污权质押贷款"),
    ProductTemplate(
        "tanzichan", "碳资产质押贷款",
        "以全国碳排放权交易市场配额（CEA）或国家核证自愿减排量（CCER）作质押，在人民银行征信中心"
        "动产融资统一登记公示系统办理质押登记。单笔500万元至6000万元，期限一般为1年，用于节能减排和"
        "清洁能源项目。",
        ("6.2.6", "3.2", "3.4"), ("carbon_allowance",),
        D("500.00"), D("6000.00"), 6, 24, D("3.50"), D("5.00"), ("medium", "large"), "blue",
        ("joint_stock", "state_owned"), "兴业银行（2014、2021）、农行湖北 碳资产质押贷款"),
    ProductTemplate(
        "yongnengquan", "用能权质押贷",
        "以企业通过用能权有偿使用和交易取得的用能指标作质押，盘活用能权资产，支持节能改造、产能"
        "升级和用能指标购置。",
        ("6.2.3", "1.5"), ("energy_rights",),
        D("50.00"), D("2000.00"), 12, 36, D("3.80"), D("5.60"), ("small", "medium", "large"),
        "blue", ("rural_commercial", "city_commercial", "state_owned"), "浙江 用能权质押贷款"),
    ProductTemplate(
        "kedaitong", "科贷通",
        "面向绿色低碳领域科技型中小企业的信用贷款，由政府风险补偿资金池分担风险，可采用信用、知识"
        "产权质押或担保公司保证方式，无需抵押物，用于研发投入和成果转化。",
        ("1.1", "1.2", "1.3", "1.4", "3.1", "6.1", "6.3", "6.4"), ("credit", "ip", "guarantee"),
        D("50.00"), D("1000.00"), 12, 36, D("3.85"), D("5.50"), ("micro", "small", "medium"),
        "yellow", COMMERCIAL, "江西 科贷通（20家银行）"),
    ProductTemplate(
        "yuanqudai", "园区贷",
        "支持小微企业入驻绿色低碳小微企业园购置标准厂房。园区与银行合作批量授信，以所购厂房抵押，"
        "首付比例最低30%，期限最长10年，按月等额还款。",
        ("2.1",), ("real_estate",),
        D("50.00"), D("2000.00"), 36, 120, D("4.00"), D("5.80"), ("micro", "small"), "yellow",
        ("city_commercial", "rural_commercial"), "湖州银行 园区贷"),
    ProductTemplate(
        "ditan_yuanqu", "低碳园区贷",
        "面向园区开发运营主体，支持园区循环化改造、集中治污设施、分布式能源站和一体化供能设施建设，"
        "以园区收费权、租金收入等未来收益作质押，期限最长15年。",
        ("2.1", "3.4.6", "5.4.3"), ("future_income", "real_estate", "receivables"),
        D("500.00"), D("30000.00"), 36, 180, D("3.40"), D("5.00"), ("medium", "large"), "blue",
        ("policy", "state_owned", "joint_stock"), "新余规划产品 低碳园区贷（参照园区贷）"),
    ProductTemplate(
        "nongfang_lvjian", "农房绿色建筑贷",
        "按绿色建筑星级（一星至三星）给予差异化额度和利率，支持农房、民宿和乡村经营用房按绿色建筑"
        "标准新建或节能改造，星级越高利率越优惠。",
        ("5.1.1", "5.1.2", "5.1.4", "5.1.5"), ("real_estate", "guarantee"),
        D("10.00"), D("300.00"), 12, 240, D("3.60"), D("5.20"), ("micro", "small"), "yellow",
        ("rural_commercial", "village"), "安吉农商银行 农房绿色建筑贷（2020）"),
    ProductTemplate(
        "lvse_jianzhu", "绿色建筑贷",
        "支持取得绿色建筑标识的房屋建设、超低能耗建筑、装配式建筑和既有建筑节能改造项目，按工程"
        "进度分期放款，绿色建筑星级越高利率越优惠。",
        ("5.1",), ("real_estate", "receivables", "future_income"),
        D("500.00"), D("30000.00"), 24, 120, D("3.50"), D("5.00"), ("medium", "large"), "blue",
        ("policy", "state_owned", "joint_stock", "city_commercial"), "绿色建筑贷款"),
    ProductTemplate(
        "qiangcun_guangfu", "强村光伏贷",
        "支持村集体经济组织及其合作企业建设屋顶分布式光伏，整村批量审批，以发电收益作还款来源；"
        "资料齐全次日审批、三日放款。",
        ("3.2.2",), ("future_income", "guarantee", "credit"),
        D("20.00"), D("1000.00"), 36, 120, D("3.50"), D("4.90"), ("micro", "small", "medium"),
        "yellow", ("city_commercial", "rural_commercial"), "湖州银行 强村光伏贷"),
    ProductTemplate(
        "guangfu", "分布式光伏贷",
        "支持工商业企业利用厂房屋顶、车棚建设分布式光伏电站，以电费收益权质押并追加设备抵押，期限"
        "最长10年，还款计划与发电收益相匹配。",
        ("3.2.2", "5.1.3", "3.4.6"), ("future_income", "equipment", "receivables"),
        D("50.00"), D("5000.00"), 36, 120, D("3.45"), D("4.90"), ("small", "medium", "large"),
        "blue", ("state_owned", "joint_stock", "city_commercial"), "分布式光伏项目贷款"),
    ProductTemplate(
        "shengtai_xiufu", "生态修复贷",
        "支持废弃矿山修复、土地综合整治、河湖湿地修复与生态旅游、康养产业一体化开发（EOD模式），"
        "以修复后的经营收益和土地经营权作还款保障。",
        ("4.3.6", "4.3.5", "4.3.12", "4.3.2", "4.1.10"), ("future_income", "land_rights",
            "guarantee"),
        D("300.00"), D("10000.00"), 36, 180, D("3.60"), D("5.20"), ("small", "medium", "large"),
        "blue", ("rural_commercial", "policy", "state_owned"), "安吉农商银行 生态修复贷"),
    ProductTemplate(
        "yunong_kuaidai", "裕农快贷",
        "面向农户、家庭农场和农民专业合作社的线上信用贷款，手机银行申请、系统自动审批，最高100万元，"
        "随借随还，期限最长3年。",
        ("4.1.2", "4.1.5", "4.1.8", "4.1.9", "4.1.11"), ("credit",),
        D("1.00"), D("100.00"), 1, 36, D("3.35"), D("5.50"), ("micro", "small"), "yellow",
        ("state_owned",), "建设银行 裕农快贷", only_banks=("建设银行",)),
    ProductTemplate(
        "huinong_edai", "惠农e贷",
        "面向从事绿色种养、林业经营的农户和新型农业经营主体的线上信用贷款，依托政府增信和涉农数据"
        "批量授信，最高100万元，期限最长3年。",
        ("4.1.2", "4.1.4", "4.1.5", "4.1.8", "4.1.9"), ("credit",),
        D("1.00"), D("100.00"), 1, 36, D("3.45"), D("5.50"), ("micro", "small"), "yellow",
        ("state_owned",), "农业银行 惠农e贷", only_banks=("农业银行",)),
    ProductTemplate(
        "lvkuangdai", "绿矿贷",
        "支持矿山企业开展矿山生态环境恢复、历史遗留尾矿库整治和矿产资源综合利用，以采矿权收益、"
        "设备或厂房作抵质押，按修复工程进度放款。",
        ("4.3.6", "1.7.1", "2.5.2"), ("future_income", "equipment", "real_estate", "guarantee"),
        D("200.00"), D("5000.00"), 24, 96, D("3.80"), D("5.50"), ("small", "medium", "large"),
        "blue", ("state_owned", "city_commercial", "rural_commercial"),
        "新余规划产品 绿矿贷（参照生态修复贷）"),
    ProductTemplate(
        "lvtudai", "绿土贷",
        "支持建设用地和农用地土壤污染治理、农村土地综合整治，可以土地经营权、治理后土地收益或保证"
        "方式办理。",
        ("4.3.12", "1.6.8", "1.6.11"), ("land_rights", "guarantee", "future_income"),
        D("100.00"), D("3000.00"), 24, 96, D("3.80"), D("5.50"), ("small", "medium", "large"),
        "yellow", ("rural_commercial", "state_owned", "policy"), "新余规划产品 绿土贷"),
    ProductTemplate(
        "lvshuidai", "绿水贷",
        "支持水环境综合治理、黑臭水体整治、污水处理与再生利用设施建设，可以污水处理收费权、水权或"
        "应收账款质押。",
        ("1.6.1", "1.6.2", "1.6.3", "5.3.1", "6.2.4"),
        ("water_rights", "future_income", "receivables", "guarantee"),
        D("100.00"), D("8000.00"), 24, 180, D("3.60"), D("5.20"), ("small", "medium", "large"),
        "blue", ("city_commercial", "rural_commercial", "state_owned", "policy"),
        "新余规划产品 绿水贷"),
    ProductTemplate(
        "kuainongdai", "快农贷",
        "面向从事绿色种养的小农户和家庭农场，手续简便、当天申请当天放款，可用信用、土地经营权、"
        "农产品仓单或保证方式办理。",
        ("4.1.2", "4.1.8", "4.1.9"), ("credit", "guarantee", "land_rights", "warehouse_receipt"),
        D("1.00"), D("50.00"), 3, 24, D("4.35"), D("7.00"), ("micro", "small"), "yellow",
        ("rural_commercial", "village"), "新余规划产品 快农贷（参照裕农快贷）"),
    ProductTemplate(
        "puhui_xinyong", "绿色普惠信用贷",
        "面向绿色小微企业的纯信用线上贷款，依据企业纳税、用电和环境信用数据自动审批，额度最高300万元，"
        "随借随还，按日计息。",
        ("1", "2", "3", "4.1", "5.1", "6"), ("credit",),
        D("3.00"), D("300.00"), 1, 12, D("3.65"), D("6.00"), ("micro", "small"), "blue",
        ("other", "joint_stock", "city_commercial"), "小微企业线上信用贷款"),
    ProductTemplate(
        "lvse_gongyinglian", "绿色供应链贷",
        "依托核心企业的绿色供应链，为上下游中小企业提供应收账款质押、订单融资和仓单质押，支持新能源"
        "汽车零部件、节能环保装备和光伏组件等产业链。",
        ("1.1", "1.2", "1.4", "3.1"), ("receivables", "warehouse_receipt"),
        D("50.00"), D("3000.00"), 3, 12, D("3.45"), D("5.00"), ("small", "medium", "large"),
        "blue", ("state_owned", "joint_stock", "city_commercial"), "绿色供应链金融"),
    ProductTemplate(
        "lvse_jigai", "绿色技改贷",
        "支持企业实施脱硫脱硝除尘、挥发性有机物治理、废水处理、危险废物处置和固废综合利用等清洁生产"
        "改造。环境信用评价为红色的企业仅可申请用于环境问题整改的项目。",
        ("2.2", "2.3", "2.4", "2.5", "1.5"), ("equipment", "real_estate", "guarantee"),
        D("100.00"), D("5000.00"), 12, 60, D("3.70"), D("5.50"), ("small", "medium", "large"),
        "red", ("state_owned", "city_commercial", "rural_commercial"), "清洁生产技术改造贷款"),
    ProductTemplate(
        "ziyuan_xunhuan", "资源循环贷",
        "支持废旧资源再生利用、工业固废综合利用、农业废弃物资源化、雨水回用和再制造项目，以设备抵押"
        "或应收账款质押办理。",
        ("1.7", "1.3", "2.5.1", "2.5.3"), ("equipment", "receivables", "real_estate"),
        D("30.00"), D("3000.00"), 12, 60, D("3.80"), D("5.60"), ("small", "medium", "large"),
        "yellow", COMMERCIAL, "资源循环利用项目贷款"),
    ProductTemplate(
        "lvse_jiaotong", "绿色交通贷",
        "支持充电换电设施、城乡公交、多式联运和绿色物流仓储设施建设运营，以收费权、运营收入作质押。",
        ("5.2", "5.1.6"), ("future_income", "receivables", "equipment"),
        D("300.00"), D("20000.00"), 36, 180, D("3.50"), D("4.90"), ("small", "medium", "large"),
        "blue", ("policy", "state_owned", "joint_stock"), "绿色交通项目贷款"),
    ProductTemplate(
        "huanjing_jichu", "环境基础设施中长期贷款",
        "政策性中长期贷款，支持污水处理、生活垃圾处理、城镇供水管网改造、集中供热清洁化和海绵城市"
        "建设等环境基础设施项目，期限最长25年。",
        ("5.3", "5.4", "5.5"), ("future_income", "guarantee"),
        D("1000.00"), D("50000.00"), 60, 300, D("3.10"), D("4.50"), ("medium", "large"), "blue",
        ("policy", "state_owned"), "国家开发银行 环境基础设施贷款"),
    ProductTemplate(
        "renju_huanjing", "农村人居环境整治贷款",
        "支持农村生活污水治理、垃圾分类处理、村庄环境综合整治和农村土地综合整治，以政府购买服务协议"
        "项下的应收账款或担保方式办理。",
        ("1.6.14", "4.3.12", "5.3.2"), ("guarantee", "receivables", "future_income"),
        D("500.00"), D("30000.00"), 60, 240, D("3.20"), D("4.60"), ("medium", "large"), "yellow",
        ("policy",), "中国农业发展银行 农村人居环境整治贷款"),
    ProductTemplate(
        "qingjie_nengyuan", "清洁能源项目贷",
        "支持光伏、风电、生物质能、热泵、储能和分布式能源等清洁能源项目建设，以项目电费收益权质押，"
        "可配套碳排放权质押增信。",
        ("3.2", "3.4"), ("future_income", "carbon_allowance", "equipment"),
        D("300.00"), D("30000.00"), 36, 180, D("3.40"), D("4.90"), ("medium", "large"), "blue",
        ("policy", "state_owned", "joint_stock", "city_commercial"), "清洁能源项目贷款"),
    ProductTemplate(
        "lvse_minsu", "绿色民宿贷",
        "支持乡村民宿、农家乐和森林康养经营户开展节能改造与绿色经营，以民宿经营权、房产或信用方式"
        "办理，额度最高300万元。",
        ("4.1.10", "5.1.5"), ("real_estate", "credit", "guarantee", "future_income"),
        D("5.00"), D("300.00"), 12, 60, D("3.90"), D("6.00"), ("micro", "small"), "yellow",
        ("rural_commercial", "village", "city_commercial"), "乡村民宿贷款"),
    ProductTemplate(
        "lvse_nongye", "绿色农业产业贷",
        "支持绿色有机农业、生态畜牧和生态渔业经营主体扩大基地、建设标准化养殖设施和尾水、粪污治理"
        "设施，可以土地经营权、设施、仓单或保证方式办理。",
        ("4.1", "2.4.4", "1.6.9"),
        ("real_estate", "land_rights", "equipment", "guarantee", "warehouse_receipt"),
        D("30.00"), D("3000.00"), 12, 60, D("3.85"), D("5.50"), ("small", "medium", "large"),
        "yellow", ("state_owned", "rural_commercial", "city_commercial", "policy"),
        "绿色农业产业贷款"),
    ProductTemplate(
        "lvse_zhizao", "绿色制造贷",
        "支持节能环保装备、新能源装备、绿色建材和新能源汽车关键零部件制造企业购置设备、扩大产能，"
        "以设备、厂房抵押或保证方式办理。",
        ("1.1", "1.2", "1.3", "1.4", "3.1"), ("equipment", "real_estate", "guarantee"),
        D("100.00"), D("10000.00"), 12, 84, D("3.50"), D("5.20"), ("small", "medium", "large"),
        "blue", COMMERCIAL, "绿色制造业中长期贷款"),
)
PRODUCT_TEMPLATES_BY_KEY = {t.key: t for t in PRODUCT_TEMPLATES}


def product_template(key: str) -> ProductTemplate:
    return PRODUCT_TEMPLATES_BY_KEY[key]


def product_form_data(key: str) -> dict:
    """A template as prefilled product-form fields (Decimal amounts and rates)."""
    return product_template(key).form_data()


def product_templates_for_bank(kind: str, name: str = "") -> list[ProductTemplate]:
    """Templates a bank of this kind (and name, for brand products) would publish."""
    return [
        t for t in PRODUCT_TEMPLATES
        if kind in t.bank_kinds and (not t.only_banks or any(b in name for b in t.only_banks))
    ]


# How many templates each kind of bank publishes (city scale), and how its terms differ.
PRODUCTS_PER_BANK = {
    "policy": (3, 4), "state_owned": (6, 9), "joint_stock": (3, 5), "city_commercial": (4, 6),
    "rural_commercial": (8, 11), "village": (2, 3), "foreign": (1, 2), "other": (1, 2),
}
# (factor on the template's maximum amount, points added to the rates)
BANK_KIND_TERMS = {
    "policy": (D("2.0"), D("-0.30")), "state_owned": (D("1.5"), D("-0.15")),
    "joint_stock": (D("1.2"), D("0.00")), "city_commercial": (D("1.0"), D("0.10")),
    "rural_commercial": (D("0.7"), D("0.30")), "village": (D("0.4"), D("0.60")),
    "foreign": (D("1.0"), D("0.20")), "other": (D("0.8"), D("0.50")),
}
# How readily a kind of bank grabs a lead (local banks are quickest).
BANK_KIND_GRAB_WEIGHT = {
    "policy": 0.6, "state_owned": 2.0, "joint_stock": 1.4, "city_commercial": 2.4,
    "rural_commercial": 3.0, "village": 1.0, "foreign": 0.5, "other": 1.0,
}

# --- enterprises and their needs ---------------------------------------------------------------

ENV_CREDIT_WEIGHTS = {"green": 14.0, "blue": 73.5, "yellow": 10.0, "red": 2.0, "black": 0.5}
# Smallest and largest amount (万元) an enterprise of each size typically asks for.
SIZE_AMOUNT_BOUNDS = {
    "micro": (D("1"), D("300")), "small": (D("10"), D("2000")),
    "medium": (D("100"), D("10000")), "large": (D("300"), D("50000")),
}
# Usual terms (months) an enterprise picks, with weights.
TERM_CHOICES = ((3, 2), (6, 4), (12, 14), (18, 3), (24, 9), (36, 9), (48, 3), (60, 5), (84, 2),
                (96, 1), (120, 2), (180, 1), (240, 1))


@dataclass(frozen=True)
class NeedTemplate:
    key: str
    titles: tuple[str, ...]  # may use {q} (the quantity) and {place}
    description: str  # as an enterprise writes it: {place} {q} {amount} {term} {collateral}
    category: str  # a third-level 2019 catalog code
    purposes: tuple[str, ...]
    collateral: tuple[tuple[str, ...], ...]  # options the enterprise may offer
    min_amount_wan: Decimal
    max_amount_wan: Decimal
    min_term_months: int
    max_term_months: int
    quantity_per_wan: float = 0.0  # {q} = amount × this, rounded (亩, 千瓦, 头, 平方米 …)
    co2_t_per_wan: float = 0.0  # expected CO2 reduction, tonnes a year per 万元 borrowed
    sizes: tuple[str, ...] = ALL_SIZES


N = NeedTemplate
NEED_TEMPLATES: tuple[NeedTemplate, ...] = (
    # Forestry and bamboo (4.1.4–4.1.6, 4.1.10)
    N("bamboo_forest", ("毛竹林抚育及林道建设资金", "{q}亩毛竹林低产林改造",
        "竹林基地扩建及采伐设备购置"),
      "我司在{place}经营毛竹林约{q}亩，计划开展竹林抚育、低产林改造和林道修建，提高毛竹产量和竹林"
      "固碳能力。现申请贷款{amount}万元，期限{term}个月，可提供{collateral}。",
      "4.1.4", ("fixed_asset", "working_capital"),
      (("forest_rights",), ("forest_rights", "guarantee"), ("guarantee",)),
      D("5"), D("500"), 12, 60, 6.0, 3.0, ("micro", "small", "medium")),
    N("understory", ("林下{q}亩黄精种植基地建设", "林下中药材（三叶青）种植项目",
        "林下生态养鸡项目流动资金"),
      "公司在{place}山林发展林下经济，计划新增林下种植面积{q}亩，购置种苗、建设滴灌和仓储设施。"
      "拟融资{amount}万元，期限{term}个月，以{collateral}作为担保方式。",
      "4.1.5", ("working_capital", "fixed_asset"),
      (("forest_rights",), ("credit",), ("forest_rights", "guarantee")),
      D("3"), D("200"), 6, 36, 3.0, 1.5, ("micro", "small", "medium")),
    N("seedlings", ("苗木花卉基地扩建", "{q}亩彩色苗木基地提升", "碳汇林种苗培育资金"),
      "我单位在{place}有苗木花卉基地{q}亩，今年计划扩建温室大棚、引进新品种并建设碳汇林种苗圃。"
      "资金缺口{amount}万元，期限{term}个月，可提供{collateral}。",
      "4.1.6", ("working_capital", "fixed_asset"),
      (("land_rights",), ("forest_rights",), ("guarantee",)),
      D("5"), D("300"), 12, 36, 4.0, 1.0, ("micro", "small", "medium")),
    N("forest_wellness", ("森林康养基地配套设施建设", "{q}亩森林游憩步道及康养设施建设",
        "竹林康养民宿集群提升改造"),
      "公司依托{place}竹林和山地资源发展森林康养，计划建设游步道、康养中心和配套设施，带动周边村民"
      "就业。项目需融资{amount}万元，期限{term}个月，可提供{collateral}。",
      "4.1.10", ("project", "fixed_asset"),
      (("forest_rights",), ("real_estate",), ("future_income", "guarantee")),
      D("50"), D("3000"), 24, 120, 0.5, 0.3, ("micro", "small", "medium")),
    # Green agriculture (4.1.2, 4.1.8, 4.1.9, 4.1.11)
    N("organic_tea", ("有机茶园{q}亩基地提升改造", "白茶基地绿色防控及加工设备购置",
        "春茶收购季流动资金"),
      "我司在{place}有茶园{q}亩，已通过绿色食品认证，计划开展有机转换、购置清洁化加工设备，并在"
      "春茶季收购鲜叶。申请贷款{amount}万元，期限{term}个月，担保方式：{collateral}。",
      "4.1.2", ("working_capital", "fixed_asset"),
      (("credit",), ("land_rights",), ("warehouse_receipt",), ("guarantee",)),
      D("5"), D("500"), 6, 36, 4.0, 0.8),
    N("organic_veg", ("绿色蔬菜基地大棚及水肥一体化建设", "{q}亩有机稻米基地建设",
        "生态果园提升改造"),
      "合作经营的{q}亩种植基地位于{place}，计划建设连栋大棚和水肥一体化设施，减少化肥农药用量。"
      "需资金{amount}万元，期限{term}个月，可提供{collateral}。",
      "4.1.2", ("fixed_asset", "working_capital"),
      (("land_rights",), ("credit",), ("guarantee",)),
      D("5"), D("300"), 6, 36, 3.0, 0.6),
    N("green_pest", ("农作物病虫害绿色防控设施购置", "生物农药和杀虫灯推广应用"),
      "为减少化学农药使用，我社计划在{place}{q}亩基地推广杀虫灯、性诱剂和生物农药，开展统防统治。"
      "申请{amount}万元，期限{term}个月，以{collateral}方式办理。",
      "4.1.11", ("working_capital",), (("credit",), ("guarantee",)),
      D("3"), D("100"), 6, 24, 8.0, 0.3, ("micro", "small")),
    N("green_livestock", ("湖羊标准化养殖场扩建（存栏{q}头）", "生态养殖场升级改造",
        "种羊引进及饲草基地建设"),
      "公司在{place}经营湖羊标准化养殖场，计划扩建羊舍、引进种羊，存栏规模达到{q}头，配套建设"
      "粪污资源化利用设施。申请贷款{amount}万元，期限{term}个月，可提供{collateral}。",
      "4.1.8", ("fixed_asset", "working_capital"),
      (("land_rights",), ("equipment", "guarantee"), ("credit",), ("real_estate",)),
      D("10"), D("1000"), 12, 60, 3.0, 0.5),
    N("manure", ("畜禽粪污资源化利用设施建设", "养殖场沼气工程及有机肥车间"),
      "养殖场位于{place}，计划建设干湿分离、沼气发酵和有机肥生产设施，实现粪污全量资源化利用。"
      "项目需融资{amount}万元，期限{term}个月，可提供{collateral}。",
      "2.4.4", ("technical_upgrade", "project"),
      (("equipment",), ("guarantee",), ("land_rights",)),
      D("30"), D("800"), 12, 60, 0.0, 2.0),
    N("green_fishery", ("生态鱼塘标准化改造（{q}亩）", "稻渔综合种养基地建设",
        "循环水养殖设施购置"),
      "我司在{place}承包鱼塘{q}亩，计划实施池塘标准化改造和循环水养殖，降低饵料和用药。"
      "需贷款{amount}万元，期限{term}个月，可以{collateral}方式担保。",
      "4.1.9", ("fixed_asset", "working_capital"),
      (("land_rights",), ("guarantee",), ("credit",)),
      D("5"), D("500"), 6, 36, 2.0, 0.4),
    N("tailwater", ("水产养殖尾水治理设施建设", "养殖尾水生态净化池建设"),
      "按照养殖尾水达标排放要求，我单位计划在{place}建设沉淀池、曝气池和生态净化塘，覆盖养殖面积"
      "{q}亩。资金需求{amount}万元，期限{term}个月，可提供{collateral}。",
      "1.6.9", ("technical_upgrade",), (("guarantee",), ("land_rights",), ("equipment",)),
      D("30"), D("300"), 12, 36, 5.0, 0.3),
    # Rural tourism and buildings (5.1.x)
    N("minsu_retrofit", ("民宿节能改造及绿色建筑提升", "乡村民宿（{q}间客房）绿色化改造"),
      "我家在{place}经营民宿，计划对{q}间客房进行保温隔热、空气源热泵和屋顶光伏改造，申报绿色建筑"
      "星级。申请贷款{amount}万元，期限{term}个月，可提供{collateral}。",
      "5.1.5", ("technical_upgrade", "fixed_asset"),
      (("real_estate",), ("credit",), ("guarantee",)),
      D("10"), D("300"), 12, 60, 0.2, 0.8, ("micro", "small")),
    N("mine_eod", ("废弃矿山生态修复与文旅开发（EOD）", "矿坑修复及生态旅游项目"),
      "公司承接{place}废弃矿山生态修复项目，修复面积约{q}亩，修复后发展矿坑公园和生态旅游，以经营"
      "收益反哺修复投入。项目融资{amount}万元，期限{term}个月，可提供{collateral}。",
      "4.3.6", ("project",), (("future_income",), ("land_rights", "guarantee"), ("guarantee",)),
      D("500"), D("10000"), 36, 180, 0.08, 0.2, ("small", "medium", "large")),
    # Energy efficiency (1.5.x)
    N("boiler_upgrade", ("燃煤锅炉改造为生物质锅炉", "{q}蒸吨锅炉节能改造", "工业窑炉能效提升改造"),
      "我司位于{place}，现有燃煤锅炉能耗偏高，计划改造为高效生物质（天然气）锅炉并加装余热回收装置，"
      "预计年节约标准煤数百吨。申请贷款{amount}万元，期限{term}个月，可提供{collateral}。",
      "1.5.1", ("technical_upgrade",),
      (("equipment",), ("real_estate",), ("future_income",), ("guarantee",)),
      D("50"), D("1500"), 12, 48, 0.02, 3.0, ("small", "medium", "large")),
    N("motor_upgrade", ("高效电机替换及电机系统能效提升", "空压机、水泵变频节能改造"),
      "公司计划将{q}台老旧电机更换为IE3及以上高效电机，并对空压机、水泵实施变频改造，预计节电15%"
      "以上。资金需求{amount}万元，期限{term}个月，担保方式：{collateral}。",
      "1.5.2", ("technical_upgrade",), (("equipment",), ("guarantee",), ("future_income",)),
      D("50"), D("800"), 12, 48, 0.6, 2.5, ("small", "medium", "large")),
    N("waste_heat", ("余热余压回收利用（余热发电）项目", "窑炉余热回收发电工程"),
      "我司在{place}的生产线有大量余热未利用，计划建设{q}千瓦余热发电机组，所发电量全部自用。"
      "项目总融资{amount}万元，期限{term}个月，可提供{collateral}。",
      "1.5.3", ("project", "technical_upgrade"),
      (("equipment",), ("future_income",), ("real_estate",)),
      D("200"), D("5000"), 24, 96, 1.2, 4.0, ("medium", "large")),
    N("energy_optimization", ("能源管理系统及能量系统优化", "全厂能量系统优化改造"),
      "为完成能耗“双控”目标，公司计划实施蒸汽管网、冷却水系统和配电系统的能量系统优化，建设能源"
      "管理中心。申请贷款{amount}万元，期限{term}个月，可提供{collateral}。",
      "1.5.4", ("technical_upgrade",), (("equipment",), ("real_estate",), ("guarantee",)),
      D("100"), D("1500"), 12, 48, 0.0, 2.5, ("small", "medium", "large")),
    N("lighting", ("厂区绿色照明改造", "{q}盏LED照明及智能控制改造"),
      "计划将厂区和仓库的传统照明更换为LED灯具并加装智能控制，共{q}盏，预计节电50%以上。"
      "需资金{amount}万元，期限{term}个月，可提供{collateral}。",
      "1.5.5", ("technical_upgrade",), (("future_income",), ("equipment",), ("credit",)),
      D("50"), D("300"), 12, 36, 25.0, 2.0, ("small", "medium", "large")),
    # Solar and clean energy (3.x)
    N("rooftop_pv", ("厂房屋顶分布式光伏电站建设（{q}千瓦）", "{q}千瓦屋顶光伏项目",
        "自发自用分布式光伏项目"),
      "我司在{place}厂区屋顶可利用面积充足，计划建设{q}千瓦分布式光伏电站，采用“自发自用、余电上网”"
      "模式。项目融资{amount}万元，期限{term}个月，可提供{collateral}。",
      "3.2.2", ("project", "fixed_asset"),
      (("future_income",), ("equipment",), ("future_income", "equipment"), ("guarantee",)),
      D("20"), D("3000"), 36, 120, 2.8, 1.8),
    N("village_pv", ("村级屋顶光伏项目（强村富民）", "{q}千瓦村集体光伏电站"),
      "我公司与{place}多个行政村合作，利用村集体用房屋顶建设{q}千瓦光伏电站，发电收益用于壮大村集体"
      "经济。申请贷款{amount}万元，期限{term}个月，可提供{collateral}。",
      "3.2.2", ("project",), (("future_income",), ("guarantee",), ("credit",)),
      D("20"), D("800"), 36, 120, 2.8, 1.8, ("micro", "small", "medium")),
    N("pv_plant", ("渔光互补光伏电站建设（{q}千瓦）", "农光互补光伏发电项目"),
      "公司在{place}建设{q}千瓦渔（农）光互补光伏电站，已取得备案和并网意见。项目融资{amount}万元，"
      "期限{term}个月，以电费收益权质押，可追加{collateral}。",
      "3.2.2", ("project",),
      (("future_income",), ("future_income", "equipment"), ("carbon_allowance",)),
      D("1000"), D("20000"), 60, 180, 2.5, 1.7, ("medium", "large")),
    N("biomass_power", ("农林生物质热电联产项目", "竹屑生物质发电机组建设"),
      "公司利用{place}及周边竹木加工剩余物和秸秆，建设生物质热电联产项目。项目融资{amount}万元，"
      "期限{term}个月，可提供{collateral}。",
      "3.2.3", ("project",), (("future_income",), ("equipment",), ("carbon_allowance",)),
      D("1000"), D("20000"), 60, 180, 0.0, 2.5, ("medium", "large")),
    N("storage", ("工商业储能电站建设（{q}千瓦时）", "用户侧储能项目"),
      "我司计划在{place}建设{q}千瓦时用户侧储能电站，通过峰谷价差和需求响应获取收益。项目融资"
      "{amount}万元，期限{term}个月，可提供{collateral}。",
      "3.4.2", ("project",), (("future_income",), ("equipment",)),
      D("500"), D("8000"), 36, 120, 2.0, 0.6, ("medium", "large")),
    N("distributed_energy", ("园区分布式能源站建设", "天然气分布式冷热电三联供项目"),
      "公司负责{place}某工业园区综合能源服务，计划建设分布式能源站，为园区企业集中供热供冷。"
      "项目融资{amount}万元，期限{term}个月，可提供{collateral}。",
      "3.4.6", ("project",), (("future_income",), ("real_estate",), ("equipment",)),
      D("500"), D("10000"), 36, 180, 0.0, 1.5, ("medium", "large")),
    N("heat_pump", ("空气源热泵集中供热改造", "热泵替代燃气锅炉项目"),
      "公司计划以空气源（水源）热泵替代现有燃气锅炉，为生产和办公集中供热。项目融资{amount}万元，"
      "期限{term}个月，可提供{collateral}。",
      "3.2.10", ("technical_upgrade", "project"), (("equipment",), ("future_income",)),
      D("300"), D("3000"), 36, 96, 0.0, 1.5, ("medium", "large")),
    N("clean_heating", ("集中供热系统清洁化改造", "城镇供热管网节能改造"),
      "公司负责{place}部分区域集中供热，计划实施热源清洁化替代和供热管网保温改造。项目融资{amount}万元，"
      "期限{term}个月，可提供{collateral}。",
      "5.4.1", ("project",), (("future_income",), ("guarantee",)),
      D("1000"), D("20000"), 60, 240, 0.0, 1.2, ("medium", "large")),
    # Clean production (2.x)
    N("dyeing_wastewater", ("印染废水深度处理及中水回用改造", "{q}吨/日废水处理设施提标改造"),
      "我司位于{place}，现有废水处理能力{q}吨/日，计划实施深度处理和中水回用改造，回用率提高到50%"
      "以上。申请贷款{amount}万元，期限{term}个月，可提供{collateral}。",
      "2.4.2", ("technical_upgrade",),
      (("equipment",), ("real_estate",), ("pollution_rights",), ("guarantee",)),
      D("100"), D("3000"), 12, 60, 1.5, 0.5, ("small", "medium", "large")),
    N("water_saving", ("生产线节水改造", "冷却水循环利用改造"),
      "为降低取水量，公司计划对生产线实施节水改造，建设冷却水循环系统，预计年节水{q}吨。"
      "资金需求{amount}万元，期限{term}个月，担保方式：{collateral}。",
      "2.4.1", ("technical_upgrade",), (("equipment",), ("real_estate",), ("credit",)),
      D("50"), D("1000"), 12, 48, 200.0, 0.2, ("small", "medium", "large")),
    N("vocs", ("挥发性有机物（VOCs）治理设施改造", "喷涂车间废气RTO焚烧装置建设",
        "低VOCs涂装线改造"),
      "根据{place}挥发性有机物综合治理要求，我司计划建设蓄热式焚烧（RTO）装置并改造涂装线，"
      "处理风量约{q}立方米/小时。申请贷款{amount}万元，期限{term}个月，可提供{collateral}。",
      "2.3.3", ("technical_upgrade",),
      (("equipment",), ("guarantee",), ("pollution_rights",), ("real_estate",), ("credit",)),
      D("30"), D("1000"), 6, 48, 150.0, 0.3),
    N("desulfurization", ("工业炉窑脱硫脱硝除尘超低排放改造", "水泥窑SCR脱硝改造"),
      "公司计划对{place}生产基地的工业炉窑实施脱硫脱硝除尘超低排放改造，满足新的排放标准。"
      "项目融资{amount}万元，期限{term}个月，可提供{collateral}。",
      "2.3.1", ("technical_upgrade",), (("equipment",), ("real_estate",), ("pollution_rights",)),
      D("200"), D("5000"), 12, 60, 0.0, 0.5, ("medium", "large")),
    N("hazardous", ("危险废物处置中心扩建", "{q}吨/年危废焚烧线建设"),
      "公司持有危险废物经营许可证，计划在{place}扩建{q}吨/年危废焚烧处置线。项目融资{amount}万元，"
      "期限{term}个月，可提供{collateral}。",
      "2.2.2", ("project",), (("equipment",), ("real_estate",), ("guarantee",)),
      D("500"), D("5000"), 24, 60, 3.0, 0.3, ("medium", "large")),
    N("substitution", ("水性涂料替代溶剂型涂料生产线改造", "无毒无害原料替代技术改造"),
      "为从源头减少有毒有害物质使用，我司计划将溶剂型涂料生产线改造为水性涂料生产线。申请贷款"
      "{amount}万元，期限{term}个月，可提供{collateral}。",
      "2.2.1", ("technical_upgrade",), (("equipment",), ("real_estate",), ("guarantee",)),
      D("100"), D("3000"), 12, 60, 0.0, 0.3, ("small", "medium", "large")),
    N("solid_waste", ("工业固废综合利用生产线", "炉渣、粉煤灰制新型建材项目"),
      "公司计划在{place}建设年处理{q}吨工业固废的综合利用生产线，产品为新型墙体材料。项目融资"
      "{amount}万元，期限{term}个月，可提供{collateral}。",
      "2.5.1", ("project", "fixed_asset"), (("equipment",), ("real_estate",), ("receivables",)),
      D("100"), D("3000"), 12, 60, 30.0, 0.6, ("small", "medium", "large")),
    N("packaging", ("包装废弃物回收处理线", "快递包装回收再生项目"),
      "我司计划新增一条包装废弃物分拣、破碎和再生造粒生产线，年处理能力{q}吨。资金需求{amount}万元，"
      "期限{term}个月，可提供{collateral}。",
      "2.5.3", ("fixed_asset",), (("equipment",), ("receivables",), ("credit",)),
      D("20"), D("1000"), 12, 48, 20.0, 0.8),
    N("tailings", ("历史遗留尾矿库整治", "尾矿库闭库及生态复绿工程"),
      "公司承担{place}历史遗留尾矿库的闭库治理和生态复绿，治理面积约{q}亩。项目融资{amount}万元，"
      "期限{term}个月，可提供{collateral}。",
      "2.5.2", ("project",), (("future_income",), ("equipment",), ("guarantee",)),
      D("300"), D("3000"), 24, 96, 0.1, 0.1, ("small", "medium", "large")),
    # Rights-based financing (6.2.x)
    N("pollution_rights", ("排污权质押融资", "排污权指标购置资金", "以排污权质押补充技改资金"),
      "公司持有{place}生态环境部门登记的化学需氧量、氨氮排污权指标，现以排污权质押申请贷款{amount}万元，"
      "期限{term}个月，用于污染治理设施运行和生产周转。",
      "6.2.5", ("working_capital", "technical_upgrade"), (("pollution_rights",),),
      D("20"), D("800"), 6, 36, 0.0, 0.0, ("small", "medium", "large")),
    N("energy_rights", ("用能权指标购置及节能改造资金", "以用能权质押融资"),
      "公司通过用能权交易取得用能指标，计划以用能权质押融资{amount}万元，期限{term}个月，用于新上"
      "节能生产线。",
      "6.2.3", ("technical_upgrade", "working_capital"), (("energy_rights",),),
      D("50"), D("1500"), 12, 36, 0.0, 1.0, ("small", "medium", "large")),
    N("carbon_pledge", ("碳排放配额质押融资", "CCER质押补充流动资金"),
      "公司为全国碳市场重点排放单位，持有碳排放配额约{q}吨，拟以配额质押融资{amount}万元，期限"
      "{term}个月，用于节能降碳改造。",
      "6.2.6", ("working_capital", "technical_upgrade"), (("carbon_allowance",),),
      D("500"), D("5000"), 6, 24, 15.0, 0.0, ("medium", "large")),
    # Energy services (6.2.x, 6.4.x)
    N("emc", ("合同能源管理项目前期投入", "{q}家客户节能改造（EMC）项目资金"),
      "我司是节能服务公司，已与{q}家企业签订合同能源管理协议，需垫资实施改造，按节能效益分享回款。"
      "申请贷款{amount}万元，期限{term}个月，以{collateral}作担保。",
      "6.2.2", ("project", "working_capital"), (("future_income",), ("receivables",)),
      D("100"), D("3000"), 12, 84, 0.02, 3.0, ("small", "medium", "large")),
    N("energy_mgmt", ("能源管理体系建设及能耗在线监测", "重点用能单位能源管理中心建设"),
      "公司计划按照GB/T 23331建设能源管理体系，并为客户部署能耗在线监测平台。申请贷款{amount}万元，"
      "期限{term}个月，可提供{collateral}。",
      "6.2.1", ("working_capital", "project"), (("future_income",), ("credit",), ("receivables",)),
      D("100"), D("800"), 12, 36, 0.0, 1.0, ("small", "medium", "large")),
    N("demand_side", ("电力需求侧管理（虚拟电厂）平台建设", "负荷聚合及需求响应服务资金"),
      "公司为{place}工业用户提供电力需求侧管理服务，计划建设负荷聚合平台参与需求响应。申请贷款"
      "{amount}万元，期限{term}个月，以{collateral}方式办理。",
      "6.2.7", ("working_capital",), (("credit",),),
      D("10"), D("300"), 6, 12, 0.0, 0.5, ("micro", "small")),
    N("energy_monitor", ("能源在线监测系统研发及推广", "能耗监测终端生产扩产"),
      "我司自主研发能源在线监测系统，已获得多项软件著作权和专利，计划扩大推广。申请贷款{amount}万元，"
      "期限{term}个月，可提供{collateral}。",
      "6.4.1", ("working_capital",), (("ip",), ("credit",), ("guarantee",)),
      D("50"), D("500"), 12, 36, 0.0, 0.0, ("micro", "small", "medium")),
    N("env_monitoring", ("企业环境监测设备与平台建设", "污染源在线监测运维服务扩容"),
      "公司为{place}企业提供污染源在线监测和运维服务，计划新增监测设备并升级数据平台。申请贷款"
      "{amount}万元，期限{term}个月，可提供{collateral}。",
      "6.4.5", ("working_capital", "fixed_asset"), (("ip",), ("credit",), ("guarantee",)),
      D("50"), D("500"), 12, 36, 0.0, 0.0, ("micro", "small", "medium")),
    # Green manufacturing (1.1–1.4, 3.1)
    N("efficient_motor", ("高效节能电机生产线技术改造", "IE4超高效电机扩产",
        "节能电机订单备货流动资金"),
      "我司专业生产高效节能电机，产品列入节能产品目录，订单增长较快，计划新增自动化生产线并备货。"
      "申请贷款{amount}万元，期限{term}个月，可提供{collateral}。",
      "1.1.8", ("technical_upgrade", "working_capital"),
      (("equipment",), ("real_estate",), ("receivables",), ("ip",)),
      D("100"), D("5000"), 6, 60, 0.0, 0.0, ("small", "medium", "large")),
    N("transformer", ("节能型变压器扩产", "非晶合金变压器生产线建设"),
      "公司主营节能型配电变压器，计划新建非晶合金变压器生产线。项目融资{amount}万元，期限{term}个月，"
      "可提供{collateral}。",
      "1.1.9", ("fixed_asset", "technical_upgrade"),
      (("equipment",), ("real_estate",), ("receivables",)),
      D("200"), D("3000"), 12, 60, 0.0, 0.0, ("small", "medium", "large")),
    N("ev_parts", ("新能源汽车动力电池扩产", "新能源汽车关键零部件生产线建设",
        "动力电池订单备货资金"),
      "我司为新能源汽车整车厂配套动力电池和关键零部件，订单饱满，计划在{place}新增生产线。申请贷款"
      "{amount}万元，期限{term}个月，可提供{collateral}。",
      "1.4.1", ("fixed_asset", "working_capital"),
      (("equipment",), ("real_estate",), ("receivables",)),
      D("300"), D("10000"), 6, 84, 0.0, 0.0, ("small", "medium", "large")),
    N("charging_mfg", ("充电桩生产线扩产", "智能充电设备研发及产业化"),
      "公司生产交直流充电桩和换电设备，计划扩大产能并开展新产品研发。申请贷款{amount}万元，期限"
      "{term}个月，可提供{collateral}。",
      "1.4.2", ("working_capital", "fixed_asset"), (("receivables",), ("ip",), ("equipment",)),
      D("100"), D("3000"), 6, 48, 0.0, 0.0, ("small", "medium", "large")),
    N("pv_mfg", ("高效光伏组件生产线技改", "光伏电池片产线升级", "光伏组件订单备货资金"),
      "我司生产高效光伏组件，计划对现有产线进行技术升级，提高转换效率和产能。申请贷款{amount}万元，"
      "期限{term}个月，可提供{collateral}。",
      "3.1.2", ("technical_upgrade", "working_capital"),
      (("equipment",), ("real_estate",), ("receivables",)),
      D("300"), D("8000"), 6, 60, 0.0, 0.0, ("small", "medium", "large")),
    N("green_material", ("绿色建材（新型墙材）生产线建设", "竹基复合建材生产线",
        "绿色建材产品认证及扩产"),
      "公司生产的新型绿色建材已取得绿色建材产品认证，计划新增生产线。项目融资{amount}万元，期限"
      "{term}个月，可提供{collateral}。",
      "1.1.14", ("fixed_asset", "technical_upgrade"), (("equipment",), ("real_estate",), ("ip",)),
      D("100"), D("5000"), 12, 60, 0.0, 0.0, ("small", "medium", "large")),
    N("env_equipment", ("水污染防治装备研发及扩产", "污水处理一体化设备生产线"),
      "我司专业制造一体化污水处理设备，产品广泛用于农村生活污水治理，计划扩大产能。申请贷款"
      "{amount}万元，期限{term}个月，可提供{collateral}。",
      "1.2.1", ("working_capital", "fixed_asset"), (("ip",), ("equipment",), ("receivables",)),
      D("50"), D("2000"), 6, 48, 0.0, 0.0, ("micro", "small", "medium", "large")),
    # Resource recycling (1.7.x, 1.3.x)
    N("waste_recycle", ("废旧资源再生利用生产线", "废旧动力电池回收利用项目",
        "再生铝（铜）回收利用扩产"),
      "公司从事废旧资源回收再生，计划在{place}新建年处理{q}吨的再生利用生产线。项目融资{amount}万元，"
      "期限{term}个月，可提供{collateral}。",
      "1.7.2", ("fixed_asset", "project"), (("equipment",), ("receivables",), ("real_estate",)),
      D("100"), D("5000"), 12, 60, 5.0, 1.5, ("small", "medium", "large")),
    N("agri_waste", ("秸秆（竹屑）生物质颗粒燃料生产线", "农业废弃物资源化利用项目"),
      "我司利用{place}竹木加工剩余物和秸秆生产生物质颗粒燃料，计划新增年产{q}吨生产线。申请贷款"
      "{amount}万元，期限{term}个月，可提供{collateral}。",
      "1.7.7", ("fixed_asset",), (("equipment",), ("receivables",)),
      D("30"), D("2000"), 12, 60, 20.0, 2.0, ("small", "medium", "large")),
    N("remanufacture", ("机电产品再制造生产线", "电机再制造产业化项目"),
      "公司开展电机、机床等机电产品再制造，计划建设再制造生产线。项目融资{amount}万元，期限{term}个月，"
      "可提供{collateral}。",
      "1.7.4", ("fixed_asset",), (("equipment",), ("real_estate",)),
      D("100"), D("3000"), 12, 60, 0.0, 1.0, ("small", "medium", "large")),
    N("rainwater", ("厂区雨水收集回用系统", "雨水收集与中水回用工程"),
      "为节约新鲜水用量，公司计划建设厂区雨水收集回用系统，年可回用雨水约{q}吨。需资金{amount}万元，"
      "期限{term}个月，可提供{collateral}。",
      "1.7.6", ("technical_upgrade",), (("equipment",), ("real_estate",)),
      D("30"), D("500"), 12, 36, 300.0, 0.1, ("small", "medium", "large")),
    N("mineral_use", ("废石尾矿综合利用（机制砂）生产线", "矿产资源综合利用技改"),
      "公司计划利用{place}矿区废石和尾矿生产机制砂和新型建材，年处理{q}吨。项目融资{amount}万元，"
      "期限{term}个月，可提供{collateral}。",
      "1.7.1", ("fixed_asset", "project"), (("equipment",), ("real_estate",), ("future_income",)),
      D("200"), D("3000"), 24, 60, 100.0, 0.2, ("small", "medium", "large")),
    N("mine_restoration", ("矿山生态环境恢复治理工程", "{q}亩露天矿山复绿工程"),
      "公司承担{place}关停矿山的生态环境恢复治理，治理面积约{q}亩，包括边坡治理、覆土复绿和排水设施。"
      "项目融资{amount}万元，期限{term}个月，可提供{collateral}。",
      "4.3.6", ("project",), (("future_income",), ("equipment",), ("guarantee",)),
      D("300"), D("5000"), 24, 96, 0.1, 0.2, ("small", "medium", "large")),
    # Buildings (5.1.x)
    N("prefab", ("装配式建筑构件生产基地", "PC预制构件生产线扩产"),
      "公司在{place}建设装配式建筑预制构件生产基地，年产能{q}立方米。项目融资{amount}万元，期限"
      "{term}个月，可提供{collateral}。",
      "5.1.4", ("fixed_asset", "project"),
      (("real_estate",), ("receivables",), ("real_estate", "equipment")),
      D("500"), D("8000"), 24, 96, 3.0, 0.3, ("medium", "large")),
    N("green_building", ("二星级绿色建筑项目开发贷款", "绿色建筑示范小区建设"),
      "公司开发的{place}住宅项目按二星级绿色建筑标准设计，总建筑面积约{q}平方米。项目融资{amount}万元，"
      "期限{term}个月，以在建工程抵押，可追加{collateral}。",
      "5.1.2", ("project",), (("real_estate",), ("receivables",)),
      D("1000"), D("20000"), 24, 60, 0.8, 0.1, ("medium", "large")),
    N("ultra_low_energy", ("超低能耗建筑示范项目", "近零能耗办公楼建设"),
      "公司在{place}建设超低能耗建筑示范项目，建筑面积约{q}平方米，采用高性能围护结构和新风热回收。"
      "项目融资{amount}万元，期限{term}个月，可提供{collateral}。",
      "5.1.1", ("project",), (("real_estate",), ("future_income",)),
      D("500"), D("10000"), 24, 96, 1.0, 0.2, ("medium", "large")),
    N("building_retrofit", ("既有厂房节能及绿色化改造", "公共建筑合同能源管理改造"),
      "计划对{place}既有建筑约{q}平方米实施外墙保温、门窗更换和空调系统节能改造。资金需求{amount}万元，"
      "期限{term}个月，可提供{collateral}。",
      "5.1.5", ("technical_upgrade",), (("real_estate",), ("receivables",), ("guarantee",)),
      D("100"), D("3000"), 12, 96, 8.0, 1.0),
    N("green_warehouse", ("绿色仓储中心建设", "节能冷链仓库及屋顶光伏建设"),
      "公司在{place}建设绿色物流仓储中心，仓库面积{q}平方米，配套屋顶光伏和节能冷库。项目融资"
      "{amount}万元，期限{term}个月，可提供{collateral}。",
      "5.1.6", ("project",), (("future_income",), ("receivables",), ("real_estate",)),
      D("300"), D("8000"), 36, 120, 5.0, 0.4, ("small", "medium", "large")),
    # Transport (5.2.x)
    N("charging", ("新能源汽车充电站建设", "{q}个公共充电桩建设运营"),
      "公司计划在{place}建设{q}个公共充电桩并负责运营，已取得场地租赁协议。项目融资{amount}万元，"
      "期限{term}个月，以充电收费权质押，可追加{collateral}。",
      "5.2.5", ("project",), (("future_income",), ("equipment",)),
      D("300"), D("3000"), 36, 96, 0.15, 1.0, ("small", "medium", "large")),
    N("multimodal", ("公铁水多式联运中转设施建设", "内河集装箱码头多式联运项目"),
      "公司在{place}建设多式联运中转设施，推动大宗货物“公转水”。项目融资{amount}万元，期限{term}个月，"
      "可提供{collateral}。",
      "5.2.3", ("project",), (("future_income",), ("receivables",)),
      D("1000"), D("20000"), 60, 180, 0.0, 0.8, ("medium", "large")),
    # Water and environment infrastructure (1.6.x, 4.3.x, 5.3.x)
    N("sewage_plant", ("乡镇污水处理厂提标改造", "{q}吨/日污水处理厂扩建"),
      "公司负责{place}污水处理厂的建设运营，计划扩建至{q}吨/日并提标至准Ⅳ类水标准。项目融资{amount}万元，"
      "期限{term}个月，可以污水处理收费权质押，并提供{collateral}。",
      "5.3.1", ("project",), (("future_income",), ("water_rights",), ("guarantee",)),
      D("500"), D("20000"), 60, 240, 0.5, 0.2, ("medium", "large")),
    N("black_odorous", ("城市黑臭水体整治工程", "河道清淤及水生态修复"),
      "公司承接{place}黑臭水体整治工程，包括截污纳管、清淤和生态修复，河道总长约{q}公里。项目融资"
      "{amount}万元，期限{term}个月，可提供{collateral}。",
      "1.6.3", ("project",), (("receivables",), ("future_income",), ("guarantee",)),
      D("300"), D("8000"), 24, 120, 0.005, 0.0, ("small", "medium", "large")),
    N("water_body", ("重点流域水环境综合治理", "太湖流域入湖河道水环境治理"),
      "公司参与{place}太湖流域水环境综合治理项目，负责入湖河道生态缓冲带和湿地净化工程。项目融资"
      "{amount}万元，期限{term}个月，可提供{collateral}。",
      "1.6.2", ("project",), (("receivables",), ("water_rights",), ("guarantee",)),
      D("500"), D("8000"), 36, 180, 0.0, 0.0, ("medium", "large")),
    N("soil_remediation", ("工业地块土壤污染修复", "关停企业遗留地块修复工程"),
      "公司承接{place}关停企业遗留地块土壤和地下水修复工程，修复面积约{q}平方米。项目融资{amount}万元，"
      "期限{term}个月，可提供{collateral}。",
      "1.6.8", ("project",), (("guarantee",), ("future_income",), ("land_rights",)),
      D("200"), D("3000"), 24, 60, 20.0, 0.0, ("small", "medium", "large")),
    N("farmland_remediation", ("受污染耕地安全利用与治理", "{q}亩耕地土壤改良项目"),
      "公司在{place}实施{q}亩受污染耕地安全利用和土壤改良，采用钝化、深翻和替代种植措施。资金需求"
      "{amount}万元，期限{term}个月，可提供{collateral}。",
      "1.6.11", ("project",), (("land_rights",), ("guarantee",)),
      D("100"), D("2000"), 24, 60, 2.0, 0.1, ("small", "medium", "large")),
    N("land_consolidation", ("农村土地综合整治项目", "全域土地综合整治与生态修复"),
      "公司参与{place}全域土地综合整治，包括农用地整理、建设用地复垦和生态修复，整治面积约{q}亩。"
      "项目融资{amount}万元，期限{term}个月，可提供{collateral}。",
      "4.3.12", ("project",), (("land_rights",), ("guarantee",), ("future_income",)),
      D("500"), D("10000"), 36, 120, 0.3, 0.1, ("medium", "large")),
    N("wetland", ("河湖湿地生态修复", "湿地公园生态保护修复工程"),
      "公司负责{place}湿地生态保护修复工程，修复湿地约{q}亩，修复后配套生态旅游经营。项目融资"
      "{amount}万元，期限{term}个月，可提供{collateral}。",
      "4.3.2", ("project",), (("future_income",), ("guarantee",), ("land_rights",)),
      D("300"), D("8000"), 36, 180, 0.2, 0.3, ("small", "medium", "large")),
    N("rural_env", ("农村生活污水治理设施运维", "美丽乡村人居环境整治工程"),
      "公司受{place}政府委托，开展农村生活污水治理设施建设运维和村庄环境整治，覆盖{q}个行政村。"
      "项目融资{amount}万元，期限{term}个月，可提供{collateral}。",
      "1.6.14", ("project",), (("receivables",), ("guarantee",), ("future_income",)),
      D("500"), D("5000"), 60, 180, 0.005, 0.0, ("medium", "large")),
    N("garbage", ("生活垃圾分类处理设施建设", "易腐垃圾资源化处理站建设"),
      "公司负责{place}生活垃圾分类处理设施建设运营，设计处理能力{q}吨/日。项目融资{amount}万元，"
      "期限{term}个月，可提供{collateral}。",
      "5.3.2", ("project",), (("future_income",), ("guarantee",), ("receivables",)),
      D("500"), D("10000"), 60, 180, 0.05, 0.8, ("medium", "large")),
    N("leak_control", ("供水管网分区计量及漏损控制改造", "老旧供水管网更新改造"),
      "公司负责{place}城乡供水，计划实施供水管网分区计量（DMA）和老旧管网更新，降低漏损率。项目融资"
      "{amount}万元，期限{term}个月，可提供{collateral}。",
      "5.3.5", ("project",), (("future_income",), ("guarantee",)),
      D("1000"), D("10000"), 60, 240, 0.0, 0.1, ("medium", "large")),
    # Green parks (2.1.x)
    N("park_circular", ("园区循环化改造", "工业园区资源综合利用改造"),
      "公司负责{place}工业园区开发运营，计划实施园区循环化改造，建设企业间物料、能源梯级利用设施。"
      "项目融资{amount}万元，期限{term}个月，可提供{collateral}。",
      "2.1.1", ("project",), (("future_income",), ("real_estate",), ("receivables",)),
      D("1000"), D("20000"), 36, 180, 0.0, 0.5, ("medium", "large")),
    N("park_treatment", ("园区污水集中处理设施建设", "园区危废和污水集中处理中心"),
      "公司计划为{place}工业集聚区建设污水集中预处理和危废暂存中心，服务园区内{q}家企业。项目融资"
      "{amount}万元，期限{term}个月，可提供{collateral}。",
      "2.1.3", ("project",), (("future_income",), ("real_estate",)),
      D("500"), D("10000"), 36, 180, 0.01, 0.2, ("medium", "large")),
    N("standard_factory", ("入驻小微企业园购置标准厂房", "购置绿色园区标准厂房{q}平方米"),
      "我司计划入驻{place}小微企业园，购置标准厂房约{q}平方米，搬迁后统一纳入园区集中治污和屋顶光伏。"
      "申请贷款{amount}万元，期限{term}个月，以所购厂房抵押。",
      "2.1.2", ("fixed_asset",), (("real_estate",),),
      D("100"), D("1500"), 36, 120, 3.0, 0.2, ("micro", "small")),
)
del N
NEED_TEMPLATES_BY_KEY = {t.key: t for t in NEED_TEMPLATES}


@dataclass(frozen=True)
class Sector:
    """A kind of enterprise: its GB/T 4754 division, name words and the needs it posts."""

    key: str
    industry_code: str
    name_words: tuple[str, ...]  # 安吉县 + 绿源 + 竹业 + 有限公司
    sizes: dict[str, float]
    needs: tuple[str, ...]  # need-template keys, in order of how often they are posted
    weight: float  # share of all enterprises
    # Region-code prefix → weight multiplier (330523 安吉, 3311 丽水 …); longest prefix wins.
    affinity: dict[str, float] = field(default_factory=dict)


SECTORS: tuple[Sector, ...] = (
    Sector("forestry", "02", ("竹业", "林业开发", "生态林业", "林业发展", "竹笋专业"),
           {"micro": 55, "small": 35, "medium": 10},
           ("bamboo_forest", "understory", "seedlings", "forest_wellness"), 6,
           {"330523": 4, "330521": 1.5, "330522": 1.5, "3311": 3, "3308": 2.5, "330127": 3}),
    Sector("bamboo", "20", ("竹木制品", "竹材科技", "竹制品", "木业", "竹炭"),
           {"micro": 25, "small": 50, "medium": 20, "large": 5},
           ("boiler_upgrade", "rooftop_pv", "agri_waste", "vocs", "green_material"), 5,
           {"330523": 5, "330503": 2, "3311": 2, "3308": 1.5}),
    Sector("furniture", "21", ("家具", "家居", "椅业", "办公家具"),
           {"micro": 20, "small": 50, "medium": 25, "large": 5},
           ("vocs", "rooftop_pv", "substitution", "standard_factory"), 4,
           {"330523": 5, "330503": 2, "330600": 1.5}),
    Sector("tea", "01", ("白茶", "茶业", "生态农业", "农业开发", "果蔬专业"),
           {"micro": 55, "small": 35, "medium": 10},
           ("organic_tea", "organic_veg", "green_pest", "village_pv"), 6,
           {"330523": 3, "330522": 1.5, "3311": 2.5, "3308": 2}),
    Sector("livestock", "03", ("湖羊养殖", "生态牧业", "畜牧", "牧业科技"),
           {"micro": 40, "small": 45, "medium": 15},
           ("green_livestock", "manure"), 3, {"330503": 3, "330502": 1.5, "330400": 1.5}),
    Sector("fishery", "04", ("水产养殖", "渔业", "生态渔业", "水产科技"),
           {"micro": 45, "small": 45, "medium": 10},
           ("green_fishery", "tailwater"), 3,
           {"330503": 3, "330521": 2.5, "330900": 3, "330400": 1.5}),
    Sector("tourism", "61", ("旅游开发", "民宿", "文化旅游", "康养", "乡村旅游"),
           {"micro": 45, "small": 40, "medium": 15},
           ("minsu_retrofit", "forest_wellness", "mine_eod", "wetland"), 5,
           {"330523": 3, "330521": 2.5, "330127": 3, "3311": 2}),
    Sector("textile", "17", ("纺织", "印染", "丝绸", "织造", "化纤"),
           {"micro": 15, "small": 45, "medium": 30, "large": 10},
           ("dyeing_wastewater", "boiler_upgrade", "rooftop_pv", "water_saving", "motor_upgrade",
            "pollution_rights"), 6,
           {"330502": 2, "330503": 2, "330600": 3, "330400": 2}),
    Sector("apparel", "18", ("服饰", "童装", "制衣"),
           {"micro": 45, "small": 45, "medium": 10},
           ("standard_factory", "rooftop_pv", "lighting", "vocs"), 4,
           {"330502": 5, "330300": 1.5, "330700": 1.5}),
    Sector("metal", "33", ("金属制品", "新材料", "不锈钢", "特钢", "铝业"),
           {"micro": 10, "small": 45, "medium": 33, "large": 12},
           ("waste_heat", "motor_upgrade", "desulfurization", "pollution_rights", "energy_rights",
            "solid_waste", "energy_optimization", "standard_factory"), 6,
           {"330502": 1.5, "330522": 1.5, "330521": 1.5, "331000": 1.5, "330700": 1.5}),
    Sector("motor", "38", ("电机", "电器", "机电", "电气"),
           {"micro": 10, "small": 45, "medium": 35, "large": 10},
           ("efficient_motor", "transformer", "rooftop_pv", "remanufacture", "lighting",
            "standard_factory"), 5,
           {"330503": 4, "331000": 2, "330300": 2, "330200": 1.5}),
    Sector("battery", "38", ("新能源", "电源", "动力电池", "储能科技", "能源科技"),
           {"small": 35, "medium": 40, "large": 25},
           ("ev_parts", "storage", "waste_recycle", "charging_mfg", "rooftop_pv"), 4,
           {"330522": 5, "330200": 1.5, "330100": 1.5}),
    Sector("pv", "38", ("光伏科技", "光电", "新能源科技", "太阳能科技"),
           {"small": 40, "medium": 40, "large": 20},
           ("pv_mfg", "rooftop_pv", "village_pv"), 3,
           {"330522": 2, "330521": 2, "330400": 2, "330100": 1.5}),
    Sector("building_materials", "30", ("建材", "水泥", "新型建材", "混凝土", "墙体材料"),
           {"small": 40, "medium": 40, "large": 20},
           ("green_material", "waste_heat", "desulfurization", "carbon_pledge", "solid_waste",
            "mine_restoration"), 4,
           {"330522": 4, "330523": 1.5, "330800": 2, "330700": 1.5}),
    Sector("mining", "10", ("矿业", "石料", "矿产开发"),
           {"small": 40, "medium": 45, "large": 15},
           ("mine_restoration", "mineral_use", "tailings", "mine_eod"), 2,
           {"330522": 4, "330521": 2, "330800": 2, "331100": 1.5}),
    Sector("construction", "47", ("建设", "建筑工程", "装配式建筑", "建工", "城建"),
           {"small": 30, "medium": 45, "large": 25},
           ("prefab", "green_building", "ultra_low_energy", "building_retrofit"), 5,
           {"330521": 1.5, "330600": 2, "330100": 1.5}),
    Sector("env_services", "77", ("环保科技", "环境工程", "生态环境", "水处理", "环境治理"),
           {"small": 45, "medium": 38, "large": 17},
           ("sewage_plant", "black_odorous", "soil_remediation", "farmland_remediation",
            "land_consolidation", "wetland", "rural_env", "garbage", "water_body"), 5, {}),
    Sector("esco", "75", ("节能科技", "能源服务", "能源管理", "综合能源"),
           {"micro": 20, "small": 50, "medium": 25, "large": 5},
           ("emc", "energy_mgmt", "building_retrofit", "demand_side", "lighting"), 4,
           {"330100": 1.5}),
    Sector("power", "44", ("新能源", "热电", "光伏电力", "能源发展", "清洁能源"),
           {"small": 25, "medium": 45, "large": 30},
           ("pv_plant", "biomass_power", "distributed_energy", "heat_pump", "carbon_pledge",
            "clean_heating", "rooftop_pv"), 3, {}),
    Sector("recycling", "42", ("再生资源", "资源循环", "环保材料", "再生科技", "资源回收"),
           {"micro": 10, "small": 45, "medium": 35, "large": 10},
           ("waste_recycle", "solid_waste", "agri_waste", "packaging", "remanufacture"), 4,
           {"330502": 1.5, "330300": 1.5, "331000": 2}),
    Sector("chemical", "26", ("化工", "精细化工", "涂料", "化学"),
           {"small": 30, "medium": 45, "large": 25},
           ("vocs", "pollution_rights", "hazardous", "substitution", "dyeing_wastewater",
            "rainwater"), 3, {"330600": 2, "330200": 2, "330800": 1.5}),
    Sector("env_equipment", "35", ("环保设备", "环境科技", "水处理设备", "环保装备"),
           {"micro": 15, "small": 50, "medium": 30, "large": 5},
           ("env_equipment", "env_monitoring", "rooftop_pv"), 3, {"330521": 1.5, "330700": 1.5}),
    Sector("logistics", "59", ("物流", "供应链", "仓储"),
           {"micro": 15, "small": 45, "medium": 30, "large": 10},
           ("green_warehouse", "charging", "multimodal", "rooftop_pv"), 3,
           {"330502": 1.5, "330200": 2, "330700": 2}),
    Sector("it", "65", ("地理信息", "信息技术", "智能科技", "数字科技"),
           {"micro": 35, "small": 50, "medium": 15},
           ("energy_monitor", "env_monitoring", "demand_side"), 3,
           {"330521": 4, "330100": 3}),
    Sector("water", "46", ("水务", "供水", "水务发展"),
           {"medium": 60, "large": 40},
           ("leak_control", "sewage_plant", "rainwater"), 1, {}),
    Sector("food", "13", ("食品", "农产品", "粮油", "食品科技"),
           {"micro": 25, "small": 50, "medium": 20, "large": 5},
           ("water_saving", "boiler_upgrade", "rooftop_pv", "organic_tea"), 3, {}),
    Sector("park", "72", ("园区开发", "产业园", "实业投资", "开发建设"),
           {"medium": 55, "large": 45},
           ("park_circular", "park_treatment", "distributed_energy"), 1.5, {}),
)
SECTORS_BY_KEY = {s.key: s for s in SECTORS}

# The enterprise of the demo login: a forestry firm in 安吉 with needs in several statuses.
FEATURED_ENTERPRISE = {
    "name": "安吉县竹乡生态林业有限公司",
    "county": "330523",
    "sector": "forestry",
    "size": "small",
    "env_credit": "green",
    "contact_name": "潘建华",
    # (need template, status), oldest first.
    "needs": (("bamboo_forest", "disbursed"), ("understory", "contacted"),
              ("forest_wellness", "claimed"), ("seedlings", "open"), ("bamboo_forest", "draft")),
}

# Share of needs by status (the platform's typical funnel; DOMAIN.md section 1). Needs that no
# bank's product can serve become escalated or expired on top of these shares. The city shows
# plenty of live leads; the province keeps the recent ones to what its banks' managers could
# grab within the daily limit (DESIGN section 3).
NEED_STATUS_WEIGHTS = {
    "city": {"draft": 4, "open": 6, "claimed": 6, "selected": 4, "contacted": 5,
             "credit_approved": 5, "disbursed": 39, "declined": 9, "withdrawn": 6, "expired": 4,
             "escalated": 2.5, "assigned": 3},
    "province": {"draft": 3, "open": 2.5, "claimed": 2, "selected": 1.5, "contacted": 3,
                 "credit_approved": 3.5, "disbursed": 50, "declined": 11, "withdrawn": 7,
                 "expired": 4, "escalated": 1, "assigned": 1},
}
DAILY_GRAB_LIMIT = 20  # leads a manager may grab a day (config MANAGER_DAILY_GRAB_LIMIT default)

WITHDRAW_REASONS = ("已通过其他渠道解决资金需求", "项目计划推迟，暂不需要融资", "企业经营计划调整",
                    "需求信息填写有误，将重新发布", "已获得政府专项资金支持",
                    "股东增资，资金已到位")
DECLINE_WEIGHTS = {"ineligible": 20, "insufficient_collateral": 25, "industry_restricted": 8,
                   "over_limit": 12, "enterprise_gave_up": 25, "other": 10}
DECLINE_NOTES = {
    "ineligible": "经审查，企业资质暂不符合该产品准入要求。",
    "insufficient_collateral": "抵押物评估价值不足，无法覆盖申请额度。",
    "industry_restricted": "企业所属行业或项目暂不在我行绿色信贷支持范围内。",
    "over_limit": "申请金额超过我行对该企业的授信额度上限。",
    "enterprise_gave_up": "企业比较各行方案后选择放弃本次融资。",
    "other": "企业财务资料不完整，暂缓审批。",
}
GRAB_NOTE = "我行“{product}”可满足该需求，年利率{rate}%起，客户经理将尽快与贵公司联系。"
CONTACT_NOTES = ("已电话联系企业负责人，约定上门走访时间。",
                 "客户经理已实地走访企业，收集财务报表和项目资料。",
                 "已与企业视频沟通融资方案，并启动授信前调查。",
                 "已上门对接，企业同意按我行方案准备材料。")
CREDIT_NOTE = "授信审批通过：额度{amount}万元，年利率{rate}%。"
DISBURSE_NOTE = "贷款已发放{amount}万元，年利率{rate}%。"
RATING_COMMENTS = {
    5: ("客户经理响应很快，当天就上门对接，放款效率高。",
        "利率有竞争力，手续简便，抵押登记办理顺畅。",
        "全程线上办理，审批比预期快。", "对我们的项目很了解，融资方案设计专业。",
        "服务态度好，资料一次性告知，没有来回跑。"),
    4: ("整体顺利，补充材料环节稍慢。", "利率合理，客户经理专业，希望审批再快一些。"),
    3: ("利率略高于预期，服务尚可。", "对接及时，但审批周期较长。"),
    2: ("要求的抵押物较多，不太适合小微企业。", "对接后反馈较慢，多次催问才有答复。"),
    1: ("对接后迟迟没有答复，最终未获授信。", "审批周期太长，错过了项目窗口期。"),
}


# --- checks ------------------------------------------------------------------------------------


def _covers_category(outer: str, inner: str) -> bool:
    return inner == outer or inner.startswith(outer + ".")


def serving_templates(need: NeedTemplate, size: str,
                      option: tuple[str, ...]) -> list[ProductTemplate]:
    """Product templates that could serve this need template for a size and collateral option."""
    low = max(need.min_amount_wan, SIZE_AMOUNT_BOUNDS[size][0])
    high = min(need.max_amount_wan, SIZE_AMOUNT_BOUNDS[size][1])
    return [
        t for t in PRODUCT_TEMPLATES
        if any(_covers_category(c, need.category) for c in t.categories)
        and t.min_amount_wan <= high and low <= t.max_amount_wan
        and t.min_term_months <= need.max_term_months and need.min_term_months <= t.max_term_months
        and size in t.enterprise_sizes
        and ("credit" in t.collateral or set(option) & set(t.collateral))
    ]


def template_problems() -> list[str]:
    """Everything wrong with the templates, checked against the shipped reference files."""
    from matchmaker import enums
    from matchmaker.reference.loader import green_categories, industries

    categories = {row["code"]: row["level"] for row in green_categories()}
    industry_codes = {row["code"] for row in industries()}
    problems: list[str] = []

    def money(value: Decimal) -> bool:
        return isinstance(value, Decimal) and value == value.quantize(D("0.01")) and value > 0

    for t in PRODUCT_TEMPLATES:
        where = f"product {t.key}"
        problems += [f"{where}: unknown category {c}" for c in t.categories if c not in categories]
        problems += [f"{where}: unknown collateral {c}" for c in t.collateral
                     if c not in enums.COLLATERAL]
        problems += [f"{where}: unknown size {s}" for s in t.enterprise_sizes
                     if s not in enums.ENTERPRISE_SIZES]
        problems += [f"{where}: unknown bank kind {k}" for k in t.bank_kinds
                     if k not in enums.BANK_KINDS]
        if t.min_env_credit not in enums.ENV_CREDIT:
            problems.append(f"{where}: unknown environmental credit {t.min_env_credit}")
        if not (money(t.min_amount_wan) and money(t.max_amount_wan)
                and t.min_amount_wan <= t.max_amount_wan):
            problems.append(f"{where}: bad amount range")
        if not 1 <= t.min_term_months <= t.max_term_months <= 360:
            problems.append(f"{where}: bad term range")
        if not D("0") <= t.rate_min <= t.rate_max:
            problems.append(f"{where}: bad rate range")
        if len(t.name) > 64:
            problems.append(f"{where}: name too long")

    for n in NEED_TEMPLATES:
        where = f"need {n.key}"
        if categories.get(n.category) != 3:
            problems.append(f"{where}: {n.category} is not a third-level category")
        for option in n.collateral:
            problems += [f"{where}: unknown collateral {c}" for c in option
                         if c not in enums.COLLATERAL]
        problems += [f"{where}: unknown purpose {p}" for p in n.purposes if p not in enums.PURPOSES]
        if not D("0") < n.min_amount_wan <= n.max_amount_wan:
            problems.append(f"{where}: bad amount range")
        if any(len(title) > 80 for title in n.titles):
            problems.append(f"{where}: title too long")
        # Some product template serves each size, and each collateral option, of the template.
        served: dict[tuple[str, ...], set[str]] = {option: set() for option in n.collateral}
        for size in n.sizes:
            low = max(n.min_amount_wan, SIZE_AMOUNT_BOUNDS[size][0])
            high = min(n.max_amount_wan, SIZE_AMOUNT_BOUNDS[size][1])
            if low > high:
                problems.append(f"{where}: amounts do not fit size {size}")
                continue
            for option in n.collateral:
                if serving_templates(n, size, option):
                    served[option].add(size)
            if not any(size in sizes for sizes in served.values()):
                problems.append(f"{where}: no product template serves size {size}")
        problems += [f"{where}: no product template accepts {option}"
                     for option, sizes in served.items() if not sizes]

    for s in SECTORS:
        where = f"sector {s.key}"
        if s.industry_code not in industry_codes:
            problems.append(f"{where}: unknown industry {s.industry_code}")
        problems += [f"{where}: unknown need template {k}" for k in s.needs
                     if k not in NEED_TEMPLATES_BY_KEY]
        problems += [f"{where}: unknown size {k}" for k in s.sizes
                     if k not in enums.ENTERPRISE_SIZES]
        for size in s.sizes:
            if not any(size in NEED_TEMPLATES_BY_KEY[k].sizes for k in s.needs
                       if k in NEED_TEMPLATES_BY_KEY):
                problems.append(f"{where}: no need template for size {size}")
    for scale, shares in NEED_STATUS_WEIGHTS.items():
        if set(shares) != set(enums.NEED_STATUSES):
            problems.append(f"{scale}: need status shares do not match enums.NEED_STATUSES")
    for spec in CITY_BANKS + PROVINCE_BANKS + PROVINCE_VILLAGE_BANKS:
        if spec.kind not in enums.BANK_KINDS:
            problems.append(f"bank {spec.name}: unknown kind {spec.kind}")
    return problems
