"""The cross-validation folds of bench/nlu_cv.py (pure part: no training)."""

from __future__ import annotations

from collections import Counter

from bench.nlu_cv import stratified_folds


def test_folds_are_disjoint_cover_everything_and_keep_every_label_in_every_fold() -> None:
    examples = [{"intent": label, "text": f"{label}{i}"} for label in ("a", "b", "c") for i in range(10)]
    folds = stratified_folds(examples, 5)
    texts = [ex["text"] for fold in folds for ex in fold]
    assert sorted(texts) == sorted(ex["text"] for ex in examples)
    for fold in folds:
        assert Counter(ex["intent"] for ex in fold) == {"a": 2, "b": 2, "c": 2}
    assert stratified_folds(examples, 5) == folds  # seeded: the same folds every run
