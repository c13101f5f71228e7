"""Metrics with hand-checked numbers, and the paired bootstrap."""
from __future__ import annotations

import pytest

from domain_electra.evaluation.metrics import bootstrap_delta, per_example, score


def test_retrieval_metrics_hand_checked():
    out = score("retrieval", [0, 0, 0, 0], [0, 1, 4, 12])
    assert out["mrr@10"] == pytest.approx((1 + 1 / 2 + 1 / 5 + 0) / 4)
    assert (out["recall@1"], out["recall@5"], out["recall@10"]) == (0.25, 0.75, 0.75)


def test_classification_and_multilabel_hand_checked():
    out = score("classification", [0, 1, 2, 2], [0, 1, 1, 2])
    assert out["accuracy"] == 0.75
    assert out["macro_f1"] == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)
    ml = score("multilabel", [[0, 1], [], [2]], [[0], [], [2, 1]], num_labels=3)
    # tp = 2 (0 in row 1, 2 in row 3), fp = 1, fn = 1 -> micro F1 = 2*2 / (2*2 + 1 + 1)
    assert ml["micro_f1"] == pytest.approx(4 / 6) and ml["exact_match"] == pytest.approx(1 / 3)


def test_entity_f1_is_entity_level():
    gold = [["B-D", "I-D", "O", "B-D"]]
    pred = [["B-D", "O", "O", "B-D"]]  # the first entity is cut short: wrong span, no credit
    out = score("token", gold, pred)
    assert out["precision"] == 0.5 and out["recall"] == 0.5 and out["f1"] == 0.5


def test_bootstrap_of_identical_models_is_zero():
    gold = [0, 1, 2, 1, 0, 2]
    delta, low, high = bootstrap_delta("classification", "accuracy", gold, [[0, 1, 1, 1, 0, 0]], [[0, 1, 1, 1, 0, 0]])
    assert (delta, low, high) == (0.0, 0.0, 0.0)


def test_bootstrap_interval_brackets_a_clear_win_and_f1_path_agrees():
    gold = [i % 2 for i in range(200)]
    worse = [0] * 200
    better = list(gold)
    delta, low, high = bootstrap_delta("classification", "accuracy", gold, [worse], [better], n_boot=300)
    assert delta == 0.5 and 0.4 < low < 0.5 < high < 0.6
    d2, l2, h2 = bootstrap_delta("classification", "macro_f1", gold, [worse], [better], n_boot=100)
    assert d2 == pytest.approx(1 - 1 / 3) and l2 < d2 < h2 + 1e-9


def test_seeds_are_averaged_before_the_delta():
    gold = [1, 1, 1, 1]
    delta, _, _ = bootstrap_delta("classification", "accuracy", gold, [[0, 0, 0, 0]], [[1, 1, 1, 1], [0, 0, 0, 0]])
    assert delta == 0.5


def test_per_example_only_for_means():
    assert per_example("classification", "macro_f1", [0], [0]) is None
    assert list(per_example("retrieval", "mrr@10", [0, 0], [1, 10])) == [0.5, 0.0]
