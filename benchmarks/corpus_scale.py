"""Corpus building at scale: the local build against the cluster path (datatrove stages), same input.

    python benchmarks/corpus_scale.py --gb 5 --tasks 2              # the 5 GB run of benchmarks/RESULTS.md
    python benchmarks/corpus_scale.py --gb 0.05 --tasks 2 --no-record   # a quick check (about a minute)
    python benchmarks/corpus_scale.py --gb 0.05 --executor ray      # the cluster path on a local Ray instance

The input is real text (Debian's licence texts: paragraphs drawn at random, six to a document) written as
100 MB JSONL files, with planted copies of earlier documents, often from another file (so from another
task): 5% exact copies and 5% near copies (three words replaced). The dedup rate is what each build
removed of the planted copies. Each build runs in a child process; its process tree is sampled every 0.2 s
and the peak proportional set size of any one process is the "peak per task" (for the local build, the
main process or one of its workers). Appends one row per build to benchmarks/results/corpus_scale.json:
{mode: local|cluster, tasks, input_gb, docs_in, docs_kept, wall_s, mb_per_s_per_task, peak_mb_per_task,
date, device, ...}.
"""
from __future__ import annotations

import argparse
import json
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus_speed import _pss  # noqa: E402  (PSS with an RSS fallback, as the speed benchmark samples it)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "corpus_scale.json"
FILE_BYTES = 100_000_000
COPY_SHARE, NEAR_SHARE = 0.05, 0.05


def write_input(folder: Path, gigabytes: float, seed: int = 0) -> dict:
    """JSONL files of real paragraphs with planted exact and near copies; returns the planted counts."""
    rng = random.Random(seed)
    texts = [p.read_text(errors="ignore") for p in sorted(Path("/usr/share/common-licenses").iterdir())
             if p.is_file() and p.stat().st_size > 2000]
    paragraphs = [" ".join(p.split()) for t in texts for p in t.split("\n\n") if len(p) > 200]
    recent: list[str] = []  # copies are drawn from the last 50k documents (bounded memory)
    planted = {"documents": 0, "exact": 0, "near": 0}
    target, written, index = int(gigabytes * 1e9), 0, 0
    while written < target:
        with open(folder / f"part-{index:04d}.jsonl", "w") as f:
            size = 0
            while size < FILE_BYTES and written + size < target:
                draw = rng.random()
                if recent and draw < COPY_SHARE:
                    text, planted["exact"] = rng.choice(recent), planted["exact"] + 1
                elif recent and draw < COPY_SHARE + NEAR_SHARE:
                    words = rng.choice(recent).split()
                    for _ in range(3):
                        words[rng.randrange(len(words))] = rng.choice(("agreement", "licensee", "party", "notice"))
                    text, planted["near"] = " ".join(words), planted["near"] + 1
                else:
                    text = " ".join(rng.sample(paragraphs, 6))
                    recent.append(text)
                    if len(recent) > 50_000:
                        recent.pop(rng.randrange(len(recent)))
                line = json.dumps({"text": text}) + "\n"
                f.write(line)
                size += len(line)
                planted["documents"] += 1
        written += size
        index += 1
    return planted | {"files": index, "bytes": written}


def child(spec: dict) -> dict:
    """In the child process: one build; prints its stats."""
    from domain_electra.corpus import CorpusConfig, build_corpus

    config = CorpusConfig(domain="legal", sources=[spec["input"]], decontaminate=False, workers=spec["tasks"],
                          languages=["en"], language_id=False)
    out = Path(spec["out"])
    if spec["mode"] == "local":
        return build_corpus(config, out, progress=False)
    from domain_electra.corpus import cluster

    if spec["executor"] == "ray":
        return _ray_build(config, out, spec["tasks"])
    return cluster.build_corpus_datatrove(config, out, tasks=spec["tasks"], workers=spec["tasks"])


def _ray_build(config, out: Path, tasks: int) -> dict:
    import ray
    from datatrove.executor import RayPipelineExecutor

    from domain_electra.corpus import cluster

    ray.init(num_cpus=tasks, include_dashboard=False, log_to_driver=False)
    work = out / "_datatrove"
    for name, pipeline, count in cluster.stages(config, work, out, tasks):
        RayPipelineExecutor(pipeline=pipeline, tasks=count, logging_dir=str(work / "logs" / name),
                            cpus_per_task=1, mem_per_cpu_gb=2).run()
    return json.loads((out / "stats.json").read_text())


def measure(spec: dict) -> tuple[dict, float, float]:
    """(stats, wall seconds, peak PSS MB of any one process in the child's tree)."""
    t0 = time.time()
    proc = subprocess.Popen([sys.executable, __file__, "--child", json.dumps(spec)], stdout=subprocess.PIPE, cwd=ROOT)
    root, peak = psutil.Process(proc.pid), 0
    while proc.poll() is None:
        try:
            peak = max([peak] + [_pss(p) for p in [root, *root.children(recursive=True)]])
        except psutil.Error:
            pass
        time.sleep(0.2)
    wall = time.time() - t0
    if proc.returncode:
        raise SystemExit(f"the {spec['mode']} build failed (exit {proc.returncode}); its output is above")
    return json.loads(proc.stdout.read().decode().strip().splitlines()[-1]), wall, peak / 1e6


def row(mode: str, spec: dict, stats: dict, wall: float, peak: float, planted: dict) -> dict:
    dropped = stats["documents"]["dropped"]
    mb = planted["bytes"] / 1e6
    return {"mode": mode, "tasks": spec["tasks"], "executor": spec["executor"] if mode == "cluster" else "-",
            "input_gb": round(planted["bytes"] / 1e9, 2), "docs_in": stats["documents"]["read"],
            "docs_kept": stats["documents"]["kept"], "wall_s": round(wall, 1),
            "mb_per_s_per_task": round(mb / wall / spec["tasks"], 2), "peak_mb_per_task": round(peak),
            "planted_exact": planted["exact"], "planted_near": planted["near"],
            "removed_exact": dropped.get("exact_duplicate", 0), "removed_near": dropped.get("near_duplicate", 0),
            "date": date.today().isoformat(), "device": f"{platform.processor() or platform.machine()}, "
                                                        f"{psutil.cpu_count()} cores"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--child")
    ap.add_argument("--gb", type=float, default=5.0)
    ap.add_argument("--tasks", type=int, default=2)
    ap.add_argument("--modes", default="local,cluster")
    ap.add_argument("--executor", default="local", choices=["local", "ray"])
    ap.add_argument("--tmp", default=tempfile.gettempdir(), help="where the input and outputs go (deleted after)")
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    work = Path(tempfile.mkdtemp(prefix="corpus-scale-", dir=args.tmp))
    try:
        (work / "input").mkdir()
        t0 = time.time()
        planted = write_input(work / "input", args.gb)
        print(f"input: {planted} in {time.time() - t0:.0f} s", flush=True)
        rows = []
        for mode in args.modes.split(","):
            spec = {"mode": mode, "tasks": args.tasks, "executor": args.executor, "input": str(work / "input"),
                    "out": str(work / f"out-{mode}")}
            stats, wall, peak = measure(spec)
            rows.append(row(mode, spec, stats, wall, peak, planted))
            print(json.dumps(rows[-1]), flush=True)
            shutil.rmtree(work / f"out-{mode}", ignore_errors=True)
        if not args.no_record:
            existing = json.loads(RESULTS.read_text()) if RESULTS.is_file() else []
            RESULTS.write_text(json.dumps(existing + rows, indent=1) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
