"""The same corpus build on datatrove's executors: several tasks on one machine, Slurm or Ray on a cluster.

Two stages, each a list of plain callables (datatrove runs any `f(data, rank, world_size)` as a step):

1. `process` (N tasks): task `rank` reads every N-th source and runs the very same per-document work as
   the local build (readers, generic and domain cleaners, decontamination, content hash, MinHash
   signature), writing its batches to `{work_dir}/parts/{rank:05d}.jsonl`: one JSON object a line,
   MinHash signatures as base64 little-endian uint64. Plain data on purpose: the scratch folder is
   shared, and a pickle planted there would run code in the merge job; nothing here unpickles.
   datatrove gives each task a log, a completion marker (a rerun skips finished tasks) and, on Slurm,
   a job array.
2. `merge` (1 task): global exact and near deduplication (Bloom filters: fixed memory), the train/validation
   split, the Parquet shards, stats.json and summary.md, exactly as `build_corpus` writes them. It reads
   the parts in rank order, so the result does not depend on which task finished first, and refuses to
   merge when a task's part is missing (its sources would vanish without a trace). More than
   `max_failed_share` unreadable sources fail the merge with the same one-line error as a local build.

On a Slurm cluster (datatrove's SlurmPipelineExecutor; Ray: RayPipelineExecutor with the same pipelines)::

    from datatrove.executor import SlurmPipelineExecutor
    from domain_electra.corpus import CorpusConfig
    from domain_electra.corpus.cluster import merge_pipeline, process_pipeline

    config = CorpusConfig(domain="legal", sources=["/data/contracts"])
    stage1 = SlurmPipelineExecutor(pipeline=process_pipeline(config, "/scratch/work"), tasks=256,
                                   time="04:00:00", partition="cpu", logging_dir="/scratch/work/logs/process",
                                   job_name="corpus-process", cpus_per_task=1, mem_per_cpu_gb=4)
    stage2 = SlurmPipelineExecutor(pipeline=merge_pipeline(config, "/scratch/work", "/data/corpus"), tasks=1,
                                   time="04:00:00", partition="cpu", logging_dir="/scratch/work/logs/merge",
                                   job_name="corpus-merge", depends=stage1, mem_per_cpu_gb=16)
    stage2.run()  # submits both; stage 2 starts when every stage-1 task has finished

`build_corpus_datatrove(config, out, tasks, workers)` does the same with LocalPipelineExecutor.
"""
from __future__ import annotations

import base64
import dataclasses
import functools
import json
from pathlib import Path
from typing import Iterator

import numpy as np

from ..config import from_dict, to_dict
from ..errors import UserError
from .build import CorpusConfig, finish, prepare
from .pipeline import Processor


def _config(data: dict) -> CorpusConfig:
    return from_dict(CorpusConfig, data)


PART_FORMAT = "domain-electra-part/1"


def _encode_batch(batch: dict) -> str:
    records = [r | {"signature": None if r["signature"] is None else
                    base64.b64encode(np.asarray(r["signature"], dtype="<u8").tobytes()).decode("ascii")}
               for r in batch["records"]]
    return json.dumps(batch | {"records": records})  # ASCII: lone surrogates in text survive as escapes


def _decode_batch(line: str) -> dict:
    batch = json.loads(line)
    for record in batch["records"]:
        if record["signature"] is not None:
            record["signature"] = np.frombuffer(base64.b64decode(record["signature"]), dtype="<u8").astype(np.uint64)
    return batch


def process_task(data, rank: int, world_size: int, config: dict, work_dir: str) -> None:
    """Stage 1, one task: its share of the sources -> parts/{rank}.jsonl (a header line, then batches)."""
    prep = prepare(_config(config))
    parts = Path(work_dir) / "parts"
    parts.mkdir(parents=True, exist_ok=True)
    if rank == 0:  # the decontamination notes, for the merged stats
        (parts / "decontamination.json").write_text(json.dumps(prep.decontamination))
    processor = Processor(prep.plan)
    tmp = parts / f"{rank:05d}.jsonl.tmp"
    with open(tmp, "w", encoding="ascii") as f:
        f.write(json.dumps({"format": PART_FORMAT, "rank": rank, "world_size": world_size}) + "\n")
        for src in prep.sources[rank::world_size]:
            for batch in processor.safe_process(src):
                f.write(_encode_batch(batch) + "\n")
    tmp.replace(parts / f"{rank:05d}.jsonl")  # whole or absent: a killed task leaves no half part


