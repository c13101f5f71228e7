"""The fine-tuning loop (one, explicit) and scoring of a fine-tuned model on dev/test splits."""
from __future__ import annotations

import inspect
import json
import math
import random
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..domain import EvalTask, TaskData
from ..errors import UserError
from ..evaluation.metrics import check_metric, metric_value, score, task_metric
from ..pretrain.step import autocast_for  # bf16 on CUDA, as in pretraining; plain fp32 elsewhere
from . import batches as B
from .config import FinetuneConfig
from .models import Pooler, check_model_dir, count_parameters, head_size, load_base, load_finetuned, \
    load_tokenizer, save_finetuned, wrap_lora
from .progress import make_progress


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def metric_of(task: EvalTask) -> str:
    """The task's metric (metrics.task_metric: validated against its kind)."""
    return task_metric(task.name, task.kind, task.metric)


def score_split(kind: str, gold, pred, labels, metric: str) -> dict[str, float]:
    """Every metric of the kind plus the task's own (micro_f1_excluding:<label>, mrr@<k>, ...)."""
    return score(kind, gold, pred, len(labels), labels=labels, extra=(metric,))


def _forward_keys(model: torch.nn.Module) -> set[str]:
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return set(inspect.signature(base.forward).parameters)


def _to(batch: dict, device: torch.device, keys: set[str]) -> dict:
    # Some encoders (DistilBERT, RoBERTa variants) take no token_type_ids: pass only what forward accepts.
    return {k: v.to(device) for k, v in batch.items() if k in keys}


def _run(model, batch: dict):
    """The model's forward, in bf16 autocast on CUDA (fp32 weights; HF losses are computed in fp32)."""
    with autocast_for(batch["input_ids"].device)():
        return model(**batch)


def _embed(model, pooler, tok, texts: Sequence[str], config: FinetuneConfig, device, keys) -> torch.Tensor:
    inputs = _to(B.retrieval_side(tok, texts, config.max_length), device, keys)
    hidden = _run(model, inputs).last_hidden_state
    return pooler(hidden.float(), inputs["attention_mask"])  # similarities, ranking and losses in fp32


POS_WEIGHT_CAP = 100.0


def label_pos_weight(rows: Sequence[dict], num_labels: int) -> torch.Tensor:
    """Per label: negatives / positives over the training rows, in [1, POS_WEIGHT_CAP] (1 without positives)."""
    positives = torch.zeros(num_labels)
    for row in rows:
        positives[sorted(set(row["label"]))] += 1
    weight = (len(rows) - positives) / positives.clamp(min=1)
    return torch.where(positives > 0, weight, torch.ones(num_labels)).clamp(1.0, POS_WEIGHT_CAP)


def train_loss(kind: str, model, pooler, tok, rows: Sequence[dict], config: FinetuneConfig, labels: Sequence[str],
               device, keys, pos_weight: torch.Tensor | None = None) -> torch.Tensor:
    if kind == "retrieval":
        # In-batch negatives: every other document of the batch is a negative for each query.
        q = _embed(model, pooler, tok, [r["query"] for r in rows], config, device, keys)
        d = _embed(model, pooler, tok, [r["document"] for r in rows], config, device, keys)
        logits = q @ d.T / config.temperature
        return torch.nn.functional.cross_entropy(logits, torch.arange(len(rows), device=device))
    if kind == "token":
        batch, _ = B.encode_tokens(tok, rows, config.max_length, B.label_index(labels))
    else:
        batch = B.encode_texts(tok, rows, kind, config.max_length)
        batch["labels"] = B.encode_labels(rows, kind, len(labels))
    if pos_weight is not None:  # the model's own multi-label loss, with each label's positives re-weighted
        logits = _run(model, _to(batch, device, keys)).logits.float()
        return torch.nn.functional.binary_cross_entropy_with_logits(
            logits, batch["labels"].to(device), pos_weight=pos_weight.to(device))
    return _run(model, _to(batch, device, keys | {"labels"})).loss.float()


THRESHOLD_GRID = tuple(round(0.05 * i, 2) for i in range(1, 20))  # probabilities tried on dev


def multilabel_pred(logits: torch.Tensor, threshold: float) -> list[list[int]]:
    """Label indices whose sigmoid probability exceeds `threshold`."""
    cut = math.log(threshold / (1 - threshold))
    return [torch.nonzero(row > cut).flatten().tolist() for row in logits]


