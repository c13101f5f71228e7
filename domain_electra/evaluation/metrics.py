"""Metrics over (gold, pred) lists, one uniform shape for every task kind, plus the paired bootstrap.

Every kind keeps per-example gold and predictions, so one bootstrap routine can resample examples and
recompute any metric (entity F1 and MRR included) for a 95% interval on a difference between models.
  classification / pair: gold, pred = label indices
  multilabel: gold, pred = lists of label indices
  token: gold, pred = lists of BIO tags per sentence
  retrieval: gold = 0 (unused), pred = [above, tied] per query: how many candidate documents score strictly
      above the relevant one and how many exactly tie with it (a plain int means `above` with no tie)
  regression: gold, pred = floats
  cloze: gold, pred = answer strings

The metric names each kind accepts (METRICS, plus the parametrised ones that check_metric parses):
  classification, pair: accuracy, macro_f1, micro_f1, weighted_f1, micro_f1_excluding:<label> (micro F1 over
      every label except <label>, e.g. BLURB's ChemProt score without the negative class "false")
  multilabel: micro_f1, macro_f1, exact_match
  token: f1 (= entity_f1: seqeval entity-level F1), precision, recall
  retrieval: mrr@<k>, recall@<k> for any k >= 1
  regression: pearson, spearman
  cloze: accuracy
"""
from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from ..errors import UserError

MAIN_METRIC = {"classification": "accuracy", "pair": "accuracy", "multilabel": "micro_f1", "token": "f1",
               "retrieval": "mrr@10", "regression": "pearson", "cloze": "accuracy"}
METRICS = {  # computed for every split of the kind (the parametrised ones only when a task names them)
    "classification": ("accuracy", "macro_f1", "micro_f1", "weighted_f1"),
    "pair": ("accuracy", "macro_f1", "micro_f1", "weighted_f1"),
    "multilabel": ("micro_f1", "macro_f1", "exact_match"),
    "token": ("f1", "entity_f1", "precision", "recall"),
    "retrieval": ("mrr@10", "recall@1", "recall@5", "recall@10"),
    "regression": ("pearson", "spearman"),
    "cloze": ("accuracy",),
}
EXCLUDING = "micro_f1_excluding:"
RANK_METRIC = re.compile(r"^(mrr|recall)@([1-9][0-9]*)$")
CEILING = 1.0  # every metric above is at most 1 (a saturated task sits within 0.01 of it)


def check_metric(kind: str, metric: str, labels: Sequence[str] | None = None, where: str = "") -> None:
    """Raise a one-line UserError unless `metric` is one the kind produces (with `labels`, the label that
    micro_f1_excluding names must be one of them)."""
    prefix = f"{where}: " if where else ""
    if kind not in METRICS:
        raise UserError(f"{prefix}unknown task kind '{kind}' (valid: {', '.join(METRICS)})")
    if metric in METRICS[kind] or (kind == "retrieval" and RANK_METRIC.match(metric)):
        return
    if kind in ("classification", "pair") and metric.startswith(EXCLUDING) and metric[len(EXCLUDING):]:
        if labels is not None and metric[len(EXCLUDING):] not in labels:
            raise UserError(f"{prefix}metric '{metric}' names label '{metric[len(EXCLUDING):]}', which is not one "
                            f"of the task's labels {list(labels)}")
        return
    extra = {"classification": ", micro_f1_excluding:<label>", "pair": ", micro_f1_excluding:<label>",
             "retrieval": ", mrr@<k>, recall@<k>"}.get(kind, "")
    raise UserError(f"{prefix}metric '{metric}' is not one a {kind} task produces "
                    f"(valid: {', '.join(METRICS[kind])}{extra})")


def task_metric(name: str, kind: str, metric: str) -> str:
    """A task's declared metric, checked against its kind (a one-line UserError otherwise). EvalTask's
    default "accuracy" on a kind without accuracy means the kind's main metric."""
    if metric == "accuracy" and kind not in ("classification", "pair", "cloze"):
        return MAIN_METRIC.get(kind, metric)
    check_metric(kind, metric, where=f"task '{name}'")
    return metric


def _f1(gold, pred, average: str, labels=None) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(gold, pred, average=average, labels=labels, zero_division=0))


def _multi_hot(rows, num_labels: int) -> np.ndarray:
    out = np.zeros((len(rows), max(num_labels, 1)), dtype=int)
    for i, row in enumerate(rows):
        out[i, list(row)] = 1
    return out


