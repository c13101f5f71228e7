"""Masking and batches: hand-checked counts and positions, rates over many rows, determinism."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_pretrain_common import tiny_tokens, one_thread  # noqa: E402,F401

from domain_electra.pretrain.data import BatchSource, batch_spec, trainable_rows  # noqa: E402
from domain_electra.pretrain.masking import choose_masked, mask_batch, mask_slots, to_slots, unit_starts  # noqa: E402
from domain_electra.tokenization.packed import PackedTokens  # noqa: E402

SPECIAL = np.array([0, 1, 2, 3, 4])  # pad unk cls sep mask


def test_token_masking_masks_exactly_round_rate_of_maskable_tokens():
    # [CLS] + 18 tokens + [SEP]: 18 maskable, 15% of 18 = 2.7 -> 3 per row; slots = ceil(0.15 * 20) = 3.
    rng = np.random.default_rng(0)
    ids = np.concatenate([np.full((50, 1), 2), rng.integers(5, 80, (50, 18)), np.full((50, 1), 3)], axis=1)
    flags = np.ones_like(ids, dtype=np.uint8)
    assert mask_slots(20, 0.15, 1) == 3
    positions, weights = mask_batch(ids, flags, flags, SPECIAL, rng.random(ids.shape), 0.15, "token", 8, 3)
    assert positions.shape == (50, 3) and weights.shape == (50, 3)
    assert (weights == 1).all()
    assert ((positions >= 1) & (positions <= 18)).all()  # never [CLS] (0) or [SEP] (19)
    assert all(len(set(row)) == 3 for row in positions.tolist())


def test_whole_word_masking_takes_whole_words_in_score_order():
    # [CLS] a ##a b ##b c ##c d ##d e ##e [SEP]; 10 maskable at rate 0.4 -> target 4 = two whole words.
    ids = np.array([[2, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 3]])
    word_start = np.array([[1, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1]], dtype=np.uint8)
    scores = np.full(ids.shape, 0.9)
    scores[0, 5], scores[0, 9] = 0.1, 0.2  # word "c" (positions 5, 6) first, then "e" (9, 10)
    chosen = choose_masked(np.isin(ids, SPECIAL), unit_starts(word_start, np.isin(ids, SPECIAL), 8), scores, 0.4)
    assert np.flatnonzero(chosen[0]).tolist() == [5, 6, 9, 10]
    # At rate 0.3 the target is 3: the second word's centre (rank 2.5) lies past 3 - 0.5, so one word only.
    chosen = choose_masked(np.isin(ids, SPECIAL), unit_starts(word_start, np.isin(ids, SPECIAL), 8), scores, 0.3)
    assert np.flatnonzero(chosen[0]).tolist() == [5, 6]


def test_long_units_are_cut_at_max_span_tokens_and_rows_start_a_new_unit_after_specials():
    # [CLS] then a 10-token unit that continues from the previous row (word_start 0 right after [CLS]).
    ids = np.array([[2] + list(range(10, 20)) + [3]])
    flags = np.array([[1] + [0] * 10 + [1]], dtype=np.uint8)
    starts = unit_starts(flags, np.isin(ids, SPECIAL), 4)
    assert np.flatnonzero(starts[0]).tolist() == [0, 1, 5, 9, 11]  # pieces of 4, 4, 2 after [CLS]
    scores = np.full(ids.shape, 0.5)
    scores[0, 5] = 0.0  # the middle piece first
    chosen = choose_masked(np.isin(ids, SPECIAL), starts, scores, 0.3)  # target round(3.0) = 3 -> centre 1.5 < 2.5
    assert np.flatnonzero(chosen[0]).tolist() == [5, 6, 7, 8]


def test_masking_rate_over_many_rows_for_words_and_spans():
    rng = np.random.default_rng(1)
    rows, length = 400, 128
    ids = rng.integers(5, 1000, (rows, length))
    ids[:, 0], ids[:, 60], ids[:, -1] = 2, 3, 3
    word_start = (rng.random((rows, length)) < 0.6).astype(np.uint8)  # words of 1.67 tokens on average
    span_start = (rng.random((rows, length)) < 0.25).astype(np.uint8)  # spans of 4 tokens on average
    maskable = rows * (length - 3)
    for mode, max_unit in (("token", 1), ("word", 8), ("span", 8)):
        slots = mask_slots(length, 0.15, max_unit)
        _, weights = mask_batch(ids, word_start, span_start, SPECIAL, rng.random(ids.shape), 0.15, mode, max_unit, slots)
        rate = weights.sum() / maskable
        assert abs(rate - 0.15) < 0.004, (mode, rate)


def test_unused_slots_have_zero_weight_and_distinct_positions():
    chosen = np.array([[False, True, False, True, False, False]])
    positions, weights = to_slots(chosen, 4)
    assert positions[0, :2].tolist() == [1, 3] and weights[0].tolist() == [1, 1, 0, 0]
    assert len(set(positions[0].tolist())) == 4


def test_batches_are_a_pure_function_of_step_and_split_across_processes(tmp_path):
    folder = tiny_tokens(tmp_path / "tokens", seq_len=32)
    train = PackedTokens(folder, "train")
    spec = batch_spec(train.meta, 0.15, True, False, 8)
    assert trainable_rows(train, 0) == len(train) - 1  # the padded last row is never trained on
    a = BatchSource(spec, train, 8, seed=3)
    b = BatchSource(spec, PackedTokens(folder, "train"), 8, seed=3)
    whole = a.global_batch(5)
    halves = [b.global_batch(5, slice(0, 4)), b.global_batch(5, slice(4, 8))]
    for key in whole:
        assert np.array_equal(whole[key], np.concatenate([h[key] for h in halves])), key
    assert "attention_mask" not in whole and (whole["input_ids"] != 0).all()
    assert not np.array_equal(a.global_batch(6)["input_ids"], whole["input_ids"])
    # masked positions never hold special tokens
    picked = np.take_along_axis(whole["input_ids"], whole["mask_positions"], axis=1)[whole["mask_weights"] > 0]
    assert not np.isin(picked, SPECIAL).any()


def test_replay_rows_take_their_share_of_every_batch(tmp_path):
    main = tiny_tokens(tmp_path / "main", seq_len=32, seed=0)
    general = tiny_tokens(tmp_path / "general", seq_len=32, seed=1)
    train = PackedTokens(main, "train")
    spec = batch_spec(train.meta, 0.15, False, False, 8)
    source = BatchSource(spec, train, 8, seed=0, replay=PackedTokens(general, "train"), replay_ratio=0.25)
    assert (source.n_main, source.n_replay) == (6, 2)
    general_rows = {tuple(r) for r in PackedTokens(general, "train").ids.tolist()}
    main_rows = {tuple(r) for r in train.ids.tolist()}
    rows = [tuple(r) for r in source.global_batch(0)["input_ids"].tolist()]
    assert sum(r in general_rows and r not in main_rows for r in rows) == 2


def test_validation_batches_are_fixed_and_carry_an_attention_mask(tmp_path):
    folder = tiny_tokens(tmp_path / "tokens", seq_len=32)
    spec = batch_spec(PackedTokens(folder, "train").meta, 0.15, True, False, 8)
    validation = PackedTokens(folder, "validation")
    source = BatchSource(spec, PackedTokens(folder, "train"), 8, seed=0, validation=validation)
    first, again = source.eval_batch(0, 4), source.eval_batch(0, 4)
    assert all(np.array_equal(first[k], again[k]) for k in first)
    last = source.eval_batch((len(validation) - 1) // 4, 4)
    assert (last["attention_mask"] == (last["input_ids"] != 0)).all() and (last["attention_mask"] == 0).any()
    assert source.eval_batch(len(validation), 4) is None


def test_electra_85_15_corruption_on_data_batches_with_whole_words_and_spans(tmp_path):
    # The positions come from masking.py (whole words / spans intact); which of them read [MASK] is decided
    # per slot from the batch's own corruption draws: 85% [MASK], 15% the original token, for every mode.
    import torch

    from domain_electra.pretrain.data import to_device
    from domain_electra.pretrain.objective import ELECTRA, masked_inputs

    folder = tiny_tokens(tmp_path / "tokens", seq_len=64, train_docs=200)
    train = PackedTokens(folder, "train")
    for whole_word, span in ((False, False), (True, False), (False, True)):
        spec = batch_spec(train.meta, 0.15, whole_word, span, 8)
        source = BatchSource(spec, train, 32, seed=1)
        at_mask = kept = 0
        for step in range(40):  # ~40 x 32 x 9 = 11,500 masked slots
            batch = to_device(source.global_batch(step), "cpu")
            assert batch["corrupt_draws"].shape == batch["mask_positions"].shape
            gen_in, original, _ = masked_inputs(batch["input_ids"], batch["mask_positions"], batch["mask_weights"], 4,
                                                ELECTRA, batch["corrupt_draws"])
            now, used = gen_in.gather(1, batch["mask_positions"]), batch["mask_weights"] > 0
            at_mask += int((now == 4)[used].sum())
            kept += int((now == original)[used].sum())
        total = at_mask + kept  # nothing else: no random-token replacement
        assert abs(at_mask / total - 0.85) < 0.015 and total > 8000, (whole_word, span, at_mask / total)
