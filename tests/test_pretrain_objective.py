"""The objective piece by piece: sampling, RTD labels, the 85/15 and 80/10/10 corruption, hand-computed
losses, the MLM-only objective's pinned loss, GDES gradients, AUC, the guarded optimizer step."""
from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_pretrain_common import tiny_config, one_thread  # noqa: E402,F401

from domain_electra.modeling import GDESEmbedding, load_pair  # noqa: E402
from domain_electra.modeling.load import load_mlm  # noqa: E402
from domain_electra.pretrain.objective import (BERT, ELECTRA, Corruption, ElectraObjective,  # noqa: E402
                                               MLMObjective, electra_losses, electra_outputs, masked_inputs,
                                               replaced_inputs, roc_auc, sample_tokens)
from domain_electra.pretrain.step import build_optimizer, lr_factor, make_train_step  # noqa: E402


def test_inverse_cdf_sampling_hand_checked():
    logits = torch.log(torch.tensor([[0.5, 0.25, 0.25]] * 5))
    draws = torch.tensor([0.1, 0.49, 0.5, 0.6, 0.8])
    assert sample_tokens(logits, draws).tolist() == [0, 0, 1, 1, 2]
    # a token with zero probability is never drawn, even at the boundary
    logits = torch.log(torch.tensor([[0.5, 0.0, 0.5]]))
    assert sample_tokens(logits, torch.tensor([0.5])).tolist() == [2]


def test_masking_and_rtd_labels_a_sample_equal_to_the_original_is_not_replaced():
    ids = torch.tensor([[2, 10, 11, 12, 13, 3]])
    positions, weights = torch.tensor([[1, 3, 4]]), torch.tensor([[1.0, 1.0, 0.0]])  # slot 3 unused
    gen_in, original, _ = masked_inputs(ids, positions, weights, mask_id=4)
    assert gen_in.tolist() == [[2, 4, 11, 4, 13, 3]] and original.tolist() == [[10, 12, 13]]
    sampled = torch.tensor([[10, 20, 30]])  # slot 1 sampled the original back; slot 3 is unused
    disc_in, labels = replaced_inputs(ids, positions, weights, original, sampled)
    assert disc_in.tolist() == [[2, 10, 11, 20, 13, 3]]
    assert labels.long().tolist() == [[0, 0, 0, 1, 0, 0]]


def test_losses_hand_computed_from_uniform_logits():
    # Uniform generator over 4 tokens: CE = ln 4; discriminator logits 0: BCE = ln 2 (padding excluded).
    out = {"gen_logits": torch.zeros(1, 2, 4), "original": torch.tensor([[1, 2]]), "weights": torch.tensor([[1.0, 0.0]]),
           "disc_logits": torch.tensor([[0.0, 0.0, 0.0, 5.0]]), "labels": torch.tensor([[False, True, False, False]]),
           "attention": torch.tensor([[1, 1, 1, 0]])}
    losses = electra_losses(out, rtd_weight=50.0)
    assert losses["gen_loss"].item() == pytest.approx(math.log(4), abs=1e-6)
    assert losses["disc_loss"].item() == pytest.approx(math.log(2), abs=1e-6)
    assert losses["loss"].item() == pytest.approx(math.log(4) + 50 * math.log(2), abs=1e-5)
    assert losses["tokens"].item() == 3 and losses["replaced"].item() == 1 and losses["masked"].item() == 1
    # logits 0 predict "original" (0 > 0 is False): right on the 2 original real tokens, wrong on the replaced one
    assert losses["disc_correct"].item() == 2


def _micro_pair(sharing: str):
    generator, discriminator, _ = load_pair("scratch:micro", 85, 0, embedding_sharing=sharing, dropout=0.0, seed=0)
    return generator, discriminator


def _batch(seed=0):
    rng = np.random.default_rng(seed)
    ids = torch.tensor(np.concatenate([np.full((4, 1), 2), rng.integers(5, 85, (4, 14)), np.full((4, 1), 3)], 1))
    positions = torch.tensor(np.stack([rng.choice(np.arange(1, 15), 3, replace=False) for _ in range(4)]))
    return {"input_ids": ids, "mask_positions": positions, "mask_weights": torch.ones(4, 3),
            "sample_draws": torch.tensor(rng.random((4, 3)), dtype=torch.float32),
            "corrupt_draws": torch.tensor(rng.random((4, 3)), dtype=torch.float32)}


