"""Weight-space interpolation of an adapted encoder with its starting checkpoint (modeling/interpolate.py)."""
from __future__ import annotations

import pytest
import torch

from domain_electra.errors import UserError
from domain_electra.modeling.interpolate import interpolate
from domain_electra.modeling.load import bert_to_electra


def _tiny_bert(folder, vocab_size=99, seed=0):
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    bert = BertModel(BertConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                intermediate_size=64, max_position_embeddings=64))
    bert.save_pretrained(str(folder))
    return bert


def _adapted_from(bert, folder, seed=1):
    """What continued pretraining leaves: the converted encoder with every weight moved, and a trained head."""
    torch.manual_seed(seed)
    model = bert_to_electra(bert)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param))
    model.save_pretrained(str(folder))
    return model


def test_interpolation_mixes_every_encoder_weight_and_keeps_the_adapted_head(tmp_path):
    from transformers import AutoModel

    bert = _tiny_bert(tmp_path / "base")
    adapted = _adapted_from(bert, tmp_path / "adapted")
    start = bert_to_electra(bert).state_dict()
    tuned = adapted.state_dict()
    for weight in (0.0, 0.25, 1.0):
        out = interpolate(str(tmp_path / "base"), tmp_path / "adapted", weight, tmp_path / f"mix{weight}")
        mixed = AutoModel.from_pretrained(str(out)).state_dict()  # loads as a plain ELECTRA encoder
        query = "encoder.layer.1.attention.self.query.weight"
        expected = start[f"electra.{query}"] + weight * (tuned[f"electra.{query}"] - start[f"electra.{query}"])
        torch.testing.assert_close(mixed[query], expected)
        torch.testing.assert_close(mixed["embeddings.word_embeddings.weight"],
                                   (1 - weight) * start["electra.embeddings.word_embeddings.weight"]
                                   + weight * tuned["electra.embeddings.word_embeddings.weight"])
    from transformers import ElectraForPreTraining

    head = ElectraForPreTraining.from_pretrained(str(tmp_path / "mix0.0")).state_dict()
    torch.testing.assert_close(head["discriminator_predictions.dense.weight"],
                               tuned["discriminator_predictions.dense.weight"])  # BERT has none to mix with
    assert "0.25 x the adapted model" in (tmp_path / "mix0.25" / "README.md").read_text()


def test_interpolation_refuses_another_vocabulary_and_a_bad_weight(tmp_path):
    _tiny_bert(tmp_path / "other", vocab_size=120)
    _adapted_from(_tiny_bert(tmp_path / "base"), tmp_path / "adapted")
    with pytest.raises(UserError, match=r"cannot interpolate electra.embeddings.word_embeddings.weight: shape \(120, 32\)"):
        interpolate(str(tmp_path / "other"), tmp_path / "adapted", 0.5, tmp_path / "out")
    with pytest.raises(UserError, match=r"weight must be in \[0, 1\]"):
        interpolate(str(tmp_path / "base"), tmp_path / "adapted", 1.5, tmp_path / "out")
    with pytest.raises(UserError, match="not a model folder"):
        interpolate(str(tmp_path / "base"), tmp_path / "nowhere", 0.5, tmp_path / "out")
    assert not (tmp_path / "out").exists()
