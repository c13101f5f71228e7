"""The training loop end to end on CPU: output folder, pinned losses, exact resume, budgets, faults, and a
smoke test from the real MiniLM checkpoint."""
from __future__ import annotations

import json
import math
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_pretrain_common import MINILM, real_tokens, stdlib_texts, tiny_config, tiny_tokens, one_thread  # noqa: E402,F401

from domain_electra.errors import UserError  # noqa: E402
from domain_electra.pretrain import pretrain  # noqa: E402

# First three training losses (MLM + 50 RTD) of the seeded micro model on the synthetic tokens (CPU, fp32),
# under ELECTRA's 85/15 corruption.
PINNED_LOSSES = [39.187840, 38.896721, 38.451782]
# The same for objective mlm (the full-size micro model and a fresh tied head, BERT's 80/10/10).
PINNED_MLM_LOSSES = [4.448596, 4.440016, 4.414155]
METRIC_KEYS = {"step", "tokens", "split", "gen_loss", "gen_acc", "disc_loss", "disc_acc", "disc_auc", "lr",
               "tokens_per_s"}


@pytest.fixture(scope="module")
def tokens(tmp_path_factory) -> Path:
    return tiny_tokens(tmp_path_factory.mktemp("data") / "tokens", seq_len=32)


@pytest.fixture(scope="module")
def finished(tokens, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("run") / "out"
    return out, pretrain(tiny_config(), tokens, out, progress=False)


def _rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_run_writes_the_documented_output_folder(finished):
    from transformers import AutoModel, AutoTokenizer, ElectraForMaskedLM, ElectraForPreTraining

    out, result = finished
    assert result["steps"] == 6 and result["tokens"] == 6 * 8 * 32 and result["stop_reason"] == "max_steps"
    rows = _rows(out)
    assert [r["step"] for r in rows if r["split"] == "train"] == [1, 2, 3, 4, 5, 6]
    assert [r["step"] for r in rows if r["split"] == "validation"] == [0, 3, 6]
    assert all(METRIC_KEYS <= set(r) for r in rows)
    assert all(0.0 <= r["disc_auc"] <= 1.0 for r in rows if r["split"] == "validation")
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["best.json", "step-00000003", "step-00000006"]
    for role in ("discriminator", "generator"):
        card = (out / role / "README.md").read_text()
        assert "Optimizer steps: 6" in card and "scratch:micro" in card and "domain-electra finetune" in card
    assert AutoModel.from_pretrained(out / "discriminator").config.model_type == "electra"
    assert ElectraForPreTraining.from_pretrained(out / "discriminator").config.vocab_size == 85
    assert ElectraForMaskedLM.from_pretrained(out / "generator").config.hidden_size == 32  # micro: 2 heads of 32 at 1/2 -> one head
    assert AutoTokenizer.from_pretrained(out / "discriminator").tokenize("w3 w7") == ["w3", "w7"]
    assert (out / "curves.png").stat().st_size > 10_000


def test_losses_are_pinned(finished):
    losses = [r["loss"] for r in _rows(finished[0]) if r["split"] == "train"][:3]
    assert all(math.isfinite(x) for x in losses)
    assert losses == pytest.approx(PINNED_LOSSES, abs=1e-4)


def test_resuming_from_an_earlier_checkpoint_ends_with_identical_weights(finished, tokens, tmp_path):
    out, _ = finished
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    shutil.rmtree(copy / "checkpoints" / "step-00000006")  # as if killed between step 3 and step 6
    for role in ("discriminator", "generator"):
        shutil.rmtree(copy / role)
    result = pretrain(tiny_config(), tokens, copy, progress=False)
    assert result["steps"] == 6
    a = load_file(out / "checkpoints" / "step-00000006" / "model.safetensors")
    b = load_file(copy / "checkpoints" / "step-00000006" / "model.safetensors")
    assert max((a[k] - b[k]).abs().max().item() for k in a) <= 1e-5
    assert [r["step"] for r in _rows(copy)] == [r["step"] for r in _rows(out)]  # no duplicated lines


def test_mlm_objective_run_pins_its_losses_and_exports_like_rtd(tokens, tmp_path):
    from transformers import AutoModel, AutoModelForMaskedLM

    result = pretrain(tiny_config(objective="mlm"), tokens, tmp_path / "out", progress=False)
    rows = _rows(tmp_path / "out")
    train = [r for r in rows if r["split"] == "train"]
    assert [r["loss"] for r in train][:3] == pytest.approx(PINNED_MLM_LOSSES, abs=1e-4)
    assert all(r["loss"] == pytest.approx(r["gen_loss"]) and r["disc_auc"] is None for r in rows)
    assert result["tokens"] == 6 * 8 * 32  # same steps and tokens as the RTD run of the same config
    encoder = AutoModel.from_pretrained(result["discriminator"])
    mlm = AutoModelForMaskedLM.from_pretrained(result["generator"])
    assert mlm.config.num_hidden_layers == encoder.config.num_hidden_layers == 2 and mlm.config.hidden_size == 64
    ours, theirs = encoder.state_dict(), mlm.electra.state_dict()
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)
    saved = load_file(tmp_path / "out" / "checkpoints" / "step-00000006" / "model.safetensors")
    assert any(k.startswith("generator.generator_predictions") for k in saved)  # the MLM head is checkpointed
    assert "`objective: mlm`" in (tmp_path / "out" / "discriminator" / "README.md").read_text()


