"""Bench results -> summary (mean +- std, deltas with bootstrap CIs, transfer gaps), files, plots, table."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .metrics import CEILING, bootstrap_delta, suite_average

SATURATION_MARGIN = 0.01  # every model within 1 point of the ceiling: the task cannot separate them


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


def _labels(value) -> tuple[int, tuple]:
    """(num_labels, label names) from a task's entry: its label names, or (older callers) their count."""
    return (value, ()) if isinstance(value, int) else (len(value), tuple(value))


def summarise(rows: list[dict], predictions: dict, models: list[str], num_labels: dict,
              n_boot: int = 1000) -> tuple[list[dict], dict]:
    """Per (task, variant, language, model): mean/std over seeds, delta vs the first model with a paired
    bootstrap 95% CI, the transfer gap (score on the training language minus score here), and "saturated"
    (every model of this task, variant and language within SATURATION_MARGIN of the metric's ceiling).
    num_labels: task -> its label names (or their count)."""
    df = pd.DataFrame(rows)
    keys = ["task", "variant", "language", "model"]
    grouped = df.groupby(keys, sort=False).agg(
        kind=("kind", "first"), metric=("metric", "first"), train_language=("train_language", "first"),
        mean=("score", "mean"), std=("score", lambda s: float(s.std(ddof=1)) if len(s) > 1 else 0.0),
        seeds=("seed", "nunique"), n=("n", "first")).reset_index()
    base = models[0]
    summary = []
    for rec in grouped.to_dict("records"):
        rec |= {"mean": float(rec["mean"]), "std": float(rec["std"]), "seeds": int(rec["seeds"]), "n": int(rec["n"])}
        rec["delta"] = rec["ci_low"] = rec["ci_high"] = None
        if rec["model"] != base:
            seeds_a = sorted(k[4] for k in predictions if k[:4] == (rec["task"], rec["variant"], rec["language"], base))
            seeds_b = sorted(k[4] for k in predictions if k[:4] == (rec["task"], rec["variant"], rec["language"], rec["model"]))
            if seeds_a and seeds_b:
                pa = [predictions[(rec["task"], rec["variant"], rec["language"], base, s)] for s in seeds_a]
                pb = [predictions[(rec["task"], rec["variant"], rec["language"], rec["model"], s)] for s in seeds_b]
                count, names = _labels(num_labels.get(rec["task"], 0))
                delta, low, high = bootstrap_delta(rec["kind"], rec["metric"], pa[0]["gold"], [p["pred"] for p in pa],
                                                   [p["pred"] for p in pb], count, n_boot, labels=names)
                rec |= {"delta": delta, "ci_low": low, "ci_high": high}
        source = grouped[(grouped.task == rec["task"]) & (grouped.variant == rec["variant"]) &
                         (grouped.model == rec["model"]) & (grouped.language == rec["train_language"])]
        many = (grouped[(grouped.task == rec["task"])].language.nunique() > 1)
        rec["gap"] = float(source["mean"].iloc[0] - rec["mean"]) if many and len(source) else None
        level = grouped[(grouped.task == rec["task"]) & (grouped.variant == rec["variant"]) &
                        (grouped.language == rec["language"])]["mean"]
        rec["saturated"] = bool((level >= CEILING - SATURATION_MARGIN).all())
        summary.append(rec)
    return summary, _matrices(summary, models)


def flags(summary: list[dict], rows: list[dict]) -> dict:
    """What a reader must not take for a comparison: saturated (task, variant, language) cells and runs
    that predicted one and the same thing everywhere (e.g. the majority label)."""
    saturated = {}
    for rec in summary:
        if rec.get("saturated"):
            cell = saturated.setdefault((rec["task"], rec["variant"], rec["language"]),
                                        {"task": rec["task"], "variant": rec["variant"], "language": rec["language"],
                                         "metric": rec["metric"], "scores": {}})
            cell["scores"][rec["model"]] = rec["mean"]
    constant = [{k: r[k] for k in ("model", "task", "variant", "seed", "language")}
                for r in rows if r.get("constant_prediction")]
    return {"saturated": list(saturated.values()), "constant_predictions": constant}


