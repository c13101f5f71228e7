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


# --- retrieval ties, every metric against its reference library, metric names, suite average ---------------

from fractions import Fraction

import numpy as np

from domain_electra.errors import UserError
from domain_electra.evaluation.metrics import check_metric, constant_prediction, suite_average, task_metric


def test_a_collapsed_model_scores_chance_not_one():
    # Every document ties with the relevant one: each query is at 0-based rank 0..N-1 with probability 1/N.
    n = 40
    out = score("retrieval", [0] * 7, [[0, n - 1]] * 7, extra=("mrr@3",))
    chance_mrr10 = sum(Fraction(1, r) for r in range(1, 11)) / n  # (1 + 1/2 + ... + 1/10) / 40
    assert out["mrr@10"] == pytest.approx(float(chance_mrr10))
    assert out["mrr@3"] == pytest.approx(float(Fraction(1) / n + Fraction(1, 2) / n + Fraction(1, 3) / n))
    assert (out["recall@1"], out["recall@5"], out["recall@10"]) == pytest.approx((1 / 40, 5 / 40, 10 / 40))


def test_ties_count_at_their_expected_rank_hand_checked():
    # One document strictly above, two tied: the relevant one sits at rank 1, 2 or 3 (0-based), each 1/3.
    out = score("retrieval", [0], [[1, 2]], extra=("recall@2", "mrr@2"))
    assert out["mrr@10"] == pytest.approx((1 / 2 + 1 / 3 + 1 / 4) / 3)
    assert out["recall@1"] == 0.0 and out["recall@2"] == pytest.approx(1 / 3) and out["recall@5"] == 1.0
    assert out["mrr@2"] == pytest.approx((1 / 2) / 3)
    # No tie: the old integer ranks mean exactly what they did.
    assert score("retrieval", [0, 0], [3, [3, 0]])["mrr@10"] == pytest.approx(1 / 4)


def test_rank_in_pool_counts_ties_against_the_relevant_document():
    import torch

    from domain_electra.finetune.train import rank_in_pool

    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    d = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
    # query 0: relevant 0; doc 1 is level with it, doc 2 (0.6) below. query 1: relevant 3 (1.0), none above.
    assert rank_in_pool(q, d, [0, 3]) == [[0, 1], [0, 0]]
    assert rank_in_pool(torch.ones(3, 2), torch.ones(5, 2), [0, 2, 4]) == [[0, 4]] * 3  # collapsed: all tied


def test_classification_metrics_match_sklearn():
    from sklearn.metrics import accuracy_score, f1_score

    rng = np.random.default_rng(0)
    gold, pred = rng.integers(0, 4, 60).tolist(), rng.integers(0, 4, 60).tolist()
    labels = ("false", "cpr:3", "cpr:4", "cpr:9")
    out = score("classification", gold, pred, 4, labels=labels, extra=("micro_f1_excluding:false",))
    assert out["accuracy"] == pytest.approx(accuracy_score(gold, pred))
    for avg in ("macro", "micro", "weighted"):
        assert out[f"{avg}_f1"] == pytest.approx(f1_score(gold, pred, average=avg))
    # BLURB ChemProt: micro F1 over the positive relations only ("false" left out of both sides' counts).
    assert out["micro_f1_excluding:false"] == pytest.approx(f1_score(gold, pred, labels=[1, 2, 3], average="micro"))
    assert out["micro_f1_excluding:false"] != pytest.approx(out["micro_f1"])
    # Hand-checked: gold [0,1,1,2], pred [1,1,0,2] without label 0: tp = 2 (1, 2), fp = 1 (row 1), fn = 1 (row 3).
    small = score("pair", [0, 1, 1, 2], [1, 1, 0, 2], 3, labels=("no", "a", "b"), extra=("micro_f1_excluding:no",))
    assert small["micro_f1_excluding:no"] == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))


