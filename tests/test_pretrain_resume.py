"""Fault injection: a run killed with SIGKILL, then stopped with SIGTERM, then finished by rerunning the same
command ends with the same weights as an uninterrupted run (dropout on, so RNG state matters)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pytest
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_pretrain_common import REPO, one_thread, tiny_config, tiny_tokens  # noqa: E402,F401

from domain_electra.pretrain import pretrain  # noqa: E402

SCRIPT = """
import json, sys
from pathlib import Path
import torch
torch.set_num_threads(1)
from domain_electra.errors import UserError
from domain_electra.pretrain import PretrainConfig, pretrain
try:
    pretrain(PretrainConfig(**json.loads(sys.argv[1])), Path(sys.argv[2]), Path(sys.argv[3]), progress=False)
except UserError as exc:
    print(exc)
    sys.exit(3)
"""


def _start(config, tokens: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", SCRIPT, json.dumps(asdict(config)), str(tokens), str(out)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})


def _latest(out: Path) -> int:
    steps = [int(p.name.split("-")[1]) for p in (out / "checkpoints").glob("step-*")] if (out / "checkpoints").is_dir() else []
    return max(steps, default=0)


def _wait_for_checkpoint(proc: subprocess.Popen, out: Path, after: int, timeout: float = 180.0) -> int:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if _latest(out) > after:
            return _latest(out)
        if proc.poll() is not None:
            pytest.fail(f"run ended before it could be interrupted:\n{proc.stdout.read()}")
        time.sleep(0.02)
    proc.kill()
    pytest.fail("no checkpoint appeared in time")


def test_sigkill_then_sigterm_then_rerun_equals_an_uninterrupted_run(tmp_path):
    tokens = tiny_tokens(tmp_path / "tokens", seq_len=32)
    config = tiny_config(max_steps=40, save_every=4, eval_every=8, dropout=None)  # micro preset: dropout 0.1
    reference = pretrain(config, tokens, tmp_path / "reference", progress=False)
    out = tmp_path / "out"

    killed = _start(config, tokens, out)
    _wait_for_checkpoint(killed, out, after=4)
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=60)
    assert killed.returncode == -signal.SIGKILL
    after_kill = _latest(out)
    assert 8 <= after_kill < 40

    stopped = _start(config, tokens, out)
    _wait_for_checkpoint(stopped, out, after=after_kill)
    stopped.send_signal(signal.SIGTERM)
    output = stopped.communicate(timeout=120)[0]
    assert stopped.returncode == 3, output
    assert "interrupted by SIGTERM" in output and "rerun the same command" in output
    assert not list((out / "checkpoints").glob(".tmp-*"))

    finished = _start(config, tokens, out)
    output = finished.communicate(timeout=300)[0]
    assert finished.returncode == 0, output
    a = load_file(tmp_path / "reference" / "checkpoints" / "step-00000040" / "model.safetensors")
    b = load_file(out / "checkpoints" / "step-00000040" / "model.safetensors")
    assert max((a[k] - b[k]).abs().max().item() for k in a) <= 1e-5
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["split"] == "train"] == list(range(1, 41))
    assert reference["steps"] == 40 and (out / "discriminator" / "model.safetensors").is_file()


def _flip_byte(path: Path, offset: int = -100) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_resume_skips_a_checkpoint_damaged_after_writing(tmp_path, capsys, damage):
    tokens = tiny_tokens(tmp_path / "tokens", seq_len=32)
    out = tmp_path / "out"
    pretrain(tiny_config(max_steps=6, save_every=3, eval_every=100), tokens, out, progress=False)
    newest = out / "checkpoints" / "step-00000006"
    manifest = json.loads((newest / "manifest.json").read_text())["files"]
    assert {"model.safetensors", "optimizer.pt", "trainer.json", "rng-0.pt"} <= set(manifest)
    weights = newest / "model.safetensors"
    if damage == "truncate":
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    else:
        _flip_byte(weights)  # same size, one byte of a tensor altered: only the hash can tell
    capsys.readouterr()
    result = pretrain(tiny_config(max_steps=9, save_every=3, eval_every=100), tokens, out, progress=False)
    lines = [line for line in capsys.readouterr().err.splitlines() if "skipped" in line]
    assert len(lines) == 1, lines
    reason = "truncated" if damage == "truncate" else "sha256"
    assert lines[0].startswith("resuming from step-00000003: skipped step-00000006") and reason in lines[0]
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["split"] == "train"] == list(range(1, 10))  # steps 4-6 redone
    assert result["steps"] == 9
    from domain_electra.pretrain.checkpoint import damage as why

    assert why(out / "checkpoints" / "step-00000006") is None  # step 6 was written again, whole


def test_every_checkpoint_damaged_is_a_one_line_error(tmp_path):
    from domain_electra.errors import UserError

    tokens = tiny_tokens(tmp_path / "tokens", seq_len=32)
    out = tmp_path / "out"
    pretrain(tiny_config(max_steps=6, save_every=3, eval_every=100), tokens, out, progress=False)
    for step in ("step-00000003", "step-00000006"):
        _flip_byte(out / "checkpoints" / step / "optimizer.pt", offset=-10)
    with pytest.raises(UserError) as err:
        pretrain(tiny_config(max_steps=9, save_every=3, eval_every=100), tokens, out, progress=False)
    message = str(err.value)
    assert "\n" not in message and "every checkpoint" in message
    assert "step-00000003 (optimizer.pt does not match its sha256" in message and "step-00000006" in message