def average(predictions: dict, models: list[str], tasks: dict, n_boot: int = 1000) -> dict:
    """suite_average over each task's main variant (fine-tuned, or zero-shot embeddings), every test
    language; probes and cloze tasks are left out (a model without an MLM head has no probe score), and so are
    sanity-check tasks: a task declared "every sensible model aces it; not a comparison" must not move the
    comparison either (at a small budget such a task is far from aced, and then it measures how far LoRA got
    from its start, not what a model knows: MedQuAD question types moved every arm, control included, 17-26
    points). Their names come back under "sanity_checks"; they are still scored and reported task by task."""
    units, sanity = {}, set()
    for (task, variant, lang, model, seed), gp in predictions.items():
        info = tasks.get(task)
        if info is None or variant != info.get("main_variant"):
            continue
        if info.get("sanity_check"):
            sanity.add(task)
            continue
        count, names = _labels(info.get("labels", ()))
        unit = units.setdefault((task, lang), {"task": task, "kind": info["kind"], "metric": info["metric"],
                                               "labels": names, "num_labels": count, "gold": gp["gold"], "preds": {}})
        unit["preds"].setdefault(model, []).append((seed, gp["pred"]))
    for unit in units.values():
        unit["preds"] = {m: [p for _, p in sorted(v, key=lambda x: x[0])] for m, v in unit["preds"].items()}
    return suite_average(list(units.values()), models, n_boot) | {"sanity_checks": sorted(sanity)}


def _matrices(summary: list[dict], models: list[str]) -> dict:
    """models x languages score matrices (and transfer gaps) for tasks with more than one test language."""
    df = pd.DataFrame(summary)
    out = {}
    for (task, variant), part in df.groupby(["task", "variant"], sort=False):
        languages = list(dict.fromkeys(part.language))
        if len(languages) < 2:
            continue
        scores = part.pivot(index="model", columns="language", values="mean").reindex(index=models, columns=languages)
        gaps = part.pivot(index="model", columns="language", values="gap").reindex(index=models, columns=languages)
        keep = [m for m in models if m in set(part.model)]
        out[f"{task} | {variant}"] = {
            "task": task, "variant": variant, "metric": part.metric.iloc[0], "train_language": part.train_language.iloc[0],
            "models": keep, "languages": languages,
            "scores": scores.loc[keep].astype(float).round(6).values.tolist(),
            "gaps": gaps.loc[keep].astype(float).round(6).values.tolist()}
    return out


def _fmt(x, digits: int = 3) -> str:
    return "" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.{digits}f}"


def write_outputs(results: dict, out: Path) -> None:
    """results.json, results.csv (per seed and language rows), summary.csv, PNGs and report.md."""
    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(results["rows"]).to_csv(out / "results.csv", index=False)
    pd.DataFrame(results["summary"]).to_csv(out / "summary.csv", index=False)
    plots = make_plots(results, out)
    (out / "report.md").write_text(render_markdown(results, plots), encoding="utf-8")
    # Written last: its presence, with "complete": true, is what says the run finished.
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")


def _metrics_file(model_dir: Path) -> Path | None:
    for candidate in (model_dir / "metrics.jsonl", model_dir.parent / "metrics.jsonl"):
        if candidate.is_file():
            return candidate
    return None


def _save(fig, out: Path, name: str) -> str:
    """Lay out, write as PNG and free one figure; returns its file name."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(out / name, dpi=110)
    plt.close(fig)
    return name


def make_plots(results: dict, out: Path) -> dict[str, list[str]]:
    """Per-task bars with std error bars, cross-lingual heatmaps, pretraining curves. Returns file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made: dict[str, list[str]] = {"bars": [], "heatmaps": [], "curves": []}
    df = pd.DataFrame(results["summary"])
    models = list(results["models"])
    for (task, variant), part in df.groupby(["task", "variant"], sort=False):
        languages = list(dict.fromkeys(part.language))
        fig, ax = plt.subplots(figsize=(max(4.0, 0.6 * len(languages) * len(models) + 1.5), 3.2))
        width = 0.8 / max(1, len(models))
        for i, model in enumerate(models):
            sub = part[part.model == model].set_index("language").reindex(languages)
            ax.bar(np.arange(len(languages)) + i * width - 0.4 + width / 2, sub["mean"], width,
                   yerr=sub["std"].fillna(0), capsize=3, label=model)
        ax.set_xticks(np.arange(len(languages)), languages)
        ax.set_ylabel(part.metric.iloc[0])
        ax.set_title(f"{task} ({variant})", fontsize=10)
        ax.legend(fontsize=8)
        name = _save(fig, out, f"bars-{_slug(task)}-{_slug(variant)}.png")
        made["bars"].append(name)
    for key, m in results["matrices"].items():
        scores = np.array(m["scores"], dtype=float)
        fig, ax = plt.subplots(figsize=(max(4.0, 0.55 * len(m["languages"]) + 2), 0.5 * len(m["models"]) + 1.6))
        image = ax.imshow(scores, cmap="viridis", aspect="auto")
        ax.set_xticks(range(len(m["languages"])), m["languages"])
        ax.set_yticks(range(len(m["models"])), m["models"])
        middle = np.nanmean(scores) if np.isfinite(scores).any() else 0.0
        for (r, c), value in np.ndenumerate(scores):
            if not np.isnan(value):  # dark text on the bright end of viridis, light on the dark end
                ax.text(c, r, f"{value:.2f}", ha="center", va="center", fontsize=7,
                        color="black" if value > middle else "white")
        ax.set_title(f"{m['task']}: {m['metric']} (trained on {m['train_language']})", fontsize=10)
        fig.colorbar(image, ax=ax)
        name = _save(fig, out, f"heatmap-{_slug(m['task'])}-{_slug(m['variant'])}.png")
        made["heatmaps"].append(name)
    for model, path in results["models"].items():
        metrics = _metrics_file(Path(path))
        if metrics is None:
            continue
        events = [json.loads(line) for line in metrics.read_text(encoding="utf-8").splitlines() if line.strip()]
        series = [k for k in ("gen_loss", "disc_loss", "disc_acc", "disc_auc") if any(k in e for e in events)]
        if not series:
            continue
        fig, axes = plt.subplots(1, len(series), figsize=(3.2 * len(series), 2.8))
        for ax, key in zip(np.atleast_1d(axes), series):
            for split in ("train", "validation"):
                pts = [(e["step"], e[key]) for e in events if e.get("split", "train") == split and key in e and "step" in e]
                if pts:
                    ax.plot(*zip(*pts), label=split, marker="." if split == "validation" else None)
            ax.set_title(key, fontsize=9)
            ax.set_xlabel("step")
            ax.legend(fontsize=7)
        fig.suptitle(f"pretraining curves: {model}", fontsize=10)
        name = _save(fig, out, f"curves-{_slug(model)}.png")
        made["curves"].append(name)
    return made


