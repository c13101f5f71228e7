"""Stage artifacts: one folder per stage holding the resolved config and a manifest.

A stage writes into its folder and writes `manifest.json` last, so a folder without a manifest is an
interrupted stage (pretraining resumes from its checkpoints there; other stages rebuild). A stage whose
manifest records the same config and the same input fingerprints is skipped: that is how
`domain-electra run RECIPE.yaml` resumes where it stopped. Inputs are compared by size and mtime first (fast
on gigabytes); when those differ, by their bytes, so a data folder or checkpoint provided afresh with the same
contents (a new clone, a copy without timestamps, a rebuilt checkpoint) reuses the stage instead of rebuilding
it and everything downstream.

One run per folder: while a stage builds, `out/.domain-electra.lock` holds the process's pid, host and
start time. A second run on the same folder refuses with a one-line error naming the first; a lock whose
process is gone (same host, pid not alive, or alive but started later: a reused pid) is stale, cleared
with a one-line notice. Under torchrun only rank 0 takes the lock (the other ranks are the same run).
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import socket
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from .config import save_config, to_dict
from .errors import UserError

MANIFEST = "manifest.json"
STARTED = ".stage-started.json"
SEEN = ".inputs-seen.json"  # quick fingerprints whose bytes were checked equal to the manifest's
LOCK = ".domain-electra.lock"
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


def content_fingerprint(path: str | Path) -> str:
    """A fingerprint of a file's or folder's bytes: relative path and SHA-256 of every file.

    What the quick `fingerprint` stands for, read only when a stage starts and when the quick one no longer
    matches; a finished stage folder is fingerprinted by its manifest, as in `fingerprint`.
    """
    path = Path(path)
    if path.is_dir() and (path / MANIFEST).is_file():
        return fingerprint(path)
    if not path.exists():
        return fingerprint(path)
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for item in files:
        with open(item, "rb") as handle:
            file_digest = hashlib.file_digest(handle, "sha256").hexdigest()
        name = item.relative_to(path) if path.is_dir() else ""
        digest.update(f"{name}\0{file_digest}\n".encode())
    return digest.hexdigest()[:16]


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _same_inputs(out: Path, recorded: Mapping[str, dict], inputs: Mapping[str, str | Path],
                 contents: dict[str, str]) -> bool:
    """Whether `inputs` equal the ones a stage recorded: by size and mtime, else by bytes.

    An input whose timestamps moved but whose bytes did not is remembered in SEEN (not in the manifest, which
    downstream stages fingerprint), so the next run compares it cheaply again. `contents` caches the bytes'
    fingerprints computed here for the caller.
    """
    if set(recorded) != set(inputs):
        return False
    seen, moved = _read_json(out / SEEN), []
    for key, path in inputs.items():
        quick = fingerprint(path)
        if quick in (recorded[key].get("fingerprint"), seen.get(key)):
            continue
        if recorded[key].get("content") is None:  # a manifest from before contents were recorded
            return False
        contents[key] = contents.get(key) or content_fingerprint(path)
        if contents[key] != recorded[key]["content"]:
            return False
        moved.append(key)
        seen[key] = quick
    if moved:
        try:
            (out / SEEN).write_text(json.dumps(seen, sort_keys=True))
        except OSError:
            pass  # a read-only stage folder: the bytes are compared again next time
        names = ", ".join(str(inputs[k]) for k in moved)
        print(f"note: {out.name}: {names} has new timestamps but the same bytes; reusing the finished stage",
              file=sys.stderr, flush=True)
    return True


def config_hash(config: Any) -> str:
    return hashlib.sha256(json.dumps(to_dict(config), sort_keys=True).encode()).hexdigest()[:16]


def is_complete(out: Path, config: Any, inputs: Mapping[str, str | Path],
                contents: dict[str, str] | None = None) -> dict | None:
    """The manifest of a finished stage with the same config and inputs, else None."""
    manifest = _read_json(Path(out) / MANIFEST)
    if not manifest or manifest.get("config_hash") != config_hash(config):
        return None
    same = _same_inputs(Path(out), manifest.get("inputs", {}), inputs, {} if contents is None else contents)
    return manifest if same else None


def _process_start(pid: int) -> int | None:
    """The start time of process `pid` in clock ticks since boot (Linux /proc), to tell a reused pid."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _alive(holder: dict) -> bool:
    """Whether the process that wrote lock `holder` still runs (assumed so when it is on another host)."""
    if holder.get("host") != socket.gethostname():
        return True
    pid = int(holder.get("pid", -1))
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    except (OverflowError, ValueError):
        return False
    start = _process_start(pid)
    return start is None or holder.get("proc_start") in (None, start)


_HELD: dict[Path, int] = {}  # folders this process has locked -> nesting depth