def test_multilabel_token_and_regression_metrics_match_their_libraries():
    from scipy.stats import pearsonr, spearmanr
    from sklearn.metrics import f1_score

    gold, pred = [[0, 2], [1], [], [0, 1, 2]], [[0], [1, 2], [2], [0, 1]]
    hot = lambda rows: np.array([[int(i in r) for i in range(3)] for r in rows])  # noqa: E731
    ml = score("multilabel", gold, pred, 3)
    assert ml["micro_f1"] == pytest.approx(f1_score(hot(gold), hot(pred), average="micro"))
    assert ml["macro_f1"] == pytest.approx(f1_score(hot(gold), hot(pred), average="macro"))
    tok = score("token", [["B-X", "I-X", "O", "B-Y"]], [["B-X", "I-X", "O", "O"]])
    assert tok["precision"] == 1.0 and tok["recall"] == 0.5 and tok["f1"] == tok["entity_f1"] == pytest.approx(2 / 3)
    g, p = [0.1, 0.5, 0.2, 0.9, 0.7], [0.0, 0.4, 0.5, 1.0, 0.6]
    reg = score("regression", g, p)
    assert reg["pearson"] == pytest.approx(pearsonr(g, p)[0]) and reg["spearman"] == pytest.approx(spearmanr(g, p)[0])
    assert score("regression", g, [0.3] * 5) == {"pearson": 0.0, "spearman": 0.0}  # a constant model earns nothing


def test_metric_names_are_checked_per_kind_with_one_line_errors():
    for kind, metric in [("classification", "weighted_f1"), ("pair", "micro_f1_excluding:false"),
                         ("multilabel", "macro_f1"), ("token", "entity_f1"), ("retrieval", "mrr@100"),
                         ("retrieval", "recall@3"), ("regression", "spearman"), ("cloze", "accuracy")]:
        check_metric(kind, metric)
    for kind, metric, hint in [("classification", "mrr@10", "valid: accuracy"), ("multilabel", "accuracy", "micro_f1"),
                               ("retrieval", "mrr@0", "mrr@<k>"), ("token", "micro_f1", "entity_f1"),
                               ("regression", "accuracy", "pearson"), ("tagging", "f1", "unknown task kind")]:
        with pytest.raises(UserError, match=hint) as err:
            check_metric(kind, metric)
        assert "\n" not in str(err.value)
    with pytest.raises(UserError, match="label 'none'.*not one of"):
        check_metric("classification", "micro_f1_excluding:none", ("false", "cpr:3"))
    with pytest.raises(UserError, match="task 'chem'"):
        task_metric("chem", "classification", "micro-f1")
    assert task_metric("ner", "token", "accuracy") == "f1"  # EvalTask's default means the kind's main metric


def test_conformance_flags_a_metric_its_kind_does_not_produce():
    from dataclasses import replace

    from domain_electra.conformance import check_domain
    from domain_electra.registry import get_domain

    domain = get_domain("finance")
    bad = replace(domain.eval_tasks[0], metric="mrr@10")
    problems = check_domain(replace(domain, eval_tasks=(bad,) + domain.eval_tasks[1:]))
    assert problems == [f"eval task {bad.name}: metric 'mrr@10' is not one a classification task produces "
                        "(valid: accuracy, macro_f1, micro_f1, weighted_f1, micro_f1_excluding:<label>)"]


def test_constant_prediction_flag():
    assert constant_prediction("classification", [2, 2, 2]) and not constant_prediction("classification", [2, 1])
    assert constant_prediction("token", [["O", "O"], ["O"]]) and not constant_prediction("token", [["O", "B-D"]])
    assert constant_prediction("multilabel", [[], []]) and constant_prediction("regression", [0.5, 0.5])
    assert constant_prediction("retrieval", [[0, 9]] * 3) and not constant_prediction("retrieval", [[0, 9], [1, 0]])


def _unit(task, per_example_correct, model_preds, metric="accuracy"):
    gold = [1] * len(per_example_correct)
    return {"task": task, "kind": "classification", "metric": metric, "gold": gold, "preds": model_preds}


