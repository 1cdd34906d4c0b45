"""The green-category classifier: its data, its accuracy on the held-out set, and its API."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import pytest

from matchmaker.demo.data import NEED_TEMPLATES
from matchmaker.green import catalog, classifier
from tests.factories import api_token, errors_of

HELD_OUT = Path(__file__).parent / "data" / "green_heldout.tsv"
URL = "/api/v1/green/classify"


def held_out() -> list[dict]:
    with HELD_OUT.open(encoding="utf-8") as fh:
        lines = [line for line in fh if line.strip() and not line.startswith("#")]
    return list(csv.DictReader(lines, delimiter="\t"))


def bigrams(text: str) -> set[str]:
    text = re.sub(r"\s+", "", classifier.normalise(text))
    return {text[i:i + 2] for i in range(len(text) - 1)}


# --- the data ----------------------------------------------------------------------------------


def test_keyword_table_covers_every_third_level_item_and_nothing_else():
    keywords = classifier.load_keywords()
    assert set(keywords) == set(catalog.leaves())
    assert len(catalog.leaves()) == 211
    for code, phrases in keywords.items():
        assert len(phrases) >= 4, code
        for phrase in phrases:
            assert len(phrase) >= 2 and phrase == phrase.strip(), (code, phrase)
            assert classifier.normalise(phrase) == phrase, (code, phrase)  # matched as written


def test_training_set_is_large_enough_and_covers_the_demo_items():
    examples = classifier.load_examples()
    assert len(examples) >= 300
    counts = Counter(code for code, _text in examples)
    assert set(counts) == set(catalog.leaves())  # every item has at least one example
    demo_items = {t.category for t in NEED_TEMPLATES}
    assert demo_items <= set(catalog.leaves())
    assert all(counts[code] >= 3 for code in demo_items), {
        code: counts[code] for code in demo_items if counts[code] < 3}
    assert len({text for _code, text in examples}) == len(examples)  # no duplicates


def test_held_out_set_is_labelled_with_real_items_and_covers_the_demo_items():
    rows = held_out()
    assert len(rows) >= 150
    assert {row["code"] for row in rows} <= set(catalog.leaves())
    assert {row["style"] for row in rows} == {"plain", "colloquial"}
    assert {t.category for t in NEED_TEMPLATES} <= {row["code"] for row in rows}


def test_held_out_set_does_not_overlap_the_training_set():
    """No held-out text is a training text, nor a near copy of one (character-pair overlap)."""
    training = [(text, bigrams(text)) for _code, text in classifier.load_examples()]
    texts = {text for text, _grams in training}
    for row in held_out():
        assert row["text"] not in texts
        grams = bigrams(row["text"])
        for text, other in training:
            jaccard = len(grams & other) / len(grams | other)
            assert jaccard < 0.4, (row["text"], text, round(jaccard, 2))


# --- quality -----------------------------------------------------------------------------------


def test_top3_accuracy_on_the_held_out_set_is_at_least_85_percent():
    rows = held_out()
    hits = {"plain": [], "colloquial": []}
    for row in rows:
        codes = [s.code for s in classifier.classify(row["text"])]
        hits[row["style"]].append((codes[:1] == [row["code"]], row["code"] in codes[:3]))
    every = hits["plain"] + hits["colloquial"]
    top1 = sum(first for first, _three in every) / len(every)
    top3 = sum(three for _first, three in every) / len(every)
    plain3 = sum(three for _first, three in hits["plain"]) / len(hits["plain"])
    print(f"held-out ({len(every)}): top-1 {top1:.1%}, top-3 {top3:.1%}; plain top-3 {plain3:.1%}")
    assert top3 >= 0.85
    assert plain3 >= 0.85


def test_suggestions_are_ranked_with_confidence_and_reasons():
    suggestions = classifier.classify(
        "在公司厂房屋顶建设 2000 千瓦分布式光伏电站，自发自用、余电上网")
    assert 1 <= len(suggestions) <= 5
    top = suggestions[0]
    assert top.code == "3.2.2" and top.name == "太阳能利用设施建设和运营"
    assert "分布式光伏" in top.reasons
    confidences = [s.confidence for s in suggestions]
    assert confidences == sorted(confidences, reverse=True)
    assert all(0 <= c <= 1 for c in confidences) and top.confidence > 0.5
    assert len({s.code for s in suggestions}) == len(suggestions)


def test_full_width_text_is_read_like_half_width():
    codes = [s.code for s in classifier.classify("厂区ＬＥＤ照明改造，更换灯具")]
    assert "1.5.5" in codes[:3]


@pytest.mark.parametrize("text", ["", "   ", "你好", "今天天气很好", "x" * 6000, "12345"])
def test_text_without_any_clue_gets_no_suggestion(text):
    assert classifier.classify(text) == []


def test_the_model_is_fitted_once_per_process():
    assert classifier.model() is classifier.model()


# --- the API -----------------------------------------------------------------------------------


@pytest.fixture
def headers(client, make):
    return api_token(client, make.enterprise()[1])


@pytest.mark.sqlite_only
def test_classify_endpoint_answers_any_logged_in_user(client, make, headers):
    response = client.post(URL, json={"text": "毛竹林低产林改造和林道建设，以林权抵押"},
                           headers=headers)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert list(body) == ["suggestions"]
    first = body["suggestions"][0]
    assert set(first) == {"code", "name", "confidence", "reasons"}
    assert first["code"] == "4.1.4" and "低产林" in first["reasons"]
    bank = make.bank()
    manager = api_token(client, make.bank_user(bank))
    assert client.post(URL, json={"text": "余热发电"}, headers=manager).status_code == 200
    assert client.post(URL, json={"text": "今天天气很好"},
                       headers=manager).get_json() == {"suggestions": []}


@pytest.mark.sqlite_only
def test_classify_endpoint_needs_a_token(client):
    errors_of(client.post(URL, json={"text": "余热发电"}), 401)


BAD_BODIES = [
    {}, {"text": ""}, {"text": "   "}, {"text": None}, {"text": 12}, {"text": ["余热"]},
    {"text": "余" * (classifier.MAX_TEXT_LENGTH + 1)}, {"text": "余热\x00发电"},
]


@pytest.mark.sqlite_only
def test_classify_endpoint_refuses_bad_text_with_422_naming_the_field(client, headers):
    for body in BAD_BODIES:
        errors = errors_of(client.post(URL, json=body, headers=headers))
        assert list(errors) == ["text"], body
