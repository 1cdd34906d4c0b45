"""Suggest third-level items of the 2019 green catalog for a project description.

The model (pure Python, fitted once per process from the files in `data/` in well under a
second; a suggestion then takes a millisecond or two) scores each of the 211 items by four
signals and ranks them:

1. **keywords** — the curated phrases of `data/keywords.tsv` found in the text (substring match on
   the NFKC-normalised, lower-cased text, so it does not depend on how jieba cuts a phrase). A
   phrase counts its inverse item frequency (a phrase of one item says more than one shared by
   five) times a length factor (longer phrases are more specific);
2. **item similarity** — TF-IDF cosine between the text's jieba tokens (`search.tokenizer`, the
   tokens the search engines index) and the item's document: its name, its keywords and its
   training examples (`data/training.tsv`);
3. **nearest example** — the best cosine between the text and one training example of the item;
4. **characters** — TF-IDF cosine over Chinese character bigrams and single characters with the
   item's document, which carries colloquial wording (羊圈 meets 羊舍 through 羊).

score = W_KEYWORD·log(1 + keywords) + W_ITEM·item + W_EXAMPLE·example + W_CHARS·characters. The
weights and the softmax temperature that turns scores into `confidence` were chosen by 5-fold
cross-validation on the training examples only (`python -m matchmaker.green.tune`); the held-out
set in tests/data is never used to fit or tune anything. Each suggestion carries its reasons:
the keywords matched, then the words shared with the item's document that weigh most.
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from matchmaker.green import catalog
from search.tokenizer import tokenize

MAX_TEXT_LENGTH = 6000  # a need's title (100) and description (5000), with room to spare
DEFAULT_LIMIT = 5

# Tuned by `python -m matchmaker.green.tune` (5-fold cross-validation on data/training.tsv).
# Of 48 weightings, the best top-3 (all 100 %) then top-1 (97.7 %) then log-loss; a branch
# (second-level) similarity signal was tried and got weight 0, so it is not computed.
W_KEYWORD = 0.5
W_ITEM = 1.0
W_EXAMPLE = 0.5
W_CHARS = 3.0
TEMPERATURE = 0.2
MAX_REASONS = 6


# Words every financing need uses, whatever its project: no evidence of a category.
_FINANCE_TEXT = """
贷款 申请 资金 融资 抵押 质押 担保 保证 流动 周转 期限 万元 亿元 元 公司 我司 本公司 我们 我厂
我单位 企业 单位 计划 拟 需要 需 想 打算 今年 明年 目前 现有 新建 新增 扩大 购置 购买 采购
提供 方式 用于 主要 以及 约 年 月 个 万 亿 总投资 投资 项目 预计 实现 相关 配套 可以 能 一个
流动资金 周转资金 营运资金 补充 补充流动资金 资金缺口 原材料 还款 还款来源 利率 授信 银行 借款
"""
FINANCE_WORDS = frozenset(_FINANCE_TEXT.split())
# The same words as phrases, longest first, cut out of the text before its characters are paired
# (补充流动资金 would otherwise leave pairs such as 充流 behind).
_FINANCE_PHRASES = re.compile("|".join(
    re.escape(w) for w in sorted((w for w in FINANCE_WORDS if len(w) >= 2), key=len,
                                 reverse=True)))


def content_tokens(text: str) -> list[str]:
    """The jieba tokens that can say something about a category: the search tokens without
    single characters (用, 种, 修 say nothing on their own) and without financing boilerplate."""
    return [t for t in tokenize(text) if len(t) >= 2 and t not in FINANCE_WORDS]


_HAN = re.compile(r"[\u4e00-\u9fff]+")


def char_grams(text: str) -> list[str]:
    """Character bigrams of the Chinese runs of the text (羊圈 and 羊舍 share nothing as words;
    as characters they share 羊): they carry a colloquial wording to the catalog's."""
    grams = []
    for run in _HAN.findall(_FINANCE_PHRASES.sub(" ", text)):
        grams.extend(pair for pair in (run[i:i + 2] for i in range(len(run) - 1))
                     if pair not in FINANCE_WORDS
                     and not (pair[0] in STOP_CHARS and pair[1] in STOP_CHARS))
        grams.extend(c for c in run if c not in STOP_CHARS)
    return grams


# Characters too common in any need to mean anything on their own.
STOP_CHARS = frozenset("的了和与及或等在为对是将把被于以由其该本我们司公企业有限计划拟需要想打算"
                       "今年新建用可能也并从到个项年月万元亿期资金贷款申请融抵押质担保一这那些要"
                       "后前上下中")


def normalise(text: str) -> str:
    """Full-width to half-width (ＬＥＤ → led), lower case."""
    return unicodedata.normalize("NFKC", text or "").lower()


@dataclass(frozen=True)
class Suggestion:
    code: str
    name: str
    confidence: float
    reasons: list[str] = field(default_factory=list)
    score: float = 0.0

    def as_dict(self) -> dict:
        return {"code": self.code, "name": self.name, "confidence": self.confidence,
                "reasons": list(self.reasons)}


Vector = dict[str, float]


