"""The ELECTRA objective: generator MLM + rtd_weight * discriminator replaced-token detection; and the
MLM-only objective (the full-size model with an MLM head) it is compared against.

One forward, with static shapes throughout (see masking.py):
1. the masked slots of `input_ids` are corrupted (`Corruption`): a share becomes [MASK], the rest keep
   their token (ELECTRA's 85/15) or, for MLM, partly get a random one (BERT's 80/10/10); the generator
   encodes the sequence, and its head runs on the masked positions only ([rows, slots, vocab] logits
   instead of [rows, seq_len, vocab]);
2. MLM loss: cross-entropy of those logits against the original tokens (weighted by the slot weights);
3. the generator samples a replacement for each masked slot from its softmax (no gradient flows through
   the sample), by inverse CDF with uniform draws that come with the batch;
4. the discriminator reads the corrupted sequence; a token is "replaced" (label 1) only when it differs
   from the original, so a sample that happens to equal the original is labelled 0, as in ELECTRA;
5. RTD loss: binary cross-entropy over every real (non-padding) token;
6. optionally (`anchor_weight`), an anchor loss: 1 - cosine between the mean-pooled last hidden states of the
   model being trained and of a frozen copy of the starting checkpoint, on the same input. Token-level
   pretraining pulls a sentence-embedding checkpoint (MiniLM, E5) away from the geometry its retrieval rests
   on; the anchor keeps what the pooled vector says while the token states adapt (feature distillation as in
   Learning without Forgetting, Li & Hoiem 2016).
"""
from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class Corruption:
    """What the masked slots' inputs become: [MASK] with probability `mask_share`, a uniformly random token
    id with `random_share`, else the original token (independently per slot, as in both references)."""

    mask_share: float = 1.0
    random_share: float = 0.0


ALL_MASK = Corruption(1.0, 0.0)  # every masked slot reads [MASK]: needs no corruption draws
ELECTRA = Corruption(0.85, 0.0)  # google-research/electra pretrain_helpers.mask
BERT = Corruption(0.8, 0.1)  # BERT / run_mlm.py's 80/10/10


