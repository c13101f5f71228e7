"""Train a code tokenizer on real stdlib files, load it every way, pack, and read the packed arrays."""
import json
import sysconfig
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import CHECKPOINTS

from domain_electra.errors import UserError
from domain_electra.tokenization import (PackConfig, PackedTokens, TokenizerTrainConfig, load_tokenizer,
                                         pack_corpus, train_tokenizer)
from domain_electra.tokenization.code_pretokenizer import normalize_code

STDLIB = Path(sysconfig.get_paths()["stdlib"])
MINILM = CHECKPOINTS / "minilm-l6-h384-uncased"


def _write_corpus(folder: Path, train: list[str], validation: list[str], language="python") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for split, texts in (("train", train), ("validation", validation)):
        rows = [{"text": t, "source": f"doc{i}", "domain": "code", "language": language, "hash": str(i)}
                for i, t in enumerate(texts)]
        pq.write_table(pa.Table.from_pylist(rows), folder / f"{split}-00000.parquet")
    return folder


@pytest.fixture(scope="module")
def code_tokenizer(tmp_path_factory):
    files = sorted(STDLIB.glob("*.py"))
    texts = [p.read_text(encoding="utf-8") for p in files[:40]]
    corpus = _write_corpus(tmp_path_factory.mktemp("corpus"), texts[:32], texts[32:40])
    out = tmp_path_factory.mktemp("tok")
    stats = train_tokenizer(TokenizerTrainConfig(domain="code", vocab_size=2000), corpus, out, progress=False)
    return corpus, out, stats, texts


def test_train_writes_loadable_folder(code_tokenizer):
    from transformers import AutoTokenizer

    corpus, out, stats, _ = code_tokenizer
    assert stats["vocab_size"] == 2000 and stats["documents"] == 32 and stats["pretokenizer"] == "code"
    assert json.loads((out / "domain_electra_tokenizer.json").read_text()) == {"pretokenizer": "code",
                                                                               "default_language": "python"}
    auto = AutoTokenizer.from_pretrained(str(out))
    ids = auto("def f(x):\n    return x\n")["input_ids"]
    assert ids[0] == auto.cls_token_id and ids[-1] == auto.sep_token_id and len(ids) > 4


def test_special_tokens_encode_to_single_ids(code_tokenizer):
    _, out, _, _ = code_tokenizer
    tok = load_tokenizer(out)
    for name in ("pad", "cls", "sep", "mask", "unk"):
        token = getattr(tok.hf, f"{name}_token")
        assert tok.encode(token) == [getattr(tok, f"{name}_id")]
        assert tok.hf(token, add_special_tokens=False)["input_ids"] == [getattr(tok, f"{name}_id")]
    from domain_electra.tokenization.train import get_recipe

    for token in get_recipe("code").extra_tokens:  # the recipe's extra tokens (if any) stay whole too
        assert len(tok.encode(token)) == 1
    ids = tok.encode("x = [MASK](y)\n")  # a special token written inside code stays one id
    assert ids.count(tok.mask_id) == 1 and tok.unk_id not in ids


def test_joined_encoding_equals_per_pre_token_encoding(code_tokenizer):
    # encode_arrays hands tokenizers one space-joined string per text (faster); it must give exactly the
    # ids and flags of the per-pre-token (is_pretokenized) encoding, special tokens in the text included.
    _, out, _, texts = code_tokenizer
    tok = load_tokenizer(out)
    samples = texts[32:40] + ["x = [MASK](y)\n", "[CLS] a\u3000b\x0cc [SEP]\n", "", "\u00e9t\u00e9 = 'caf\u00e9'\n"]
    for text, (ids, ws, ss) in zip(samples, tok.encode_arrays(samples, ["python"] * len(samples))):
        pre = tok._pretokenize(text, "python")
        if not pre.words:
            assert len(ids) == 0
            continue
        enc = tok._backend.encode(pre.words, is_pretokenized=True, add_special_tokens=False)
        word_ids = np.array(enc.word_ids)
        first = np.r_[True, word_ids[1:] != word_ids[:-1]]
        assert ids.tolist() == enc.ids
        assert ws.tolist() == (np.array(pre.word_start)[word_ids] & first).astype(np.uint8).tolist()
        assert ss.tolist() == (np.array(pre.span_start)[word_ids] & first).astype(np.uint8).tolist()


def test_code_round_trip_on_held_out_files(code_tokenizer):
    _, out, _, texts = code_tokenizer
    tok = load_tokenizer(out)
    for text in texts[32:40]:
        ids = tok.encode(text)
        if tok.unk_id in ids:  # a character never seen in training; the pre-tokenizer test covers those
            continue
        assert tok.decode(ids) == normalize_code(text)
    ids, word_start, span_start = tok.encode_with_structure("user_id = getUserById(42)\n")
    assert len(ids) == len(word_start) == len(span_start)
    assert word_start[0] and not all(word_start) and all(w for w, s in zip(word_start, span_start) if s)


