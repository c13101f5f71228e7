"""The same corpus build on datatrove's executors: several tasks on one machine, Slurm or Ray on a cluster.

Five stages, each a list of plain callables (datatrove runs any `f(data, rank, world_size)` as a step).
The scratch folder holds plain data only, JSON lines and numpy .npy files loaded with
allow_pickle=False: it is shared, and a pickle planted there would run code in a later job.

1. `process` (N tasks): task `rank` reads a contiguous run of the sources (balanced by bytes, so reading
   the tasks in rank order is the local build's order; a large JSONL file counts as its ~16 MB pieces,
   as in the local build, so one 100 GB export spreads over every task) and runs the very same per-document work
   (readers, generic and domain cleaners, decontamination, content hash, MinHash signature). It writes
   its batches to `parts/{rank:05d}.jsonl` and, from each record's raw-text hash, content hash and LSH
   band keys (the toolkit's own signatures and bands), the key rows every stage-2 task owns:
   `buckets/{task:05d}/{rank:05d}-{sub:03d}.npy` (task d owns the keys with key % N == d; `sub`, the
   key's sub-bucket, splits them further so that no step holds more than ~SUB_BUCKET_BYTES of input's
   rows). Rows are flushed to disk every FLUSH_RECORDS records: a task's memory does not grow with
   its input.
2. `buckets` (N tasks, as many as stage 1): task d sorts its key rows one sub-bucket at a time and
   writes only the keys that two records share: `collisions/{d:05d}-{sub:03d}.{repeats,follows,bands}.npy`.
3. `cluster` (1 task): union-find over the shared band keys, then the local build's sequential rule in
   each cluster (the first document in global order is kept, a later one only when no kept document
   shares a key with it): `dedup/dropped.npy`, the id and reason of every duplicate
   (corpus/cluster_dedup.py says why this is exactly the local build's answer).
4. `write` (N tasks, as many as stage 1): task r reads part r with the dropped ids and writes its own
   train/validation shards (`shards/{r:05d}/`) and counts (`shards/{r:05d}.json`) through
   `build.write_rows`. The split is per document (a hash of its content), so it needs no global view;
   a max_docs cut does: then task 0 writes every part in order and the others count nothing.
5. `finish` (1 task, reads no document): adds the counts in task order, moves the shards into the
   output under global numbers (corpus/cluster_shards.py), and writes stats.json and summary.md through
   `build.finish_stats`, exactly as `build_corpus` does, with the same drop reasons and counts.

Every stage refuses to start when an earlier one left a task's output missing (its sources would vanish
without a trace), and more than `max_failed_share` unreadable sources fail `finish` with the same
one-line error as a local build. datatrove gives each task a log, a completion marker (a rerun skips
finished tasks) and, on Slurm, a job array.

On a Slurm cluster (datatrove's SlurmPipelineExecutor; Ray: RayPipelineExecutor with the same pipelines)::

    from datatrove.executor import SlurmPipelineExecutor
    from domain_electra.corpus import CorpusConfig
    from domain_electra.corpus.cluster import (buckets_pipeline, cluster_pipeline, finish_pipeline,
                                              process_pipeline, write_pipeline)

    config = CorpusConfig(domain="legal", sources=["/data/contracts"])
    work, tasks = "/scratch/work", 256

    def stage(name, pipeline, tasks, depends=None, mem_per_cpu_gb=4):
        return SlurmPipelineExecutor(pipeline=pipeline, tasks=tasks, time="04:00:00", partition="cpu",
                                     logging_dir=f"{work}/logs/{name}", job_name=f"corpus-{name}",
                                     depends=depends, mem_per_cpu_gb=mem_per_cpu_gb)

    process = stage("process", process_pipeline(config, work), tasks)
    buckets = stage("buckets", buckets_pipeline(config, work), tasks, process)  # same task count
    cluster = stage("cluster", cluster_pipeline(config, work), 1, buckets, mem_per_cpu_gb=16)
    write = stage("write", write_pipeline(config, work), tasks, cluster)  # as many tasks as process
    final = stage("finish", finish_pipeline(config, work, "/data/corpus"), 1, write)
    final.run()  # submits all five; each starts when every task of the one before has finished

`build_corpus_datatrove(config, out, tasks, workers)` does the same with LocalPipelineExecutor.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import shutil
import time
from collections import Counter
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import xxhash

from ..config import from_dict, to_dict
from ..errors import UserError
from . import cluster_dedup as D
from . import steps as S
from ..registry import get_domain
from .build import CorpusConfig, Tally, bloom_backend, finish_stats, lsh_bands, prepare, write_rows
from .cluster_shards import gather_shards
from .pipeline import SAMPLE_CHARS, Processor, reading_units
from .readers import Source, as_pieces


def _config(data: dict) -> CorpusConfig:
    return from_dict(CorpusConfig, data)


PART_FORMAT = "domain-electra-part/3"
FLUSH_RECORDS = 65_536  # stage 1 writes its key rows out every this many records
SUB_BUCKET_BYTES = 256 << 20  # input bytes per (stage-2 task, sub-bucket): ~30 MB of key rows


def sub_buckets(sources: Sequence[Source], world_size: int) -> int:
    """Sub-buckets per stage-2 task, from the input size (every stage-1 task computes the same number)."""
    total = sum(src.size for src in sources)
    return max(1, -(-total // (world_size * SUB_BUCKET_BYTES)))


def piece_table(config: CorpusConfig) -> dict[str, list]:
    """{path: [size, [[start, end, first_line], ...]]} for each source file read as pieces (a large JSONL
    file: readers.split_source). Computed once where the pipelines are built, with the one newline pass
    the local build makes, so that N process tasks do not each read every large file to find the cuts."""
    prep = prepare(config, with_index=False)
    cuts: dict[str, list] = {}
    for unit in reading_units(prep.sources, config.join_rows):
        if unit.piece is not None:
            cuts.setdefault(unit.path, []).append([unit.piece.start, unit.piece.end, unit.piece.first_line])
    return {path: [pieces[-1][1], pieces] for path, pieces in cuts.items()}  # size: where the last piece ends


def with_pieces(sources: Sequence[Source], table: dict[str, list]) -> list[Source]:
    """`sources` with each file of `table` replaced by its pieces (refused when the file has changed)."""
    out = []
    for src in sources:
        entry = table.get(src.path) if src.kind == "file" and src.piece is None else None
        if entry is None:
            out.append(src)
            continue
        size, cuts = entry
        if size != src.size:
            raise UserError(f"{src.path} is {src.size} bytes, not the {size} it had when the pipelines were built; "
                            "build the pipelines again (process_pipeline) and rerun stage 'process'")
        out += as_pieces(src, cuts)
    return out


def task_sources(sources: Sequence[Source], rank: int, world_size: int) -> list[Source]:
    """Task `rank`'s contiguous run of the sources, cut where the bytes before a source cross rank/N of
    the total: record ids (rank, position) then follow the local build's source order."""
    starts, total = [], 0
    for src in sources:
        starts.append(total)
        total += src.size + 1  # + 1: empty files count too
    return [src for src, start in zip(sources, starts) if start * world_size // max(total, 1) == rank]


class _PartProcessor(Processor):
    """The local build's Processor, noting for each record its raw-text hash (the key of the worker's
    outcome cache) and its own edit counts: a record whose raw text another task saw first is a repeat
    (cluster_dedup), which the local build drops before counting its edits."""

    def document(self, batch: dict, doc) -> None:
        records, edits = len(batch["records"]), batch["edits"]
        batch["edits"] = Counter()
        try:
            super().document(batch, doc)
            if len(batch["records"]) > records:
                batch["records"][-1]["raw"] = xxhash.xxh3_64_intdigest(doc.text.encode("utf-8", "surrogatepass"))
                batch["records"][-1]["edits"] = dict(batch["edits"])
        finally:
            edits.update(batch["edits"])
            batch["edits"] = edits


def _record_keys(records: list[dict], bands: tuple[int, int] | None, bloom: bool) -> np.ndarray:
    """(records x columns) keys: raw-text hash, content key, then the LSH band keys (signatures dropped)."""
    columns = [np.array([r.pop("raw") for r in records], dtype=np.uint64),
               np.array([D.content_key(r["hash"]) for r in records], dtype=np.uint64)]
    keys = np.stack(columns, axis=1)
    signatures = [r.pop("signature") for r in records]
    if bands is None:
        return keys
    matrix = np.stack(signatures) if records else np.zeros((0, S.NUM_PERM), dtype=np.uint64)
    return np.concatenate([keys, D.band_keys(matrix, bands, bloom)], axis=1)


def _encode_batch(batch: dict) -> str:
    return json.dumps(batch)  # ASCII: lone surrogates in text survive as escapes


def process_task(data, rank: int, world_size: int, config: dict, work_dir: str,
                 pieces: dict[str, list] | None = None) -> None:
    """Stage 1, one task: its sources (large JSONL files cut as in `pieces`, see piece_table) ->
    parts/{rank}.jsonl (a header line, then batches) + key rows."""
    cfg = _config(config)
    prep = prepare(cfg)
    sources = with_pieces(prep.sources, pieces or {})
    work = Path(work_dir)
    parts = work / "parts"
    parts.mkdir(parents=True, exist_ok=True)
    if rank == 0:  # the decontamination notes, for the merged stats
        (parts / "decontamination.json").write_text(json.dumps(prep.decontamination))
    processor = _PartProcessor(prep.plan)
    bands = lsh_bands(cfg.near_dup_threshold) if cfg.near_dup_threshold > 0 else None
    bloom = bloom_backend()
    subs = sub_buckets(sources, world_size)
    buckets = _BucketWriter(work / "buckets", rank, world_size, subs)
    tmp = parts / f"{rank:05d}.jsonl.tmp"
    with open(tmp, "w", encoding="ascii") as f:
        f.write(json.dumps({"format": PART_FORMAT, "rank": rank, "world_size": world_size,
                            "sub_buckets": subs}) + "\n")
        for src in task_sources(sources, rank, world_size):
            for batch in processor.safe_process(src):
                buckets.add(_record_keys(batch["records"], bands, bloom))
                f.write(_encode_batch(batch) + "\n")
    buckets.close()
    tmp.replace(parts / f"{rank:05d}.jsonl")  # last, whole or absent: a killed task leaves no half part


class _BucketWriter:
    """Stage 1's key rows, by owner and sub-bucket, flushed every FLUSH_RECORDS records to raw append
    files that `close` turns into the .npy arrays stage 2 reads (one file in memory at a time)."""

    def __init__(self, folder: Path, rank: int, world_size: int, subs: int):
        self.folder, self.rank, self.world_size, self.subs = folder, rank, world_size, subs
        self.pending: list[np.ndarray] = []
        self.records = 0  # records flushed or pending: the next record's position
        self.flushed = 0
        for stale in folder.glob(f"*/{rank:05d}-*.u64.tmp"):  # a killed earlier attempt: start afresh
            stale.unlink()

    def add(self, keys: np.ndarray) -> None:
        self.pending.append(keys)
        self.records += len(keys)
        if self.records >= 1 << D.ID_BITS:
            raise UserError(f"task {self.rank} holds more documents than ids allow (2^{D.ID_BITS}): "
                            "run stage 1 with more tasks")
        if self.records - self.flushed >= FLUSH_RECORDS:
            self.flush()

    def _path(self, owner: int, sub: int, suffix: str) -> Path:
        return self.folder / f"{owner:05d}" / f"{self.rank:05d}-{sub:03d}{suffix}"

    def flush(self) -> None:
        keys = np.concatenate(self.pending) if self.pending else np.zeros((0, 2), dtype=np.uint64)
        ids = (np.uint64(self.rank) << np.uint64(D.ID_BITS)
               | np.arange(self.flushed, self.flushed + len(keys), dtype=np.uint64))
        for owner, rows in enumerate(D.partition(D.key_rows(keys, ids), self.world_size)):
            sub = (rows[:, 1] // np.uint64(self.world_size)) % np.uint64(self.subs)  # the owner's own key split
            for s in range(self.subs):
                path = self._path(owner, s, ".u64.tmp")
                path.parent.mkdir(parents=True, exist_ok=True)
                with open(path, "ab") as f:
                    np.ascontiguousarray(rows[sub == s], dtype="<u8").tofile(f)
        self.pending, self.flushed = [], self.records

    def close(self) -> None:
        self.flush()
        for owner in range(self.world_size):
            for s in range(self.subs):
                raw = self._path(owner, s, ".u64.tmp")
                rows = np.fromfile(raw, dtype="<u8").reshape(-1, 3) if raw.is_file() else np.zeros((0, 3), np.uint64)
                _save(self._path(owner, s, ".npy"), rows.astype(np.uint64, copy=False))
                raw.unlink(missing_ok=True)


def _save(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        np.save(f, np.ascontiguousarray(array), allow_pickle=False)
    tmp.replace(path)  # whole or absent


def _load(path: Path, columns: int | None, stage: str) -> np.ndarray:
    """A uint64 array (1-D, or 2-D with `columns` columns) written by `stage`; anything else is refused."""
    try:
        array = np.load(path, allow_pickle=False)  # never unpickles: a planted pickle is an error
    except FileNotFoundError:
        raise UserError(f"{path} is missing: a task of stage '{stage}' did not finish; rerun that stage") from None
    except (ValueError, OSError, EOFError) as exc:
        raise UserError(f"{path} is not a corpus scratch array ({type(exc).__name__}: {str(exc)[:80]}): "
                        f"delete it and rerun stage '{stage}'") from None
    shape_ok = array.ndim == 1 if columns is None else array.ndim == 2 and array.shape[1] == columns
    if array.dtype != np.uint64 or not shape_ok:
        raise UserError(f"{path} holds {array.dtype} {array.shape}, not the uint64 rows stage '{stage}' writes: "
                        f"delete it and rerun stage '{stage}'")
    return array


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
    if missing or any(h["world_size"] != world for h in headers) or len(headers) != world:
        raise UserError(f"corpus parts in {parts} are incomplete: tasks {missing[:10]} of {world} missing or mixed "
                        "world sizes; rerun stage 1 (process) with the same task count")
    return paths


def _stage1_tasks(work: Path) -> tuple[int, int]:
    """(task count, sub-buckets per stage-2 task) of stage 1, from its parts' header."""
    header = _part_header(part_files(work / "parts")[0])
    return header["world_size"], header["sub_buckets"]


def _one_task(stage: str, world_size: int) -> None:
    if world_size != 1:
        raise UserError(f"stage '{stage}' is a single task (it needs every key range), got tasks={world_size}")


def buckets_task(data, rank: int, world_size: int, config: dict, work_dir: str) -> None:
    """Stage 2, one task: the key rows it owns, from every stage-1 task -> the keys two records share."""
    work = Path(work_dir)
    tasks, subs = _stage1_tasks(work)
    if world_size != tasks:
        raise UserError(f"stage 'buckets' needs as many tasks as stage 1 (process) had ({tasks}), got {world_size}")
    for sub in range(subs):  # a key lives in one sub-bucket: each is complete on its own
        rows = np.concatenate([_load(work / "buckets" / f"{rank:05d}" / f"{r:05d}-{sub:03d}.npy", 3, "process")
                               for r in range(tasks)])
        found = D.collisions(rows)
        del rows
        for name in ("repeats", "follows", "bands"):
            _save(work / "collisions" / f"{rank:05d}-{sub:03d}.{name}.npy", getattr(found, name))


_COLLISION_COLUMNS = {"repeats": None, "follows": 2, "bands": 2}


def cluster_task(data, rank: int, world_size: int, config: dict, work_dir: str) -> None:
    """Stage 3 (a single task): clusters and verdicts -> dedup/dropped.npy (id, reason code) by id."""
    _one_task("cluster", world_size)
    work = Path(work_dir)
    tasks, subs = _stage1_tasks(work)
    found = [D.Collisions(**{name: _load(work / "collisions" / f"{task:05d}-{sub:03d}.{name}.npy", columns, "buckets")
                             for name, columns in _COLLISION_COLUMNS.items()})
             for task in range(tasks) for sub in range(subs)]
    ids, codes, notes = D.verdicts(found)
    _save(work / "dedup" / "dropped.npy", np.stack([ids, codes.astype(np.uint64)], axis=1))
    (work / "dedup" / "notes.json").write_text(json.dumps(notes))


class Verdicts:
    """What `finish` asks a Deduplicator, answered from the cluster stage's dropped ids (sorted)."""

    def __init__(self, dropped: np.ndarray):
        self.ids, self.codes = dropped[:, 0], dropped[:, 1]

    def code(self, record_id: int) -> int:
        i = int(np.searchsorted(self.ids, np.uint64(record_id)))
        return int(self.codes[i]) if i < len(self.ids) and int(self.ids[i]) == record_id else 0

    def check(self, record: dict) -> str | None:
        code = self.code(record["id"])
        return D.REASONS[code] if code else None


def _as_repeat(batch: dict, record: dict) -> None:
    """Count a repeat as the local build's worker does: dropped before dedup, its edits never counted."""
    batch["dropped"] = Counter(batch["dropped"]) + Counter({"exact_duplicate": 1})
    batch["edits"] = Counter(batch["edits"]) - Counter(record["edits"])
    batch["samples"].append({"kind": "document", "reason": "exact_duplicate", "source": record["source"],
                             "text": record["text"][:SAMPLE_CHARS], "detail": ""})


def _read_parts(paths: list[Path], verdicts: Verdicts) -> Iterator[dict]:
    """The batches in global order, each record with its id, repeats taken out (see _PartProcessor)."""
    for path in paths:
        rank, position = _part_header(path)["rank"], 0
        with open(path, encoding="ascii") as f:
            next(f)  # the header
            for number, line in enumerate(f, start=2):
                try:
                    batch, records = json.loads(line), []
                    for record in batch["records"]:
                        record["id"] = D.record_id(rank, position)
                        position += 1
                        if verdicts.code(record["id"]) == D.REPEAT:
                            _as_repeat(batch, record)
                        else:
                            records.append(record)
                    batch["records"] = records
                except (ValueError, KeyError, TypeError) as exc:
                    raise UserError(f"{path} line {number} is not a corpus batch ({type(exc).__name__}): "
                                    "delete the part and rerun stage 1 (process)") from None
                yield batch


def write_task(data, rank: int, world_size: int, config: dict, work_dir: str) -> None:
    """Stage 4, one task: its part with the verdicts of stage 3 -> its own train/validation shards in
    shards/{rank}/ and the counts in shards/{rank}.json. A max_docs cut is global and sequential: then
    task 0 reads every part, as the local build would, and the others write empty counts."""
    cfg = _config(config)
    work = Path(work_dir)
    paths = part_files(work / "parts")  # every part checked before any output is written
    if world_size != len(paths):
        raise UserError(f"stage 'write' needs as many tasks as stage 1 (process) had ({len(paths)}), got {world_size}")
    verdicts = Verdicts(_load(work / "dedup" / "dropped.npy", 2, "cluster"))
    folder = work / "shards" / f"{rank:05d}"
    if folder.exists():
        shutil.rmtree(folder)  # a rerun of a task that died halfway
    folder.mkdir(parents=True)
    mine = paths if cfg.max_docs else [paths[rank]]
    tally, started = Tally(), time.time()
    shards = {split: {"documents": 0, "bytes": 0, "shards": []} for split in ("train", "validation")}
    failed_paths: list[str] = []  # finish counts each failed file once, whichever tasks its pieces were in

    def batches() -> Iterator[dict]:
        for batch in _read_parts(mine, verdicts):
            if batch.get("sources_failed"):
                failed_paths.append(batch["failed_path"])
            yield batch

    if rank == 0 or not cfg.max_docs:
        shards = write_rows(cfg, get_domain(cfg.domain).name, batches(), folder, verdicts, tally)
    counts = {"rank": rank, "tally": tally.to_json(), "shards": shards, "seconds": time.time() - started,
              "failed_paths": failed_paths}
    tmp = work / "shards" / f"{rank:05d}.json.tmp"
    tmp.write_text(json.dumps(counts, ensure_ascii=True))
    tmp.replace(work / "shards" / f"{rank:05d}.json")  # last: a task's counts exist only with all its shards


def finish_task(data, rank: int, world_size: int, config: dict, work_dir: str, out: str) -> None:
    """Stage 5 (a single task, no document is read): every task's counts added in task order, its
    shards moved into `out` under global numbers, stats.json and summary.md through `build.finish_stats`."""
    _one_task("finish", world_size)
    cfg = _config(config)
    work = Path(work_dir)
    tasks, _ = _stage1_tasks(work)
    missing = [r for r in range(tasks) if not (work / "shards" / f"{r:05d}.json").is_file()]
    if missing:
        raise UserError(f"stage 'write' is incomplete: tasks {missing[:10]} of {tasks} left no counts in "
                        f"{work / 'shards'}; rerun stage 'write'")
    started = time.time()
    prep = prepare(cfg, with_index=False)
    notes = work / "parts" / "decontamination.json"
    if notes.is_file():
        prep = dataclasses.replace(prep, decontamination=json.loads(notes.read_text()))
    tally, task_shards, slowest = Tally(skipped=Counter(prep.input_skips), samples=list(prep.samples)), [], 0.0
    failed: set[str] = set()  # a file whose pieces failed (in one task or several) is one failed source
    for r in range(tasks):
        counts = json.loads((work / "shards" / f"{r:05d}.json").read_text())
        tally.add(Tally.from_json(counts["tally"]))
        task_shards.append(counts["shards"])
        slowest = max(slowest, counts["seconds"])
        failed.update(counts["failed_paths"])
    tally.totals["sources_failed"] = len(failed)  # as the local pool counts (pipeline._one_failure_per_file)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    shards = gather_shards(task_shards, work / "shards", out, cfg, tally.kept)
    merge_s = time.time() - started  # the build's time: the slowest write task, then this one
    finish_stats(cfg, prep, tally, shards, out, slowest + merge_s, merge_s, progress=False)


def process_pipeline(config: CorpusConfig, work_dir: str | Path) -> list:
    """Stage 1's pipeline; finds the large JSONL files' piece cuts now, once (see piece_table)."""
    return [functools.partial(process_task, config=to_dict(config), work_dir=str(work_dir),
                              pieces=piece_table(config))]


def buckets_pipeline(config: CorpusConfig, work_dir: str | Path) -> list:
    return [functools.partial(buckets_task, config=to_dict(config), work_dir=str(work_dir))]


def cluster_pipeline(config: CorpusConfig, work_dir: str | Path) -> list:
    return [functools.partial(cluster_task, config=to_dict(config), work_dir=str(work_dir))]


def write_pipeline(config: CorpusConfig, work_dir: str | Path) -> list:
    return [functools.partial(write_task, config=to_dict(config), work_dir=str(work_dir))]


def finish_pipeline(config: CorpusConfig, work_dir: str | Path, out: str | Path) -> list:
    return [functools.partial(finish_task, config=to_dict(config), work_dir=str(work_dir), out=str(out))]


def stages(config: CorpusConfig, work_dir: str | Path, out: str | Path, tasks: int) -> list[tuple[str, list, int]]:
    """(name, pipeline, task count) of the five stages, in order."""
    return [("process", process_pipeline(config, work_dir), tasks),
            ("buckets", buckets_pipeline(config, work_dir), tasks),
            ("cluster", cluster_pipeline(config, work_dir), 1),
            ("write", write_pipeline(config, work_dir), tasks),
            ("finish", finish_pipeline(config, work_dir, out), 1)]


def build_corpus_datatrove(config: CorpusConfig, out: str | Path, tasks: int = 4, workers: int = 2,
                           work_dir: str | Path | None = None) -> dict:
    """The five stages on datatrove's LocalPipelineExecutor (`tasks` tasks, `workers` at a time).

    Call it under `if __name__ == "__main__":` in a script: datatrove starts its pool with forkserver.
    A source that raises is counted (worker_error) as in the local build; a task that raises fails its
    stage with one line naming the logs; a task whose worker process dies outright (segfault, OOM kill)
    can stall datatrove's local pool, which, unlike `build_corpus`'s own pool, does not replace dead
    workers; on Slurm such a task simply fails and is rerun.
    """
    from datatrove.executor import LocalPipelineExecutor

    out = Path(out)
    work = Path(work_dir) if work_dir else out / "_datatrove"
    for name, pipeline, count in stages(config, work, out, tasks):
        stage = LocalPipelineExecutor(pipeline=pipeline, tasks=count, workers=min(workers, count),
                                      logging_dir=str(work / "logs" / name))
        try:
            stage.run()
        except UserError:
            raise
        except Exception as exc:  # a task raised (per-source faults never do: they are counted instead)
            detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
            raise UserError(f"datatrove stage '{name}' failed: {detail} "
                            f"(task logs in {work / 'logs' / name}; rerun to resume finished tasks)") from exc
    return json.loads((out / "stats.json").read_text())
