"""Starting points: BERT-layout conversion (weight equivalence on real checkpoints), the generator copied
from the checkpoint (real MiniLM; a tiny BertForMaskedLM's MLM head reused), generator shapes, presets,
sharing, vocabulary checks."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_pretrain_common import E5, MINILM, tiny_tokenizer, one_thread  # noqa: E402,F401

from domain_electra.errors import UserError  # noqa: E402
from domain_electra.modeling import (GDESEmbedding, InitFacts, bert_to_electra, check_vocabulary,  # noqa: E402
                                     generator_config, load_pair, plain_discriminator, scratch_config)
from domain_electra.modeling.load import load_mlm, mlm_head_state  # noqa: E402


def _same_hidden_states(bert, electra, vocab: int, tol: float) -> None:
    bert.eval(), electra.eval()
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, vocab, (2, 24), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 18:] = 0
    types = torch.zeros_like(ids)
    types[:, 12:] = 1
    with torch.no_grad():
        a = bert(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state
        b = electra.electra(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state
    assert (a - b).abs().max().item() <= tol


def test_random_tiny_bert_maps_onto_electra_exactly():
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    bert = BertModel(BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                intermediate_size=64, max_position_embeddings=64))
    _same_hidden_states(bert, bert_to_electra(bert), 99, 1e-6)


@pytest.mark.parametrize("folder", [MINILM, E5], ids=["minilm", "e5"])
def test_real_bert_layout_checkpoints_load_with_identical_hidden_states(folder):
    if not folder.is_dir():
        pytest.skip(f"{folder} absent (build it with ../shared/tools/prepare_checkpoints.py)")
    from transformers import AutoModel

    config = json.loads((folder / "config.json").read_text())
    bert = AutoModel.from_pretrained(str(folder))
    if folder == MINILM:  # the whole starting-point path (E5's 250k vocabulary makes it slow: conversion only)
        generator, discriminator, facts = load_pair(str(folder), 0, 0, embedding_sharing="gdes",
                                                    generator_init="random")
        assert facts.kind == "bert" and facts.generator == "random" and facts.tokenizer_dir == str(folder)
        # generator at 1/4 width with the head size kept: 12 heads of 32 -> 3 heads, hidden 96
        assert (generator.config.hidden_size, generator.config.num_attention_heads) == (96, 3)
    else:
        discriminator = bert_to_electra(bert)
    assert discriminator.config.hidden_size == config["hidden_size"]
    _same_hidden_states(bert, discriminator, config["vocab_size"], 1e-5)


def test_a_bert_folder_without_pooler_loads_without_transformers_load_report(tmp_path):
    """E5's folder has no pooler: transformers printed a MISSING table on every pretraining run."""
    import logging

    from transformers import BertConfig, BertModel, BertTokenizerFast
    from transformers.utils import logging as hf_logging

    torch.manual_seed(0)
    bert = BertModel(BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                intermediate_size=64, max_position_embeddings=64), add_pooling_layer=False)
    bert.save_pretrained(tmp_path)
    (tmp_path / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
                                                 + [f"w{i}" for i in range(94)]))
    BertTokenizerFast(str(tmp_path / "vocab.txt")).save_pretrained(tmp_path)
    seen: list[str] = []
    catch = logging.Handler(logging.WARNING)
    catch.emit = lambda record: seen.append(record.getMessage())
    hf_logger = hf_logging.get_logger("transformers")
    hf_logger.addHandler(catch)
    try:
        _, discriminator, facts = load_pair(str(tmp_path), 0, 0)
    finally:
        hf_logger.removeHandler(catch)
    assert facts.kind == "bert"
    assert not [m for m in seen if "LOAD REPORT" in m or "MISSING" in m], seen
    _same_hidden_states(bert, discriminator, 99, 1e-6)


