from search.tokenizer import analyzed, tokenize


def test_domain_words_stay_whole_and_their_parts_are_searchable():
    tokens = tokenize("以林权抵押，采用合同能源管理模式建设屋顶光伏")
    assert "林权" in tokens
    assert "合同能源管理" in tokens and "能源" in tokens
    assert "屋顶光伏" in tokens and "光伏" in tokens


def test_stopwords_punctuation_and_case():
    tokens = tokenize("我们公司的 CCER 碳资产，用于质押！")
    assert "的" not in tokens and "，" not in tokens and "我们" not in tokens
    assert "ccer" in tokens and "碳资产" in tokens


def test_empty_and_analyzed():
    assert tokenize(None) == [] and tokenize("") == []
    assert analyzed("排污权质押贷款").split() == tokenize("排污权质押贷款")
