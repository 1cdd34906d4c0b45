"""Choose the classifier's weights and temperature by 5-fold cross-validation on the training
examples (development tool: `python -m matchmaker.green.tune`). It prints the top-1 and top-3
accuracy of each weighting and the log-loss of each temperature; copy the best into
`matchmaker.green.classifier`. It never reads the held-out set of tests/data.
"""

from __future__ import annotations

import itertools
import math
import random

from matchmaker.green.classifier import Model, load_examples, load_keywords

FOLDS = 5


def folds(examples, seed: int = 2019):
    shuffled = list(examples)
    random.Random(seed).shuffle(shuffled)
    return [shuffled[i::FOLDS] for i in range(FOLDS)]


def evaluate(weights, temperature=0.25, seed: int = 2019) -> dict:
    keywords, examples = load_keywords(), load_examples()
    parts = folds(examples, seed)
    top1 = top3 = total = 0
    loss = 0.0
    for i, test in enumerate(parts):
        train = [e for j, part in enumerate(parts) if j != i for e in part]
        model = Model(keywords, train, weights=weights, temperature=temperature)
        for code, text in test:
            ranked = [c for c, _s in model.rank(text)]
            total += 1
            top1 += ranked[:1] == [code]
            top3 += code in ranked[:3]
            suggestions = {s.code: s.confidence for s in model.suggest(text, limit=211)}
            loss -= math.log(max(suggestions.get(code, 0.0), 1e-4))
    return {"top1": top1 / total, "top3": top3 / total, "logloss": loss / total}


def main() -> None:
    grid = itertools.product((0.5, 1.0), (0.5, 1.0), (0.5, 1.0), (1.0, 2.0, 3.0))
    results = []
    for weights in grid:
        result = evaluate(weights)
        results.append((result["top3"], result["top1"], -result["logloss"], weights))
        print(weights, f"top1={result['top1']:.3f} top3={result['top3']:.3f}", flush=True)
    results.sort(reverse=True)
    best = results[0][-1]
    print("best", results[:5])
    for temperature in (0.1, 0.15, 0.2, 0.25, 0.35, 0.5):
        print("temperature", temperature, evaluate(best, temperature)["logloss"])


if __name__ == "__main__":
    main()
