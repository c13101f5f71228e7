"""Read a packed-tokens folder (written by `pack_corpus`) as memory-mapped numpy arrays.

This module is on the GPU pretraining path: it imports numpy, json and the stdlib only.

Layout (see notes/interfaces.md): `meta.json` plus, per split, three raw row-major arrays of shape
[n, seq_len]: `{split}.ids.bin` (meta["dtype"]), `{split}.word_start.bin` and `{split}.span_start.bin`
(uint8 flags).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

FIELDS = ("ids", "word_start", "span_start")


def read_meta(folder: str | Path) -> dict:
    path = Path(folder) / "meta.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: is {folder} a packed-tokens folder (domain-electra pack)?")
    return json.loads(path.read_text(encoding="utf-8"))


class PackedTokens:
    """One split of a packed-tokens folder: `x[i]` is a dict of the row's ids and flags."""

    def __init__(self, folder: str | Path, split: str = "train"):
        self.folder = Path(folder)
        self.meta = read_meta(self.folder)
        if split not in self.meta["splits"]:
            raise KeyError(f"split '{split}' not in {self.folder} (has: {', '.join(self.meta['splits'])})")
        self.split = split
        self.seq_len = int(self.meta["seq_len"])
        rows = int(self.meta["splits"][split]["sequences"])
        dtypes = {"ids": np.dtype(self.meta["dtype"]), "word_start": np.uint8, "span_start": np.uint8}
        arrays = {}
        for name in FIELDS:
            path = self.folder / f"{split}.{name}.bin"
            expected = rows * self.seq_len * np.dtype(dtypes[name]).itemsize
            if path.stat().st_size != expected:
                raise ValueError(f"{path}: {path.stat().st_size} bytes, expected {expected} "
                                 f"({rows} x {self.seq_len} {np.dtype(dtypes[name]).name}); re-run pack")
            # An empty memmap is not allowed by numpy; an empty split is a zero-row array.
            arrays[name] = (np.memmap(path, dtype=dtypes[name], mode="r", shape=(rows, self.seq_len))
                            if rows else np.zeros((0, self.seq_len), dtype=dtypes[name]))
        self.ids, self.word_start, self.span_start = arrays["ids"], arrays["word_start"], arrays["span_start"]

    def __len__(self) -> int:
        return self.ids.shape[0]

    def __getitem__(self, i: int) -> dict:
        return {"ids": np.asarray(self.ids[i]), "word_start": np.asarray(self.word_start[i]),
                "span_start": np.asarray(self.span_start[i])}

    def batch(self, indices) -> dict:
        # Sorted fancy indexing reads the memmap sequentially; restore the caller's order afterwards.
        indices = np.asarray(indices, dtype=np.int64)
        order = np.argsort(indices, kind="stable")
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        out = {}
        for name in FIELDS:
            out[name] = np.asarray(getattr(self, name)[indices[order]])[inverse]
        return out

    def __repr__(self) -> str:
        return f"PackedTokens({str(self.folder)!r}, split={self.split!r}, rows={len(self)}, seq_len={self.seq_len})"