def test_batch_pairs_truncation_and_padding(code_tokenizer):
    _, out, _, _ = code_tokenizer
    tok = load_tokenizer(out)
    batch = tok.batch(["a = 1\n", "x = foo(bar, baz)\n" * 20], max_length=16, text_pairs=["b\n", "c\n"])
    ids, mask, types = batch["input_ids"], batch["attention_mask"], batch["token_type_ids"]
    assert ids.shape == mask.shape == types.shape and ids.shape[1] == 16
    assert (ids[:, 0] == tok.cls_id).all() and ids[0, mask[0].sum() - 1] == tok.sep_id
    assert (ids[0][mask[0] == 0] == tok.pad_id).all() and types[1].max() == 1


def test_plain_hf_folder_loads_as_bert():
    if not MINILM.is_dir():
        pytest.skip("MiniLM checkpoint not built (../shared/tools/prepare_checkpoints.py)")
    tok = load_tokenizer(MINILM)
    assert tok.pretokenizer == "bert" and tok.vocab_size == 30522
    ids, word_start, _ = tok.encode_with_structure("Acetaminophen dosing")
    assert tok.hf.convert_ids_to_tokens(ids)[0] == "ace" and word_start == [not t.startswith("##") for t in
                                                                           tok.hf.convert_ids_to_tokens(ids)]
    assert tok.decode(ids) == "acetaminophen dosing"


def _pack(corpus, tok, out, **kw):
    return pack_corpus(PackConfig(seq_len=64, **kw), corpus, tok, out, progress=False)


def test_pack_format_and_determinism(code_tokenizer, tmp_path):
    corpus, out, _, texts = code_tokenizer
    meta = _pack(corpus, out, tmp_path / "a", seed=1, max_docs=10)
    _pack(corpus, out, tmp_path / "b", seed=1, workers=2, max_docs=10)
    _pack(corpus, out, tmp_path / "c", seed=2, max_docs=10)
    for name in ("ids", "word_start", "span_start"):
        assert (tmp_path / "a" / f"train.{name}.bin").read_bytes() == (tmp_path / "b" / f"train.{name}.bin").read_bytes()
    assert (tmp_path / "a" / "train.ids.bin").read_bytes() != (tmp_path / "c" / "train.ids.bin").read_bytes()
    on_disk = json.loads((tmp_path / "a" / "meta.json").read_text())
    assert on_disk["dtype"] == "uint16" and on_disk["seq_len"] == 64 and on_disk["seed"] == 1
    assert set(on_disk["special_ids"]) == {"pad", "cls", "sep", "mask", "unk"}
    data = PackedTokens(tmp_path / "a", "train")
    sp = on_disk["special_ids"]
    assert len(data) == meta["splits"]["train"]["sequences"] and data.ids.shape == (len(data), 64)
    assert (data.ids[:, 0] == sp["cls"]).all()
    assert (data.ids == sp["sep"]).sum() == on_disk["splits"]["train"]["documents"] == 10
    pad_rows = np.flatnonzero((data.ids == sp["pad"]).any(axis=1))
    assert set(pad_rows) <= {len(data) - 1}  # padding only in the last row
    special = np.isin(data.ids, [sp["cls"], sp["sep"], sp["pad"]])
    assert data.word_start[special].all() and data.span_start[special].all()
    # Unpacking the stream gives back every document's tokens.
    tok = load_tokenizer(out)
    stream = data.ids[:, 1:].reshape(-1)
    docs = [d for d in np.split(stream, np.flatnonzero(stream == sp["sep"]) + 1) if len(d)]
    lengths = sorted(len(d) - 1 for d in docs if d[-1] == sp["sep"])
    assert lengths == sorted(len(tok.encode(t)) for t in texts[:10])
    batch = data.batch([3, 0, 2])
    assert (batch["ids"][1] == data[0]["ids"]).all() and batch["span_start"].shape == (3, 64)


def test_pack_without_train_split_is_a_user_error(code_tokenizer, tmp_path):
    _, out, _, _ = code_tokenizer
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no train shards"):
        _pack(tmp_path / "empty", out, tmp_path / "x")


def test_packed_reader_rejects_truncated_file(code_tokenizer, tmp_path):
    corpus, out, _, _ = code_tokenizer
    _pack(corpus, out, tmp_path / "p", max_docs=4)
    path = tmp_path / "p" / "train.ids.bin"
    path.write_bytes(path.read_bytes()[:-2])
    with pytest.raises(ValueError, match="re-run pack"):
        PackedTokens(tmp_path / "p", "train")


def test_train_unigram_bert_style(tmp_path):
    text = ("The Licensee shall indemnify the Licensor against every claim under Section {}. "
            "Indemnification survives termination.\n")
    corpus = _write_corpus(tmp_path / "c", [text.format(i) * 5 for i in range(60)], [text.format(0)], "en")
    stats = train_tokenizer(TokenizerTrainConfig(domain="legal", vocab_size=300, model="unigram"), corpus,
                            tmp_path / "t", progress=False)
    tok = load_tokenizer(tmp_path / "t")
    assert stats["model"] == "unigram" and tok.pretokenizer == "bert"
    ids, word_start, _ = tok.encode_with_structure("the licensee shall indemnify")
    assert sum(word_start) == 4 and tok.unk_id not in ids  # legal recipe lowercases
