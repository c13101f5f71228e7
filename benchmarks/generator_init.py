"""Generator initialisation for continued pretraining: arms at EQUAL optimizer steps, one after another.

Each arm runs `pretrain()` from the same checkpoint on the same packed tokens with the same seed, batch,
learning rate and steps, and differs only in how the generator starts (or, for the lever arms, in one
more knob). A row per arm goes to benchmarks/results/generator_init.jsonl: validation generator MLM
accuracy (all masked slots, and the [MASK] slots alone) and discriminator AUC at step 0 and at the end,
tokens, wall time, device and versions. The output folders stay under --runs (outside the repository).

    python benchmarks/generator_init.py --init ~/.cache/domain-electra/checkpoints/minilm-l6-h384-uncased \\
        --tokens /work/runs-dapt/medical-tokens-64 --runs /work/runs-dapt/geninit --steps 150 --batch 8 \\
        --arms random copy-1 copy-2 copy-2-warm30 copy-3
"""
from __future__ import annotations

import argparse
import json
import platform
import re
import time
from datetime import date
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "generator_init.jsonl"


def arm_settings(arm: str, steps: int) -> dict:
    """Config keys of an arm name: random | copy-K | copy-K-warmN | copy-K-mask100 | mlm."""
    if arm == "random":
        return {"generator_init": "random"}
    if arm == "mlm":
        return {"objective": "mlm"}
    match = re.fullmatch(r"copy-(\d+)(?:-warm(\d+))?(?:-mask(\d+))?", arm)
    if not match:
        raise SystemExit(f"unknown arm {arm!r}: use random, mlm, copy-K, copy-K-warmN or copy-K-maskP")
    keys = {"generator_init": "copy", "generator_layers": int(match.group(1))}
    if match.group(2):
        keys["generator_warmup_steps"] = min(int(match.group(2)), steps)
    if match.group(3):
        keys["mask_token_share"] = int(match.group(3)) / 100
    return keys


def _validation(out: Path) -> list[dict]:
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return [r for r in rows if r["split"] == "validation"]


def run_arm(arm: str, args) -> dict:
    import torch
    import transformers

    from domain_electra.pretrain import PretrainConfig, pretrain

    settings = arm_settings(arm, args.steps)
    config = PretrainConfig(init=args.init, max_steps=args.steps, batch_size=args.batch, lr=args.lr,
                            warmup_steps=args.warmup, eval_every=args.steps, save_every=args.steps,
                            eval_batches=args.eval_batches, log_every=10, seed=args.seed, device="cpu",
                            **settings)
    out = Path(args.runs) / arm
    start = time.time()
    result = pretrain(config, Path(args.tokens), out, progress=False)
    wall = time.time() - start
    first, last = _validation(out)[0], _validation(out)[-1]
    pick = ("gen_loss", "gen_acc", "gen_acc_mask", "disc_auc")
    return {"arm": arm, **settings, "init": args.init, "tokens_dir": args.tokens, "steps": result["steps"],
            "batch_size": args.batch, "seq_len": json.loads((Path(args.tokens) / "meta.json").read_text())["seq_len"],
            "lr": args.lr, "seed": args.seed, "pretrain_tokens": result["tokens"], "wall_s": round(wall, 1),
            "start": {k: first.get(k) for k in pick}, "end": {k: last.get(k) for k in pick},
            "out": str(out), "device": f"cpu ({platform.processor() or platform.machine()}, 2 cores shared)",
            "torch": torch.__version__, "transformers": transformers.__version__, "date": str(date.today())}


def table(rows: list[dict]) -> str:
    """The RESULTS.md table of result rows (accuracies in %)."""
    lines = ["| arm | steps | tokens | wall s | gen acc (all masked) start -> end | gen acc ([MASK] only) "
             "start -> end | gen MLM loss start -> end | disc AUC start -> end |", "|---" * 8 + "|"]
    pct = lambda v: "-" if v is None else f"{100 * v:.1f}"  # noqa: E731
    num = lambda v, f: "-" if v is None else format(v, f)  # noqa: E731
    for r in rows:
        a, b = r["start"], r["end"]
        lines.append(f"| {r['arm']} | {r['steps']} | {r['pretrain_tokens']:,} | {r['wall_s']:.0f} | "
                     f"{pct(a['gen_acc'])} -> {pct(b['gen_acc'])} | {pct(a['gen_acc_mask'])} -> {pct(b['gen_acc_mask'])} | "
                     f"{num(a['gen_loss'], '.2f')} -> {num(b['gen_loss'], '.2f')} | "
                     f"{num(a['disc_auc'], '.3f')} -> {num(b['disc_auc'], '.3f')} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--init")
    parser.add_argument("--tokens")
    parser.add_argument("--runs", help="folder for the arms' pretrain outputs")
    parser.add_argument("--table", action="store_true", help="print the markdown table of --results and stop")
    parser.add_argument("--arms", nargs="+", default=["random", "copy-1", "copy-2", "copy-3"])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--warmup", type=int, default=15)
    parser.add_argument("--eval-batches", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results", default=str(RESULTS))
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1 on a shared, oversubscribed CPU: OpenMP threads spin against each other)")
    args = parser.parse_args()
    if args.table:
        print(table([json.loads(line) for line in Path(args.results).read_text().splitlines() if line.strip()]))
        return
    if not (args.init and args.tokens and args.runs):
        parser.error("--init, --tokens and --runs are required to run arms")
    import torch

    torch.set_num_threads(args.threads)
    for arm in args.arms:
        row = run_arm(arm, args)
        with open(args.results, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