def render_markdown(results: dict, plots: dict[str, list[str]]) -> str:
    hw = results["hardware"]
    models = list(results["models"])
    lines = [f"# Benchmark: {results.get('name') or results['domain']} suite ({Path(results['suite']).name})", "",
             f"- date: {results['date']}; wall time: {results['wall_seconds']:.0f} s",
             f"- hardware: {hw.get('gpu') or hw.get('processor')} ({hw.get('cpu_threads')} torch threads), "
             f"{hw.get('platform')}; torch {hw.get('torch')}, transformers {hw.get('transformers')}, peft {hw.get('peft')}",
             f"- models (first = baseline for deltas): " + ", ".join(f"`{k}` = {v}" for k, v in results["models"].items()),
             f"- seeds: {results['config']['seeds']}; limit per split: {results['config']['limit']}; "
             f"bootstrap resamples: {results['config']['bootstrap']}",
             "- scores: mean +- std over seeds; delta = model minus baseline, paired bootstrap 95% interval over "
             "test examples and seeds; gap = score on the training language minus score on this language.",
             "- retrieval: each query is ranked against the task's whole candidate pool (every distinct test "
             "document plus any candidate corpus; --limit cuts queries, never the pool); a document tied with the "
             "relevant one counts at its expected rank, so a collapsed model scores chance.", ""]
    lines += _average_lines(results, models) + _flag_lines(results)
    df = pd.DataFrame(results["summary"])
    for task, info in results["tasks"].items():
        pool = info.get("candidate_pool") or {}
        notes = ([f"Candidate pool: " + ", ".join(f"{k} {v} documents" for k, v in pool.items()) + "."] if pool else []) \
            + (["Zero-shot: the base encoder's embeddings, no fine-tuning."] if info.get("zero_shot") else []) \
            + (["**Sanity check**: a task every sensible model aces; not a comparison."] if info.get("sanity_check")
               else [])
        lines += [f"## {task}", "", f"{info['description']} ({info['kind']}, metric: {info['metric']}).", "",
                  f"Data license: **{info['license'] or 'not stated'}**; source: {info['source']}. Examples used: "
                  + ", ".join(f"{k} {v}" for k, v in info["examples"].items()) + (" " + " ".join(notes) if notes else ""),
                  ""]
        part = df[df.task == task]
        if part.empty:
            lines += ["No probe applies to these models (no generator or discriminator head).", ""]
            continue
        lines += ["| variant | language | model | mean +- std | seeds | n | delta vs " + models[0] + " [95% CI] | gap |",
                  "|---|---|---|---|---|---|---|---|"]
        for rec in part.to_dict("records"):
            delta = "" if rec["delta"] is None or pd.isna(rec["delta"]) else \
                f"{rec['delta']:+.3f} [{rec['ci_low']:+.3f}, {rec['ci_high']:+.3f}]"
            gap = "" if rec["gap"] is None or pd.isna(rec["gap"]) else f"{rec['gap']:+.3f}"
            lines.append(f"| {rec['variant']} | {rec['language']} | {rec['model']} | {rec['mean']:.3f} +- {rec['std']:.3f}"
                         f" | {rec['seeds']} | {rec['n']} | {delta} | {gap} |")
        lines += [""] + [f"![{name}]({name})" for name in plots["bars"] if name.startswith(f"bars-{_slug(task)}-")] + [""]
    if results["matrices"]:
        lines += ["## Cross-lingual transfer", ""]
        for key, m in results["matrices"].items():
            lines += [f"### {key} (trained on {m['train_language']}; {m['metric']}; gap in brackets)", "",
                      "| model | " + " | ".join(m["languages"]) + " |", "|---|" + "---|" * len(m["languages"])]
            for model, scores, gaps in zip(m["models"], m["scores"], m["gaps"]):
                cells = [f"{_fmt(s)} ({_fmt(g, 2)})" if g is not None and not np.isnan(g) else _fmt(s)
                         for s, g in zip(scores, gaps)]
                lines.append(f"| {model} | " + " | ".join(cells) + " |")
            lines += [""] + [f"![{n}]({n})" for n in plots["heatmaps"]
                             if n.startswith(f"heatmap-{_slug(m['task'])}-{_slug(m['variant'])}")] + [""]
    if plots["curves"]:
        lines += ["## Pretraining curves", ""] + [f"![{n}]({n})" for n in plots["curves"]] + [""]
    lines += ["## Data sets and licenses", "", "| task | license | source |", "|---|---|---|"]
    lines += [f"| {t} | {i['license'] or 'not stated'} | {i['source']} |" for t, i in results["tasks"].items()]
    return "\n".join(lines) + "\n"


