"""The cluster build's shards: each `write` task's own shards, moved into the output under global numbers.

A write task shards its part alone, so a shard never spans two tasks: the documents and their order are
the local build's, while the shard boundaries fall at task ends too (at most tasks - 1 more shards).
The one global rule a task cannot apply is the local build's held-back row (a tiny corpus whose content
hashes all fell in train still gets one validation document): `gather_shards` applies it here, moving
the last train row into validation, as `build.write_rows` does with `hold_last`.

A rerun after a crash skips the shards already moved. The held-back row is not atomic: a crash between
writing its validation shard and cutting it from the last train shard leaves it in both (rerun the write
and finish stages to be exact). It only happens to a corpus with no validation document at all.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq

from ..errors import UserError
from .writer import SCHEMA, SPLITS, ShardWriter


def gather_shards(task_shards: list[dict], root: Path, out: Path, config, kept: int) -> dict:
    """{split: {documents, bytes, shards}} after moving every task's shards (task order) into `out`."""
    merged = {}
    for split in SPLITS:
        names = []
        for rank, shards in enumerate(task_shards):
            for name in shards[split]["shards"]:
                names.append(_move(root / f"{rank:05d}" / name, out / f"{split}-{len(names):05d}.parquet"))
        merged[split] = {"documents": sum(s[split]["documents"] for s in task_shards),
                         "bytes": sum(s[split]["bytes"] for s in task_shards), "shards": names}
    if merged["validation"]["documents"] == 0 and config.val_fraction > 0 and kept > 1:
        _last_train_row_to_validation(merged, out, config.shard_docs)
    for split in SPLITS:
        if not merged[split]["shards"]:  # an empty split still gets one (empty) shard, as in the local build
            merged[split] |= ShardWriter(out, split, config.shard_docs).close()
    return merged


def _move(source: Path, target: Path) -> str:
    if source.is_file():
        shutil.move(source, target)  # a rename on one file system, a copy across (scratch -> output)
    elif not target.is_file():
        raise UserError(f"shard {source} of stage 'write' is missing: rerun stage 'write'")
    return target.name


def _last_train_row_to_validation(merged: dict, out: Path, shard_docs: int) -> None:
    train, validation = merged["train"], merged["validation"]
    last = out / train["shards"][-1]
    table = pq.read_table(last, schema=SCHEMA)
    row = table.slice(table.num_rows - 1).to_pylist()[0]
    if not (out / "validation-00000.parquet").is_file():  # not yet done by an earlier, interrupted run
        writer = ShardWriter(out, "validation", shard_docs)
        writer.write(row)
        writer.close()
        if table.num_rows > 1:
            pq.write_table(table.slice(0, table.num_rows - 1), last, compression="zstd")
        else:
            last.unlink()
    if not last.is_file():
        train["shards"].pop()
    size = len(row["text"].encode("utf-8"))
    train["documents"], train["bytes"] = train["documents"] - 1, train["bytes"] - size
    validation.update(documents=1, bytes=size, shards=["validation-00000.parquet"])
