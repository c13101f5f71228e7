"""A code tokenizer outside the toolkit: plain AutoTokenizer's raw-text fallback against the tree-sitter ids,
measured on held-out stdlib files, and the documented one-call path that gives the training-time ids."""
import shutil
import sysconfig
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from domain_electra.tokenization import TokenizerTrainConfig, load_tokenizer, train_tokenizer
from domain_electra.tokenization.loader import fallback_agreement, raw_code_normalizer, upgrade_raw_fallback

STDLIB = Path(sysconfig.get_paths()["stdlib"])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    files = sorted(STDLIB.glob("*.py"))
    texts = [p.read_text(encoding="utf-8") for p in files[:40]]
    held_out = [t for t in (p.read_text(encoding="utf-8") for p in files[40:70]) if len(t) < 10_000][:8]
    corpus = tmp_path_factory.mktemp("corpus")
    for split, part in (("train", texts[:32]), ("validation", texts[32:36])):
        rows = [{"text": t, "source": f"doc{i}", "domain": "code", "language": "python", "hash": f"{split}{i}"}
                for i, t in enumerate(part)]
        pq.write_table(pa.Table.from_pylist(rows), corpus / f"{split}-00000.parquet")
    out = tmp_path_factory.mktemp("tok")
    train_tokenizer(TokenizerTrainConfig(domain="code", vocab_size=2000), corpus, out, progress=False)
    return out, held_out  # never seen by the trainer; small files keep the test fast


def _with_old_fallback(folder: Path, dest: Path) -> Path:
    """The tokenizer.json normalizer shipped before 2026-12-02: spaces, tabs and newlines mapped, nothing else."""
    from tokenizers import Tokenizer, normalizers

    shutil.copytree(folder, dest)
    backend = Tokenizer.from_file(str(dest / "tokenizer.json"))
    backend.normalizer = normalizers.Sequence([normalizers.Replace(" ", "▁"), normalizers.Replace("\t", "␉"),
                                               normalizers.Replace("\n", "↵")])
    backend.save(str(dest / "tokenizer.json"))
    return dest


def test_raw_normalizer_writes_the_layout_one_line_can_tell():
    text = "def f(x):  \r\n    if x:\n        return 1\n    else:\n        y = [\n            2]\n"
    assert raw_code_normalizer().normalize_str(text) == \
        "def▁f(x):↵⇢if▁x:↵⇢return▁1↵⇠else:↵⇢y▁=▁[↵⇢2]↵"


def test_fallback_agreement_is_measured_on_held_out_files(trained, tmp_path):
    folder, held_out = trained
    now = fallback_agreement(folder, held_out, ["python"] * len(held_out))
    before = fallback_agreement(_with_old_fallback(folder, tmp_path / "old"), held_out, ["python"] * len(held_out))
    assert now["files"] == before["files"] == 8
    # Only the file without an indented block (contextvars.py) comes out identical: no regex can count
    # indentation levels. Token agreement (pinned, 2k vocabulary; 16k in benchmarks/RESULTS.md):
    assert now["identical"] == before["identical"] == 1
    assert now["token_agreement"] == pytest.approx(0.958, abs=0.01)
    assert before["token_agreement"] == pytest.approx(0.941, abs=0.01)
    assert now["token_agreement"] > before["token_agreement"]
    assert abs(now["length_ratio"] - 1) < abs(before["length_ratio"] - 1)


def test_documented_one_call_path_gives_the_training_time_ids(trained, tmp_path):
    from transformers import AutoTokenizer

    from domain_electra.pretrain.export import copy_tokenizer

    folder, held_out = trained
    model_dir = tmp_path / "discriminator"  # what export writes next to the weights
    model_dir.mkdir()
    assert copy_tokenizer(str(folder), model_dir)
    packer = load_tokenizer(folder)  # the packing workers' tokenizer: the ids pretraining saw
    one_call = load_tokenizer(model_dir)
    plain = AutoTokenizer.from_pretrained(str(model_dir))
    differ = 0
    for text in held_out:
        trained_ids = packer.encode_arrays([text], ["python"])[0][0].tolist()
        batch = one_call.batch([text], max_length=len(trained_ids) + 2, language="python")
        assert batch["input_ids"][0].tolist() == [packer.cls_id, *trained_ids, packer.sep_id]
        differ += plain(text, add_special_tokens=False, verbose=False)["input_ids"] != trained_ids
    assert differ == 7  # plain AutoTokenizer: every file with an indented block


def test_old_code_tokenizer_folder_gets_the_current_fallback(trained, tmp_path):
    folder, held_out = trained
    old = _with_old_fallback(folder, tmp_path / "old")
    before = load_tokenizer(old).encode(held_out[0], "python")
    assert upgrade_raw_fallback(old) and not upgrade_raw_fallback(old)
    assert load_tokenizer(old).encode(held_out[0], "python") == before  # the toolkit's ids never use it
    assert (old / "tokenizer.json").read_text() == (folder / "tokenizer.json").read_text()