def tune_threshold(gold: list, logits: torch.Tensor, num_labels: int, metric: str) -> tuple[float, float]:
    """(threshold, dev score) of the grid threshold that scores best on dev; ties keep the one nearest 0.5.

    With few training examples or rare labels a multi-label head rarely clears 0.5 (it predicts nothing
    and scores 0 F1); one global threshold chosen on dev, never on test, is the usual remedy."""
    ranked = sorted(THRESHOLD_GRID, key=lambda t: abs(t - 0.5))
    scores = {t: metric_value("multilabel", metric, gold, multilabel_pred(logits, t), num_labels=num_labels)
              for t in ranked}
    best = max(ranked, key=lambda t: scores[t])  # max keeps the first (nearest 0.5) among equals
    return best, scores[best]


def rank_in_pool(queries: torch.Tensor, documents: torch.Tensor, relevant: Sequence[int]) -> list[list[int]]:
    """Per query [above, tied]: candidates scored strictly above its relevant document, and exactly level
    with it (the relevant one itself not counted). metrics.rank_values turns ties into their expected rank,
    so ties never count as wins and a collapsed model (everything tied) scores chance."""
    sims = queries @ documents.T
    target = sims[torch.arange(len(relevant)), torch.as_tensor(list(relevant), dtype=torch.long)].unsqueeze(1)
    above = (sims > target).sum(1)
    tied = (sims == target).sum(1) - 1
    return torch.stack([above, tied], 1).tolist()


def _embed_all(model, pooler, tok, texts: Sequence[str], config: FinetuneConfig, device, keys) -> torch.Tensor:
    return torch.cat([_embed(model, pooler, tok, chunk, config, device, keys)
                      for chunk in B.chunks(list(texts), config.eval_batch_size)])


@torch.no_grad()
def predict(kind: str, model, tok, rows: Sequence[dict], config: FinetuneConfig, labels: Sequence[str],
            device=None, pooler=None, threshold: float = 0.5, raw: bool = False, candidates: Sequence[str] = ()
            ) -> tuple[list, list]:
    """(gold, pred) for a split, in the shapes domain_electra.evaluation.metrics expects.

    Multi-label: a label is predicted when its probability exceeds `threshold`; with raw=True pred is the
    (examples x labels) logit tensor instead (for tune_threshold). Retrieval: each query is ranked against
    batches.retrieval_pool(rows, candidates), every distinct document text once."""
    device = device or next(model.parameters()).device
    keys = _forward_keys(model)
    model.eval()
    if kind == "retrieval":
        pooler = pooler or Pooler(config.pooling)
        pool = B.retrieval_pool(rows, candidates)
        where = {text: i for i, text in enumerate(pool)}
        q = _embed_all(model, pooler, tok, [r["query"] for r in rows], config, device, keys)
        d = _embed_all(model, pooler, tok, pool, config, device, keys)
        return [0] * len(rows), rank_in_pool(q, d, [where[r["document"]] for r in rows])
    gold, pred, scores = [], [], []
    for chunk in B.chunks(rows, config.eval_batch_size):
        if kind == "token":
            batch, word_ids = B.encode_tokens(tok, chunk, config.max_length, None)
            best = _run(model, _to(batch, device, keys)).logits.float().argmax(-1).cpu()
            for i, row in enumerate(chunk):
                tags = ["O"] * len(row["tokens"])  # words cut off by truncation are predicted "O"
                previous = None
                for j, w in enumerate(word_ids[i]):
                    if w is not None and w != previous:
                        tags[w] = labels[int(best[i, j])]
                    previous = w
                gold.append(list(row["tags"]))
                pred.append(tags)  # seqeval treats a dangling I- as an entity start, as conlleval does
            continue
        logits = _run(model, _to(B.encode_texts(tok, chunk, kind, config.max_length), device, keys)).logits.float().cpu()
        if kind == "multilabel":
            scores.append(logits)
            gold += [sorted(r["label"]) for r in chunk]
        elif kind == "regression":
            pred += logits[:, 0].tolist()
            gold += [float(r["label"]) for r in chunk]
        else:
            pred += logits.argmax(-1).tolist()
            gold += [int(r["label"]) for r in chunk]
    if kind == "multilabel":
        logits = torch.cat(scores) if scores else torch.zeros(0, len(labels))
        return gold, logits if raw else multilabel_pred(logits, threshold)
    return gold, pred


