"""Checkpoints: atomic, keep-last-K plus best, exact resume.

A checkpoint is a folder `checkpoints/step-00000120/` with
- `model.safetensors`: generator + discriminator (shared embeddings stored once), safetensors only;
- `optimizer.pt`: AdamW state (tensors and numbers; loaded with `weights_only=True`, no pickle code);
- `rng-<rank>.pt`: each process's torch (and CUDA) random state, for dropout (`weights_only` too);
- `trainer.json`: step, tokens, elapsed time, best validation loss, and the config fields that define
  the math (a resume under different ones is refused).
- `manifest.json` (written last): the sha256 and size of each file above (see Integrity below).
The data position is the step itself (batches are a pure function of it, see data.py), and the
learning rate a pure function of step and elapsed time, so nothing else is needed for an exact resume.

Atomicity: everything is written into `.tmp-step-...` and renamed into place, so a folder named
`step-*` is always whole; a kill mid-write leaves a temporary folder that the next start deletes.

Integrity: renaming guards against a kill, not against what happens to the files afterwards (a full
disk during a copy, a truncated sync, bit rot). Each checkpoint's `manifest.json`, written last, holds
the sha256 and size of every other file; `newest_intact` checks them on resume, newest first, and
resumes from the first checkpoint whose files all match, saying which newer ones it skipped and why.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Callable

import torch
from safetensors.torch import load_model, save_model

from ..errors import UserError

PREFIX = "step-"
FILES_MANIFEST = "manifest.json"


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
        write_file_manifest(tmp)
        if final.exists():  # the same step saved before (e.g. resumed and stopped at once)
            final.rename(folder / f".trash-{final.name}")
        tmp.rename(final)
        prune(folder, keep_last)
    barrier()
    return final


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_file_manifest(path: Path) -> None:
    """Record the sha256 and size of every file of checkpoint folder `path` (written last)."""
    files = {p.name: {"sha256": _sha256(p), "bytes": p.stat().st_size}
             for p in sorted(path.iterdir()) if p.is_file() and p.name != FILES_MANIFEST}
    (path / FILES_MANIFEST).write_text(json.dumps({"files": files}, indent=2))


def damage(path: Path) -> str | None:
    """Why checkpoint folder `path` cannot be trusted (a short reason), or None when every file matches."""
    try:
        recorded = json.loads((path / FILES_MANIFEST).read_text())["files"]
    except FileNotFoundError:
        return f"no {FILES_MANIFEST} with file hashes"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"unreadable {FILES_MANIFEST} ({type(exc).__name__})"
    for name, want in recorded.items():
        file = path / name
        if not file.is_file():
            return f"{name} is missing"
        size = file.stat().st_size
        if size != want["bytes"]:
            return f"{name} is {size} bytes, {want['bytes']} when written (truncated or altered)"
        if _sha256(file) != want["sha256"]:
            return f"{name} does not match its sha256 (altered after writing)"
    return None


def newest_intact(folder: Path, report: bool = True) -> list[Path]:
    """Finished checkpoints up to the newest intact one, oldest first ([] when there are none).

    Newer damaged checkpoints are skipped with one line on stderr; when every checkpoint is damaged,
    resuming would silently restart from scratch, so that is a UserError instead."""
    found = complete_checkpoints(folder)
    skipped = []
    for i in range(len(found) - 1, -1, -1):
        reason = damage(found[i])
        if reason is None:
            if skipped and report:
                print(f"resuming from {found[i].name}: skipped {'; '.join(skipped)}", file=sys.stderr, flush=True)
            return found[:i + 1]
        skipped.append(f"{found[i].name} ({reason})")
    if skipped:
        raise UserError(f"every checkpoint in {folder} fails its integrity check: {'; '.join(skipped)}; restore "
                        f"the files from a backup, or delete {folder} to start over")
    return []


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
