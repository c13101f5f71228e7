"""Batches as a pure function of the step number: exact resume and world-size-independent training.

Global batch `step` is built from (seed, step) alone: which rows (a per-epoch permutation walked by a
flat counter, so a corpus smaller than a batch still works), the masking scores and the generator's
sampling draws, and the corruption draws (which masked slots become [MASK], keep their token or get a
random one; see objective.corrupt_inputs). Each process takes its contiguous slice of the global batch. Consequences:
- resuming at step k needs nothing but k (the "data position" is the step);
- 1 process with grad_accum=2 sees exactly the micro-batches that 2 processes with grad_accum=1 see;
- the generator's samples do not depend on the device's random stream (inverse-CDF with host draws).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..errors import UserError
from ..tokenization.packed import PackedTokens
from .masking import mask_batch, mask_slots

_ROWS, _BATCH, _EVAL = 1, 2, 3  # independent random streams under the same seed


@dataclass(frozen=True)
class BatchSpec:
    """What every batch looks like: shapes and masking, shared by training and validation."""

    seq_len: int
    slots: int
    mask_rate: float
    mode: str  # "token" | "word" | "span"
    max_unit: int
    special_ids: tuple[int, ...]
    pad_id: int


def batch_spec(meta: dict, mask_rate: float, whole_word: bool, span_masking: bool, max_span_tokens: int) -> BatchSpec:
    mode = "span" if span_masking else "word" if whole_word else "token"
    max_unit = 1 if mode == "token" else max_span_tokens
    special = meta["special_ids"]
    ids = tuple(sorted({int(special[k]) for k in ("pad", "cls", "sep", "mask", "unk") if k in special}))
    seq_len = int(meta["seq_len"])
    return BatchSpec(seq_len, mask_slots(seq_len, mask_rate, max_unit), mask_rate, mode, max_unit, ids,
                     int(special["pad"]))


def trainable_rows(tokens: PackedTokens, pad_id: int) -> int:
    """Rows used for training: all but a last row holding padding, so training batches never need an
    attention mask (static shapes, and the fastest attention kernels)."""
    n = len(tokens)
    if n and int(tokens.ids[n - 1, -1]) == pad_id:
        n -= 1
    return n


class _Stream:
    """Rows of one packed split in a seeded per-epoch order, addressed by a flat position counter."""

    def __init__(self, tokens: PackedTokens, rows: int, seed: int, tag: int):
        self.tokens, self.rows, self.seed, self.tag = tokens, rows, seed, tag
        self._perm = lru_cache(maxsize=2)(self._permutation)

    def _permutation(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, _ROWS, self.tag, epoch]).permutation(self.rows)

    def take(self, start: int, count: int) -> np.ndarray:
        positions = np.arange(start, start + count, dtype=np.int64)
        epochs, offsets = np.divmod(positions, self.rows)
        return np.array([self._perm(int(e))[o] for e, o in zip(epochs, offsets)], dtype=np.int64)


class BatchSource:
    """Training batches (main corpus plus optional replay) and the fixed validation batches."""

    def __init__(self, spec: BatchSpec, train: PackedTokens, batch_size: int, seed: int,
                 replay: PackedTokens | None = None, replay_ratio: float = 0.0,
                 validation: PackedTokens | None = None):
        self.spec, self.batch_size, self.seed = spec, batch_size, seed
        self.n_replay = int(round(replay_ratio * batch_size)) if replay is not None else 0
        self.n_main = batch_size - self.n_replay
        rows = trainable_rows(train, spec.pad_id)
        if rows == 0:
            raise UserError(f"{train.folder} has no full training sequence; pack more text or a smaller seq_len")
        self.main = _Stream(train, rows, seed, 0)
        self.replay = None
        if self.n_replay:
            replay_rows = trainable_rows(replay, spec.pad_id)
            if replay_rows == 0:
                raise UserError(f"replay tokens {replay.folder} hold no full sequence; pack more text")
            self.replay = _Stream(replay, replay_rows, seed, 1)
        self.validation = validation if validation is not None and len(validation) else None

    def steps_per_epoch(self) -> float:
        return self.main.rows / self.n_main

    def global_batch(self, step: int, rows: slice = slice(None)) -> dict:
        """The numpy arrays of global batch `step`, restricted to `rows` (this process's slice)."""
        rng = np.random.default_rng([self.seed, _BATCH, step])
        order = rng.permutation(self.batch_size)  # mixes replay rows across processes and micro-batches
        scores = rng.random((self.batch_size, self.spec.seq_len))[order][rows]
        draws = rng.random((self.batch_size, self.spec.slots), dtype=np.float32)[order][rows]
        corrupt = rng.random((self.batch_size, self.spec.slots), dtype=np.float32)[order][rows]  # drawn last, so
        # the earlier draws (and every run pinned on them) are unchanged
        streams = [self.main] + ([self.replay] if self.replay is not None else [])
        index = np.concatenate([self.main.take(step * self.n_main, self.n_main)]
                               + ([self.replay.take(step * self.n_replay, self.n_replay)] if self.replay else []))
        source = np.repeat(np.arange(len(streams)), [self.n_main, self.n_replay][:len(streams)])
        index, source = index[order][rows], source[order][rows]
        fields = {"ids": np.zeros((len(index), self.spec.seq_len), dtype=np.int64),
                  "word_start": np.zeros((len(index), self.spec.seq_len), dtype=np.uint8),
                  "span_start": np.zeros((len(index), self.spec.seq_len), dtype=np.uint8)}
        for s, stream in enumerate(streams):  # read only this process's rows from each memmap
            chosen = source == s
            if chosen.any():
                for key, value in stream.tokens.batch(index[chosen]).items():
                    fields[key][chosen] = value
        return self._finish(fields, scores, draws, corrupt, with_attention=False)

    def eval_batch(self, index: int, size: int) -> dict | None:
        """Validation batch `index` (fixed rows, masks and samples), or None past the end of the split."""
        if self.validation is None or index * size >= len(self.validation):
            return None
        stop = min(len(self.validation), (index + 1) * size)
        fields = self.validation.batch(np.arange(index * size, stop))
        rng = np.random.default_rng([self.seed, _EVAL, index])
        scores = rng.random((stop - index * size, self.spec.seq_len))
        draws = rng.random((stop - index * size, self.spec.slots), dtype=np.float32)
        corrupt = rng.random((stop - index * size, self.spec.slots), dtype=np.float32)
        fields["ids"] = fields["ids"].astype(np.int64)
        return self._finish(fields, scores, draws, corrupt, with_attention=True)

    def _finish(self, fields: dict, scores: np.ndarray, draws: np.ndarray, corrupt: np.ndarray,
                with_attention: bool) -> dict:
        spec = self.spec
        positions, weights = mask_batch(fields["ids"], fields["word_start"], fields["span_start"],
                                        np.asarray(spec.special_ids), scores, spec.mask_rate, spec.mode,
                                        spec.max_unit, spec.slots)
        batch = {"input_ids": fields["ids"], "mask_positions": positions, "mask_weights": weights,
                 "sample_draws": draws, "corrupt_draws": corrupt}
        if with_attention:
            batch["attention_mask"] = (fields["ids"] != spec.pad_id).astype(np.int64)
        return batch


def to_device(batch: dict, device, pin: bool = False) -> dict:
    """numpy -> torch on `device` (pinned, non-blocking copies on CUDA)."""
    import torch

    out = {}
    for key, value in batch.items():
        tensor = torch.from_numpy(np.ascontiguousarray(value))
        if pin:
            tensor = tensor.pin_memory()
        out[key] = tensor.to(device, non_blocking=pin)
    return out
