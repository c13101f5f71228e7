"""Checkpoints: atomic, keep-last-K plus best, exact resume.

A checkpoint is a folder `checkpoints/step-00000120/` with
- `model.safetensors`: generator + discriminator (shared embeddings stored once), safetensors only;
- `optimizer.pt`: AdamW state (tensors and numbers; loaded with `weights_only=True`, no pickle code);
- `rng-<rank>.pt`: each process's torch (and CUDA) random state, for dropout (`weights_only` too);
- `trainer.json`: step, tokens, elapsed time, best validation loss, and the config fields that define
  the math (a resume under different ones is refused).
The data position is the step itself (batches are a pure function of it, see data.py), and the
learning rate a pure function of step and elapsed time, so nothing else is needed for an exact resume.

Atomicity: everything is written into `.tmp-step-...` and renamed into place, so a folder named
`step-*` is always whole; a kill mid-write leaves a temporary folder that the next start deletes.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Callable

import torch
from safetensors.torch import load_model, save_model

PREFIX = "step-"


def _name(step: int) -> str:
    return f"{PREFIX}{step:08d}"


def complete_checkpoints(folder: Path) -> list[Path]:
    """Finished checkpoints, oldest first."""
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.is_dir() and p.name.startswith(PREFIX)
             and (p / "trainer.json").is_file() and (p / "model.safetensors").is_file()]
    return sorted(found, key=lambda p: int(p.name[len(PREFIX):]))


def clean_partial(folder: Path) -> None:
    """Remove temporary folders left by a process killed while saving or pruning."""
    if folder.is_dir():
        for path in folder.iterdir():
            if path.name.startswith((".tmp-", ".trash-")):
                shutil.rmtree(path, ignore_errors=True)


def _rng_state() -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


def save_checkpoint(folder: Path, step: int, objective: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    trainer: dict, keep_last: int, rank: int = 0,
                    barrier: Callable[[], None] = lambda: None) -> Path:
    """Write checkpoint `step` (all processes call this; rank 0 writes the shared parts) and prune."""
    final, tmp = folder / _name(step), folder / f".tmp-{_name(step)}"
    if rank == 0:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    barrier()
    torch.save(_rng_state(), tmp / f"rng-{rank}.pt")
    barrier()
    if rank == 0:
        save_model(objective, str(tmp / "model.safetensors"))
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        (tmp / "trainer.json").write_text(json.dumps(trainer, indent=2))
        if final.exists():  # the same step saved before (e.g. resumed and stopped at once)
            final.rename(folder / f".trash-{final.name}")
        tmp.rename(final)
        prune(folder, keep_last)
    barrier()
    return final


def prune(folder: Path, keep_last: int) -> None:
    """Keep the newest `keep_last` checkpoints and the best one (named in best.json)."""
    best = read_best(folder)
    keep = {p.name for p in complete_checkpoints(folder)[-keep_last:]}
    if best is not None:
        keep.add(_name(best["step"]))
    for path in complete_checkpoints(folder):
        if path.name not in keep:
            trash = folder / f".trash-{path.name}"
            path.rename(trash)  # atomic: a half-deleted folder never looks like a checkpoint
            shutil.rmtree(trash, ignore_errors=True)
    clean_partial(folder)


def read_best(folder: Path) -> dict | None:
    path = folder / "best.json"
    return json.loads(path.read_text()) if path.is_file() else None


def mark_best(folder: Path, step: int, loss: float) -> None:
    _write_json(folder / "best.json", {"step": step, "loss": loss, "path": _name(step)})


def load_checkpoint(path: Path, objective: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    device: torch.device, rank: int = 0) -> dict:
    """Restore weights, optimizer and this process's RNG from `path`; return trainer.json."""
    load_model(objective, str(path / "model.safetensors"), strict=True, device=str(device))
    optimizer.load_state_dict(torch.load(path / "optimizer.pt", map_location=device, weights_only=True))
    rng_file = path / f"rng-{rank}.pt"
    if rng_file.is_file():  # absent when resuming with more processes than were saved: fresh dropout
        state = torch.load(rng_file, weights_only=True)
        torch.set_rng_state(state["torch"])
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])
    return json.loads((path / "trainer.json").read_text())
