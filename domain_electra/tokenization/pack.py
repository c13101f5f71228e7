"""Pack a corpus into fixed-length token rows for pretraining (format: notes/interfaces.md, `packed.py`).

Two passes per split. (1) Tokenize every document in corpus order (batched through the Rust tokenizer,
in `workers` processes) into ragged temporary arrays on disk. (2) Walk the documents in a seeded
random order and cut the stream `doc [SEP] doc [SEP] ...` into rows of seq_len - 1 tokens, each
prefixed with [CLS]; only the last row is padded. Memory stays flat: both passes stream.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UserError

SPLITS = ("train", "validation")
_BLOCK_DOCS = 4096  # documents assembled per write in pass 2


@dataclass(frozen=True)
class PackConfig:
    """Pack token ids for pretraining.

    seq_len: tokens per row, [CLS] included (e.g. 128 for a quick run, 512 for full pretraining).
    seed: the seed of the document shuffle; the same seed gives byte-identical arrays.
    workers: tokenizer processes (1: in-process; each worker loads the tokenizer once).
    max_docs: at most this many documents per split (None: all).
    batch_docs: documents per tokenizer call (bigger batches use the Rust tokenizer's threads better).
    splits: which corpus splits to pack (a missing validation split is skipped with a note in meta).
    """

    seq_len: int = 512
    seed: int = 0
    workers: int = 1
    max_docs: int | None = None
    batch_docs: int = 256
    splits: tuple[str, ...] = SPLITS


_WORKER_TOKENIZER = None


def _init_worker(tokenizer_dir: str, single_thread: bool = False) -> None:
    global _WORKER_TOKENIZER
    import os

    if single_thread:  # one Rust thread per worker process: the processes are the parallelism
        os.environ["RAYON_NUM_THREADS"] = "1"
    from .loader import load_tokenizer

    _WORKER_TOKENIZER = load_tokenizer(tokenizer_dir)


def _encode(batch: list[tuple[str, str | None]]):
    """A batch of (text, language) -> (lengths, ids, word_start, span_start) as flat numpy arrays."""
    encoded = _WORKER_TOKENIZER.encode_arrays([t for t, _ in batch], [lang for _, lang in batch])
    lengths = np.array([len(e[0]) for e in encoded], dtype=np.int64)
    if not encoded:
        return lengths, np.zeros(0, np.uint32), np.zeros(0, np.uint8), np.zeros(0, np.uint8)
    return (lengths, np.concatenate([e[0] for e in encoded]), np.concatenate([e[1] for e in encoded]),
            np.concatenate([e[2] for e in encoded]))


def _batches(corpus_dir: Path, split: str, config: PackConfig, counter: dict):
    from .train import iter_documents

    batch = []
    for row in iter_documents(corpus_dir, split, config.max_docs):
        counter["bytes"] += len(row["text"].encode("utf-8"))
        batch.append((row["text"], row.get("language")))
        if len(batch) == config.batch_docs:
            yield batch
            batch = []
    if batch:
        yield batch


def _tokenize_split(corpus_dir: Path, split: str, tokenizer_dir: Path, config: PackConfig, tmp: Path,
                    progress: bool) -> dict:
    """Pass 1: ragged arrays {tmp}.ids/.ws/.ss (uint32/uint8) and per-document lengths."""
    from .train import _progress

    counter = {"bytes": 0}
    lengths = []
    files = {name: open(f"{tmp}.{name}", "wb") for name in ("ids", "ws", "ss")}
    try:
        with _progress(progress, f"tokenizing {split}") as advance:
            if config.workers <= 1:
                _init_worker(str(tokenizer_dir))
                results = map(_encode, _batches(corpus_dir, split, config, counter))
                pool = None
            else:
                from multiprocessing import get_context

                pool = get_context("spawn").Pool(config.workers, _init_worker, (str(tokenizer_dir), True))
                results = pool.imap(_encode, _batches(corpus_dir, split, config, counter))
            try:
                for n, ids, ws, ss in results:
                    lengths.append(n)
                    ids.tofile(files["ids"])
                    ws.tofile(files["ws"])
                    ss.tofile(files["ss"])
                    advance(len(n))
            finally:
                if pool is not None:
                    pool.close()
                    pool.join()
    finally:
        for f in files.values():
            f.close()
    return {"lengths": np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64),
            "bytes": counter["bytes"]}


def _write_rows(tmp: Path, lengths: np.ndarray, out: Path, split: str, seq_len: int, seed: int,
                special: dict, dtype) -> dict:
    """Pass 2: shuffled documents -> rows [CLS] + seq_len-1 stream tokens, written to {split}.*.bin."""
    total = int(lengths.sum())
    src = {name: (np.memmap(f"{tmp}.{name}", dtype=np.uint32 if name == "ids" else np.uint8, mode="r",
                            shape=(total,)) if total else np.zeros(0, dtype=np.uint32 if name == "ids" else np.uint8))
           for name in ("ids", "ws", "ss")}
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    docs = np.flatnonzero(lengths > 0)  # empty documents carry no tokens and no separator
    order = docs[np.random.default_rng(seed).permutation(len(docs))]
    width = seq_len - 1
    outs = {name: open(out / f"{split}.{name}.bin", "wb") for name in ("ids", "word_start", "span_start")}
    carry = {"ids": np.zeros(0, np.uint32), "ws": np.zeros(0, np.uint8), "ss": np.zeros(0, np.uint8)}
    rows = 0
    sep = {"ids": np.array([special["sep"]], np.uint32), "ws": np.ones(1, np.uint8), "ss": np.ones(1, np.uint8)}

    def emit(stream: dict, final: bool) -> dict:
        nonlocal rows
        n_full = len(stream["ids"]) // width
        cut = n_full * width
        if final and cut < len(stream["ids"]):
            n_full, cut = n_full + 1, len(stream["ids"])
        if n_full:
            for name, fill, key in (("ids", special["pad"], "ids"), ("word_start", 1, "ws"), ("span_start", 1, "ss")):
                body = np.full(n_full * width, fill, dtype=np.uint32 if key == "ids" else np.uint8)
                body[:cut] = stream[key][:cut]
                head = np.full((n_full, 1), special["cls"] if key == "ids" else 1, dtype=body.dtype)
                block = np.hstack([head, body.reshape(n_full, width)])
                block.astype(dtype if key == "ids" else np.uint8).tofile(outs[name])
            rows += n_full
        return {k: v[cut:] for k, v in stream.items()}

    try:
        for lo in range(0, len(order), _BLOCK_DOCS):
            block = order[lo:lo + _BLOCK_DOCS]
            stream = {}
            for key in ("ids", "ws", "ss"):
                parts = [carry[key]]
                for d in block:
                    parts.append(np.asarray(src[key][offsets[d]:offsets[d + 1]]))
                    parts.append(sep[key])
                stream[key] = np.concatenate(parts)
            carry = emit(stream, final=False)
        emit(carry, final=True)
    finally:
        for f in outs.values():
            f.close()
    return {"sequences": rows, "documents": int(len(docs)), "tokens": total + int(len(docs))}


def pack_corpus(config: PackConfig, corpus_dir: Path, tokenizer_dir: Path, out: Path, progress: bool = True) -> dict:
    """Tokenize and pack every split of a corpus into `out` (meta.json + memory-mapped arrays)."""
    from .loader import load_tokenizer

    if config.seq_len < 4:
        raise UserError(f"seq_len={config.seq_len} is too short; use at least 4 (e.g. 128 or 512)")
    corpus_dir, tokenizer_dir, out = Path(corpus_dir), Path(tokenizer_dir).resolve(), Path(out)
    tok = load_tokenizer(tokenizer_dir)
    special = {"pad": tok.pad_id, "cls": tok.cls_id, "sep": tok.sep_id, "mask": tok.mask_id, "unk": tok.unk_id}
    dtype = np.uint16 if tok.vocab_size <= 65536 else np.uint32
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    splits, skipped, total_bytes = {}, [], 0
    for split in config.splits:
        if not list(corpus_dir.glob(f"{split}-[0-9][0-9][0-9][0-9][0-9].parquet")):
            if split == "train":
                raise UserError(f"no train shards in {corpus_dir} (build it with `domain-electra corpus build`)")
            skipped.append(split)
            continue
        tmp = out / f".{split}.ragged"
        try:
            ragged = _tokenize_split(corpus_dir, split, tokenizer_dir, config, tmp, progress)
            splits[split] = _write_rows(tmp, ragged["lengths"], out, split, config.seq_len, config.seed,
                                        special, dtype)
        finally:
            for name in ("ids", "ws", "ss"):
                Path(f"{tmp}.{name}").unlink(missing_ok=True)
        total_bytes += ragged["bytes"]
    meta = {"seq_len": config.seq_len, "dtype": np.dtype(dtype).name, "vocab_size": tok.vocab_size,
            "special_ids": special, "tokenizer": str(tokenizer_dir), "seed": config.seed, "splits": splits}
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    seconds = time.perf_counter() - started
    return {**meta, "skipped_splits": skipped, "bytes": total_bytes, "seconds": round(seconds, 2),
            "mb_per_s": round(total_bytes / 1e6 / max(seconds, 1e-9), 2)}