def test_default_generator_of_real_minilm_is_its_bottom_layers_with_the_output_tied():
    if not MINILM.is_dir():
        pytest.skip(f"{MINILM} absent (build it with ../shared/tools/prepare_checkpoints.py)")
    from transformers import AutoModel

    assert mlm_head_state(MINILM) is None  # a sentence-embedding model: encoder only, no cls.predictions
    bert = AutoModel.from_pretrained(str(MINILM)).eval()
    generator, discriminator, facts = load_pair(str(MINILM), 0, 0, generator_layers=2)
    assert facts.generator == "copy-2" and generator.config.num_hidden_layers == 2
    assert generator.config.hidden_size == bert.config.hidden_size == 384  # full width
    for i in range(2):
        source = bert.encoder.layer[i].state_dict()
        copied = generator.electra.encoder.layer[i].state_dict()
        assert source.keys() == copied.keys() and all(torch.equal(source[k], copied[k]) for k in source)
    ours = generator.electra.encoder.layer[0].attention.self.query.weight
    assert ours is not discriminator.electra.encoder.layer[0].attention.self.query.weight  # a copy: trains apart
    words = discriminator.electra.embeddings.word_embeddings.weight
    assert generator.electra.embeddings is discriminator.electra.embeddings and generator.generator_lm_head.weight is words
    ids = torch.randint(1000, 30000, (2, 16), generator=torch.Generator().manual_seed(0))
    generator.eval()
    with torch.no_grad():
        expected = bert(input_ids=ids, output_hidden_states=True).hidden_states[2]
        assert (generator.electra(input_ids=ids).last_hidden_state - expected).abs().max().item() < 1e-5
    with pytest.raises(UserError, match="generator_layers must be 1..6"):
        load_pair(str(MINILM), 0, 0, generator_layers=7)


def _tiny_bert_mlm(folder: Path):
    from transformers import BertConfig, BertForMaskedLM

    torch.manual_seed(0)
    model = BertForMaskedLM(BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=3, num_attention_heads=2,
                                       intermediate_size=64, max_position_embeddings=64)).eval()
    with torch.no_grad():  # a head that is not at its init values, so a skipped copy would show
        for param in model.cls.predictions.parameters():
            param.add_(torch.randn_like(param) * 0.1)
    model.save_pretrained(str(folder))
    return model