def test_corruption_hand_checked_electra_85_15_and_bert_80_10_10():
    ids = torch.tensor([[2, 10, 11, 12, 13, 14, 3]])
    positions, weights = torch.tensor([[1, 2, 3, 4, 5]]), torch.tensor([[1.0, 1.0, 1.0, 1.0, 0.0]])
    draws = torch.tensor([[0.1, 0.849, 0.85, 0.99, 0.0]])  # the last slot is unused: never touched
    gen_in, original, at_mask = masked_inputs(ids, positions, weights, 4, ELECTRA, draws)
    assert gen_in.tolist() == [[2, 4, 4, 12, 13, 14, 3]] and at_mask.tolist() == [[True, True, False, False, False]]
    random_draws = torch.tensor([[0.5, 0.5, 0.5, 0.999, 0.5]])
    draws = torch.tensor([[0.79, 0.8, 0.89, 0.899, 0.9]])
    gen_in, _, _ = masked_inputs(ids, positions, weights, 4, BERT, draws, random_draws, vocab_size=100)
    # [MASK] below 0.8, a random id floor(draw * 100) in [0.8, 0.9), the original token from 0.9 on
    assert gen_in.tolist() == [[2, 4, 50, 50, 99, 14, 3]]


@pytest.mark.parametrize("corruption,mask,random", [(ELECTRA, 0.85, 0.0), (BERT, 0.8, 0.1)])
def test_corruption_rates_over_a_large_seeded_batch(corruption, mask, random):
    g = torch.Generator().manual_seed(0)
    rows, length, slots = 2000, 40, 8
    ids = torch.randint(5, 1000, (rows, length), generator=g)
    positions = torch.stack([torch.randperm(length, generator=g)[:slots] for _ in range(rows)])
    weights = (torch.rand(rows, slots, generator=g) < 0.75).float()  # a quarter of the slots unused
    gen_in, original, at_mask = masked_inputs(ids, positions, weights, 4, corruption, torch.rand(rows, slots, generator=g),
                                              torch.rand(rows, slots, generator=g), vocab_size=1000)
    now, used = gen_in.gather(1, positions), weights > 0
    n = int(used.sum())  # ~12000 slots: 4 standard errors of a share are below 0.013
    assert abs(float((now == 4)[used].sum()) / n - mask) < 0.013
    kept = float((now == original)[used].sum()) / n  # a random id equals the original 1 time in 1000
    assert abs(kept - (1 - mask - random)) < 0.013
    assert torch.equal(now[~used], original[~used]) and torch.equal(at_mask, (now == 4) & used)
    untouched = torch.ones_like(ids, dtype=torch.bool).scatter(1, positions, False)
    assert torch.equal(gen_in[untouched], ids[untouched])


# MLM loss of the seeded micro model (scratch, fresh tied head) on _batch() under BERT's 80/10/10 (CPU, fp32).
PINNED_MLM_LOSS = 4.490455


def test_mlm_objective_loss_pinned_and_equal_to_the_hugging_face_forward():
    model, discriminator, facts = load_mlm("scratch:micro", 85, 0, dropout=0.0, seed=0)
    assert model.electra is discriminator.electra and facts.generator == "mlm"
    assert model.generator_lm_head.weight is discriminator.electra.embeddings.word_embeddings.weight
    objective = MLMObjective(model, discriminator, mask_id=4).eval()
    batch = _batch()
    losses = objective(**batch)
    assert losses["loss"].item() == pytest.approx(PINNED_MLM_LOSS, abs=1e-5)
    assert losses["disc_loss"].item() == 0 and losses["masked"].item() == 12
    # the same loss from the model's own full-sequence forward (no slot gather)
    gen_in, original, _ = masked_inputs(batch["input_ids"], batch["mask_positions"], batch["mask_weights"], 4, BERT,
                                        batch["corrupt_draws"], batch["sample_draws"], 85)
    with torch.no_grad():
        logits = model(input_ids=gen_in).logits
    picked = logits.gather(1, batch["mask_positions"].unsqueeze(-1).expand(-1, -1, 85))
    reference = torch.nn.functional.cross_entropy(picked.flatten(0, 1), original.flatten())
    assert losses["loss"].item() == pytest.approx(reference.item(), abs=1e-5)
    losses["loss"].backward()
    assert discriminator.discriminator_predictions.dense.weight.grad is None  # the RTD head is not trained
    assert discriminator.electra.encoder.layer[0].attention.self.query.weight.grad is not None


def test_generator_warm_up_trains_the_generator_alone():
    generator, discriminator = _micro_pair("tied")
    objective = ElectraObjective(generator, discriminator, mask_id=4, rtd_weight=50.0)
    objective.joint = False
    losses = objective(**_batch())
    assert losses["disc_loss"].item() == 0 and losses["loss"].item() == pytest.approx(losses["gen_loss"].item())
    losses["loss"].backward()
    assert discriminator.discriminator_predictions.dense.weight.grad is None
    assert discriminator.electra.encoder.layer[0].attention.self.query.weight.grad is None
    assert generator.electra.encoder.layer[0].attention.self.query.weight.grad is not None


