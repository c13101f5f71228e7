"""Choose the positions the generator must fill in: random tokens, whole words or AST spans.

Vectorised over the batch with numpy (no per-row Python loop), because it runs for every sequence the
GPU sees. The output has a FIXED shape [rows, slots] (`mask_slots`), ELECTRA's `masked_lm_positions` /
`masked_lm_weights`: the generator's head then runs on a static number of positions per sequence, which
keeps data-dependent shapes out of the training step (good for torch.compile and CUDA graphs).

How units are chosen: tokens are grouped into units (every token, or a word/span from the tokenizer's
flags, cut at `max_unit` tokens); every unit draws a random score; units are taken in score order while
their centre stays within the row's target count. This hits the target on average for any unit size
(a plain "stop at the first unit that overflows" would always fall short).
"""
from __future__ import annotations

import math

import numpy as np


def mask_slots(seq_len: int, mask_rate: float, max_unit: int) -> int:
    """Fixed number of masked positions per row: ceil(rate * seq_len), plus room for the last unit's
    overshoot (at most (max_unit - 1) // 2 tokens past the target, see `choose_masked`)."""
    return max(1, math.ceil(mask_rate * seq_len) + (max_unit - 1) // 2)


def unit_starts(flags: np.ndarray, special: np.ndarray, max_unit: int) -> np.ndarray:
    """Where units begin: the given flags, every special token and the token after one, and every
    `max_unit`-th token inside a long unit."""
    starts = flags.astype(bool) | special
    starts[:, 1:] |= special[:, :-1]
    starts[:, 0] = True
    idx = np.broadcast_to(np.arange(flags.shape[1]), flags.shape)
    last_start = np.maximum.accumulate(np.where(starts, idx, 0), axis=1)
    return (idx - last_start) % max_unit == 0


def choose_masked(special: np.ndarray, starts: np.ndarray, scores: np.ndarray, mask_rate: float) -> np.ndarray:
    """Boolean [rows, L]: the tokens to mask. `scores` are uniform [0, 1) draws, one per token (a unit uses
    its first token's). Special tokens are never masked."""
    rows, length = special.shape
    idx = np.broadcast_to(np.arange(length), special.shape)
    first = np.maximum.accumulate(np.where(starts, idx, 0), axis=1)  # index of each token's unit start
    unit_score = np.take_along_axis(scores, first, axis=1)
    unit_score = np.where(special, 2.0, unit_score)  # specials sort after every real unit
    # Stable sort by unit score: a unit's tokens stay contiguous and in order.
    order = np.argsort(unit_score, axis=1, kind="stable")
    unit_id = np.cumsum(starts, axis=1)
    sorted_unit = np.take_along_axis(unit_id, order, axis=1)
    rank = np.broadcast_to(np.arange(length), special.shape)
    is_first = np.ones_like(special)
    is_first[:, 1:] = sorted_unit[:, 1:] != sorted_unit[:, :-1]
    is_last = np.ones_like(special)
    is_last[:, :-1] = is_first[:, 1:]
    unit_first = np.maximum.accumulate(np.where(is_first, rank, 0), axis=1)
    unit_last = np.minimum.accumulate(np.where(is_last, rank, length)[:, ::-1], axis=1)[:, ::-1]
    maskable = (~special).sum(axis=1)
    target = np.floor(mask_rate * maskable + 0.5).astype(np.int64)
    target = np.where(maskable > 0, np.maximum(target, 1), 0)
    # A unit is taken when its centre rank lies inside the first `target` ranks.
    take_sorted = (unit_first + unit_last < 2 * target[:, None] - 1)
    take_sorted &= ~np.take_along_axis(special, order, axis=1)
    chosen = np.zeros_like(special)
    np.put_along_axis(chosen, order, take_sorted, axis=1)
    return chosen


def to_slots(chosen: np.ndarray, slots: int) -> tuple[np.ndarray, np.ndarray]:
    """Boolean [rows, L] -> (positions int64 [rows, slots], weights float32 [rows, slots]). Chosen
    positions come first, in sequence order; unused slots point at distinct unchosen positions with
    weight 0, so scattering the original token back there is a no-op."""
    if int(chosen.sum(axis=1).max(initial=0)) > slots:
        raise ValueError(f"more masked tokens than the {slots} slots per row")
    order = np.argsort(~chosen, axis=1, kind="stable")[:, :slots]
    weights = np.take_along_axis(chosen, order, axis=1).astype(np.float32)
    return order.astype(np.int64), weights


def mask_batch(ids: np.ndarray, word_start: np.ndarray, span_start: np.ndarray, special_ids: np.ndarray,
               scores: np.ndarray, mask_rate: float, mode: str, max_unit: int, slots: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """Masked positions and weights for a batch. mode: "token" | "word" | "span"."""
    special = np.isin(ids, special_ids)
    if mode == "token":
        flags, max_unit = np.ones_like(special), 1
    elif mode == "word":
        flags = word_start
    elif mode == "span":
        flags = span_start
    else:
        raise ValueError(f"unknown masking mode {mode!r}")
    starts = unit_starts(flags, special, max_unit)
    return to_slots(choose_masked(special, starts, scores, mask_rate), slots)