def _part_header(path: Path) -> dict:
    try:
        with open(path, encoding="ascii") as f:
            header = json.loads(f.readline())
        if header.get("format") != PART_FORMAT:
            raise ValueError(f"format {header.get('format')!r}")
        return header
    except (ValueError, UnicodeDecodeError, AttributeError) as exc:
        raise UserError(f"{path} is not a corpus part ({type(exc).__name__}: {str(exc)[:80]}): delete it and "
                        "rerun stage 1 (process)") from None


def part_files(parts: Path) -> list[Path]:
    """Every task's part, checked complete: a header naming the same world size, one part per rank."""
    paths = sorted(parts.glob("[0-9][0-9][0-9][0-9][0-9].jsonl"))
    headers = [_part_header(p) for p in paths]
    if not headers:
        raise UserError(f"no corpus parts in {parts}: run stage 1 (process) first")
    world = headers[0]["world_size"]
    missing = sorted(set(range(world)) - {h["rank"] for h in headers})
    if missing or any(h["world_size"] != world for h in headers):
        raise UserError(f"corpus parts in {parts} are incomplete: tasks {missing[:10]} of {world} missing or mixed "
                        "world sizes; rerun stage 1 (process) with the same task count")
    return paths


def _read_parts(paths: list[Path]) -> Iterator[dict]:
    for path in paths:
        with open(path, encoding="ascii") as f:
            next(f)  # the header
            for number, line in enumerate(f, start=2):
                try:
                    yield _decode_batch(line)
                except (ValueError, KeyError, TypeError) as exc:
                    raise UserError(f"{path} line {number} is not a corpus batch ({type(exc).__name__}): "
                                    "delete the part and rerun stage 1 (process)") from None


def merge_task(data, rank: int, world_size: int, config: dict, work_dir: str, out: str) -> None:
    """Stage 2 (a single task): global dedup, split, shards, stats."""
    cfg = _config(config)
    parts = Path(work_dir) / "parts"
    paths = part_files(parts)  # before any output is written
    prep = prepare(cfg, with_index=False)
    notes = parts / "decontamination.json"
    if notes.is_file():
        prep = dataclasses.replace(prep, decontamination=json.loads(notes.read_text()))
    finish(cfg, prep, _read_parts(paths), Path(out), progress=False)


def process_pipeline(config: CorpusConfig, work_dir: str | Path) -> list:
    return [functools.partial(process_task, config=to_dict(config), work_dir=str(work_dir))]


def merge_pipeline(config: CorpusConfig, work_dir: str | Path, out: str | Path) -> list:
    return [functools.partial(merge_task, config=to_dict(config), work_dir=str(work_dir), out=str(out))]


def build_corpus_datatrove(config: CorpusConfig, out: str | Path, tasks: int = 4, workers: int = 2,
                           work_dir: str | Path | None = None) -> dict:
    """The two stages on datatrove's LocalPipelineExecutor (`tasks` tasks, `workers` at a time).

    Call it under `if __name__ == "__main__":` in a script: datatrove starts its pool with forkserver.
    A source that raises is counted (worker_error) as in the local build; a task whose worker process
    dies outright (segfault, OOM kill) can stall datatrove's local pool, which, unlike `build_corpus`'s
    own pool, does not replace dead workers; on Slurm such a task simply fails and is rerun.
    """
    from datatrove.executor import LocalPipelineExecutor

    out = Path(out)
    work = Path(work_dir) if work_dir else out / "_datatrove"
    stage1 = LocalPipelineExecutor(pipeline=process_pipeline(config, work), tasks=tasks, workers=workers,
                                   logging_dir=str(work / "logs" / "process"))
    stage2 = LocalPipelineExecutor(pipeline=merge_pipeline(config, work, out), tasks=1, workers=1,
                                   logging_dir=str(work / "logs" / "merge"))
    for name, stage in (("process", stage1), ("merge", stage2)):
        try:
            stage.run()
        except UserError:
            raise
        except Exception as exc:  # a task raised (per-source faults never do: they are counted instead)
            raise UserError(f"datatrove stage '{name}' failed: {type(exc).__name__}: {exc} "
                            f"(task logs in {work / 'logs' / name}; rerun to resume finished tasks)") from exc
    return json.loads((out / "stats.json").read_text())