def _trainable_state(model) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def finetune(task: EvalTask, data: TaskData, model_dir: str | Path, out: str | Path | None,
             config: FinetuneConfig = FinetuneConfig(), progress: bool = True) -> dict:
    """Fine-tune `model_dir` on `task` (LoRA or full), early-stop on dev, score every test split.

    Writes the adapter (or full model), tokenizer files and finetune.json into `out` (skipped when out is
    None, e.g. inside a benchmark). Returns a dict with the dev history, per-language test metrics and
    the per-example predictions ("predictions": {lang: {"gold", "pred"}}) used for bootstrap intervals.
    """
    base_dir = check_model_dir(model_dir)
    data = B.limit_data(data, config.limit)
    kind, labels, metric = task.kind, tuple(data.labels), metric_of(task)
    if config.zero_shot:
        return zero_shot(task, data, base_dir, out, config)
    B.check_nonempty(task.name, data)
    if kind in ("classification", "multilabel", "pair", "token") and not labels:
        raise UserError(f"task '{task.name}' declares no labels; its loader must fill TaskData.labels")
    check_metric(kind, metric, labels, where=f"task '{task.name}'")  # a named label must exist
    device = resolve_device(config.device)
    seed_everything(config.seed)
    tok = load_tokenizer(base_dir)
    model = load_base(base_dir, kind, head_size(kind, labels), config.layers)
    if config.method == "lora":
        model = wrap_lora(model, kind, config)
    model.to(device)
    keys, pooler = _forward_keys(model), Pooler(config.pooling)
    trainable, total = count_parameters(model)

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    train = list(data.train)
    steps_per_epoch = math.ceil(len(train) / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    warmup = max(1, int(config.warmup_ratio * total_steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total_steps - s) / max(1, total_steps - warmup))))
    eval_at = {round(steps_per_epoch * (i + 1) / config.evals_per_epoch) for i in range(config.evals_per_epoch)}
    order = random.Random(config.seed)

    pos_weight = (label_pos_weight(train, len(labels))
                  if kind == "multilabel" and config.pos_weight == "balanced" else None)
    tune = kind == "multilabel" and config.threshold is None
    threshold = 0.5 if config.threshold is None else config.threshold
    history, best, best_state, stale, step, started = [], -math.inf, None, 0, 0, time.perf_counter()
    best_threshold = threshold
    with make_progress(progress) as bar:
        job = bar.add_task(f"{task.name} ({config.method})", total=total_steps)
        for epoch in range(config.epochs):
            order.shuffle(train)
            stop = False
            for i, rows in enumerate(B.chunks(train, config.batch_size)):
                model.train()
                loss = train_loss(kind, model, pooler, tok, rows, config, labels, device, keys, pos_weight)
                if not torch.isfinite(loss):
                    raise UserError(f"task '{task.name}': the training loss became {loss.item()} at step {step}; "
                                    "lower lr")
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimizer.step()
                schedule.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                bar.update(job, advance=1)
                if (i + 1) not in eval_at:
                    continue
                if tune:
                    gold, logits = predict(kind, model, tok, data.dev, config, labels, device, pooler, raw=True)
                    threshold, dev = tune_threshold(gold, logits, len(labels), metric)
                else:
                    gold, pred = predict(kind, model, tok, data.dev, config, labels, device, pooler, threshold)
                    dev = metric_value(kind, metric, gold, pred, labels, len(labels))
                history.append({"step": step, "epoch": epoch + (i + 1) / steps_per_epoch, "loss": loss.item(),
                                f"dev_{metric}": dev, **({"threshold": threshold} if tune else {})})
                if dev > best:
                    best, best_state, stale, best_threshold = dev, _trainable_state(model), 0, threshold
                else:
                    stale += 1
                    stop = config.patience > 0 and stale >= config.patience
                    if stop:
                        break
            if stop:
                break
    seconds = time.perf_counter() - started
    if best_state is not None:  # the checkpoint that scored best on dev, not the last one
        with torch.no_grad():
            for name, param in model.named_parameters():
                if name in best_state:
                    param.copy_(best_state[name])

    test, predictions = score_tests(task, data, model, tok, config, labels, device, pooler, best_threshold)
    from ..config import to_dict

    info = {"task": task.name, "kind": kind, "metric": metric, "labels": list(labels), "method": config.method,
            "base_model": str(base_dir.resolve()), "config": to_dict(config), "best_dev": best,
            **({"threshold": best_threshold} if kind == "multilabel" else {}),
            "steps": step, "train_seconds": seconds, "train_examples": len(train),
            "trainable_params": trainable, "total_params": total, "history": history, "test": test}
    if out is not None:
        save_finetuned(model, Path(out), base_dir, info)
    return {**info, "predictions": predictions}


def pool_entry(kind: str, rows: Sequence[dict], data: TaskData, lang: str) -> dict:
    """{"pool": candidate documents} for a retrieval split (stated beside its scores), else nothing."""
    return {"pool": len(B.retrieval_pool(rows, data.candidates.get(lang, ())))} if kind == "retrieval" else {}


