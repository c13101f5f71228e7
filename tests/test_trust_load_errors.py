"""No failure passes silently: a tokenizer that fails to load never skips the vocabulary check, and a model
that fails to load keeps its cause (the traceback with --debug / DOMAIN_ELECTRA_DEBUG=1, one line otherwise)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import run_cli  # noqa: E402
from test_pretrain_common import tiny_tokenizer  # noqa: E402

from domain_electra.errors import UserError  # noqa: E402
from domain_electra.modeling import InitFacts, check_vocabulary  # noqa: E402


def _facts(tokenizer_dir: str) -> InitFacts:
    return InitFacts("bert", "ckpt/base-model", "random", tokenizer_dir)


def test_broken_local_tokenizer_is_a_one_line_error_naming_it(tmp_path):
    packed = tiny_tokenizer(tmp_path / "packed-with")
    broken = tiny_tokenizer(tmp_path / "init-tokenizer")
    (broken / "tokenizer.json").write_text("{ not json")
    (broken / "vocab.txt").unlink()
    with pytest.raises(UserError) as err:
        check_vocabulary({"vocab_size": 85, "tokenizer": str(packed)}, 85, _facts(str(broken)))
    message = str(err.value)
    assert "\n" not in message and f"the tokenizer of ckpt/base-model in {broken} fails to load" in message
    assert "repair or re-save that folder" in message and err.value.__cause__ is not None
    # the opt-out is for a tokenizer that is not here, not for one that is broken
    with pytest.raises(UserError, match="fails to load"):
        check_vocabulary({"vocab_size": 85, "tokenizer": str(packed)}, 85, _facts(str(broken)), required=False)


def test_tokenizer_not_available_here_needs_an_explicit_opt_out(tmp_path, monkeypatch, capsys):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # as HF_HUB_OFFLINE=1 does at import
    packed = tiny_tokenizer(tmp_path / "packed-with")
    meta = {"vocab_size": 85, "tokenizer": str(packed)}
    for missing in ("some-org/not-cached-tokenizer", str(tmp_path / "moved-away")):
        with pytest.raises(UserError) as err:
            check_vocabulary(meta, 85, _facts(missing))
        message = str(err.value)
        assert "\n" not in message and f"the tokenizer of ckpt/base-model {missing} is not available here" in message
        assert "--set verify_vocabulary=false" in message
        check_vocabulary(meta, 85, _facts(missing), required=False)  # opted out: a warning, no error
        warning = capsys.readouterr().err.strip().splitlines()
        assert len(warning) == 1 and warning[0].startswith("warning: vocabulary check skipped") and missing in warning[0]


def test_same_vocabulary_in_two_folders_passes_and_a_different_one_fails(tmp_path):
    a, b = tiny_tokenizer(tmp_path / "a"), tiny_tokenizer(tmp_path / "b")
    check_vocabulary({"vocab_size": 85, "tokenizer": str(a)}, 85, _facts(str(b)))
    lines = (b / "vocab.txt").read_text().splitlines()
    lines[10], lines[11] = lines[11], lines[10]
    (b / "vocab.txt").write_text("\n".join(lines) + "\n")
    (b / "tokenizer.json").unlink()  # rebuilt from the edited vocab.txt
    with pytest.raises(UserError, match="2 of 85 tokens differ"):
        check_vocabulary({"vocab_size": 85, "tokenizer": str(a)}, 85, _facts(str(b)))


@pytest.fixture()
def broken_model(tmp_path) -> Path:
    from transformers import ElectraConfig, ElectraForPreTraining

    folder = tmp_path / "model"
    ElectraForPreTraining(ElectraConfig(vocab_size=85, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                        intermediate_size=64, embedding_size=32)).save_pretrained(str(folder))
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:200])  # truncated: the header promises more than is there
    return folder


def test_load_base_keeps_the_cause_of_an_unexpected_error(broken_model):
    from domain_electra.finetune.models import load_base

    with pytest.raises(UserError) as err:
        load_base(broken_model, "classification", 2)
    assert "\n" not in str(err.value) and f"cannot load the model in {broken_model}" in str(err.value)
    assert "--debug" in str(err.value)
    assert err.value.__cause__ is not None and not isinstance(err.value.__cause__, UserError)


@pytest.mark.parametrize("debug", ["none", "env"])
def test_cli_prints_the_cause_only_when_asked(broken_model, monkeypatch, capsys, debug):
    from domain_electra import cli
    from domain_electra.finetune.models import load_base

    monkeypatch.setattr(cli, "app", lambda: load_base(broken_model, "classification", 2))
    if debug == "env":
        monkeypatch.setenv("DOMAIN_ELECTRA_DEBUG", "1")
    else:
        monkeypatch.delenv("DOMAIN_ELECTRA_DEBUG", raising=False)
    with pytest.raises(SystemExit) as stop:
        cli.main()
    assert stop.value.code == 2
    err = capsys.readouterr().err
    cause = type(load_cause(broken_model)).__name__
    if debug == "env":
        assert "Traceback" in err and "The above exception was the direct cause" in err and cause in err
    else:
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: cannot load the model") and "Traceback" not in err


def load_cause(folder: Path) -> BaseException:
    from domain_electra.finetune.models import load_base

    try:
        load_base(folder, "classification", 2)
    except UserError as exc:
        return exc.__cause__
    raise AssertionError("expected a UserError")


def test_debug_flag_of_the_cli(tmp_path):
    args = ("pretrain", "--tokens", str(tmp_path / "absent"), "--out", str(tmp_path / "out"), "--max-steps", "1")
    # (without --debug the same command prints one line: test_cli_prints_the_cause_only_when_asked, test_spine_cli)
    loud = run_cli("--debug", *args, env={"DOMAIN_ELECTRA_DEBUG": ""})
    assert loud.returncode == 2 and "Traceback" in loud.stderr and "error: packed tokens folder" in loud.stderr