def _above_tied(pred: Sequence) -> tuple[np.ndarray, np.ndarray]:
    pairs = [(int(p), 0) if np.ndim(p) == 0 else (int(p[0]), int(p[1])) for p in pred]
    arr = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    return arr[:, 0], arr[:, 1]


def rank_values(metric: str, pred: Sequence) -> np.ndarray:
    """Per-query mrr@k / recall@k, each the expected value over every order of the documents tied with the
    relevant one (McSherry & Najork, ECIR 2008): a query whose relevant document ties with t others, s
    strictly above, sits at each 0-based rank s..s+t with probability 1/(t+1). A model whose embeddings
    collapse to one point therefore scores exactly chance (mrr@k = H_k / N with N candidates), never 1."""
    name, k = RANK_METRIC.match(metric).groups()
    k = int(k)
    above, tied = _above_tied(pred)
    last = np.minimum(above + tied, k - 1)  # the last rank of the tie block that still counts at k
    hit = np.maximum(0, last - above + 1)  # how many of the t+1 positions fall within the top k
    if name == "recall":
        return hit / (tied + 1)
    harmonic = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, k + 1))])  # H_0..H_k
    inside = above < k
    total = np.where(inside, harmonic[np.clip(last + 1, 0, k)] - harmonic[np.clip(above, 0, k)], 0.0)
    return total / (tied + 1)


def _correlation(name: str, gold, pred) -> float:
    from scipy.stats import pearsonr, spearmanr

    g, p = np.asarray(gold, dtype=float), np.asarray(pred, dtype=float)
    if len(g) < 2 or np.ptp(g) == 0 or np.ptp(p) == 0:
        return 0.0  # undefined for a constant side: scored as no correlation (a constant model earns nothing)
    value = (pearsonr if name == "pearson" else spearmanr)(g, p)[0]
    return float(value) if np.isfinite(value) else 0.0


def metric_value(kind: str, metric: str, gold: Sequence, pred: Sequence, labels: Sequence[str] = (),
                 num_labels: int = 0) -> float:
    """One metric of a kind on one split (check_metric has vetted the name)."""
    if kind in ("classification", "pair", "cloze"):
        if metric == "accuracy":
            return float(np.mean([g == p for g, p in zip(gold, pred)]))
        if metric.startswith(EXCLUDING):
            negative = list(labels).index(metric[len(EXCLUDING):])
            keep = [i for i in range(max(len(labels), num_labels)) if i != negative]
            return _f1(np.asarray(gold), np.asarray(pred), "micro", keep)
        return _f1(np.asarray(gold), np.asarray(pred), metric.removesuffix("_f1"))
    if kind == "multilabel":
        g, p = _multi_hot(gold, num_labels or len(labels)), _multi_hot(pred, num_labels or len(labels))
        if metric == "exact_match":
            return float((g == p).all(axis=1).mean())
        return _f1(g, p, metric.removesuffix("_f1"))
    if kind == "token":
        from seqeval import metrics as seq

        fn = {"f1": seq.f1_score, "entity_f1": seq.f1_score, "precision": seq.precision_score,
              "recall": seq.recall_score}[metric]
        return float(fn([list(x) for x in gold], [list(x) for x in pred], zero_division=0))
    if kind == "retrieval":
        return float(rank_values(metric, pred).mean())
    if kind == "regression":
        return _correlation(metric, gold, pred)
    raise ValueError(f"unknown task kind {kind!r}")


def score(kind: str, gold: Sequence, pred: Sequence, num_labels: int = 0, labels: Sequence[str] = (),
          extra: Sequence[str] = ()) -> dict[str, float]:
    """Every metric of METRICS[kind], plus the parametrised ones in `extra` (e.g. the task's own metric)."""
    if len(gold) == 0:
        raise ValueError("cannot score an empty split")
    if kind not in METRICS:
        raise ValueError(f"unknown task kind {kind!r}")
    names = list(dict.fromkeys([*METRICS[kind], *extra]))
    return {m: metric_value(kind, m, gold, pred, labels, num_labels) for m in names}