def masked_inputs(input_ids: torch.Tensor, positions: torch.Tensor, weights: torch.Tensor, mask_id: int,
                  corruption: Corruption = ALL_MASK, corrupt_draws: torch.Tensor | None = None,
                  random_draws: torch.Tensor | None = None, vocab_size: int = 0
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(generator input with the used slots corrupted, original tokens at every slot, which slots read
    [MASK]). `corrupt_draws` (uniform [rows, slots]) choose each slot's fate; `random_draws` pick the
    random token ids (needed only when random_share > 0)."""
    original = input_ids.gather(1, positions)
    used = weights > 0
    if corruption.mask_share >= 1.0:
        to_mask, new = used, torch.where(used, mask_id, original)
    else:
        to_mask = used & (corrupt_draws < corruption.mask_share)
        new = torch.where(to_mask, mask_id, original)
        if corruption.random_share > 0:
            to_random = used & ~to_mask & (corrupt_draws < corruption.mask_share + corruption.random_share)
            random_ids = (random_draws * vocab_size).long().clamp_(max=vocab_size - 1)
            new = torch.where(to_random, random_ids, new)
    return input_ids.scatter(1, positions, new), original, to_mask


def _corrupt(batch: dict, mask_id: int, corruption: Corruption, vocab_size: int):
    return masked_inputs(batch["input_ids"], batch["mask_positions"], batch["mask_weights"], mask_id, corruption,
                         batch.get("corrupt_draws"), batch.get("sample_draws"), vocab_size)


def mlm_logits(model: nn.Module, hidden: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """An ElectraForMaskedLM's logits from its last hidden states at the masked positions only
    ([rows, slots, vocab], fp32)."""
    picked = hidden.gather(1, positions.unsqueeze(-1).expand(-1, -1, hidden.shape[-1]))
    return model.generator_lm_head(model.generator_predictions(picked)).float()


def mean_pool(hidden: torch.Tensor, attention: torch.Tensor | None) -> torch.Tensor:
    """Masked mean of token states [rows, seq, dim] -> [rows, dim] in fp32; bench's retrieval pooler
    (finetune.models.Pooler) calls this too, so the anchor holds the very vector retrieval ranks by."""
    hidden = hidden.float()
    if attention is None:
        return hidden.mean(dim=1)
    weights = attention.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)


def anchor_loss(frozen: nn.Module, ids: torch.Tensor, hidden: torch.Tensor, attention) -> torch.Tensor:
    """Mean over sequences of 1 - cos(pooled `hidden`, pooled states of the frozen starting encoder on `ids`)."""
    with torch.no_grad():
        reference = mean_pool(frozen(input_ids=ids, attention_mask=attention).last_hidden_state, attention)
    return (1.0 - F.cosine_similarity(mean_pool(hidden, attention), reference, dim=-1)).mean()


def replaced_inputs(input_ids: torch.Tensor, positions: torch.Tensor, weights: torch.Tensor,
                    original: torch.Tensor, sampled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(discriminator input with the samples written into the used slots, RTD labels: 1 where the token
    now differs from the original)."""
    corrupted = input_ids.scatter(1, positions, torch.where(weights > 0, sampled, original))
    return corrupted, (corrupted != input_ids)


def generator_outputs(generator: nn.Module, batch: dict, mask_id: int, corruption: Corruption,
                      anchor: "FrozenAnchor | None" = None) -> dict:
    """The MLM half: corrupted input, logits at the masked slots, targets and weights; with an `anchor`
    (objective mlm only: the generator is then the full-size model) its anchor loss."""
    ids, positions, weights = batch["input_ids"], batch["mask_positions"], batch["mask_weights"]
    attention = batch.get("attention_mask")  # None for training batches (no padding, see data.py)
    gen_ids, original, to_mask = _corrupt(batch, mask_id, corruption, generator.config.vocab_size)
    hidden = generator.electra(input_ids=gen_ids, attention_mask=attention).last_hidden_state
    gen_logits = mlm_logits(generator, hidden, positions)
    out = {"gen_logits": gen_logits, "original": original, "weights": weights.to(gen_logits.dtype),
           "to_mask": to_mask, "attention": attention}
    if anchor is not None:
        out["anchor_loss"] = anchor_loss(anchor.encoder, gen_ids, hidden, attention)
    return out


def electra_outputs(generator: nn.Module, discriminator: nn.Module, batch: dict, mask_id: int,
                    corruption: Corruption = ALL_MASK, anchor: "FrozenAnchor | None" = None) -> dict:
    """Everything the losses and metrics need, as tensors (no host synchronisation); with an `anchor`, the
    discriminator's anchor loss too."""
    ids, positions, weights = batch["input_ids"], batch["mask_positions"], batch["mask_weights"]
    out = generator_outputs(generator, batch, mask_id, corruption)
    gen_logits, original, attention = out["gen_logits"], out["original"], out["attention"]
    with torch.no_grad():
        sampled = sample_tokens(gen_logits.detach(), batch["sample_draws"])
    disc_ids, labels = replaced_inputs(ids, positions, weights, original, sampled)
    hidden = discriminator.electra(input_ids=disc_ids, attention_mask=attention).last_hidden_state
    out.update({"disc_logits": discriminator.discriminator_predictions(hidden).float(), "labels": labels})
    if anchor is not None:
        out["anchor_loss"] = anchor_loss(anchor.encoder, disc_ids, hidden, attention)
    return out


def with_anchor(losses: dict, out: dict, anchor: "FrozenAnchor | None") -> dict:
    """`losses` with the anchor's weight x its loss added to the loss (and reported) when `out` has one."""
    if anchor is None or "anchor_loss" not in out:
        return losses
    return {**losses, "loss": losses["loss"] + anchor.weight * out["anchor_loss"], "anchor_loss": out["anchor_loss"]}


def _apply_with_anchor(module: nn.Module, fn, recurse: bool):
    """nn.Module._apply (what .to()/.cuda()/.float() run) that moves the unregistered anchor too."""
    anchor = getattr(module, "anchor", None)
    if anchor is not None:
        anchor.encoder._apply(fn, recurse)
    return nn.Module._apply(module, fn, recurse)


class FrozenAnchor:
    """A frozen, eval-mode copy of the starting encoder (`ElectraModel`), held outside the module tree so that
    it is in no state_dict, checkpoint, export, optimizer or DDP bucket; `.to()` moves it with its owner."""

    def __init__(self, encoder: nn.Module, weight: float):
        import copy

        self.encoder = copy.deepcopy(encoder).eval().requires_grad_(False)
        self.weight = float(weight)


def mlm_losses(out: dict) -> dict:
    """The MLM loss (mean cross-entropy over the used slots) and its metric sums as 0-dim tensors;
    `gen_correct_mask` / `masked_mask` count the slots that read [MASK] only."""
    weights = out["weights"]
    masked = weights.sum()
    gen_tok = F.cross_entropy(out["gen_logits"].flatten(0, 1), out["original"].flatten(), reduction="none")
    gen_loss = (gen_tok * weights.flatten()).sum() / masked.clamp_min(1.0)
    right = (out["gen_logits"].argmax(-1) == out["original"]).float() * weights
    at_mask = out["to_mask"].to(weights.dtype) * weights if "to_mask" in out else weights
    return {"loss": gen_loss, "gen_loss": gen_loss, "gen_correct": right.sum(), "masked": masked,
            "gen_correct_mask": (right * at_mask).sum(), "masked_mask": at_mask.sum()}


def electra_losses(out: dict, rtd_weight: float) -> dict:
    """Loss (for backward) plus metric sums as 0-dim tensors."""
    labels = out["labels"]
    mlm = mlm_losses(out)
    gen_loss = mlm["gen_loss"]
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
    return {**mlm, "loss": gen_loss + rtd_weight * disc_loss, "disc_loss": disc_loss,
            "disc_correct": disc_correct, "tokens": tokens, "replaced": replaced}


class ElectraObjective(nn.Module):
    """Generator and discriminator as one module whose forward is the whole objective: what DDP wraps,
    torch.compile compiles and a checkpoint stores (shared embeddings stored once). With `joint` False
    (a generator warm-up) the forward trains the generator alone and skips the discriminator."""

    def __init__(self, generator: nn.Module, discriminator: nn.Module, mask_id: int, rtd_weight: float,
                 corruption: Corruption = ELECTRA, anchor: FrozenAnchor | None = None):
        super().__init__()
        self.generator, self.discriminator = generator, discriminator
        self.mask_id, self.rtd_weight, self.corruption = int(mask_id), float(rtd_weight), corruption
        self.joint = True
        self.anchor = anchor

    def _apply(self, fn, recurse=True):
        return _apply_with_anchor(self, fn, recurse)

    def outputs(self, batch: dict) -> dict:
        return electra_outputs(self.generator, self.discriminator, batch, self.mask_id, self.corruption, self.anchor)

    def losses(self, out: dict) -> dict:
        return with_anchor(electra_losses(out, self.rtd_weight), out, self.anchor)

    def forward(self, **batch) -> dict:
        if not self.joint:
            return _no_discriminator(mlm_losses(generator_outputs(self.generator, batch, self.mask_id,
                                                                  self.corruption)))
        return self.losses(self.outputs(batch))


class MLMObjective(nn.Module):
    """`objective: mlm`: the full-size model's MLM loss alone. `generator` is the MLM model, whose encoder
    IS the discriminator's (one module), so the usual checkpoint and export code store and write it; the
    discriminator's RTD head is never trained (and not used by fine-tuning)."""

    def __init__(self, model: nn.Module, discriminator: nn.Module, mask_id: int, corruption: Corruption = BERT,
                 anchor: FrozenAnchor | None = None):
        super().__init__()
        self.generator, self.discriminator = model, discriminator
        self.mask_id, self.rtd_weight, self.corruption = int(mask_id), 0.0, corruption
        self.anchor = anchor

    def _apply(self, fn, recurse=True):
        return _apply_with_anchor(self, fn, recurse)

    def outputs(self, batch: dict) -> dict:
        return generator_outputs(self.generator, batch, self.mask_id, self.corruption, self.anchor)

    def losses(self, out: dict) -> dict:
        return with_anchor(_no_discriminator(mlm_losses(out)), out, self.anchor)

    def forward(self, **batch) -> dict:
        return self.losses(self.outputs(batch))


def _no_discriminator(losses: dict) -> dict:
    """The discriminator's metric sums at zero, so the step and the logs see the same keys."""
    zero = torch.zeros((), device=losses["loss"].device)
    return {**losses, "disc_loss": zero, "disc_correct": zero, "tokens": zero, "replaced": zero}


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
def evaluate(objective: nn.Module, batches, autocast) -> dict:
    """Validation metrics over `batches` (device dicts): generator loss/accuracy on masked tokens (also on
    the [MASK] slots alone: `gen_acc_mask`), and for RTD the discriminator loss/accuracy over real tokens
    and its AUC separating replaced from original tokens (None for the MLM objective)."""
    was_training = objective.training
    objective.eval()
    keys = ("gen_correct", "masked", "gen_correct_mask", "masked_mask", "disc_correct", "tokens", "replaced")
    sums = {"gen": 0.0, "disc": 0.0, "anchor": 0.0, "batches": 0, **{k: 0.0 for k in keys}}
    scores, labels = [], []
    for batch in batches:
        with autocast():
            out = objective.outputs(batch)
        losses = objective.losses(out)
        sums["anchor"] += float(losses.get("anchor_loss", 0.0))
        sums["batches"] += 1
        sums["gen"] += float(losses["gen_loss"]) * float(losses["masked"])
        sums["disc"] += float(losses["disc_loss"]) * float(losses["tokens"])
        for key in keys:
            sums[key] += float(losses[key])
        if "disc_logits" in out:
            real = out["attention"].bool() if out["attention"] is not None else torch.ones_like(out["labels"])
            scores.append(out["disc_logits"][real].cpu().numpy())
            labels.append(out["labels"][real].cpu().numpy())
    objective.train(was_training)
    if not sums["masked"]:
        return {}
    gen_loss = sums["gen"] / sums["masked"]
    result = {"loss": gen_loss, "gen_loss": gen_loss, "gen_acc": sums["gen_correct"] / sums["masked"],
              "gen_acc_mask": sums["gen_correct_mask"] / max(sums["masked_mask"], 1.0),
              "disc_loss": None, "disc_acc": None, "disc_auc": None, "replaced_rate": None}
    if getattr(objective, "anchor", None) is not None:  # how far the pooled embeddings moved (not in "loss")
        result["anchor_loss"] = sums["anchor"] / sums["batches"]
    if scores:
        disc_loss = sums["disc"] / sums["tokens"]
        result.update({"loss": gen_loss + objective.rtd_weight * disc_loss, "disc_loss": disc_loss,
                       "disc_acc": sums["disc_correct"] / sums["tokens"],
                       "disc_auc": roc_auc(np.concatenate(scores), np.concatenate(labels)),
                       "replaced_rate": sums["replaced"] / sums["tokens"]})
    return result
