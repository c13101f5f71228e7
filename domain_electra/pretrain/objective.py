"""The ELECTRA objective: generator MLM + rtd_weight * discriminator replaced-token detection.

One forward, with static shapes throughout (see masking.py):
1. the masked slots of `input_ids` become [MASK]; the generator encodes the sequence, and its head runs
   on the masked positions only ([rows, slots, vocab] logits instead of [rows, seq_len, vocab]);
2. MLM loss: cross-entropy of those logits against the original tokens (weighted by the slot weights);
3. the generator samples a replacement for each masked slot from its softmax (no gradient flows through
   the sample), by inverse CDF with uniform draws that come with the batch;
4. the discriminator reads the corrupted sequence; a token is "replaced" (label 1) only when it differs
   from the original, so a sample that happens to equal the original is labelled 0, as in ELECTRA;
5. RTD loss: binary cross-entropy over every real (non-padding) token.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def sample_tokens(logits: torch.Tensor, draws: torch.Tensor) -> torch.Tensor:
    """One token per row of `logits` [..., V], drawn from softmax(logits) by inverse CDF with `draws`
    (uniform in [0, 1), shape [...]). Deterministic given the draws, whatever the device's RNG state."""
    cdf = torch.softmax(logits.float(), dim=-1).cumsum(dim=-1)
    target = draws.unsqueeze(-1).to(cdf.dtype) * cdf[..., -1:]
    return torch.searchsorted(cdf, target, right=True).squeeze(-1).clamp_(max=logits.shape[-1] - 1)


def masked_inputs(input_ids: torch.Tensor, positions: torch.Tensor, weights: torch.Tensor,
                  mask_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(generator input with [MASK] in the used slots, original tokens at every slot)."""
    original = input_ids.gather(1, positions)
    return input_ids.scatter(1, positions, torch.where(weights > 0, mask_id, original)), original


def replaced_inputs(input_ids: torch.Tensor, positions: torch.Tensor, weights: torch.Tensor,
                    original: torch.Tensor, sampled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(discriminator input with the samples written into the used slots, RTD labels: 1 where the token
    now differs from the original)."""
    corrupted = input_ids.scatter(1, positions, torch.where(weights > 0, sampled, original))
    return corrupted, (corrupted != input_ids)


def electra_outputs(generator: nn.Module, discriminator: nn.Module, batch: dict, mask_id: int) -> dict:
    """Everything the losses and metrics need, as tensors (no host synchronisation)."""
    ids, positions, weights = batch["input_ids"], batch["mask_positions"], batch["mask_weights"]
    attention = batch.get("attention_mask")  # None for training batches (no padding, see data.py)
    gen_ids, original = masked_inputs(ids, positions, weights, mask_id)
    hidden = generator.electra(input_ids=gen_ids, attention_mask=attention).last_hidden_state
    picked = hidden.gather(1, positions.unsqueeze(-1).expand(-1, -1, hidden.shape[-1]))
    gen_logits = generator.generator_lm_head(generator.generator_predictions(picked)).float()
    with torch.no_grad():
        sampled = sample_tokens(gen_logits.detach(), batch["sample_draws"])
    disc_ids, labels = replaced_inputs(ids, positions, weights, original, sampled)
    disc_logits = discriminator(input_ids=disc_ids, attention_mask=attention).logits.float()
    return {"gen_logits": gen_logits, "original": original, "weights": weights.to(gen_logits.dtype),
            "disc_logits": disc_logits, "labels": labels, "attention": attention}


def electra_losses(out: dict, rtd_weight: float) -> dict:
    """Loss (for backward) plus metric sums as 0-dim tensors."""
    weights, labels = out["weights"], out["labels"]
    masked = weights.sum()
    gen_tok = F.cross_entropy(out["gen_logits"].flatten(0, 1), out["original"].flatten(), reduction="none")
    gen_loss = (gen_tok * weights.flatten()).sum() / masked.clamp_min(1.0)
    disc_tok = F.binary_cross_entropy_with_logits(out["disc_logits"], labels.float(), reduction="none")
    disc_right = ((out["disc_logits"] > 0) == labels).float()
    if out["attention"] is None:
        tokens = torch.tensor(float(labels.numel()), device=labels.device)
        disc_loss, disc_correct, replaced = disc_tok.mean(), disc_right.sum(), labels.float().sum()
    else:
        real = out["attention"].float()
        tokens = real.sum()
        disc_loss = (disc_tok * real).sum() / tokens.clamp_min(1.0)
        disc_correct, replaced = (disc_right * real).sum(), (labels.float() * real).sum()
    gen_correct = ((out["gen_logits"].argmax(-1) == out["original"]).float() * weights).sum()
    return {"loss": gen_loss + rtd_weight * disc_loss, "gen_loss": gen_loss, "disc_loss": disc_loss,
            "gen_correct": gen_correct, "masked": masked, "disc_correct": disc_correct, "tokens": tokens,
            "replaced": replaced}


class ElectraObjective(nn.Module):
    """Generator and discriminator as one module whose forward is the whole objective: what DDP wraps,
    torch.compile compiles and a checkpoint stores (shared embeddings stored once)."""

    def __init__(self, generator: nn.Module, discriminator: nn.Module, mask_id: int, rtd_weight: float):
        super().__init__()
        self.generator, self.discriminator = generator, discriminator
        self.mask_id, self.rtd_weight = int(mask_id), float(rtd_weight)

    def forward(self, **batch) -> dict:
        return electra_losses(electra_outputs(self.generator, self.discriminator, batch, self.mask_id),
                              self.rtd_weight)


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U, ties averaged); NaN when a class is absent.
    scikit-learn's roc_auc_score computes the same, but the GPU path imports torch/numpy only."""
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=bool)
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if positives == 0 or negatives == 0:
        return float("nan")
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    average_rank = np.cumsum(counts) - (counts - 1) / 2.0  # 1-based rank, ties share their mean rank
    rank_sum = average_rank[inverse][labels].sum()
    return float((rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives))


