"""`domain-electra bench`: every task of a suite, for every model, with the same budget and several seeds.

Nothing partial is presented as complete: all models and data sets are checked before any training, the
per-unit rows stream into progress.jsonl while running, and results.json / results.csv / report.md are
written only once every unit has finished (results.json then says "complete": true). Each finished unit's
rows and test predictions go to units.jsonl (see units.py): rerunning a stopped bench resumes it, and a
finished one keeps what its intervals were computed from.
"""
from __future__ import annotations

import json
import platform
import sys
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from ..config import from_dict, to_dict
from ..errors import UserError
from ..finetune import FinetuneConfig, check_model_dir, finetune
from ..finetune.batches import check_nonempty, limit_data, pool_sizes
from ..finetune.progress import make_progress
from ..finetune.train import metric_of
from .metrics import check_metric, constant_prediction, score
from .probes import run_probes
from .suite import Suite, load_suite
from .units import UNITS, UnitLog, read_finished, restore, run_identity, unit_key


@dataclass(frozen=True)
class BenchConfig:
    """One benchmark run.

    suite: path of a suite file (evals/<domain>.yaml).
    models: name -> model folder; the first one is the baseline every delta is measured against.
    data_dir: where the data sets live (else $DOMAIN_ELECTRA_DATA, else ../shared/data).
    limit: at most this many examples per split (train, dev, each test language), the same for every model.
    seeds: fine-tuning runs per task and model (seeds 0..seeds-1); zero-shot probes run once.
    finetune: FinetuneConfig values applied over the suite's (e.g. {"epochs": 1, "method": "full"}).
    tasks: run only these suite tasks (empty: all).
    bootstrap: resamples for the 95% intervals of deltas.
    save_models: also keep every fine-tuned adapter under <out>/models/ (off: scores only).
    lr_grid: learning rates to try for every task, model and seed (e.g. [5e-4, 2e-3, 2e-2]); the run with
        the best dev score is the one scored on test, and results.json "runs" records its lr and every
        lr's dev score. Each model gets its own best (multilingual-e5-small's NER head needs ~10x the lr
        MiniLM's does). Empty: the suite's lr. Costs one fine-tuning per grid value.
    probes: run the suite's zero-shot cloze probes (`probe:` on a task) for every model. They are a quick
        read of what the MLM head knows, but on CPU they can cost more than the fine-tuning itself
        (45 of 54 minutes of a small finance bench): `probes=false` skips them; cloze tasks still run.
    """

    suite: str
    models: dict = field(default_factory=dict)
    data_dir: str | None = None
    limit: int | None = None
    seeds: int = 3
    finetune: dict = field(default_factory=dict)
    tasks: tuple[str, ...] = ()
    bootstrap: int = 1000
    save_models: bool = False
    lr_grid: tuple[float, ...] = ()
    probes: bool = True


def _finetune_config(suite: Suite, st, overrides: dict, seed: int) -> FinetuneConfig:
    values = {**suite.finetune, **st.finetune, **overrides, "seed": seed, "limit": None}
    return from_dict(FinetuneConfig, values, "finetune")


def _zero_shot(suite: Suite, st, config: BenchConfig) -> bool:
    return _finetune_config(suite, st, config.finetune, 0).zero_shot


def _load_all(suite: Suite, config: BenchConfig, progress: bool) -> dict:
    """Load, limit and check every task's data before training anything (fail fast, nothing partial)."""
    datas = {}
    for st in suite.tasks:
        data = limit_data(st.task.load(config.data_dir, **st.options), config.limit)
        check_nonempty(st.task.name, data, need_train=st.task.kind != "cloze" and not _zero_shot(suite, st, config))
        check_metric(st.task.kind, metric_of(st.task), data.labels, where=f"task '{st.task.name}'")
        if st.probe:
            prompt_rows(st.probe, data)  # label words must match the labels: check before training
        datas[st.task.name] = data
    return datas


def prompt_rows(probe: dict, data) -> dict[str, list[dict]]:
    """Classification test sets as cloze prompts: the gold answer is the label word of the gold label."""
    words = [str(w) for w in probe["words"]]
    if len(words) != len(data.labels):
        raise UserError(f"probe words {words} must name each of the {len(data.labels)} labels {list(data.labels)}")
    out = {}
    for lang, rows in data.test.items():
        out[lang] = [{"text": probe["template"].replace("{text}", r["text"] + (" " + r["text_pair"] if "text_pair" in r
                                                                                 else "")),
                      "choices": words, "answer": words[int(r["label"])]} for r in rows]
    return out


