"""Stage artifacts: one folder per stage holding the resolved config and a manifest.

A stage writes into its folder and writes `manifest.json` last, so a folder without a manifest is an
interrupted stage (pretraining resumes from its checkpoints there; other stages rebuild). A stage whose
manifest records the same config and the same input fingerprints is skipped: that is how
`domain-electra run RECIPE.yaml` resumes where it stopped.
"""
from __future__ import annotations

import hashlib
import json
import platform
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Mapping

from .config import save_config, to_dict
from .errors import UserError

MANIFEST = "manifest.json"
STARTED = ".stage-started.json"
_VERSIONED = ("domain-electra", "torch", "transformers", "tokenizers", "peft", "tree-sitter", "spacy",
              "datasets", "pandas", "numpy")


@dataclass(frozen=True)
class StageResult:
    path: Path
    skipped: bool
    manifest: dict


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def fingerprint(path: str | Path) -> str:
    """A cheap, stable fingerprint of a file or folder.

    A folder that is itself a finished stage is fingerprinted by its manifest (so downstream stages see
    upstream rebuilds); other folders by (relative path, size, mtime) of every file, which is fast on
    gigabytes and changes whenever a file is edited, added or removed.
    """
    path = Path(path)
    digest = hashlib.sha256()
    if path.is_dir() and (path / MANIFEST).is_file():
        digest.update((path / MANIFEST).read_bytes())
    elif path.is_dir():
        for item in sorted(p for p in path.rglob("*") if p.is_file()):
            stat = item.stat()
            digest.update(f"{item.relative_to(path)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    elif path.is_file():
        stat = path.stat()
        digest.update(f"{stat.st_size}\0{stat.st_mtime_ns}".encode())
    else:
        digest.update(f"missing:{path}".encode())
    return digest.hexdigest()[:16]


def config_hash(config: Any) -> str:
    return hashlib.sha256(json.dumps(to_dict(config), sort_keys=True).encode()).hexdigest()[:16]


def is_complete(out: Path, config: Any, inputs: Mapping[str, str | Path]) -> dict | None:
    """The manifest of a finished stage with the same config and inputs, else None."""
    manifest_path = Path(out) / MANIFEST
    if not manifest_path.is_file():
        return None
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    same_inputs = {k: v["fingerprint"] for k, v in manifest.get("inputs", {}).items()} == {
        k: fingerprint(p) for k, p in inputs.items()}
    return manifest if manifest.get("config_hash") == config_hash(config) and same_inputs else None


def _prepare_folder(out: Path, start: dict) -> None:
    """Keep an interrupted run of the same stage (to resume), wipe a stale one, refuse a foreign folder."""
    started = out / STARTED
    if out.exists() and any(out.iterdir()):
        ours = started.is_file() or (out / MANIFEST).is_file()
        if not ours:
            raise UserError(f"output folder {out} exists and was not written by domain-electra; "
                            "choose an empty or new --out folder")
        previous = json.loads(started.read_text()) if started.is_file() else {}
        if previous != start or (out / MANIFEST).is_file():
            shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def run_stage(name: str, out: str | Path, config: Any, inputs: Mapping[str, str | Path],
              build: Callable[[Path], Mapping[str, Any] | None], force: bool = False) -> StageResult:
    """Run `build(out)` unless `out` already holds this stage with the same config and inputs.

    `build` returns a small dict of facts to record in the manifest (counts, losses, ...).
    """
    out = Path(out)
    if not force:
        done = is_complete(out, config, inputs)
        if done is not None:
            return StageResult(out, True, done)
    fingerprints = {k: fingerprint(p) for k, p in inputs.items()}
    start = {"stage": name, "config_hash": config_hash(config), "inputs": fingerprints}
    _prepare_folder(out, start)
    (out / STARTED).write_text(json.dumps(start, sort_keys=True))
    save_config(config, out / "config.yaml")
    t0 = time.time()
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    facts = build(out) or {}
    manifest = {
        "stage": name,
        "status": "complete",
        "config_hash": start["config_hash"],
        "inputs": {k: {"path": str(Path(p).resolve()), "fingerprint": fingerprints[k]} for k, p in inputs.items()},
        "versions": package_versions(),
        "started": started,
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(time.time() - t0, 3),
        "outputs": dict(facts),
    }
    tmp = out / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, default=str))
    tmp.replace(out / MANIFEST)  # atomic: a manifest is either absent or whole
    return StageResult(out, False, manifest)
