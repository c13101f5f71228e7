"""ELECTRA models for pretraining: scratch presets, loading ELECTRA / BERT-layout checkpoints, generator
construction, and embedding sharing (tied or GDES)."""
from .load import InitFacts, apply_dropout, bert_to_electra, check_vocabulary, load_pair
from .presets import PRESETS, generator_config, scratch_config
from .sharing import GDESEmbedding, plain_discriminator, share_embeddings

__all__ = ["InitFacts", "PRESETS", "GDESEmbedding", "apply_dropout", "bert_to_electra", "check_vocabulary",
           "generator_config", "load_pair", "plain_discriminator", "scratch_config", "share_embeddings"]
