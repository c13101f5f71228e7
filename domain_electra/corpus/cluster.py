"""The same corpus build on datatrove's executors: several tasks on one machine, Slurm or Ray on a cluster.

Two stages, each a list of plain callables (datatrove runs any `f(data, rank, world_size)` as a step):

1. `process` (N tasks): task `rank` reads every N-th source and runs the very same per-document work as
   the local build (readers, generic and domain cleaners, decontamination, content hash, MinHash
   signature), writing its batches to `{work_dir}/parts/{rank:05d}.pkl` (an internal, same-version
   pickle stream). datatrove gives each task a log, a completion marker (a rerun skips finished tasks)
   and, on Slurm, a job array.
2. `merge` (1 task): global exact and near deduplication (Bloom filters: fixed memory), the train/validation
   split, the Parquet shards, stats.json and summary.md, exactly as `build_corpus` writes them. It reads
   the parts in rank order, so the result does not depend on which task finished first.

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

import dataclasses
import functools
import json
import pickle
from pathlib import Path
from typing import Iterator

from ..config import from_dict, to_dict
from ..errors import UserError
from .build import CorpusConfig, finish, prepare
from .pipeline import Processor


def _config(data: dict) -> CorpusConfig:
    return from_dict(CorpusConfig, data)


def process_task(data, rank: int, world_size: int, config: dict, work_dir: str) -> None:
    """Stage 1, one task: its share of the sources -> parts/{rank}.pkl."""
    prep = prepare(_config(config))
    parts = Path(work_dir) / "parts"
    parts.mkdir(parents=True, exist_ok=True)
    if rank == 0:  # the decontamination notes, for the merged stats
        (parts / "decontamination.json").write_text(json.dumps(prep.decontamination))
    processor = Processor(prep.plan)
    tmp = parts / f"{rank:05d}.pkl.tmp"
    with open(tmp, "wb") as f:
        for src in prep.sources[rank::world_size]:
            for batch in processor.safe_process(src):
                pickle.dump(batch, f, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(parts / f"{rank:05d}.pkl")  # whole or absent: a killed task leaves no half part


def _read_parts(parts: Path) -> Iterator[dict]:
    for path in sorted(parts.glob("[0-9][0-9][0-9][0-9][0-9].pkl")):
        with open(path, "rb") as f:
            while True:
                try:
                    yield pickle.load(f)
                except EOFError:
                    break


def merge_task(data, rank: int, world_size: int, config: dict, work_dir: str, out: str) -> None:
    """Stage 2 (a single task): global dedup, split, shards, stats."""
    cfg = _config(config)
    prep = prepare(cfg, with_index=False)
    parts = Path(work_dir) / "parts"
    notes = parts / "decontamination.json"
    if notes.is_file():
        prep = dataclasses.replace(prep, decontamination=json.loads(notes.read_text()))
    finish(cfg, prep, _read_parts(parts), Path(out), progress=False)


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
