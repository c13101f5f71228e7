"""The cluster build's shards: each `write` task's own shards, moved into the output under global numbers.

A write task shards its part alone, so a shard never spans two tasks: the documents and their order are
the local build's, while the shard boundaries fall at task ends too (at most tasks - 1 more shards).
The whole-build rules (the held-back validation row, an empty split's empty shard) then run here as in
the local build, through `writer.settle_splits`.

A rerun after a crash skips the shards already moved. The held-back row is not atomic: a crash between
writing its validation shard and cutting it from the last train shard leaves it in both (rerun the write
and finish stages to be exact). It only happens to a corpus with no validation document at all.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from ..errors import UserError
from .writer import SPLITS, settle_splits


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
    return settle_splits(merged, out, config.shard_docs, config.val_fraction, kept)


def _move(source: Path, target: Path) -> str:
    if source.is_file():
        shutil.move(source, target)  # a rename on one file system, a copy across (scratch -> output)
    elif not target.is_file():
        raise UserError(f"shard {source} of stage 'write' is missing: rerun stage 'write'")
    return target.name
