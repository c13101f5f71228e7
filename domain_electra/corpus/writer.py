"""Parquet shards in, out: `{split}-00000.parquet`, ... with text, source, domain, language, hash.

Rows are buffered a thousand at a time and a shard is closed every `shard_docs` documents, so writing
needs constant memory. `read_shards` streams them back by record batch with pyarrow only.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterator, Sequence

import pyarrow as pa
import pyarrow.parquet as pq

COLUMNS = ("text", "source", "domain", "language", "hash")
SCHEMA = pa.schema([(name, pa.string()) for name in COLUMNS])
SPLITS = ("train", "validation")


def is_validation(content_hash: str, seed: int, fraction: float) -> bool:
    """Document-level split from the content hash: independent of order, worker count and sharding."""
    if fraction <= 0:
        return False
    draw = int(hashlib.sha1(f"{seed}:{content_hash}".encode()).hexdigest()[:8], 16) / 0x1_0000_0000
    return draw < fraction


class ShardWriter:
    """Append rows to one split's shards; `close()` returns what was written."""

    def __init__(self, out: Path, split: str, shard_docs: int, buffer_rows: int = 1000):
        self.out, self.split, self.shard_docs, self.buffer_rows = Path(out), split, shard_docs, buffer_rows
        self.rows: dict[str, list[str]] = {c: [] for c in COLUMNS}
        self.writer: pq.ParquetWriter | None = None
        self.shards: list[str] = []
        self.in_shard = 0
        self.docs = 0
        self.bytes = 0

    def write(self, row: dict) -> None:
        for column in COLUMNS:
            self.rows[column].append(row[column])
        self.docs += 1
        self.bytes += len(row["text"].encode("utf-8"))
        self.in_shard += 1
        if len(self.rows["text"]) >= self.buffer_rows or self.in_shard >= self.shard_docs:
            self._flush()
        if self.in_shard >= self.shard_docs:
            self._close_shard()

    def _open(self) -> pq.ParquetWriter:
        if self.writer is None:
            name = f"{self.split}-{len(self.shards):05d}.parquet"
            self.shards.append(name)
            self.writer = pq.ParquetWriter(self.out / name, SCHEMA, compression="zstd")
        return self.writer

    def _flush(self) -> None:
        if self.rows["text"]:
            self._open().write_table(pa.table(self.rows, schema=SCHEMA))
            self.rows = {c: [] for c in COLUMNS}

    def _close_shard(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        self.in_shard = 0

    def close(self, empty_shard: bool = True) -> dict:
        self._flush()
        if not self.shards and empty_shard:
            self._open()  # an empty split still gets one (empty) shard, so readers find the split
        self._close_shard()
        return {"documents": self.docs, "bytes": self.bytes, "shards": list(self.shards)}


def settle_splits(shards: dict, out: Path, shard_docs: int, val_fraction: float, kept: int) -> dict:
    """The two rules that need the whole build, applied to `shards` ({split: ShardWriter.close()} of the
    whole output): a corpus whose content hashes all fell in train still gets one validation document
    (its last train row is moved there: one shard rewritten, a rare case), and an empty split gets one
    empty shard, so readers find it. Returns `shards`, updated."""
    train, validation = shards["train"], shards["validation"]
    if validation["documents"] == 0 and val_fraction > 0 and kept > 1 and train["shards"]:
        last = Path(out) / train["shards"][-1]
        table = pq.read_table(last, schema=SCHEMA)
        row = table.slice(table.num_rows - 1).to_pylist()[0]
        if not (Path(out) / "validation-00000.parquet").is_file():  # not yet done by an interrupted rerun
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
    for split in SPLITS:
        if not shards[split]["shards"]:
            shards[split] |= ShardWriter(out, split, shard_docs).close()
    return shards


def shard_paths(corpus_dir: str | Path, split: str) -> list[Path]:
    return sorted(Path(corpus_dir).glob(f"{split}-[0-9][0-9][0-9][0-9][0-9].parquet"))


def read_shards(corpus_dir: str | Path, split: str = "train",
                columns: Sequence[str] = ("text", "language")) -> Iterator[dict]:
    """Stream the rows of one split as dicts of the requested columns (pyarrow only, flat memory)."""
    paths = shard_paths(corpus_dir, split)
    if not paths:
        from ..errors import UserError

        raise UserError(f"no '{split}' shards in {corpus_dir} (expected {split}-00000.parquet; "
                        "build it with `domain-electra corpus build`)")
    for path in paths:
        parquet = pq.ParquetFile(path)
        for batch in parquet.iter_batches(batch_size=1024, columns=list(columns)):
            yield from batch.to_pylist()
