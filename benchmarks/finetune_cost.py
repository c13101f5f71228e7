"""Fine-tuning cost: LoRA vs full fine-tuning on the same task, model, data and budget, in one run.

Each method runs in a fresh child process so its peak memory (resident set on CPU, allocated memory on
CUDA) is its own. Prints trainable parameters, peak memory, time per step and the final test score.

    python benchmarks/finetune_cost.py --model /work/ckpt/minilm-l6-h384-uncased \
        --task finance:twitter-sentiment --limit 400 --epochs 2
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import platform
import resource
from datetime import datetime, timezone


def run_one(method: str, args: argparse.Namespace, queue) -> None:
    import torch

    from domain_electra.finetune import FinetuneConfig, finetune
    from domain_electra.registry import get_domain

    torch.set_num_threads(args.threads)
    domain, task_name = args.task.split(":", 1)
    task = get_domain(domain).task(task_name)
    data = task.load(args.data_dir)
    config = FinetuneConfig(method=method, epochs=args.epochs, batch_size=args.batch_size, max_length=args.max_length,
                            limit=args.limit, patience=0, device=args.device, seed=0)
    if torch.cuda.is_available() and args.device != "cpu":
        torch.cuda.reset_peak_memory_stats()
    result = finetune(task, data, args.model, None, config, progress=False)
    if torch.cuda.is_available() and args.device != "cpu":
        peak = torch.cuda.max_memory_allocated() / 2**20
        where = "cuda allocated"
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        where = "process peak RSS"
    main_lang = task.train_language if task.train_language in result["test"] else next(iter(result["test"]))
    queue.put({"method": method, "trainable": result["trainable_params"], "total": result["total_params"],
               "peak_mib": peak, "memory": where, "steps": result["steps"],
               "s_per_step": result["train_seconds"] / max(1, result["steps"]),
               "score": result["test"][main_lang][result["metric"]], "metric": result["metric"], "lang": main_lang})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="/work/ckpt/minilm-l6-h384-uncased")
    parser.add_argument("--task", default="finance:twitter-sentiment", help="domain:task")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--limit", type=int, default=400)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    import peft
    import torch
    import transformers

    print(f"date {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; {platform.platform()}; "
          f"{platform.processor() or platform.machine()}; torch {torch.__version__} ({args.threads} threads), "
          f"transformers {transformers.__version__}, peft {peft.__version__}; "
          f"device {torch.cuda.get_device_name(0) if torch.cuda.is_available() and args.device != 'cpu' else 'cpu'}")
    print(f"model {args.model}; task {args.task}; limit {args.limit}; epochs {args.epochs}; "
          f"batch {args.batch_size}; max_length {args.max_length}")
    ctx = mp.get_context("spawn")
    rows = []
    for method in ("full", "lora"):  # full first: the baseline LoRA is measured against
        queue = ctx.Queue()
        proc = ctx.Process(target=run_one, args=(method, args, queue))
        proc.start()
        proc.join()  # the result is a small dict: joining before reading the queue cannot deadlock
        if proc.exitcode != 0:
            raise SystemExit(f"the {method} run failed (exit code {proc.exitcode}); see the error above")
        rows.append(queue.get())
    print(f"| method | trainable params | share | peak memory (MiB, {rows[0]['memory']}) | s/step | steps | "
          f"test {rows[0]['metric']} ({rows[0]['lang']}) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['method']} | {r['trainable']:,} | {100 * r['trainable'] / r['total']:.2f}% | {r['peak_mib']:.0f} | "
              f"{r['s_per_step']:.3f} | {r['steps']} | {r['score']:.3f} |")


if __name__ == "__main__":
    main()
