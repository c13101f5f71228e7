"""Does domain-adaptive pretraining help? One command per domain, four arms, the same fine-tuning budget.

    python benchmarks/dapt_gain.py --domain medical                  # CPU scale (2 cores, ~2.5 h)
    python benchmarks/dapt_gain.py --domain medical --scale gpu      # one H100/H200, bf16, <= 10 min per arm
    python benchmarks/dapt_gain.py --domain code --tiny              # smoke run in about a minute (meaningless)

Arms, all benched by `domain-electra bench` on the domain's suite (evals/<domain>.yaml) with the same
`--limit`, seeds and fine-tuning settings:
  base     the starting checkpoint (default: the English MiniLM-L6 built by `checkpoints prepare`);
  control  the same recipe and budget on general English text that is not the domain (README/NEWS files
           of Debian's documentation, cleaned by the legal recipe's generic steps): a gain over `control`
           is a gain from the domain, not from any extra training. Domain-independent: trained once per
           (init, budget) under <out>/control-*/ and shared by every domain;
  rtd      domain-adapted with replaced-token detection (the toolkit's default recipe);
  mlm      domain-adapted with masked-language modelling of the full model (`objective: mlm`), at equal
           optimizer steps, batch and sequence length, i.e. equal tokens; wall time reported.
  rtd-mix  (opt-in, `--arms base,rtd-mix`) the rtd model's weights interpolated with its starting
           checkpoint's, `--mix-weight` of the adapted model (0.5, fixed beforehand, not tuned): no training
           beyond rtd's (`domain-electra interpolate`).
Every stage folder is resumable: rerunning the command skips what is complete.

It writes <out>/<domain>/bench/{results.json,report.md} (bench-<arms>/ for another arm set), prints the table, and appends one row per arm to
benchmarks/results/dapt_gain.json: {domain, arm, scale, device, seeds, suite_average, delta_vs_base,
ci_low, ci_high, pretrain_tokens, wall_s, ...} with scores and deltas in points (100 x the metric), and
the intrinsic numbers (generator MLM accuracy and discriminator AUC on held-out domain text, start/end),
then redraws benchmarks/results/dapt_gain.png (benchmarks/dapt_plot.py: every arm's delta with its interval).
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results" / "dapt_gain.json"
CONTROL_SOURCES = ("/usr/share/doc/*/README*", "/usr/share/doc/*/NEWS*")
ARMS = ("base", "control", "rtd", "mlm", "rtd-mix")
DEFAULT_ARMS = ARMS[:4]


@dataclass(frozen=True)
class Scale:
    steps: int  # optimizer steps per pretraining arm (equal for rtd, mlm, control)
    batch_size: int
    seq_len: int
    limit: int  # bench: examples per split
    seeds: int
    max_docs: int | None  # corpus size cap (None: the whole recipe)


SCALES = {
    "cpu": Scale(steps=400, batch_size=16, seq_len=128, limit=500, seeds=3, max_docs=None),
    "gpu": Scale(steps=3000, batch_size=128, seq_len=128, limit=2000, seeds=3, max_docs=None),
    "tiny": Scale(steps=2, batch_size=4, seq_len=32, limit=24, seeds=1, max_docs=40),
}


def _stage_config(kind: str, values: dict):
    from domain_electra import stages
    from domain_electra.config import from_dict

    return from_dict(stages.config_class(kind), values, kind)


def build_tokens(domain: str, recipe: dict, init: str, out: Path, scale: Scale) -> Path:
    """Corpus (the domain's recipe) and packed tokens with the init checkpoint's own tokenizer."""
    from domain_electra import stages

    corpus_values = {**recipe, "domain": domain}
    if scale.max_docs:
        corpus_values["max_docs"] = scale.max_docs
    corpus = stages.corpus_stage(_stage_config("corpus", corpus_values), out / "corpus").path
    pack = _stage_config("pack", {"seq_len": scale.seq_len})
    return stages.pack_stage(pack, corpus, Path(init), out / "tokens").path


def control_recipe() -> dict:
    from domain_electra.config import read_yaml

    recipe = read_yaml(REPO / "corpora" / "legal.yaml")  # generic cleaning steps; only the sources differ
    recipe.pop("domain", None)
    return {**recipe, "sources": [p for p in CONTROL_SOURCES if glob.glob(p)], "languages": ["en"],
            "decontaminate": False}


def pretrain_arm(domain: str, tokens: Path, init: str, out: Path, scale: Scale, objective: str,
                 overrides: dict) -> Path:
    from domain_electra import stages

    values = {**stages.masking_defaults(domain), "init": init, "max_steps": scale.steps,
              "batch_size": scale.batch_size, "lr": 1e-4, "warmup_steps": max(1, scale.steps // 10),
              "eval_every": max(1, scale.steps // 4), "save_every": max(1, scale.steps // 4), "seed": 0,
              **({"objective": objective} if objective != "rtd" else {}), **overrides}
    return stages.pretrain_stage(_stage_config("pretrain", values), tokens, out).path


def intrinsic(pretrain: Path) -> dict:
    """Validation generator accuracy and discriminator AUC at the first and last evaluation."""
    lines = [json.loads(x) for x in (pretrain / "metrics.jsonl").read_text().splitlines() if x.strip()]
    val = [m for m in lines if m.get("split") == "validation"]
    train = [m for m in lines if m.get("split") == "train"]
    if not val:
        return {}
    first, last = val[0], val[-1]
    return {"gen_acc_start": first.get("gen_acc"), "gen_acc_end": last.get("gen_acc"),
            "disc_auc_start": first.get("disc_auc"), "disc_auc_end": last.get("disc_auc"),
            "pretrain_tokens": last.get("tokens") or (train[-1]["tokens"] if train else 0),
            "train_s": train[-1].get("elapsed_s") if train else None}


def run_bench(domain: str, models: dict, out: Path, scale: Scale, overrides: list[str]) -> dict:
    from domain_electra import stages

    stages.bench_command(REPO / "evals" / f"{domain}.yaml", [f"{k}={v}" for k, v in models.items()], out, None,
                         scale.limit, scale.seeds, None, overrides)
    return json.loads((out / "results.json").read_text())


def suite_rows(results: dict) -> dict[str, dict]:
    """{arm: {suite_average, suite_ci, delta_vs_base, ci_low, ci_high, delta_vs}} in points, from bench's suite
    average, its paired delta against the first model, and (delta_vs: {other arm: [delta, ci_low, ci_high]})
    the paired deltas against the other arms benched beside it, e.g. rtd against control and mlm."""
    deltas, pairs = results.get("suite_delta") or {}, results.get("suite_pairs") or {}
    rows = {}
    for arm, rec in (results.get("suite_average") or {}).items():
        delta = deltas.get(arm) or {}
        rows[arm] = {"suite_average": _points(rec.get("mean")),
                     "suite_ci": [_points(rec.get("ci_low")), _points(rec.get("ci_high"))],
                     "delta_vs_base": _points(delta.get("delta")), "ci_low": _points(delta.get("ci_low")),
                     "ci_high": _points(delta.get("ci_high")), "delta_vs": {}}
    for pair, rec in pairs.items():
        later, earlier = pair.split(" - ")
        values = [_points(rec[k]) for k in ("delta", "ci_low", "ci_high")]
        rows[later]["delta_vs"][earlier] = values
        rows[earlier]["delta_vs"][later] = [-values[0], -values[2], -values[1]]
    return rows


def _points(value):
    return None if value is None else round(100.0 * float(value), 2)


def _device() -> str:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"{platform.machine()} CPU, {torch.get_num_threads()} threads"


def append_rows(rows: list[dict]) -> None:
    existing = json.loads(RESULTS.read_text()) if RESULTS.is_file() else []
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(existing + rows, indent=1) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--domain", required=True, choices=["code", "legal", "medical", "finance"])
    ap.add_argument("--scale", default="cpu", choices=["cpu", "gpu"])
    ap.add_argument("--tiny", action="store_true", help="smoke run: a few documents and steps (numbers meaningless)")
    ap.add_argument("--init", default="minilm", help="starting checkpoint: minilm, e5-small, a folder or hub id")
    ap.add_argument("--arms", default=",".join(DEFAULT_ARMS), help=f"any of {','.join(ARMS)}")
    ap.add_argument("--mix-weight", type=float, default=0.5, help="rtd-mix: share of the adapted model")
    ap.add_argument("--out", type=Path, default=REPO / "runs" / "dapt")
    ap.add_argument("--steps", type=int, help="optimizer steps per arm (default: the scale's)")
    ap.add_argument("--limit", type=int, help="bench examples per split (default: the scale's)")
    ap.add_argument("--seeds", type=int, help="fine-tuning seeds (default: the scale's)")
    ap.add_argument("--pretrain-set", action="append", default=[], metavar="KEY=VALUE",
                    help="pretraining config override for the rtd/mlm/control arms (repeatable)")
    ap.add_argument("--bench-set", action="append", default=[], metavar="KEY=VALUE",
                    help="bench config override, e.g. tasks=[ncbi-disease] (repeatable)")
    ap.add_argument("--probes", action="store_true",
                    help="also run the suite's zero-shot cloze probes (off: on CPU they cost more than the fine-tuning)")
    ap.add_argument("--no-record", action="store_true", help="do not append to benchmarks/results/dapt_gain.json")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # our own bars show progress
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    from domain_electra.checkpoints import resolve_init
    from domain_electra.config import apply_overrides, read_yaml

    base = SCALES["tiny" if args.tiny else args.scale]
    scale = Scale(args.steps or base.steps, base.batch_size, base.seq_len, args.limit or base.limit,
                  args.seeds or base.seeds, base.max_docs)
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    unknown = sorted(set(arms) - set(ARMS))
    if unknown:
        ap.error(f"unknown arm(s) {', '.join(unknown)}: choose from {', '.join(ARMS)}")
    init = resolve_init(args.init)
    overrides = apply_overrides({}, args.pretrain_set)
    out = args.out / args.domain
    started = time.time()
    wall, models, facts = {}, {"base": init}, {}
    recipe = read_yaml(REPO / "corpora" / f"{args.domain}.yaml")
    recipe.pop("domain", None)
    if {"rtd", "mlm", "rtd-mix"} & set(arms):
        tokens = build_tokens(args.domain, recipe, init, out, scale)
    for arm in ("rtd", "mlm"):
        if arm in arms or (arm == "rtd" and "rtd-mix" in arms):
            t0 = time.time()
            models[arm] = str(pretrain_arm(args.domain, tokens, init, out / arm, scale, arm, overrides)
                              / "discriminator")
            wall[arm], facts[arm] = time.time() - t0, intrinsic(out / arm)
    if "rtd-mix" in arms:
        from domain_electra.modeling.interpolate import interpolate

        models["rtd-mix"] = str(interpolate(init, models["rtd"], args.mix_weight, out / f"rtd-mix-{args.mix_weight:g}"))
        facts["rtd-mix"] = {**facts["rtd"], "mix_weight": args.mix_weight}  # rtd's pretraining is its cost
        wall["rtd-mix"] = facts["rtd"].get("train_s") or wall["rtd"]
    if "control" in arms:
        # Overrides change the control too, so they name its folder (a control is reused only when equal).
        tag = "".join(f"-{k}={v}" for k, v in sorted(overrides.items())) if overrides else ""
        shared = args.out / f"control-{Path(init).name}-{scale.steps}x{scale.batch_size}x{scale.seq_len}{tag}"
        t0 = time.time()
        control_tokens = build_tokens("legal", control_recipe(), init, shared, scale)
        # The control is pretrained with the domain's masking policy, so only the text differs.
        models["control"] = str(pretrain_arm(args.domain, control_tokens, init, shared / f"pretrain-{args.domain}",
                                             scale, "rtd", overrides) / "discriminator")
        wall["control"], facts["control"] = time.time() - t0, intrinsic(shared / f"pretrain-{args.domain}")
    models = {k: models[k] for k in ARMS if k in models and k in arms}
    bench_set = args.bench_set + ([] if args.probes else ["probes=false"])
    bench_dir = out / ("bench" if tuple(arms) == DEFAULT_ARMS else "bench-" + "+".join(arms))
    results = run_bench(args.domain, models, bench_dir, scale, bench_set)
    summary = suite_rows(results)
    rows = []
    for arm in models:
        rows.append({"domain": args.domain, "arm": arm, "scale": "tiny" if args.tiny else args.scale,
                     "device": _device(), "seeds": scale.seeds, "limit": scale.limit, "init": Path(init).name,
                     **summary.get(arm, {}), "suite_tasks": results.get("suite_average_tasks", []),
                     "suite_left_out": results.get("suite_sanity_checks", []),  # sanity checks, not averaged
                     "pretrain_steps": 0 if arm == "base" else scale.steps,
                     "pretrain_set": {} if arm == "base" else overrides,  # the recipe's changes (--pretrain-set)
                     "pretrain_tokens": facts.get(arm, {}).get("pretrain_tokens", 0),
                     "wall_s": round(wall.get(arm, 0.0), 1), **{k: v for k, v in facts.get(arm, {}).items()
                                                               if k != "pretrain_tokens"},
                     "date": date.today().isoformat(), "python": sys.version.split()[0]})
    for row in rows:
        print(json.dumps(row))
    print(f"total wall time {time.time() - started:.0f} s; report: {bench_dir / 'report.md'}")
    if not args.no_record:
        append_rows(rows)
        from dapt_plot import plot  # the picture of every recorded row, redrawn with the new ones

        print(f"plot: {plot(json.loads(RESULTS.read_text()), RESULTS.with_suffix('.png'))}")
    return 0


if __name__ == "__main__":
    from domain_electra.errors import UserError

    try:
        sys.exit(main())
    except UserError as exc:  # a user's mistake (a missing data root, a bad override): one line, not a traceback
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
