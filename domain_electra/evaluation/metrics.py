"""Metrics over (gold, pred) lists, one uniform shape for every task kind, plus the paired bootstrap.

Every kind keeps per-example gold and predictions, so one bootstrap routine can resample examples and
recompute any metric (entity F1 and MRR included) for a 95% interval on a difference between models.
  classification / pair: gold, pred = label indices
  multilabel: gold, pred = lists of label indices
  token: gold, pred = lists of BIO tags per sentence
  retrieval: gold = 0 (unused), pred = 0-based rank of the relevant document among all candidates
  cloze: gold, pred = answer strings
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

MAIN_METRIC = {"classification": "accuracy", "pair": "accuracy", "multilabel": "micro_f1", "token": "f1",
               "retrieval": "mrr@10", "cloze": "accuracy"}


def classification_scores(gold: Sequence[int], pred: Sequence[int]) -> dict[str, float]:
    from sklearn.metrics import f1_score

    g, p = np.asarray(gold), np.asarray(pred)
    return {"accuracy": float((g == p).mean()),
            "macro_f1": float(f1_score(g, p, average="macro", zero_division=0))}


def multilabel_scores(gold: Sequence[Sequence[int]], pred: Sequence[Sequence[int]], num_labels: int
                      ) -> dict[str, float]:
    from sklearn.metrics import f1_score

    def hot(rows):
        out = np.zeros((len(rows), max(num_labels, 1)), dtype=int)
        for i, row in enumerate(rows):
            out[i, list(row)] = 1
        return out

    g, p = hot(gold), hot(pred)
    return {"micro_f1": float(f1_score(g, p, average="micro", zero_division=0)),
            "macro_f1": float(f1_score(g, p, average="macro", zero_division=0)),
            "exact_match": float((g == p).all(axis=1).mean())}


def token_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict[str, float]:
    from seqeval.metrics import f1_score, precision_score, recall_score

    g, p = [list(x) for x in gold], [list(x) for x in pred]
    return {"f1": float(f1_score(g, p, zero_division=0)),
            "precision": float(precision_score(g, p, zero_division=0)),
            "recall": float(recall_score(g, p, zero_division=0))}


def retrieval_scores(ranks: Sequence[int], ks: Sequence[int] = (1, 5, 10)) -> dict[str, float]:
    r = np.asarray(ranks)
    out = {"mrr@10": float(np.where(r < 10, 1.0 / (r + 1), 0.0).mean())}
    for k in ks:
        out[f"recall@{k}"] = float((r < k).mean())
    return out


def cloze_scores(gold: Sequence[str], pred: Sequence[str]) -> dict[str, float]:
    return {"accuracy": float(np.mean([g == p for g, p in zip(gold, pred)]))}


def score(kind: str, gold: Sequence, pred: Sequence, num_labels: int = 0) -> dict[str, float]:
    """All metrics of a kind; the task's main one is MAIN_METRIC[kind] unless the task names another."""
    if len(gold) == 0:
        raise ValueError("cannot score an empty split")
    if kind in ("classification", "pair"):
        return classification_scores(gold, pred)
    if kind == "multilabel":
        return multilabel_scores(gold, pred, num_labels)
    if kind == "token":
        return token_scores(gold, pred)
    if kind == "retrieval":
        return retrieval_scores(pred)
    if kind == "cloze":
        return cloze_scores(gold, pred)
    raise ValueError(f"unknown task kind {kind!r}")


def bootstrap_delta(kind: str, metric: str, gold: Sequence, preds_a: Sequence[Sequence], preds_b: Sequence[Sequence],
                    num_labels: int = 0, n_boot: int = 1000, seed: int = 0) -> tuple[float, float, float]:
    """Paired bootstrap of mean-over-seeds(metric of B) - mean-over-seeds(metric of A) on the same examples.

    preds_a / preds_b: one prediction list per seed. Each replicate resamples example indices once and
    rescores every seed of both models on them, so seed noise and test-set noise both enter the interval.
    Returns (observed delta, 2.5th percentile, 97.5th percentile).
    """
    n = len(gold)
    rng = np.random.default_rng(seed)
    additive_a = [per_example(kind, metric, gold, p) for p in preds_a]
    additive_b = [per_example(kind, metric, gold, p) for p in preds_b]
    if all(v is not None for v in additive_a + additive_b):
        # A metric that is a mean over examples: resample the per-example values directly (fast, exact).
        diff = np.mean(additive_b, axis=0) - np.mean(additive_a, axis=0)
        idx = rng.integers(0, n, (n_boot, n))
        deltas = diff[idx].mean(axis=1)
        low, high = np.percentile(deltas, [2.5, 97.5])
        return float(diff.mean()), float(low), float(high)

    def mean_metric(preds: Sequence[Sequence], idx: np.ndarray) -> float:
        g = [gold[i] for i in idx]
        return float(np.mean([score(kind, g, [p[i] for i in idx], num_labels)[metric] for p in preds]))

    full = np.arange(n)
    observed = mean_metric(preds_b, full) - mean_metric(preds_a, full)
    deltas = np.empty(n_boot)
    for b in range(n_boot):
        idx = rng.integers(0, n, n)
        deltas[b] = mean_metric(preds_b, idx) - mean_metric(preds_a, idx)
    low, high = np.percentile(deltas, [2.5, 97.5])
    return observed, float(low), float(high)


def per_example(kind: str, metric: str, gold: Sequence, pred: Sequence) -> np.ndarray | None:
    """Per-example values whose mean is `metric`, or None for metrics that are not means (F1)."""
    if metric == "accuracy" and kind in ("classification", "pair", "cloze"):
        return np.array([float(g == p) for g, p in zip(gold, pred)])
    if metric == "exact_match" and kind == "multilabel":
        return np.array([float(sorted(g) == sorted(p)) for g, p in zip(gold, pred)])
    if kind == "retrieval":
        r = np.asarray(pred)
        if metric == "mrr@10":
            return np.where(r < 10, 1.0 / (r + 1), 0.0)
        if metric.startswith("recall@"):
            return (r < int(metric.split("@")[1])).astype(float)
    return None