def test_suite_average_interval_on_known_per_example_scores():
    # Model a: accuracy 0.7 on task x (n = 2000) and 0.5 on task y; each task is resampled independently, so the
    # average's standard error is sqrt(0.7*0.3/2000 + 0.5*0.5/2000) / 2 = 0.0076 -> 95% half-width ~0.0149.
    rng = np.random.default_rng(1)
    n = 2000
    x = (np.arange(n) < 0.7 * n).astype(int)[rng.permutation(n)]
    y = (np.arange(n) < 0.5 * n).astype(int)[rng.permutation(n)]
    units = [_unit("x", x, {"a": [x.tolist()], "b": [x.tolist()]}), _unit("y", y, {"a": [y.tolist()], "b": [np.ones(n, int).tolist()]})]
    out = suite_average(units, ["a", "b"], n_boot=2000)
    a = out["average"]["a"]
    assert a["mean"] == pytest.approx(0.6)
    half = 1.96 * np.sqrt(0.7 * 0.3 / n + 0.5 * 0.5 / n) / 2
    assert a["ci_low"] == pytest.approx(0.6 - half, abs=0.004) and a["ci_high"] == pytest.approx(0.6 + half, abs=0.004)
    # b equals a on x and is perfect on y: delta = (0 + 0.5) / 2 = 0.25, its spread from y alone (paired):
    # sd of (1 - y) over 2 tasks = sqrt(0.25/2000) / 2.
    d = out["delta"]["b"]
    dhalf = 1.96 * np.sqrt(0.25 / n) / 2
    assert d["delta"] == pytest.approx(0.25)
    assert d["ci_low"] == pytest.approx(0.25 - dhalf, abs=0.003) and d["ci_high"] == pytest.approx(0.25 + dhalf, abs=0.003)
    assert out["tasks"] == ["x", "y"] and "a" not in out["delta"]


def test_suite_pairs_interval_between_two_later_models_is_paired():
    # c = b on task x and b + 0.1 of the examples on task y: c - b is 0.05 whatever the base a does, and the
    # pair's interval is that of the 10% flip alone (far narrower than the two models' own intervals).
    rng = np.random.default_rng(2)
    n = 2000
    x = (np.arange(n) < 0.6 * n).astype(int)[rng.permutation(n)]
    b_y = (np.arange(n) < 0.5 * n).astype(int)
    c_y = (np.arange(n) < 0.6 * n).astype(int)
    units = [_unit("x", x, {"a": [np.zeros(n, int).tolist()], "b": [x.tolist()], "c": [x.tolist()]}),
             _unit("y", b_y, {"a": [np.zeros(n, int).tolist()], "b": [b_y.tolist()], "c": [c_y.tolist()]})]
    out = suite_average(units, ["a", "b", "c"], n_boot=2000)
    assert list(out["pairs"]) == ["c - b"]  # pairs with the first model are out["delta"]
    pair = out["pairs"]["c - b"]
    half = 1.96 * np.sqrt(0.1 * 0.9 / n) / 2
    assert pair["delta"] == pytest.approx(0.05)
    assert pair["ci_low"] == pytest.approx(0.05 - half, abs=0.003) and pair["ci_high"] == pytest.approx(0.05 + half, abs=0.003)
    b_width = out["average"]["b"]["ci_high"] - out["average"]["b"]["ci_low"]
    assert pair["ci_high"] - pair["ci_low"] < b_width / 2


