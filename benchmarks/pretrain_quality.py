"""Pretraining quality on CPU: exact resume from a real checkpoint, and learning curves on a real corpus.

    # 1. kill/resume: an uninterrupted run vs one killed with SIGKILL and rerun with the same command
    python benchmarks/pretrain_quality.py resume --tokens TOKENS --init /work/ckpt/minilm-l6-h384-uncased \
        --out /tmp/q-resume --steps 16 --batch-size 4
    # 2. curves: ~10 minutes of continued pretraining; validation AUC / MLM accuracy at step 0 vs the end
    python benchmarks/pretrain_quality.py curve --tokens TOKENS --init /work/ckpt/minilm-l6-h384-uncased \
        --out /tmp/q-curve --minutes 10 --batch-size 8

TOKENS is a packed-tokens folder made with the init checkpoint's tokenizer, e.g.
    domain-electra corpus build --domain code --source "/usr/lib/python3.11/*.py" --out C
    domain-electra tokenizer pack --corpus C --tokenizer /work/ckpt/minilm-l6-h384-uncased --out TOKENS --seq-len 128
The baseline of `curve` is the same model at step 0 (validated before the first update, same fixed batches).
Prints device, versions and date, and one JSON row; `curve` copies curves.png to benchmarks/results/.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHILD = """
import json, sys
from pathlib import Path
import torch
torch.set_num_threads(int(sys.argv[4]))
from domain_electra.pretrain import PretrainConfig, pretrain
pretrain(PretrainConfig(**json.loads(sys.argv[1])), Path(sys.argv[2]), Path(sys.argv[3]), progress=False)
"""


def environment() -> dict:
    import torch
    import transformers

    return {"date": dt.datetime.now().isoformat(timespec="seconds"), "device": f"CPU ({platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} cores, torch threads {torch.get_num_threads()})", "python": platform.python_version(),
            "torch": torch.__version__, "transformers": transformers.__version__}


def _child(config, tokens: Path, out: Path, threads: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(asdict(config)), str(tokens), str(out), str(threads)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _latest(out: Path) -> int:
    return max((int(p.name.split("-")[1]) for p in (out / "checkpoints").glob("step-*")), default=0) \
        if (out / "checkpoints").is_dir() else 0


def resume(args, config_kwargs: dict) -> dict:
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModel

    from domain_electra.pretrain import PretrainConfig, pretrain

    config = PretrainConfig(**config_kwargs, max_steps=args.steps, save_every=max(1, args.steps // 4),
                            eval_every=args.steps, eval_batches=2, log_every=1)
    shutil.rmtree(args.out, ignore_errors=True)
    t0 = time.time()
    pretrain(config, args.tokens, args.out / "uninterrupted", progress=False)
    uninterrupted_s = time.time() - t0
    killed_dir = args.out / "killed"
    proc = _child(config, args.tokens, killed_dir, args.threads)
    while _latest(killed_dir) < args.steps // 2 and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = _latest(killed_dir)
    rerun = _child(config, args.tokens, killed_dir, args.threads)
    output = rerun.communicate()[0]
    if rerun.returncode != 0:
        raise SystemExit(f"rerun failed:\n{output[-3000:]}")
    name = f"step-{args.steps:08d}"
    a = load_file(args.out / "uninterrupted" / "checkpoints" / name / "model.safetensors")
    b = load_file(killed_dir / "checkpoints" / name / "model.safetensors")
    diff = max((a[k] - b[k]).abs().max().item() for k in a)
    model = AutoModel.from_pretrained(killed_dir / "discriminator")
    return {"mode": "resume", "init": args.init, "steps": args.steps, "batch_size": args.batch_size,
            "killed_returncode": proc.returncode, "last_checkpoint_when_killed": killed_at,
            "max_abs_weight_diff": diff, "equal_within_1e-5": diff <= 1e-5,
            "export_loads_with_AutoModel": type(model).__name__, "uninterrupted_seconds": round(uninterrupted_s, 1),
            "torch_threads": torch.get_num_threads()}


def curve(args, config_kwargs: dict) -> dict:
    from domain_electra.pretrain import PretrainConfig, pretrain

    config = PretrainConfig(**config_kwargs, max_minutes=args.minutes, eval_every=args.eval_every,
                            eval_batches=args.eval_batches, save_every=10_000, log_every=5)
    shutil.rmtree(args.out, ignore_errors=True)
    result = pretrain(config, args.tokens, args.out, progress=True)
    rows = [json.loads(line) for line in (args.out / "metrics.jsonl").read_text().splitlines()]
    val = [r for r in rows if r["split"] == "validation"]
    (HERE / "results").mkdir(exist_ok=True)
    shutil.copy2(args.out / "curves.png", HERE / "results" / "pretrain_quality_curves.png")
    keys = ("gen_loss", "gen_acc", "disc_loss", "disc_acc", "disc_auc")
    return {"mode": "curve", "init": args.init, "minutes": args.minutes, "batch_size": args.batch_size,
            "steps": result["steps"], "tokens": result["tokens"],
            "train_tokens_per_s": round(result["tokens"] / max(result["seconds"], 1e-9), 1),
            "start": {k: round(val[0][k], 4) for k in keys}, "end": {k: round(val[-1][k], 4) for k in keys},
            "validation_curve": [{"step": r["step"], **{k: round(r[k], 4) for k in keys}} for r in val],
            "curves_png": str(HERE / "results" / "pretrain_quality_curves.png")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=("resume", "curve"))
    parser.add_argument("--tokens", type=Path, required=True)
    parser.add_argument("--init", default="/work/ckpt/minilm-l6-h384-uncased")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--eval-every", type=int, default=10)
    parser.add_argument("--eval-batches", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 on a shared, busy CPU)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    config_kwargs = dict(init=args.init, batch_size=args.batch_size, lr=args.lr, warmup_steps=10, device="cpu", seed=0)
    env = environment()
    print(json.dumps(env))
    row = (resume if args.mode == "resume" else curve)(args, config_kwargs)
    row.update(env)
    print(json.dumps(row, indent=2))
    (HERE / "results").mkdir(exist_ok=True)
    with (HERE / "results" / "pretrain_quality.jsonl").open("a") as fh:
        fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