def test_resume_under_a_different_objective_is_refused(finished, tokens, tmp_path):
    copy = tmp_path / "out"
    shutil.copytree(finished[0], copy)
    with pytest.raises(UserError, match="rtd_weight"):
        pretrain(tiny_config(rtd_weight=10.0), tokens, copy, progress=False)


def test_a_minutes_budget_ends_cleanly_with_an_export(tokens, tmp_path):
    config = tiny_config(max_steps=None, max_minutes=0.03, eval_every=1000, save_every=1000)
    result = pretrain(config, tokens, tmp_path / "out", progress=True)
    assert result["stop_reason"] == "max_minutes" and result["steps"] >= 1
    assert (tmp_path / "out" / "discriminator" / "model.safetensors").is_file()
    assert result["validation"]["disc_auc"] >= 0.0


def test_repeated_non_finite_losses_stop_the_run_with_a_clear_message(tokens, tmp_path, monkeypatch):
    from domain_electra.pretrain import objective

    real = objective.electra_losses
    monkeypatch.setattr(objective, "electra_losses",
                        lambda out, w: {**(r := real(out, w)), "loss": r["loss"] * float("nan")})
    with pytest.raises(UserError, match="non-finite for 2 consecutive steps"):
        pretrain(tiny_config(max_nonfinite_steps=2), tokens, tmp_path / "out", progress=False)


def test_gdes_run_exports_a_plain_discriminator(tokens, tmp_path):
    from transformers import ElectraForPreTraining

    result = pretrain(tiny_config(embedding_sharing="gdes", max_steps=2, span_masking=True), tokens,
                      tmp_path / "out", progress=False)
    state = load_file(tmp_path / "out" / "checkpoints" / "step-00000002" / "model.safetensors")
    delta = state["discriminator.electra.embeddings.word_embeddings.delta"]
    assert delta.abs().max() > 0  # the RTD loss trained the residual
    exported = ElectraForPreTraining.from_pretrained(result["discriminator"])
    # safetensors stores a shared tensor once, under one of its names
    names = ("generator.electra.embeddings.word_embeddings.weight", "generator.generator_lm_head.weight",
             "discriminator.electra.embeddings.word_embeddings.shared.weight")
    shared = next(state[n] for n in names if n in state)
    assert torch.allclose(exported.electra.embeddings.word_embeddings.weight, shared + delta, atol=1e-6)


def test_real_minilm_checkpoint_smoke(tmp_path):
    if not MINILM.is_dir():
        pytest.skip(f"{MINILM} absent (build it with ../shared/tools/prepare_checkpoints.py)")
    from transformers import AutoModel, AutoTokenizer

    tokens = real_tokens(tmp_path / "tokens", MINILM, stdlib_texts(60_000), seq_len=64)
    config = replace(tiny_config(), init=str(MINILM), batch_size=4, max_steps=3, eval_batches=1, lr=1e-4)
    result = pretrain(config, tokens, tmp_path / "out", progress=False)
    assert result["steps"] == 3 and math.isfinite(result["validation"]["loss"])
    assert 0.0 <= result["validation"]["disc_auc"] <= 1.0
    model = AutoModel.from_pretrained(result["discriminator"])
    assert model.config.hidden_size == 384 and model.config.vocab_size == 30522
    assert len(AutoTokenizer.from_pretrained(result["discriminator"])) == 30522
