"""`pretrain --corpus` keeps every artifact under --out, and an exported model tells the world no local path."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_pretrain_common import one_thread, tiny_config, tiny_tokenizer  # noqa: E402,F401

from domain_electra import stages  # noqa: E402

SECRET = "ACME-Confidential-Client-7f3a9"  # a folder name that must not leave the machine


def _corpus(folder: Path, n_train: int = 40, n_val: int = 8) -> Path:
    import numpy as np

    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), ("validation", n_val)):
        texts = [" ".join(f"w{int(i)}" for i in rng.integers(0, 40, int(rng.integers(10, 40)))) for _ in range(n)]
        rows = [{"text": t, "source": f"doc{i}", "domain": "legal", "language": "en", "hash": f"{split}{i}"}
                for i, t in enumerate(texts)]
        pq.write_table(pa.Table.from_pylist(rows), folder / f"{split}-00000.parquet")
    return folder


def _run(root: Path, **overrides):
    config = tiny_config(max_steps=2, save_every=2, eval_every=2, **overrides)
    return stages.pretrain_command(config, None, root / "corpus", None, root / "tokenizer", 32, root / "run", False)


def test_packed_tokens_live_under_out_and_survive_a_config_change(tmp_path):
    root = tmp_path / SECRET
    _corpus(root / "corpus")
    tiny_tokenizer(root / "tokenizer")
    first = _run(root)
    assert not first.skipped and (root / "run" / "tokens" / "manifest.json").is_file()
    assert sorted(p.name for p in root.iterdir()) == ["corpus", "run", "tokenizer"]  # nothing beside --out
    assert first.manifest["inputs"]["tokens"]["path"] == str((root / "run" / "tokens").resolve())
    packed_at = json.loads((root / "run" / "tokens" / "manifest.json").read_text())["finished"]
    assert _run(root).skipped  # same command again: both stages up to date
    second = _run(root, lr=2e-3)  # another config: pretraining reruns, the packed tokens are reused
    assert not second.skipped and second.manifest["outputs"]["steps"] == 2
    assert json.loads((root / "run" / "tokens" / "manifest.json").read_text())["finished"] == packed_at
    assert not (root / "run" / ".domain-electra.lock").exists()


def test_exported_folders_name_no_local_path(tmp_path):
    root = tmp_path / SECRET
    _corpus(root / "corpus")
    tiny_tokenizer(root / "tokenizer")
    _run(root)
    run = root / "run"
    exported = [p for role in ("discriminator", "generator") for p in (run / role).rglob("*") if p.is_file()]
    assert {"README.md", "config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors"} <= {
        p.name for p in exported}
    for path in exported:  # every file, weights included, as bytes
        data = path.read_bytes()
        assert SECRET.encode() not in data and str(tmp_path).encode() not in data, path
    card = (run / "discriminator" / "README.md").read_text()
    tokens_sum = sum(s["tokens"] for s in json.loads((run / "tokens" / "meta.json").read_text())["splits"].values())
    assert "Corpus `corpus`: 48 documents" in card and f"{tokens_sum:,} tokens" in card
    assert "Base checkpoint: `scratch:micro`" in card and "Tokenizer: `tokenizer`" in card
    import hashlib

    digest = hashlib.sha256()
    for split in ("train", "validation"):
        digest.update(split.encode() + b"\0" + (run / "tokens" / f"{split}.ids.bin").read_bytes())
    assert digest.hexdigest() in card
    # the local manifest keeps the absolute paths (it stays with the run, not with the exported models)
    assert SECRET in (run / "manifest.json").read_text()


def test_public_name_keeps_hub_ids_and_drops_parent_folders(tmp_path):
    from domain_electra.pretrain.export import public_name

    folder = tmp_path / SECRET / "minilm-l6-h384-uncased"
    folder.mkdir(parents=True)
    assert public_name(str(folder)) == "minilm-l6-h384-uncased"
    assert public_name("google/electra-small-discriminator") == "google/electra-small-discriminator"
    assert public_name("scratch:small") == "scratch:small"
    assert public_name(f"/nonexistent/{SECRET}/model") == "model"


def test_code_model_card_says_how_to_get_the_training_time_ids(tmp_path):
    from domain_electra.pretrain.export import _code_tokenizer_note

    folder = tmp_path / "discriminator"
    folder.mkdir()
    assert _code_tokenizer_note(folder) == ""  # not a code tokenizer: nothing to say
    (folder / "domain_electra_tokenizer.json").write_text(json.dumps({"pretokenizer": "code"}))
    note = _code_tokenizer_note(folder)
    assert "from domain_electra.tokenization import load_tokenizer" in note and ".batch(" in note
    assert "1 whole file" in note and "0.948" in note  # the measured cost of plain AutoTokenizer