@torch.no_grad()
def evaluate(objective: ElectraObjective, batches, autocast) -> dict:
    """Validation metrics over `batches` (device dicts): generator loss/accuracy on masked tokens,
    discriminator loss/accuracy over real tokens and its AUC separating replaced from original tokens."""
    was_training = objective.training
    objective.eval()
    sums = {"gen": 0.0, "gen_correct": 0.0, "masked": 0.0, "disc": 0.0, "disc_correct": 0.0, "tokens": 0.0,
            "replaced": 0.0}
    scores, labels = [], []
    for batch in batches:
        with autocast():
            out = electra_outputs(objective.generator, objective.discriminator, batch, objective.mask_id)
        losses = electra_losses(out, objective.rtd_weight)
        sums["gen"] += float(losses["gen_loss"]) * float(losses["masked"])
        sums["disc"] += float(losses["disc_loss"]) * float(losses["tokens"])
        for key in ("gen_correct", "masked", "disc_correct", "tokens", "replaced"):
            sums[key] += float(losses[key])
        real = out["attention"].bool() if out["attention"] is not None else torch.ones_like(out["labels"])
        scores.append(out["disc_logits"][real].cpu().numpy())
        labels.append(out["labels"][real].cpu().numpy())
    objective.train(was_training)
    if not sums["tokens"]:
        return {}
    gen_loss, disc_loss = sums["gen"] / max(sums["masked"], 1.0), sums["disc"] / sums["tokens"]
    return {"loss": gen_loss + objective.rtd_weight * disc_loss, "gen_loss": gen_loss,
            "gen_acc": sums["gen_correct"] / max(sums["masked"], 1.0), "disc_loss": disc_loss,
            "disc_acc": sums["disc_correct"] / sums["tokens"],
            "disc_auc": roc_auc(np.concatenate(scores), np.concatenate(labels)),
            "replaced_rate": sums["replaced"] / sums["tokens"]}
