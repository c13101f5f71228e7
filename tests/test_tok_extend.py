"""Vocabulary extension with Fast Vocabulary Transfer on a tiny seeded ELECTRA export."""
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import CHECKPOINTS
import torch

from domain_electra.errors import UserError
from domain_electra.tokenization import ExtendConfig, extend_tokenizer, load_tokenizer
from domain_electra.tokenization.loader import copy_tokenizer_files

MINILM = CHECKPOINTS / "minilm-l6-h384-uncased"
pytestmark = pytest.mark.skipif(not MINILM.is_dir(), reason="MiniLM checkpoint (its BERT vocab) not built")

LEGAL = ("The Licensee shall provide indemnification and the indemnitee accepts it; "
         "subrogation rights and the arbitrability of claims survive. ")


def _tiny_export(folder: Path) -> Path:
    """A seeded ELECTRA pretraining export: discriminator/ + generator/ with the BERT uncased vocab."""
    from transformers import ElectraConfig, ElectraForMaskedLM, ElectraForPreTraining

    torch.manual_seed(0)
    disc = ElectraConfig(vocab_size=30522, embedding_size=32, hidden_size=32, num_hidden_layers=2,
                         num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
    gen = ElectraConfig(**{**disc.to_dict(), "hidden_size": 16, "intermediate_size": 32})
    for name, model in (("discriminator", ElectraForPreTraining(disc)), ("generator", ElectraForMaskedLM(gen))):
        model.save_pretrained(str(folder / name))
        copy_tokenizer_files(MINILM, folder / name)
    return folder


@pytest.fixture(scope="module")
def extended(tmp_path_factory):
    root = tmp_path_factory.mktemp("ext")
    base = _tiny_export(root / "base")
    corpus = root / "corpus"
    corpus.mkdir()
    rows = [{"text": LEGAL * 3, "source": str(i), "domain": "legal", "language": "en", "hash": str(i)}
            for i in range(20)]
    pq.write_table(pa.Table.from_pylist(rows), corpus / "train-00000.parquet")
    stats = extend_tokenizer(ExtendConfig(domain="legal", max_new_tokens=3, min_frequency=10), base, corpus,
                             root / "out")
    return base, root / "out", stats


def test_chooses_fragmented_frequent_words(extended):
    _, out, stats = extended
    added = [t["token"] for t in stats["new_tokens"]]
    assert stats["added"] == 3 and stats["vocab_size"] == 30525
    assert {"indemnification", "subrogation"} & set(added)  # split into several pieces by BERT uncased
    gains = [t["gain"] for t in stats["new_tokens"]]
    assert gains == sorted(gains, reverse=True)
    assert stats["tokens_per_word_after"] < stats["tokens_per_word_before"]


def test_extended_loads_and_new_words_are_single_tokens(extended):
    from transformers import AutoTokenizer, ElectraForMaskedLM, ElectraForPreTraining

    _, out, stats = extended
    for name in ("discriminator", "generator"):
        auto = AutoTokenizer.from_pretrained(str(out / name))
        assert len(auto) == 30525
        for item in stats["new_tokens"]:
            assert auto(item["token"], add_special_tokens=False)["input_ids"] == [auto.convert_tokens_to_ids(item["token"])]
    assert ElectraForPreTraining.from_pretrained(str(out / "discriminator")).config.vocab_size == 30525
    assert ElectraForMaskedLM.from_pretrained(str(out / "generator")).config.vocab_size == 30525


def test_fvt_rows_are_means_of_old_pieces(extended):
    from transformers import ElectraForMaskedLM, ElectraForPreTraining

    base, out, stats = extended
    old_tok = load_tokenizer(base / "discriminator")
    for name, cls in (("discriminator", ElectraForPreTraining), ("generator", ElectraForMaskedLM)):
        old = cls.from_pretrained(str(base / name)).get_input_embeddings().weight
        new = cls.from_pretrained(str(out / name)).get_input_embeddings().weight
        assert torch.equal(new[:30522], old)
        for i, item in enumerate(stats["new_tokens"]):
            pieces = old_tok.encode(item["token"])
            assert len(pieces) == item["pieces"] >= 2
            torch.testing.assert_close(new[30522 + i], old[pieces].mean(dim=0), rtol=0, atol=1e-6)


def test_outputs_unchanged_on_old_vocabulary_text(extended):
    from transformers import ElectraForMaskedLM, ElectraForPreTraining

    base, out, _ = extended
    text = "The parties agree that this contract is governed by the laws of the state."
    old_tok, new_tok = load_tokenizer(base / "discriminator"), load_tokenizer(out / "discriminator")
    old_batch, new_batch = old_tok.batch([text], 32), new_tok.batch([text], 32)
    assert torch.equal(old_batch["input_ids"], new_batch["input_ids"])
    for name, cls in (("discriminator", ElectraForPreTraining), ("generator", ElectraForMaskedLM)):
        before = cls.from_pretrained(str(base / name)).eval()(**old_batch).logits
        after = cls.from_pretrained(str(out / name)).eval()(**new_batch).logits
        torch.testing.assert_close(after[..., :before.shape[-1]], before, rtol=0, atol=1e-6)


def test_single_model_folder_and_bad_base(tmp_path, extended):
    with pytest.raises(UserError, match="not a model folder"):
        extend_tokenizer(ExtendConfig(max_new_tokens=1), tmp_path, tmp_path, tmp_path / "o")
    base, _, _ = extended
    corpus = tmp_path / "c"
    corpus.mkdir()
    pq.write_table(pa.Table.from_pylist([{"text": LEGAL * 30, "language": "en"}]), corpus / "train-00000.parquet")
    stats = extend_tokenizer(ExtendConfig(max_new_tokens=2, min_frequency=5), base / "generator", corpus, tmp_path / "o")
    assert stats["models"] == ["."] and (tmp_path / "o" / "model.safetensors").is_file()
    assert json.loads((tmp_path / "o" / "config.json").read_text())["vocab_size"] == 30524
