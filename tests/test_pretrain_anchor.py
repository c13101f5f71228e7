"""The anchor loss (`anchor_weight`): hand-checked pooling and cosine, zero at the start, gradients into the
trained model only, a frozen copy outside every state_dict, and a run whose pooled embeddings move less."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_pretrain_common import tiny_config, tiny_tokens, one_thread  # noqa: E402,F401
from test_pretrain_objective import _batch  # noqa: E402

from domain_electra.errors import UserError  # noqa: E402
from domain_electra.modeling import load_pair  # noqa: E402
from domain_electra.modeling.load import load_mlm  # noqa: E402
from domain_electra.pretrain import pretrain  # noqa: E402
from domain_electra.pretrain.objective import (ElectraObjective, FrozenAnchor, MLMObjective,  # noqa: E402
                                               anchor_loss, mean_pool)


class _Fixed(torch.nn.Module):
    """An 'encoder' that returns the same states whatever the input."""

    def __init__(self, states: torch.Tensor):
        super().__init__()
        self.states = states

    def forward(self, input_ids, attention_mask=None):
        return SimpleNamespace(last_hidden_state=self.states)


def test_pooling_and_cosine_hand_checked_with_padding_excluded():
    hidden = torch.tensor([[[1.0, 0.0], [3.0, 0.0], [0.0, 100.0]],  # last token is padding
                           [[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]]])
    attention = torch.tensor([[1, 1, 0], [1, 1, 1]])
    assert mean_pool(hidden, attention).tolist() == [[2.0, 0.0], [1.0, 1.0]]
    reference = torch.tensor([[[0.0, 5.0]] * 3, [[2.0, 0.0]] * 3])
    loss = anchor_loss(_Fixed(reference), torch.zeros(2, 3, dtype=torch.long), hidden, attention)
    # row 0: orthogonal (1 - 0); row 1: 45 degrees (1 - 1/sqrt 2); the mean of the two
    assert loss.item() == pytest.approx((1.0 + 1.0 - 1 / math.sqrt(2)) / 2, abs=1e-6)


def _objectives():
    generator, discriminator, _ = load_pair("scratch:micro", 85, 0, dropout=0.0, seed=0)
    yield ElectraObjective(generator, discriminator, 4, 50.0, anchor=FrozenAnchor(discriminator.electra, 10.0))
    model, discriminator, _ = load_mlm("scratch:micro", 85, 0, dropout=0.0, seed=0)
    yield MLMObjective(model, discriminator, 4, anchor=FrozenAnchor(discriminator.electra, 10.0))


@pytest.mark.parametrize("objective", list(_objectives()), ids=["rtd", "mlm"])
def test_anchor_is_zero_at_the_start_and_pulls_on_the_trained_model_only(objective):
    first = objective(**_batch())
    assert first["anchor_loss"].item() == pytest.approx(0.0, abs=1e-6)
    with torch.no_grad():  # move the trained encoder away from its frozen copy
        objective.discriminator.electra.encoder.layer[1].output.dense.weight.mul_(3.0)
    out = objective.outputs(_batch())
    losses = objective.losses(out)
    assert losses["anchor_loss"].item() > 1e-3
    objective.anchor.weight = 0.0
    unanchored = objective.losses(out)["loss"]
    objective.anchor.weight = 10.0
    assert losses["loss"].item() == pytest.approx(unanchored.item() + 10.0 * losses["anchor_loss"].item(), abs=1e-4)
    losses["anchor_loss"].backward()
    trained = objective.discriminator.electra.encoder.layer[0].attention.self.query.weight
    assert trained.grad is not None and torch.count_nonzero(trained.grad) > 0
    assert all(p.grad is None and not p.requires_grad for p in objective.anchor.encoder.parameters())


@pytest.mark.parametrize("objective", ["rtd", "mlm"])
def test_the_frozen_copy_is_in_no_state_dict_and_moves_with_the_objective(objective):
    if objective == "rtd":
        generator, discriminator, _ = load_pair("scratch:micro", 85, 0, dropout=0.0, seed=0)
        make = lambda anchor=None: ElectraObjective(generator, discriminator, 4, 50.0, anchor=anchor)  # noqa: E731
    else:
        generator, discriminator, _ = load_mlm("scratch:micro", 85, 0, dropout=0.0, seed=0)
        make = lambda anchor=None: MLMObjective(generator, discriminator, 4, anchor=anchor)  # noqa: E731
    plain = make()
    keys, count = set(plain.state_dict()), len(list(plain.parameters()))
    anchored = make(FrozenAnchor(discriminator.electra, 1.0))
    assert set(anchored.state_dict()) == keys and len(list(anchored.parameters())) == count
    plain.to(torch.float64)  # no anchor: the plain path still works
    anchored.to(torch.float64)
    assert next(anchored.anchor.encoder.parameters()).dtype == torch.float64
    assert next(anchored.discriminator.parameters()).dtype == torch.float64
    assert not anchored.anchor.encoder.training  # frozen copy: no dropout, whatever the owner's mode


def test_config_refuses_a_scratch_start_or_a_negative_weight():
    with pytest.raises(UserError, match="anchor_weight keeps a pretrained start"):
        tiny_config(anchor_weight=1.0).validate()
    with pytest.raises(UserError, match="anchor_weight must be 0"):
        tiny_config(init="some/folder", anchor_weight=-1.0).validate()


def _pooled_drift(start: Path, end: Path, ids: torch.Tensor) -> float:
    from transformers import AutoModel

    with torch.no_grad():
        pooled = [mean_pool(AutoModel.from_pretrained(str(p)).eval()(input_ids=ids).last_hidden_state, None)
                  for p in (start, end)]
    return float((1 - torch.nn.functional.cosine_similarity(*pooled, dim=-1)).mean())


def test_an_anchored_run_moves_the_pooled_embeddings_less(tmp_path):
    tokens = tiny_tokens(tmp_path / "tokens", seq_len=32)
    start = pretrain(tiny_config(max_steps=4), tokens, tmp_path / "start", progress=False)  # a 'pretrained' init
    init = str(tmp_path / "start")
    runs = {w: pretrain(tiny_config(init=init, anchor_weight=w, max_steps=8, eval_every=4), tokens,
                        tmp_path / f"w{w:g}", progress=False) for w in (0.0, 100.0)}
    rows = [json.loads(line) for line in (tmp_path / "w100" / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in rows if r["split"] == "train"]
    assert train[0]["anchor_loss"] == pytest.approx(0.0, abs=1e-5)  # dropout 0: identical at step 0
    assert all("anchor_loss" in r for r in rows) and "anchor_loss" not in runs[0.0]["validation"]
    ids = torch.randint(5, 80, (6, 32), generator=torch.Generator().manual_seed(1))
    drift = {w: _pooled_drift(Path(start["discriminator"]), Path(r["discriminator"]), ids) for w, r in runs.items()}
    assert drift[0.0] > 1e-4 and drift[100.0] < drift[0.0] / 2, drift