def _hardware() -> dict:
    import torch

    info = {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_threads": torch.get_num_threads(), "torch": torch.__version__, "python": platform.python_version()}
    try:
        import transformers, peft  # noqa: E401

        info |= {"transformers": transformers.__version__, "peft": peft.__version__}
    except ImportError:
        pass
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def _rows(model: str, task, variant: str, seed: int, lang: str, metrics: dict, n: int, probe: bool = False) -> dict:
    # Probes are scored by accuracy whatever the task's fine-tuning metric is.
    metric = metric_of(task) if metric_of(task) in metrics else "accuracy"
    kind = "cloze" if probe else task.kind
    return {"model": model, "task": task.name, "kind": kind, "variant": variant, "seed": seed,
            "language": lang, "train_language": task.train_language, "metric": metric,
            "score": metrics[metric], "n": n, **{f"m:{k}": v for k, v in metrics.items()}}


def _finetune_best_lr(suite: Suite, st, config: BenchConfig, name: str, model_dir, data, seed: int, out: Path):
    """(config, result, {lr: dev score}) of the dev-best run over config.lr_grid (the suite's lr alone when
    the grid is empty); ties keep the earlier grid value. Test scores are never looked at to choose."""
    base = _finetune_config(suite, st, config.finetune, seed)
    trials = [replace(base, lr=lr) for lr in config.lr_grid if not base.zero_shot] or [base]
    best, dev_by_lr = None, {}
    for ft in trials:
        folder = f"seed{seed}" + (f"-lr{ft.learning_rate:g}" if config.lr_grid else "")
        target = out / "models" / st.task.name / name / folder if config.save_models else None
        result = finetune(st.task, data, model_dir, target, ft, progress=False)
        dev_by_lr[f"{ft.learning_rate:g}"] = result["best_dev"]
        if best is None or result["best_dev"] > best[1]["best_dev"]:
            best = (ft, result)
    return best[0], best[1], dev_by_lr


def _task_info(suite: Suite, st, data, config: BenchConfig) -> dict:
    """results.json's description of a task: what was scored, on how much data, against what pool."""
    task, zero = st.task, _zero_shot(suite, st, config)
    ft = _finetune_config(suite, st, config.finetune, 0)
    main = None if task.kind == "cloze" else "zero-shot embeddings" if zero else f"{ft.method} fine-tuned"
    return {"kind": task.kind, "metric": metric_of(task), "description": task.description, "license": data.license,
            "source": task.source_url, "train_language": task.train_language,
            "examples": {"train": len(data.train), "dev": len(data.dev),
                         **{f"test/{k}": len(v) for k, v in data.test.items()}},
            "main_variant": main, "zero_shot": zero, "sanity_check": bool(getattr(task, "sanity_check", False)),
            **({"candidate_pool": pool_sizes(data)} if task.kind == "retrieval" else {})}


def _run_unit(suite: Suite, st, config: BenchConfig, name: str, model_dir: Path, data, seed, out: Path):
    """(rows, {prediction key: gold/pred}, run facts or None) of one task, model and seed (or probe)."""
    task, new, predictions = st.task, [], {}
    if task.kind == "cloze" or seed == "probe":
        test = data.test if task.kind == "cloze" else prompt_rows(st.probe, data)
        for variant, per_lang in run_probes(model_dir, test).items():
            for lang, gp in per_lang.items():
                new.append(_rows(name, task, f"zero-shot {variant}", 0, lang,
                                 score("cloze", gp["gold"], gp["pred"]), len(gp["gold"]), probe=True))
                predictions[(task.name, f"zero-shot {variant}", lang, name, 0)] = gp
        return new, predictions, None
    ft, result, dev_by_lr = _finetune_best_lr(suite, st, config, name, model_dir, data, seed, out)
    variant = "zero-shot embeddings" if ft.zero_shot else f"{ft.method} fine-tuned"
    run = {"model": name, "task": task.name, "seed": seed, "steps": result["steps"],
           "train_seconds": result["train_seconds"], "best_dev": result["best_dev"],
           "lr": ft.learning_rate, **({"dev_by_lr": dev_by_lr} if config.lr_grid else {}),
           "trainable_params": result["trainable_params"], "total_params": result["total_params"]}
    for lang, metrics in result["test"].items():
        new.append(_rows(name, task, variant, seed, lang, metrics, metrics["n"]))
        new[-1]["constant_prediction"] = constant_prediction(task.kind, result["predictions"][lang]["pred"])
        predictions[(task.name, variant, lang, name, seed)] = result["predictions"][lang]
    return new, predictions, run


def run_bench(config: BenchConfig, out: str | Path, progress: bool = True) -> dict:
    """Run the suite; write results.json, results.csv, report.md and PNG plots into `out`; return results."""
    from .report import average, flags, print_table, summarise, write_outputs

    if not config.models:
        raise UserError("bench needs at least one --model NAME=PATH")
    if config.seeds < 1:
        raise UserError(f"--seeds must be at least 1, got {config.seeds}")
    if any(not lr > 0 for lr in config.lr_grid):
        raise UserError(f"lr_grid values must be positive learning rates, got {list(config.lr_grid)}")
    suite = load_suite(config.suite, tuple(config.tasks), data_dir=config.data_dir)
    models = {name: check_model_dir(path) for name, path in config.models.items()}
    for st in suite.tasks:  # a bad budget value or metric should fail now, not after an hour of training
        _finetune_config(suite, st, config.finetune, 0)
        metric_of(st.task)
    datas = _load_all(suite, config, progress)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("results.json", "results.csv", "report.md"):
        (out / stale).unlink(missing_ok=True)  # an old complete result must not sit beside a new partial run
    identity = run_identity(config, models)
    finished = read_finished(out, identity)
    stream = (out / "progress.jsonl").open("w", encoding="utf-8")
    log = UnitLog(out, identity, finished)

    units = [(st, name, seed) for st in suite.tasks for name in models
             for seed in (range(1) if st.task.kind == "cloze" or _zero_shot(suite, st, config) else range(config.seeds))]
    units += [(st, name, "probe") for st in suite.tasks if st.probe and config.probes for name in models]
    rows, predictions, runs, started = [], {}, [], time.perf_counter()
    if finished:
        print(f"note: resuming the bench in {out}: {len(finished)} of {len(units)} units already finished "
              f"(read back from {UNITS})", file=sys.stderr, flush=True)
    with make_progress(progress) as bar, stream:
        job = bar.add_task(f"bench {suite.name}", total=len(units))
        for st, name, seed in units:
            bar.update(job, description=f"{st.task.name} · {name} · seed {seed}")
            key = unit_key(st.task.name, name, seed)
            if key in finished:
                new, found, run = restore(finished[key])
            else:
                new, found, run = _run_unit(suite, st, config, name, models[name], datas[st.task.name], seed, out)
                log.add(key, new, found, run)
            rows += new
            predictions |= found
            runs += [run] if run else []
            for row in new:
                stream.write(json.dumps(row) + "\n")
            stream.flush()
            bar.advance(job)
    log.close()

    labels = {st.task.name: tuple(datas[st.task.name].labels) for st in suite.tasks}
    summary, matrices = summarise(rows, predictions, list(models), labels, config.bootstrap)
    tasks = {st.task.name: _task_info(suite, st, datas[st.task.name], config) for st in suite.tasks}
    results = {
        "complete": True, "suite": str(config.suite), "name": suite.name,
        "domain": suite.domain.name if suite.domain else "",
        "models": {k: str(v) for k, v in models.items()}, "config": to_dict(config),
        "finetune": {st.task.name: to_dict(_finetune_config(suite, st, config.finetune, 0)) for st in suite.tasks},
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "hardware": _hardware(),
        "wall_seconds": time.perf_counter() - started,
        "tasks": tasks, "rows": rows, "runs": runs, "summary": summary, "matrices": matrices,
        **flags(summary, rows),
    }
    averaged = average(predictions, list(models), {k: {**v, "labels": labels[k]} for k, v in tasks.items()},
                       config.bootstrap)
    results |= {"suite_average": averaged["average"], "suite_delta": averaged["delta"],
                "suite_pairs": averaged["pairs"], "suite_average_tasks": averaged["tasks"],
                "suite_sanity_checks": averaged["sanity_checks"]}
    write_outputs(results, out)
    (out / "progress.jsonl").unlink(missing_ok=True)
    if progress:
        print_table(results)
    return results