def test_gdes_the_rtd_loss_reaches_the_residual_but_not_the_shared_embeddings():
    generator, discriminator = _micro_pair("gdes")
    words = discriminator.electra.embeddings.word_embeddings
    assert isinstance(words, GDESEmbedding) and words.shared is generator.electra.embeddings.word_embeddings
    assert torch.count_nonzero(words.delta) == 0
    out = electra_losses(electra_outputs(generator, discriminator, _batch(), mask_id=4), 50.0)
    out["disc_loss"].backward(retain_graph=True)
    shared = generator.electra.embeddings.word_embeddings.weight
    assert shared.grad is None or torch.count_nonzero(shared.grad) == 0
    assert torch.count_nonzero(words.delta.grad) > 0
    words.delta.grad = None
    out["gen_loss"].backward()
    assert torch.count_nonzero(shared.grad) > 0
    assert words.delta.grad is None or torch.count_nonzero(words.delta.grad) == 0


def test_tied_sharing_the_rtd_loss_updates_the_shared_embeddings():
    generator, discriminator = _micro_pair("tied")
    assert generator.electra.embeddings is discriminator.electra.embeddings
    assert generator.generator_lm_head.weight is discriminator.electra.embeddings.word_embeddings.weight
    out = electra_losses(electra_outputs(generator, discriminator, _batch(), mask_id=4), 50.0)
    out["disc_loss"].backward()
    assert torch.count_nonzero(discriminator.electra.embeddings.word_embeddings.weight.grad) > 0


def test_roc_auc_matches_scikit_learn_with_ties():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    labels = rng.random(500) < 0.2
    scores = np.round(rng.normal(labels * 0.8, 1.0), 1)  # rounding creates many ties
    assert roc_auc(scores, labels) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert roc_auc([0.1, 0.9, 0.4], [0, 1, 0]) == 1.0 and math.isnan(roc_auc([0.1, 0.2], [0, 0]))


def test_lr_schedule_warmup_then_linear_decay():
    assert lr_factor(0, 4, 0.0) == pytest.approx(0.25)
    assert lr_factor(3, 4, 0.04) == pytest.approx(0.96)  # decay line already below the finished ramp
    assert lr_factor(50, 4, 0.5) == pytest.approx(0.5) and lr_factor(99, 4, 1.0) == 0.0


@pytest.mark.parametrize("fused", [False, True])
def test_non_finite_step_is_skipped_without_touching_the_weights(fused, monkeypatch):
    generator, discriminator = _micro_pair("tied")
    objective = ElectraObjective(generator, discriminator, mask_id=4, rtd_weight=50.0)
    config = tiny_config(grad_accum=2)
    optimizer = build_optimizer(objective, config, torch.device("cpu"), fused=fused)
    step = make_train_step(objective, optimizer, config)
    batch = {k: torch.cat([v, v]) for k, v in _batch().items()}  # 8 rows -> 2 micro-batches of 4
    good = step(batch, lr=1e-3)
    assert good["skipped"].item() == 0 and math.isfinite(good["loss"].item())
    before = {k: v.clone() for k, v in objective.state_dict().items()}
    steps_before = [s["step"].item() for s in optimizer.state.values()]
    original = ElectraObjective.forward
    monkeypatch.setattr(ElectraObjective, "forward",
                        lambda self, **b: {**(o := original(self, **b)), "loss": o["loss"] * float("nan")})
    bad = step(batch, lr=1e-3)
    assert bad["skipped"].item() == 1
    assert all(torch.equal(before[k], v) for k, v in objective.state_dict().items())
    assert [s["step"].item() for s in optimizer.state.values()] == steps_before
    assert all(p.grad is None for p in objective.parameters())


@pytest.mark.parametrize("sharing", ["tied", "gdes"])
def test_objective_traces_as_one_graph_without_breaks(sharing):
    # The GPU levers (torch.compile with static shapes, CUDA graphs) need the whole step as one graph: a
    # data-dependent shape (boolean indexing, .item(), nonzero) would show up here as a graph break.
    import torch._dynamo as dynamo

    generator, discriminator = _micro_pair(sharing)
    objective = ElectraObjective(generator, discriminator, mask_id=4, rtd_weight=50.0)
    explain = dynamo.explain(objective)(**_batch())
    dynamo.reset()
    assert (explain.graph_count, explain.graph_break_count) == (1, 0), explain.break_reasons