def test_the_mlm_head_of_a_bert_for_masked_lm_is_reused(tmp_path):
    bert = _tiny_bert_mlm(tmp_path / "bert")
    generator, discriminator, facts = load_pair(str(tmp_path / "bert"), 0, 0, generator_layers=1)
    assert facts.kind == "bert" and facts.generator == "copy-1+mlm-head"
    head = bert.cls.predictions
    assert torch.equal(generator.generator_predictions.dense.weight, head.transform.dense.weight)
    assert torch.equal(generator.generator_predictions.LayerNorm.bias, head.transform.LayerNorm.bias)
    assert torch.equal(generator.generator_lm_head.bias, head.bias)
    assert generator.generator_lm_head.weight is discriminator.electra.embeddings.word_embeddings.weight
    # all layers copied: the generator IS the BertForMaskedLM (same logits); so is the MLM objective's model
    full, _, _ = load_pair(str(tmp_path / "bert"), 0, 0, generator_layers=3, embedding_sharing="gdes")
    mlm, mlm_disc, mlm_facts = load_mlm(str(tmp_path / "bert"), 0, 0)
    assert mlm_facts.generator == "mlm+mlm-head" and mlm.electra is mlm_disc.electra
    ids = torch.randint(5, 99, (2, 12), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = bert(input_ids=ids).logits
        for model in (full.eval(), mlm.eval()):
            assert (model(input_ids=ids).logits - expected).abs().max().item() < 1e-5


def test_an_electra_discriminator_alone_gets_a_copied_generator_and_scratch_refuses_copy(tmp_path):
    from transformers import ElectraConfig, ElectraForPreTraining

    torch.manual_seed(0)
    config = ElectraConfig(vocab_size=77, embedding_size=16, hidden_size=32, num_hidden_layers=2,
                           num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
    ElectraForPreTraining(config).save_pretrained(str(tmp_path / "disc"))
    generator, discriminator, facts = load_pair(str(tmp_path / "disc"), 0, 0, generator_layers=1)
    assert facts.kind == "electra" and facts.generator == "copy-1"
    assert torch.equal(generator.electra.embeddings_project.weight, discriminator.electra.embeddings_project.weight)
    ids = torch.randint(5, 77, (1, 10), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert generator.eval()(input_ids=ids).logits.shape == (1, 10, 77)
    with pytest.raises(UserError, match="generator_init=random"):
        load_pair("scratch:micro", 85, 0, generator_init="copy")
    with pytest.raises(UserError, match="'copy' or 'random'"):
        load_pair(str(tmp_path / "disc"), 0, 0, generator_init="bottom")


def test_generator_shapes_follow_the_paper():
    small, base = scratch_config("small", 30522, 0), scratch_config("base", 30522, 0)
    g = generator_config(small, 0.25, 1.0)
    assert (g.hidden_size, g.num_attention_heads, g.intermediate_size, g.embedding_size) == (64, 1, 256, 128)
    g = generator_config(base, 1 / 3, 0.5)
    assert (g.hidden_size, g.num_attention_heads, g.num_hidden_layers, g.intermediate_size) == (256, 4, 6, 1024)
    large = scratch_config("large", 30522, 0)
    assert (large.hidden_size, large.num_hidden_layers) == (1024, 24)
    with pytest.raises(UserError, match="scratch:tiny"):
        scratch_config("huge", 100, 0)


def test_scratch_pair_uses_the_preset_generator_fraction_and_ties_embeddings():
    generator, discriminator, facts = load_pair("scratch:tiny", 500, 0, seed=1)
    assert facts.kind == "scratch" and discriminator.config.vocab_size == 500
    assert generator.config.hidden_size == 64  # tiny: 2 heads of 64 at 1/4 -> one head
    assert generator.electra.embeddings is discriminator.electra.embeddings
    again, _, _ = load_pair("scratch:tiny", 500, 0, seed=1)
    assert torch.equal(again.generator_lm_head.bias, generator.generator_lm_head.bias)


def test_an_exported_gdes_pair_reloads_as_the_same_models(tmp_path):
    generator, discriminator, _ = load_pair("scratch:micro", 85, 0, embedding_sharing="gdes", seed=0)
    with torch.no_grad():
        discriminator.electra.embeddings.word_embeddings.delta.add_(0.5)
    plain = plain_discriminator(discriminator)
    assert not isinstance(plain.electra.embeddings.word_embeddings, GDESEmbedding)
    plain.save_pretrained(tmp_path / "discriminator")
    generator.save_pretrained(tmp_path / "generator")
    gen2, disc2, facts = load_pair(str(tmp_path), 85, 0, embedding_sharing="gdes")
    assert facts.kind == "electra-pair" and facts.generator == "loaded"
    words = disc2.electra.embeddings.word_embeddings
    assert torch.allclose(words.delta, torch.full_like(words.delta, 0.5), atol=1e-6)
    assert torch.equal(gen2.electra.embeddings.word_embeddings.weight, generator.electra.embeddings.word_embeddings.weight)


def test_vocabulary_mismatch_is_a_user_error(tmp_path):
    facts = InitFacts("bert", str(MINILM), "copy-2", str(MINILM))
    with pytest.raises(UserError, match="tokenizer extend"):
        check_vocabulary({"vocab_size": 40000, "tokenizer": str(MINILM)}, 30522, facts)
    if MINILM.is_dir():
        other = tiny_tokenizer(tmp_path / "tok")
        with pytest.raises(UserError, match="vocabulary differs"):
            check_vocabulary({"vocab_size": 85, "tokenizer": str(other)}, 30522, facts)
        check_vocabulary({"vocab_size": 30522, "tokenizer": str(MINILM)}, 30522, facts)  # same folder: fine


def test_bad_init_values_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_pair(str(tmp_path / "missing"), 10, 0)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="config.json"):
        load_pair(str(tmp_path / "empty"), 10, 0)
    (tmp_path / "gpt").mkdir()
    (tmp_path / "gpt" / "config.json").write_text('{"model_type": "gpt2"}')
    with pytest.raises(UserError, match="gpt2"):
        load_pair(str(tmp_path / "gpt"), 10, 0)