def test_suite_average_resamples_seeds_and_pairs_identical_models():
    gold = [1] * 10
    seeds = {"a": [[1] * 10, [0] * 10], "b": [[1] * 10, [0] * 10]}  # seed 0 perfect, seed 1 all wrong
    out = suite_average([_unit("t", gold, seeds)], ["a", "b"], n_boot=500)
    a = out["average"]["a"]
    # The seed draw alone moves the mean among 0, 0.5 and 1: the interval spans them.
    assert a["mean"] == 0.5 and a["ci_low"] == 0.0 and a["ci_high"] == 1.0
    assert out["delta"]["b"] == {"delta": 0.0, "ci_low": 0.0, "ci_high": 0.0}  # same draws for both models
    # F1 takes the rescoring path: identical models still give a zero-width delta.
    f1 = suite_average([_unit("t", gold, {"a": [[1, 0] * 5], "b": [[1, 0] * 5]}, metric="macro_f1")], ["a", "b"], 50)
    assert f1["delta"]["b"]["ci_low"] == f1["delta"]["b"]["ci_high"] == 0.0


def test_micro_f1_from_counts_equals_sklearn_on_every_resample():
    """The bootstrap's micro-F1 fast path (summed per-example counts) gives sklearn's value on any subset."""
    from domain_electra.evaluation import metrics as M

    rng = np.random.default_rng(3)
    gold = [sorted(set(rng.choice(5, rng.integers(0, 3)).tolist())) for _ in range(60)]
    pred = [sorted(set(rng.choice(5, rng.integers(0, 3)).tolist())) for _ in range(60)]
    counts = M.micro_counts("multilabel", "micro_f1", gold, pred)
    for rows in [np.arange(60), rng.integers(0, 60, 60), np.array([0, 0, 1]), np.array([i for i, g in enumerate(gold) if not g][:2])]:
        fast = float(M.micro_f1_of(counts[rows].sum(axis=0)))
        slow = M.metric_value("multilabel", "micro_f1", [gold[i] for i in rows], [pred[i] for i in rows], num_labels=5)
        assert fast == pytest.approx(slow, abs=1e-12)
    labels = ("none", "a", "b")
    g = rng.integers(0, 3, 80).tolist()
    p = rng.integers(0, 3, 80).tolist()
    counts = M.micro_counts("classification", "micro_f1_excluding:none", g, p, labels)
    rows = rng.integers(0, 80, 80)
    slow = M.metric_value("classification", "micro_f1_excluding:none", [g[i] for i in rows], [p[i] for i in rows], labels)
    assert float(M.micro_f1_of(counts[rows].sum(axis=0))) == pytest.approx(slow, abs=1e-12)


def test_bootstrap_of_micro_f1_matches_the_rescoring_path(monkeypatch):
    """The same interval as rescoring every replicate with sklearn (the old path), to the last digit."""
    from domain_electra.evaluation import metrics as M

    rng = np.random.default_rng(4)
    gold = [sorted(set(rng.choice(4, rng.integers(0, 3)).tolist())) for _ in range(40)]
    preds = [[sorted(set(rng.choice(4, rng.integers(0, 3)).tolist())) for _ in range(40)] for _ in range(4)]
    unit = {"task": "t", "kind": "multilabel", "metric": "micro_f1", "gold": gold, "num_labels": 4,
            "preds": {"a": preds[:2], "b": preds[2:]}}
    fast = M.suite_average([unit], ["a", "b"], n_boot=200)
    fast_delta = M.bootstrap_delta("multilabel", "micro_f1", gold, preds[:2], preds[2:], num_labels=4, n_boot=200)
    monkeypatch.setattr(M, "micro_counts", lambda *a, **k: None)
    slow = M.suite_average([unit], ["a", "b"], n_boot=200)
    assert fast["delta"]["b"] == pytest.approx(slow["delta"]["b"], abs=1e-12)
    assert all(fast["average"][m] == pytest.approx(slow["average"][m], abs=1e-12) for m in "ab")
    slow_delta = M.bootstrap_delta("multilabel", "micro_f1", gold, preds[:2], preds[2:], num_labels=4, n_boot=200)
    assert fast_delta[0] == pytest.approx(slow_delta[0], abs=1e-12)  # the observed delta; the draws differ in order
    assert abs(fast_delta[1] - slow_delta[1]) < 0.08 and abs(fast_delta[2] - slow_delta[2]) < 0.08