def bootstrap_delta(kind: str, metric: str, gold: Sequence, preds_a: Sequence[Sequence], preds_b: Sequence[Sequence],
                    num_labels: int = 0, n_boot: int = 1000, seed: int = 0, labels: Sequence[str] = ()
                    ) -> tuple[float, float, float]:
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

    counts_a = [micro_counts(kind, metric, gold, p, labels) for p in preds_a]
    counts_b = [micro_counts(kind, metric, gold, p, labels) for p in preds_b]
    if all(c is not None for c in counts_a + counts_b):  # micro F1: replicates from summed counts
        idx = np.vstack([np.arange(n), rng.integers(0, n, (n_boot, n))])
        deltas = _micro_scores(counts_b, idx).mean(axis=1) - _micro_scores(counts_a, idx).mean(axis=1)
        low, high = np.percentile(deltas[1:], [2.5, 97.5])
        return float(deltas[0]), float(low), float(high)

    def mean_metric(preds: Sequence[Sequence], idx: np.ndarray) -> float:
        g = [gold[i] for i in idx]
        return float(np.mean([metric_value(kind, metric, g, [p[i] for i in idx], labels, num_labels) for p in preds]))

    full = np.arange(n)
    observed = mean_metric(preds_b, full) - mean_metric(preds_a, full)
    deltas = np.empty(n_boot)
    for b in range(n_boot):
        idx = rng.integers(0, n, n)
        deltas[b] = mean_metric(preds_b, idx) - mean_metric(preds_a, idx)
    low, high = np.percentile(deltas, [2.5, 97.5])
    return observed, float(low), float(high)


def per_example(kind: str, metric: str, gold: Sequence, pred: Sequence) -> np.ndarray | None:
    """Per-example values whose mean is `metric`, or None for metrics that are not means (F1, correlations)."""
    if metric == "accuracy" and kind in ("classification", "pair", "cloze"):
        return np.array([float(g == p) for g, p in zip(gold, pred)])
    if metric == "exact_match" and kind == "multilabel":
        return np.array([float(sorted(g) == sorted(p)) for g, p in zip(gold, pred)])
    if kind == "retrieval" and RANK_METRIC.match(metric):
        return rank_values(metric, pred)
    return None


def micro_counts(kind: str, metric: str, gold: Sequence, pred: Sequence, labels: Sequence[str] = ()
                 ) -> np.ndarray | None:
    """(examples x 3) true positives, false positives and false negatives per example for a micro F1
    (multilabel micro_f1, classification micro_f1_excluding:<label>), or None for other metrics. Micro F1 of
    any subset is 2 TP / (2 TP + FP + FN) of its summed counts, so a bootstrap replicate is a sum, not a
    re-scoring (exactly sklearn's value, zero_division=0 included)."""
    if kind == "multilabel" and metric == "micro_f1":
        rows = [(set(g), set(p)) for g, p in zip(gold, pred)]
        return np.array([(len(g & p), len(p - g), len(g - p)) for g, p in rows], dtype=np.int64).reshape(-1, 3)
    if kind in ("classification", "pair") and metric.startswith(EXCLUDING):
        negative = list(labels).index(metric[len(EXCLUDING):])
        g, p = np.asarray(gold), np.asarray(pred)
        hit = g == p
        return np.stack([hit & (g != negative), ~hit & (p != negative), ~hit & (g != negative)], axis=1).astype(np.int64)
    return None


def micro_f1_of(counts: np.ndarray) -> np.ndarray:
    """Micro F1 from summed (..., 3) counts; 0 where nothing was predicted or expected."""
    tp, fp, fn = counts[..., 0], counts[..., 1], counts[..., 2]
    denominator = 2 * tp + fp + fn
    return np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), 0.0)


def _micro_scores(counts: Sequence[np.ndarray], idx: np.ndarray) -> np.ndarray:
    """(replicates, seeds) micro F1 of each seed's per-example counts on each row of example indices `idx`."""
    return np.stack([micro_f1_of(c[idx].sum(axis=1)) for c in counts], axis=1)


def _per_seed_scores(unit: dict, preds: Sequence, idx: np.ndarray) -> np.ndarray:
    """(replicates, seeds): the unit's metric of each seed on each row of example indices `idx`."""
    kind, metric, gold = unit["kind"], unit["metric"], unit["gold"]
    additive = [per_example(kind, metric, gold, p) for p in preds]
    if all(a is not None for a in additive):
        return np.stack([a[idx].mean(axis=1) for a in additive], axis=1)
    counts = [micro_counts(kind, metric, gold, p, unit.get("labels", ())) for p in preds]
    if all(c is not None for c in counts):
        return _micro_scores(counts, idx)
    return np.array([[metric_value(kind, metric, [gold[i] for i in rows], [p[i] for i in rows],
                                   unit.get("labels", ()), unit.get("num_labels", 0)) for p in preds] for rows in idx])


