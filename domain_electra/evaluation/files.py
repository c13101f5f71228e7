"""Helpers every data-set loader needs: locating files, one-line errors, JSON, a key-hash split, licences.

Plugins reach these through `domain_electra.plugin_api` (the public, stable names); this module is
the implementation.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ..domain import data_path  # noqa: F401 (re-exported)
from ..errors import UserError


def dataset_dir(data_dir, subdir: str, required: tuple[str, ...], source: str) -> Path:
    """The data set's folder, checked to hold `required` files; else name the data set and its origin."""
    folder = data_path(data_dir, subdir)
    missing = [name for name in required if not (folder / name).exists()]
    if not folder.is_dir() or missing:
        what = f"{folder} is missing" if not folder.is_dir() else f"{folder / missing[0]} is missing"
        raise UserError(f"data set '{subdir}' not found: {what}; get the original files from {source} "
                        "(see ../shared/data/README.md) and pass --data-dir or set $DOMAIN_ELECTRA_DATA")
    return folder


def bad_format(path: Path | str, what: str) -> UserError:
    return UserError(f"{path}: not in the expected format ({what}); is this the original file?")


def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise bad_format(path, f"JSON: {exc}") from None


def read_jsonl(path: Path) -> list[dict]:
    rows = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8-sig").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            raise bad_format(path, f"JSON lines; line {number} is not JSON") from None
    return rows


def require_keys(row: dict, keys: tuple[str, ...], path: Path) -> None:
    if not isinstance(row, dict) or any(k not in row for k in keys):
        raise bad_format(path, f"each record needs the keys {', '.join(keys)}")


def bucket(key: str, buckets: int = 100) -> int:
    """A stable bucket for deterministic splits (same on every machine and Python version)."""
    return int(hashlib.sha1(key.encode("utf-8")).hexdigest(), 16) % buckets


def key_split(key: str, dev: int = 10, test: int = 20) -> str:
    """"train" | "dev" | "test" from a stable hash of a group key (a document id, a query): every row of one
    key lands on the same side. Shares are percentages and only approximate, and labels are not
    stratified: for labelled rows use `stratified_split`. The built-in tasks keep this split so that
    their published baselines stay comparable."""
    b = bucket(key)
    return "test" if b < test else "dev" if b < test + dev else "train"


def source_license(folder: Path) -> str:
    """The license line of a data set's SOURCE.txt (reports must name it), or "" when absent."""
    source = Path(folder) / "SOURCE.txt"
    if not source.is_file():
        return ""
    for line in source.read_text(encoding="utf-8").splitlines():
        if line.lower().startswith("license:"):
            return line.split(":", 1)[1].strip()
    return ""
