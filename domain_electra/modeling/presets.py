"""ELECTRA shapes: scratch presets and the generator built at a width/depth fraction of a discriminator."""
from __future__ import annotations

from transformers import ElectraConfig

from ..errors import UserError

# ELECTRA paper, Table 6 (small/base/large), plus `tiny` for CPU quickstarts and `micro` for tests. `generator` is
# the paper's generator width fraction, used when PretrainConfig.generator_fraction is left at default.
PRESETS: dict[str, dict] = {
    "micro": dict(embedding_size=64, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                  intermediate_size=256, generator=0.5),
    "tiny": dict(embedding_size=128, hidden_size=128, num_hidden_layers=4, num_attention_heads=2,
                 intermediate_size=512, generator=0.25),
    "small": dict(embedding_size=128, hidden_size=256, num_hidden_layers=12, num_attention_heads=4,
                  intermediate_size=1024, generator=0.25),
    "base": dict(embedding_size=768, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                 intermediate_size=3072, generator=1 / 3),
    "large": dict(embedding_size=1024, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                  intermediate_size=4096, generator=0.25),
}


def scratch_config(name: str, vocab_size: int, pad_id: int, max_positions: int = 512) -> ElectraConfig:
    """The discriminator config of preset `name` for a vocabulary of `vocab_size`."""
    if name not in PRESETS:
        raise UserError(f"unknown scratch preset '{name}'; use one of: "
                        + ", ".join(f"scratch:{n}" for n in PRESETS))
    shape = {k: v for k, v in PRESETS[name].items() if k != "generator"}
    return ElectraConfig(vocab_size=vocab_size, pad_token_id=pad_id, max_position_embeddings=max_positions,
                         hidden_act="gelu", hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
                         type_vocab_size=2, initializer_range=0.02, layer_norm_eps=1e-12, **shape)


def generator_config(disc: ElectraConfig, width: float, depth: float) -> ElectraConfig:
    """A generator config at `width` x the discriminator's hidden size and `depth` x its layers.

    The attention head size is kept (ELECTRA-small: 4 heads of 64 -> one head of 64 at 1/4; base: 12 heads
    of 64 -> 4 at 1/3), and the embedding size is the discriminator's, so the two can share embeddings.
    """
    head_dim = disc.hidden_size // disc.num_attention_heads
    heads = max(1, round(disc.num_attention_heads * width))
    hidden = heads * head_dim
    return ElectraConfig(
        vocab_size=disc.vocab_size, embedding_size=disc.embedding_size, hidden_size=hidden,
        num_hidden_layers=max(1, round(disc.num_hidden_layers * depth)), num_attention_heads=heads,
        intermediate_size=max(1, round(disc.intermediate_size * hidden / disc.hidden_size)),
        hidden_act=disc.hidden_act, hidden_dropout_prob=disc.hidden_dropout_prob,
        attention_probs_dropout_prob=disc.attention_probs_dropout_prob,
        max_position_embeddings=disc.max_position_embeddings, type_vocab_size=disc.type_vocab_size,
        initializer_range=disc.initializer_range, layer_norm_eps=disc.layer_norm_eps,
        pad_token_id=disc.pad_token_id, tie_word_embeddings=True,
    )


def set_dropout(config: ElectraConfig, dropout: float | None) -> ElectraConfig:
    if dropout is not None:
        config.hidden_dropout_prob = dropout
        config.attention_probs_dropout_prob = dropout
    return config