def _create_lock(lock: Path) -> bool:
    """Atomically create `lock` with our details; False when it already exists."""
    holder = {"pid": os.getpid(), "host": socket.gethostname(), "proc_start": _process_start(os.getpid()),
              "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "command": " ".join(sys.argv)[:300]}
    tmp = lock.with_name(f"{lock.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(holder))
    try:
        os.link(tmp, lock)  # fails if the lock exists: no window where another run sees a half-written lock
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)


def _acquire(out: Path) -> None:
    lock = out / LOCK
    for _ in range(3):
        if _create_lock(lock):
            return
        try:
            holder = json.loads(lock.read_text())
        except FileNotFoundError:
            continue  # released meanwhile
        except (OSError, ValueError):
            holder = {}
        if holder and _alive(holder):
            raise UserError(f"{out} is in use by another run (pid {holder.get('pid')} on {holder.get('host')}, "
                            f"started {holder.get('started')}); wait for it to finish, or use another --out "
                            f"(if that run is gone, delete {lock})")
        print(f"note: cleared a stale lock on {out} (pid {holder.get('pid', '?')} on {holder.get('host', '?')}, "
              f"started {holder.get('started', '?')}, is no longer running)", file=sys.stderr, flush=True)
        lock.unlink(missing_ok=True)
    raise UserError(f"could not lock {out}: another run keeps taking it; use another --out")


@contextmanager
def folder_lock(out: str | Path) -> Iterator[None]:
    """Hold `out`'s run lock for the duration (re-entrant within this process)."""
    out = Path(out).resolve()
    if os.environ.get("RANK", "0") != "0":  # torchrun: rank 0 holds the lock for the whole run
        yield
        return
    if out not in _HELD:
        out.mkdir(parents=True, exist_ok=True)
        _acquire(out)
    _HELD[out] = _HELD.get(out, 0) + 1
    try:
        yield
    finally:
        _HELD[out] -= 1
        if not _HELD[out]:
            del _HELD[out]
            (out / LOCK).unlink(missing_ok=True)


def check_writable(out: Path, keep: tuple[str, ...] = ()) -> None:
    """Refuse a folder that holds files domain-electra did not write (`keep`: nested stages it did)."""
    if not out.is_dir():
        return
    entries = [p for p in out.iterdir() if p.name not in (LOCK, *keep) and not p.name.startswith(LOCK)]
    if entries and not ((out / STARTED).is_file() or (out / MANIFEST).is_file()):
        raise UserError(f"output folder {out} exists and was not written by domain-electra; "
                        "choose an empty or new --out folder")


def _prepare_folder(out: Path, start: dict, keep: tuple[str, ...] = (), legacy: dict | None = None) -> None:
    """Keep an interrupted run of the same stage (to resume), wipe a stale one, refuse a foreign folder.
    `keep` names sub-folders that are other stages' artifacts (e.g. pretrain's packed `tokens`): never wiped."""
    check_writable(out, keep)
    started = out / STARTED
    if out.exists():
        previous = json.loads(started.read_text()) if started.is_file() else {}
        if previous not in (start, legacy) or (out / MANIFEST).is_file():
            for path in out.iterdir():
                if path.name in (LOCK, *keep) or path.name.startswith(LOCK):
                    continue
                shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    out.mkdir(parents=True, exist_ok=True)


def run_stage(name: str, out: str | Path, config: Any, inputs: Mapping[str, str | Path],
              build: Callable[[Path], Mapping[str, Any] | None], force: bool = False,
              keep: tuple[str, ...] = ()) -> StageResult:
    """Run `build(out)` unless `out` already holds this stage with the same config and inputs.

    `build` returns a small dict of facts to record in the manifest (counts, losses, ...). The folder is
    locked meanwhile (see folder_lock); `keep` names sub-folders of `out` that other stages own.
    """
    with folder_lock(out):
        return _run_stage(name, Path(out), config, inputs, build, force, keep)


def _run_stage(name: str, out: Path, config: Any, inputs: Mapping[str, str | Path],
               build: Callable[[Path], Mapping[str, Any] | None], force: bool, keep: tuple[str, ...]) -> StageResult:
    contents: dict[str, str] = {}
    if not force:
        done = is_complete(out, config, inputs, contents)
        if done is not None:
            return StageResult(out, True, done)
    fingerprints = {k: fingerprint(p) for k, p in inputs.items()}
    contents = {k: contents.get(k) or content_fingerprint(p) for k, p in inputs.items()}
    # By bytes, so an interrupted stage whose inputs were provided afresh (same bytes) still resumes.
    start = {"stage": name, "config_hash": config_hash(config), "inputs": contents}
    _prepare_folder(out, start, keep, legacy={**start, "inputs": fingerprints})  # legacy: a start recorded
    # before inputs were compared by bytes, so an upgrade does not wipe an interrupted run
    (out / STARTED).write_text(json.dumps(start, sort_keys=True))
    save_config(config, out / "config.yaml")
    t0 = time.time()
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    facts = build(out) or {}
    manifest = {
        "stage": name,
        "status": "complete",
        "config_hash": start["config_hash"],
        "inputs": {k: {"path": str(Path(p).resolve()), "fingerprint": fingerprints[k], "content": contents[k]}
                   for k, p in inputs.items()},
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
