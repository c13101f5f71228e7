"""Embedding sharing between the generator and the discriminator: ELECTRA's tied sharing and GDES.

- "tied" (ELECTRA): both models use ONE embedding module (token, position and type embeddings and their
  LayerNorm); the generator's output layer is tied to the token embeddings. Both losses update it.
- "gdes" (DeBERTa-V3, gradient-disentangled embedding sharing): the generator owns the token embeddings
  E; the discriminator embeds with stop_gradient(E) + Delta, Delta initialised at zero. The MLM loss
  trains E, the RTD loss trains only Delta, so the two objectives stop pulling E in opposite directions.
  The discriminator keeps its own position/type embeddings and LayerNorm.

An exported discriminator is always a plain ElectraForPreTraining (GDES folded: E + Delta).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers import ElectraForMaskedLM, ElectraForPreTraining

from ..errors import UserError


class GDESEmbedding(nn.Module):
    """Token embeddings stop_gradient(shared.weight) + delta. `shared` is the generator's nn.Embedding
    (registered here too, so a checkpoint of the pair stores it once, as a shared tensor)."""

    def __init__(self, shared: nn.Embedding, delta: torch.Tensor):
        super().__init__()
        self.shared = shared
        self.delta = nn.Parameter(delta)
        self.padding_idx = shared.padding_idx

    @property
    def weight(self) -> torch.Tensor:
        """The effective matrix (for export and inspection; the forward never materialises it)."""
        return self.shared.weight.detach() + self.delta

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        # Two gathers instead of materialising (V x E) every step; no gradient reaches `shared`.
        return (F.embedding(input_ids, self.shared.weight.detach(), self.padding_idx)
                + F.embedding(input_ids, self.delta, self.padding_idx))


def share_embeddings(generator: ElectraForMaskedLM, discriminator: ElectraForPreTraining, mode: str) -> None:
    """Wire the two models' embeddings in place, for `mode` "tied" or "gdes"."""
    g, d = generator.config, discriminator.config
    if g.embedding_size != d.embedding_size or g.vocab_size != d.vocab_size:
        raise UserError(f"generator and discriminator embeddings differ ({g.vocab_size}x{g.embedding_size} vs "
                        f"{d.vocab_size}x{d.embedding_size}); they cannot share embeddings: give a matching "
                        "init_generator or leave it unset to build one")
    disc_embeddings = discriminator.electra.embeddings
    if mode == "tied":
        generator.electra.embeddings = disc_embeddings
        generator.generator_lm_head.weight = disc_embeddings.word_embeddings.weight
    elif mode == "gdes":
        shared = generator.electra.embeddings.word_embeddings
        # Delta starts as the difference of the two checkpoints' matrices: zero for a fresh generator
        # (which copied the discriminator's embeddings), and exact when re-loading a GDES export.
        delta = (disc_embeddings.word_embeddings.weight.detach() - shared.weight.detach()).clone()
        disc_embeddings.word_embeddings = GDESEmbedding(shared, delta)
        generator.generator_lm_head.weight = shared.weight
    else:
        raise UserError(f"embedding_sharing must be 'tied' or 'gdes' (got {mode!r})")


def plain_discriminator(discriminator: ElectraForPreTraining) -> ElectraForPreTraining:
    """The discriminator as a standard ElectraForPreTraining (a GDES embedding folded into one matrix)."""
    words = discriminator.electra.embeddings.word_embeddings
    if not isinstance(words, GDESEmbedding):
        return discriminator
    state = {k: v for k, v in discriminator.state_dict().items()
             if not k.startswith("electra.embeddings.word_embeddings.")}
    state["electra.embeddings.word_embeddings.weight"] = words.weight.detach().clone()
    plain = ElectraForPreTraining(discriminator.config)
    plain.load_state_dict(state)
    return plain
