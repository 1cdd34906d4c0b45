"""Chinese segmentation, done once in Python so every engine indexes and queries the same tokens.

jieba with a domain dictionary (林权, 排污权, 合同能源管理 …) in search mode, which also emits the
shorter words inside long ones (合同能源管理 → 合同, 能源, 管理, 合同能源管理), so a query for 能源
still finds it.
"""

from __future__ import annotations

import logging
import re
import threading
from importlib import resources

import jieba

jieba.setLogLevel(logging.WARNING)

_DICT = resources.files("search") / "data" / "domain_dict.txt"
_lock = threading.Lock()
_tokenizer: jieba.Tokenizer | None = None

_WORD = re.compile(r"[\w]", re.UNICODE)
_STOPWORD_TEXT = """
的 了 和 与 及 或 等 在 为 对 是 将 把 被 于 以 由 其 该 本 我们 我 公司 企业 有限公司 有限
用于 进行 一个 一批 需要 需求 希望 主要 通过 开展 万元 元 年 月 个 项 可 能 也 并 从 到
a an and the of for to in on
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def _get() -> jieba.Tokenizer:
    global _tokenizer
    if _tokenizer is None:
        with _lock:
            if _tokenizer is None:
                tokenizer = jieba.Tokenizer()
                with resources.as_file(_DICT) as path:
                    tokenizer.load_userdict(str(path))
                _tokenizer = tokenizer
    return _tokenizer


def tokenize(text: str | None) -> list[str]:
    """Search tokens of `text`: lower-cased, punctuation and stop words removed, order kept."""
    if not text:
        return []
    tokens = []
    for token in _get().lcut_for_search(text):
        token = token.strip().lower()
        if token and _WORD.search(token) and token not in STOPWORDS:
            tokens.append(token)
    return tokens


def analyzed(text: str | None) -> str:
    """Tokens joined by spaces: what a whitespace analyser (FTS5, Elasticsearch) indexes."""
    return " ".join(tokenize(text))