def _average_lines(results: dict, models: list[str]) -> list[str]:
    avg, delta = results.get("suite_average") or {}, results.get("suite_delta") or {}
    if not avg:
        return []
    lines = ["## Suite average", "",
             f"Mean over tasks ({', '.join(results.get('suite_average_tasks', []))}) of each task's main score "
             "(mean over its test languages and seeds); 95% interval: paired bootstrap resampling each task's test "
             "examples and seeds, the same draws for every model."
             + (f" Sanity checks left out of the average: {', '.join(results['suite_sanity_checks'])}."
                if results.get("suite_sanity_checks") else ""), "",
             f"| model | suite average [95% CI] | delta vs {models[0]} [95% CI] |", "|---|---|---|"]
    for model, a in avg.items():
        d = delta.get(model)
        cell = "" if d is None else f"{d['delta']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]"
        lines.append(f"| {model} | {a['mean']:.3f} [{a['ci_low']:.3f}, {a['ci_high']:.3f}] | {cell} |")
    pairs = results.get("suite_pairs") or {}
    if pairs:
        lines += ["", "Between the other models (later minus earlier, the same draws):", "",
                  "| pair | delta [95% CI] |", "|---|---|"]
        lines += [f"| {pair} | {d['delta']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}] |" for pair, d in pairs.items()]
    return lines + [""]


def _flag_lines(results: dict) -> list[str]:
    lines = []
    for cell in results.get("saturated", []):
        lines.append(f"- **saturated**: {cell['task']} ({cell['variant']}, {cell['language']}): every model within "
                     f"{SATURATION_MARGIN:.2f} of the {cell['metric']} ceiling; it cannot separate them.")
    for run in results.get("constant_predictions", []):
        lines.append(f"- **one prediction everywhere**: {run['model']} on {run['task']} ({run['language']}, seed "
                     f"{run['seed']}) predicts the same output for every test example (e.g. the majority label).")
    return (["## Flags", ""] + lines + [""]) if lines else []


def print_table(results: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    models = list(results["models"])
    table = Table(title=f"{results.get('name') or results['domain']} suite: mean +- std over {results['config']['seeds']} seed(s)")
    for column in ("task", "variant", "lang", "model", "score", f"delta vs {models[0]} [95% CI]", "gap"):
        table.add_column(column, justify="right" if column in ("score", "gap") else "left")
    for rec in results["summary"]:
        delta = "" if rec["delta"] is None else f"{rec['delta']:+.3f} [{rec['ci_low']:+.3f}, {rec['ci_high']:+.3f}]"
        gap = "" if rec["gap"] is None else f"{rec['gap']:+.3f}"
        table.add_row(rec["task"], rec["variant"], rec["language"], rec["model"],
                      f"{rec['metric']} {rec['mean']:.3f} +- {rec['std']:.3f}", delta, gap)
    Console().print(table)