@dataclass
class Signals:
    """What a text shows of each item (by code)."""

    keyword: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    matched: dict[str, list[tuple[float, str]]] = field(default_factory=lambda: defaultdict(list))
    item: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    example: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    chars: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    shared_bigrams: dict[str, list[tuple[float, str]]] = field(
        default_factory=lambda: defaultdict(list))
    query: Vector = field(default_factory=dict)


def _norm(vector: Vector) -> Vector:
    length = math.sqrt(sum(v * v for v in vector.values()))
    return {t: v / length for t, v in vector.items()} if length else {}


class Model:
    """The fitted model. `examples` are (code, text) pairs; `keywords` maps a code to phrases."""

    def __init__(self, keywords: dict[str, list[str]], examples: list[tuple[str, str]],
                 weights: tuple[float, ...] | None = None,
                 temperature: float = TEMPERATURE) -> None:
        self.codes = catalog.leaves()
        self.weights = weights or (W_KEYWORD, W_ITEM, W_EXAMPLE, W_CHARS)
        self.temperature = temperature
        self._fit_keywords(keywords)
        self._fit_vectors(keywords, examples)

    # --- fitting ----------------------------------------------------------------------------

    def _fit_keywords(self, keywords: dict[str, list[str]]) -> None:
        owners: dict[str, set[str]] = defaultdict(set)
        for code in self.codes:
            for phrase in keywords.get(code, []):
                phrase = normalise(phrase).strip()
                if len(phrase) >= 2:
                    owners[phrase].add(code)
        n = len(self.codes)
        # phrase → (weight, codes); indexed by its first two characters for a fast scan.
        self.phrases: dict[str, tuple[float, tuple[str, ...]]] = {}
        self.by_bigram: dict[str, list[str]] = defaultdict(list)
        for phrase, codes in owners.items():
            weight = math.log(1 + n / len(codes)) * (0.5 + 0.5 * min(len(phrase), 4) / 4)
            self.phrases[phrase] = (weight, tuple(sorted(codes)))
            self.by_bigram[phrase[:2]].append(phrase)

    def _fit_vectors(self, keywords: dict[str, list[str]],
                     examples: list[tuple[str, str]]) -> None:
        item_tokens: dict[str, Counter] = {code: Counter() for code in self.codes}
        example_tokens: list[tuple[str, Counter]] = []
        for code in self.codes:
            name_tokens = content_tokens(catalog.name(code))
            item_tokens[code].update(name_tokens + name_tokens)  # the name counts twice
            for phrase in keywords.get(code, []):
                item_tokens[code].update(content_tokens(phrase))
        item_chars: dict[str, Counter] = {
            code: Counter(char_grams(" ".join([catalog.name(code), *keywords.get(code, [])])))
            for code in self.codes}
        for code, text in examples:
            if code in item_chars:
                item_chars[code].update(char_grams(text))
        for code, text in examples:
            if code not in item_tokens:
                raise ValueError(f"training example for unknown item {code!r}")
            tokens = Counter(content_tokens(text))
            item_tokens[code].update(tokens)
            example_tokens.append((code, tokens))
        documents = len(self.codes)
        frequency = Counter(t for tokens in item_tokens.values() for t in tokens)
        self.idf = {t: math.log((documents + 1) / (df + 1)) + 1 for t, df in frequency.items()}
        self.items = {code: self.vector(tokens) for code, tokens in item_tokens.items()}
        # Inverted indexes: token → [(code, weight)] for items and for examples.
        self.item_index: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for code, vector in self.items.items():
            for token, weight in vector.items():
                self.item_index[token].append((code, weight))
        frequency = Counter(g for grams in item_chars.values() for g in grams)
        self.char_idf = {g: math.log((documents + 1) / (df + 1)) + 1
                         for g, df in frequency.items()}
        self.char_index: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for code, grams in item_chars.items():
            for gram, weight in self.char_vector(grams).items():
                self.char_index[gram].append((code, weight))
        self.example_index: dict[str, list[tuple[int, float]]] = defaultdict(list)
        self.example_codes: list[str] = []
        for number, (code, tokens) in enumerate(example_tokens):
            self.example_codes.append(code)
            for token, weight in self.vector(tokens).items():
                self.example_index[token].append((number, weight))

    def vector(self, tokens) -> Vector:
        counts = tokens if isinstance(tokens, Counter) else Counter(tokens)
        return _norm({t: (1 + math.log(c)) * self.idf.get(t, 0.0)
                      for t, c in counts.items() if t in self.idf})

    def char_vector(self, grams) -> Vector:
        counts = grams if isinstance(grams, Counter) else Counter(grams)
        return _norm({g: (1 + math.log(c)) * self.char_idf.get(g, 0.0)
                      for g, c in counts.items() if g in self.char_idf})

    # --- scoring ----------------------------------------------------------------------------

    def matched_phrases(self, text: str) -> list[str]:
        text = normalise(text)
        bigrams = {text[i:i + 2] for i in range(len(text) - 1)}
        return [phrase for bigram in bigrams for phrase in self.by_bigram.get(bigram, ())
                if phrase in text]

    def signals(self, text: str) -> Signals:
        out = Signals()
        for phrase in self.matched_phrases(text):
            weight, codes = self.phrases[phrase]
            for code in codes:
                out.keyword[code] += weight
                out.matched[code].append((weight, phrase))
        out.query = self.vector(content_tokens(text))
        for token, q in out.query.items():
            for code, w in self.item_index.get(token, ()):
                out.item[code] += q * w
        example_sims: dict[int, float] = defaultdict(float)
        for token, q in out.query.items():
            for number, w in self.example_index.get(token, ()):
                example_sims[number] += q * w
        for number, sim in example_sims.items():
            code = self.example_codes[number]
            out.example[code] = max(out.example[code], sim)
        for gram, q in self.char_vector(char_grams(normalise(text))).items():
            for code, w in self.char_index.get(gram, ()):
                out.chars[code] += q * w
                if len(gram) == 2:
                    out.shared_bigrams[code].append((q * w, gram))
        return out

    def rank(self, text: str) -> list[tuple[str, float]]:
        """Every item with any evidence, best first, as (code, score)."""
        return self._scores(self.signals(text))

    def _scores(self, signals: Signals) -> list[tuple[str, float]]:
        """Items with evidence: a keyword, a shared word or a shared pair of characters (one
        shared character is not evidence, though it adds to the score)."""
        w_keyword, w_item, w_example, w_chars = self.weights
        scores = []
        for code in set(signals.keyword) | set(signals.item) | set(signals.shared_bigrams):
            score = (w_keyword * math.log1p(signals.keyword.get(code, 0.0))
                     + w_item * signals.item.get(code, 0.0)
                     + w_example * signals.example.get(code, 0.0)
                     + w_chars * signals.chars.get(code, 0.0))
            scores.append((code, score))
        scores.sort(key=lambda pair: (-pair[1], pair[0]))
        return scores

    def suggest(self, text: str, limit: int = DEFAULT_LIMIT) -> list[Suggestion]:
        signals = self.signals(text)
        scores = self._scores(signals)
        if not scores:
            return []
        top = scores[0][1]
        weights = [math.exp((score - top) / self.temperature) for _code, score in scores]
        total = sum(weights)
        return [
            Suggestion(code, catalog.name(code), round(weight / total, 3),
                       self.reasons(code, signals), round(score, 4))
            for (code, score), weight in zip(scores[:limit], weights[:limit], strict=False)
        ]

    def reasons(self, code: str, signals: Signals) -> list[str]:
        """The phrases matched (weightiest first, a phrase inside a longer one left out), then
        the shared words that weigh most in the item similarity, then shared character pairs."""
        matched = signals.matched.get(code, [])
        phrases = [p for _w, p in sorted(matched, key=lambda m: (-m[0], -len(m[1]), m[1]))]
        out = [p for p in phrases if not any(p != o and p in o for o in phrases)]
        vector = self.items[code]
        shared = sorted(((q * vector[t], t) for t, q in signals.query.items() if t in vector),
                        reverse=True)
        shared += sorted(signals.shared_bigrams.get(code, []), reverse=True)
        for _weight, token in shared:
            if len(out) >= MAX_REASONS:
                break
            if not any(token in r for r in out):
                out.append(token)
        return out[:MAX_REASONS]

    def evidence(self, text: str, codes) -> list[str]:
        """What of `codes` (leaf codes) the text mentions: their phrases found in it, and their
        catalog names' words. Empty: nothing of those items in the text."""
        wanted = set(codes)
        found = []
        for phrase in self.matched_phrases(text):
            if wanted & set(self.phrases[phrase][1]):
                found.append(phrase)
        tokens = set(content_tokens(text))
        for code in wanted:
            for token in content_tokens(catalog.name(code)):
                if token in tokens and token not in GENERIC_NAME_WORDS:
                    found.append(token)
        return sorted(set(found), key=lambda p: (-len(p), p))


# Words of catalog names that say nothing about the kind of project on their own.
_GENERIC_NAME_TEXT = """
建设 运营 建设和运营 制造 利用 设施 系统 服务 产业 综合 治理 改造 设备 产品 提升 推广 管理 工程
项目 资源 生产 保护 处理 处置 环境 绿色 节能 能效 高效
"""
GENERIC_NAME_WORDS = frozenset(_GENERIC_NAME_TEXT.split())


def load_keywords() -> dict[str, list[str]]:
    return {row["code"]: [k for k in row["keywords"].split("|") if k.strip()]
            for row in catalog.read_tsv("keywords.tsv")}


def load_examples() -> list[tuple[str, str]]:
    return [(row["code"], row["text"]) for row in catalog.read_tsv("training.tsv")]


_lock = threading.Lock()
_model: Model | None = None


def model() -> Model:
    """The model of the shipped data, fitted on first use and kept for the process."""
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                _model = Model(load_keywords(), load_examples())
    return _model


def classify(text: str, limit: int = DEFAULT_LIMIT) -> list[Suggestion]:
    """The `limit` most likely third-level items for `text`, best first (empty when nothing in
    the text points to any item)."""
    return model().suggest(text[:MAX_TEXT_LENGTH], limit)
