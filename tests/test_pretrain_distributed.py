"""DDP: 2 CPU processes (gloo, launched by torchrun) follow the same trajectory as 1 process with the same
global batch (1 process x grad_accum 2 == 2 processes x grad_accum 1: the same micro-batches)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
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
from domain_electra.pretrain import PretrainConfig, pretrain
pretrain(PretrainConfig(**json.loads(sys.argv[1])), Path(sys.argv[2]), Path(sys.argv[3]), progress=False)
"""


def _train_rows(out: Path, split: str) -> list[dict]:
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if r["split"] == split]


def test_two_gloo_processes_match_one_process_with_the_same_global_batch(tmp_path):
    tokens = tiny_tokens(tmp_path / "tokens", seq_len=32)
    single = tiny_config(max_steps=4, grad_accum=2, eval_every=2, save_every=4)
    pretrain(single, tokens, tmp_path / "one", progress=False)

    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    config = json.dumps(asdict(tiny_config(max_steps=4, grad_accum=1, eval_every=2, save_every=4)))
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(script), config, str(tokens), str(tmp_path / "two")], cwd=REPO, capture_output=True,
                          text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    one, two = _train_rows(tmp_path / "one", "train"), _train_rows(tmp_path / "two", "train")
    assert [r["step"] for r in two] == [1, 2, 3, 4]
    for a, b in zip(one, two):
        for key in ("loss", "gen_loss", "disc_loss", "gen_acc", "disc_acc", "grad_norm"):
            assert b[key] == pytest.approx(a[key], rel=1e-5, abs=1e-6), (a["step"], key)
    val_one, val_two = _train_rows(tmp_path / "one", "validation"), _train_rows(tmp_path / "two", "validation")
    assert [r["disc_auc"] for r in val_two] == pytest.approx([r["disc_auc"] for r in val_one], abs=1e-4)
    a = load_file(tmp_path / "one" / "checkpoints" / "step-00000004" / "model.safetensors")
    b = load_file(tmp_path / "two" / "checkpoints" / "step-00000004" / "model.safetensors")
    assert max((a[k] - b[k]).abs().max().item() for k in a) <= 1e-4
    assert sorted(p.name for p in (tmp_path / "two" / "checkpoints" / "step-00000004").glob("rng-*")) == [
        "rng-0.pt", "rng-1.pt"]