def constant_prediction(kind: str, pred: Sequence) -> bool:
    """True when a run predicts one and the same thing for every example (e.g. the majority label
    everywhere, all-"O" tags, one regression value, or every candidate document tied): a model that
    learnt nothing, however good its accuracy looks on an imbalanced test set."""
    if len(pred) == 0 or kind == "cloze":
        return False
    if kind in ("classification", "pair"):
        return len(set(int(p) for p in pred)) == 1
    if kind == "multilabel":
        return len({tuple(sorted(p)) for p in pred}) == 1
    if kind == "token":
        return len({tag for tags in pred for tag in tags}) <= 1
    if kind == "regression":
        return float(np.ptp(np.asarray(pred, dtype=float))) < 1e-6
    above, tied = _above_tied(pred)  # retrieval: the relevant document ties with every candidate
    return bool((above == 0).all() and (tied > 0).all() and len(set(tied.tolist())) == 1)


def _replicates(unit: dict, models: Sequence[str], rng: np.random.Generator, n_boot: int) -> dict[str, np.ndarray]:
    """Per model: the unit's score on every bootstrap replicate (examples and seeds resampled, the same
    draws for every model: paired), plus the observed score (all examples, all seeds) in slot 0."""
    n = len(unit["gold"])
    seeds = min(len(unit["preds"][m]) for m in models)
    idx = np.vstack([np.arange(n), rng.integers(0, n, (n_boot, n))])
    picks = np.vstack([np.arange(seeds), rng.integers(0, seeds, (n_boot, seeds))])
    out = {}
    for m in models:
        per_seed = _per_seed_scores(unit, unit["preds"][m][:seeds], idx)  # (replicates, seeds)
        out[m] = np.take_along_axis(per_seed, picks, axis=1).mean(axis=1)
    return out


def suite_average(units: Sequence[dict], models: Sequence[str], n_boot: int = 1000, seed: int = 0) -> dict:
    """Each model's suite average with a paired bootstrap 95% interval, and its delta to models[0].

    units: one per (task, test language): {"task", "kind", "metric", "gold", "preds": {model: [pred per seed]}}
    (+ "labels"/"num_labels"). A replicate resamples every unit's test examples and its seeds (the same draws
    for every model), scores each unit as the mean over the drawn seeds, each task as the mean of its
    languages, and the suite as the mean of its tasks. Returns {"average": {model: {mean, ci_low, ci_high}},
    "delta": {model: {delta, ci_low, ci_high}} (models[1:] minus models[0]), "pairs": {"b - a": {...}} (every
    later model minus every earlier one but the first, e.g. "rtd - control": the same draws, so a difference
    between two adapted models gets its own interval, not two overlapping ones), "tasks": [names averaged]}."""
    rng = np.random.default_rng(seed)
    per_task: dict[str, list[dict[str, np.ndarray]]] = {}
    for unit in units:
        if all(m in unit["preds"] and unit["preds"][m] for m in models):
            per_task.setdefault(unit["task"], []).append(_replicates(unit, models, rng, n_boot))
    if not per_task:
        return {"average": {}, "delta": {}, "pairs": {}, "tasks": []}
    suite = {m: np.mean([np.mean([u[m] for u in langs], axis=0) for langs in per_task.values()], axis=0)
             for m in models}

    def interval(values: np.ndarray) -> tuple[float, float, float]:
        low, high = np.percentile(values[1:], [2.5, 97.5])
        return float(values[0]), float(low), float(high)

    average = {m: dict(zip(("mean", "ci_low", "ci_high"), interval(suite[m]))) for m in models}
    delta = {m: dict(zip(("delta", "ci_low", "ci_high"), interval(suite[m] - suite[models[0]]))) for m in models[1:]}
    pairs = {f"{b} - {a}": dict(zip(("delta", "ci_low", "ci_high"), interval(suite[b] - suite[a])))
             for i, a in enumerate(models[1:], 1) for b in models[i + 1:]}
    return {"average": average, "delta": delta, "pairs": pairs, "tasks": list(per_task)}