def score_tests(task: EvalTask, data: TaskData, model, tok, config: FinetuneConfig, labels, device, pooler,
                threshold: float = 0.5) -> tuple[dict, dict]:
    """({lang: metrics + n (+ pool)}, {lang: {"gold", "pred"}}) over every test split."""
    test, predictions = {}, {}
    for lang, rows in data.test.items():
        gold, pred = predict(task.kind, model, tok, rows, config, labels, device, pooler, threshold,
                             candidates=data.candidates.get(lang, ()))
        test[lang] = {**score_split(task.kind, gold, pred, labels, metric_of(task)), "n": len(rows),
                      **pool_entry(task.kind, rows, data, lang)}
        predictions[lang] = {"gold": gold, "pred": pred}
    return test, predictions


def zero_shot(task: EvalTask, data: TaskData, base_dir: Path, out, config: FinetuneConfig) -> dict:
    """Retrieval with the base encoder as it is (no training): finetune()'s result shape, steps 0.

    The dev split, when there is one, is scored too (best_dev); a test-only set needs none."""
    if task.kind != "retrieval":
        raise UserError(f"finetune zero_shot applies to retrieval tasks only; task '{task.name}' is {task.kind}")
    B.check_nonempty(task.name, data, need_train=False)
    device = resolve_device(config.device)
    tok, pooler = load_tokenizer(base_dir), Pooler(config.pooling)
    model = load_base(base_dir, "retrieval", 0, config.layers).to(device)
    metric, started = metric_of(task), time.perf_counter()
    best_dev = None
    if data.dev:
        gold, pred = predict("retrieval", model, tok, data.dev, config, (), device, pooler)
        best_dev = metric_value("retrieval", metric, gold, pred)
    test, predictions = score_tests(task, data, model, tok, config, (), device, pooler)
    from ..config import to_dict

    total = count_parameters(model)[1]
    info = {"task": task.name, "kind": "retrieval", "metric": metric, "labels": [], "method": "zero-shot",
            "base_model": str(base_dir.resolve()), "config": to_dict(config), "best_dev": best_dev, "steps": 0,
            "train_seconds": 0.0, "eval_seconds": time.perf_counter() - started, "train_examples": 0,
            "trainable_params": 0, "total_params": total, "history": [], "test": test}
    if out is not None:  # nothing was trained: the scores are the result
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "zero_shot.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
    return {**info, "predictions": predictions}


def evaluate(task: EvalTask, data: TaskData, model_dir: str | Path, out: str | Path | None = None,
             config: FinetuneConfig | None = None, progress: bool = True) -> dict:
    """Score a saved fine-tuned folder (adapter or full) on the task's test splits: {lang: metrics}.

    Writes eval.json into `out` (default: the fine-tuned folder). `config` defaults to the one it was
    trained with (same max_length, limit and pooling)."""
    model, info = load_finetuned(model_dir)
    if info["task"] != task.name:
        raise UserError(f"{model_dir} was fine-tuned on '{info['task']}', not '{task.name}'")
    config = config or FinetuneConfig(**{k: tuple(v) if isinstance(v, list) else v
                                         for k, v in info["config"].items()})
    data = B.limit_data(data, config.limit)
    B.check_nonempty(task.name, data, need_train=False)
    device = resolve_device(config.device)
    model.to(device)
    tok = load_tokenizer(model_dir)
    labels = tuple(info["labels"])
    results = {}
    with make_progress(progress) as bar:
        job = bar.add_task(f"evaluate {task.name}", total=len(data.test))
        for lang, rows in data.test.items():
            gold, pred = predict(task.kind, model, tok, rows, config, labels, device,
                                 threshold=info.get("threshold", 0.5), candidates=data.candidates.get(lang, ()))
            results[lang] = {**score_split(task.kind, gold, pred, labels, metric_of(task)), "n": len(rows),
                             **pool_entry(task.kind, rows, data, lang)}
            bar.advance(job)
    target = Path(out) if out is not None else Path(model_dir)
    target.mkdir(parents=True, exist_ok=True)
    (target / "eval.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    return results


def resolve_task(domain: str, task: str, data_dir: str | Path | None = None, options: dict | None = None
                 ) -> tuple[EvalTask, TaskData]:
    """(task, its loaded data) from a domain name (or plugin path) and a task name: the CLI's entry point."""
    from ..registry import get_domain

    dom = get_domain(domain)
    try:
        found = dom.task(task)
    except KeyError as exc:
        raise UserError(str(exc).strip("'\"")) from None
    return found, found.load(data_dir, **(options or {}))
