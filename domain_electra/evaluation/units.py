"""Every finished bench unit (one task, model and seed) on disk: its rows, its run facts and its test predictions.

Written to `<out>/units.jsonl` as each unit ends, so that a bench stopped by a killed session, a full disk or a
Ctrl-C resumes where it stopped (rerun the same command: finished units are read back, not retrained), and so
that a finished bench keeps what its intervals were computed from (a new suite average or a new pair of models
can be bootstrapped again without training anything). A unit file whose run differs (another config, another
model folder) is set aside as units.jsonl.stale, never mixed in.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from ..artifacts import content_fingerprint
from ..config import to_dict

UNITS = "units.jsonl"


def run_identity(config, models: dict) -> dict:
    """What must be equal for finished units to be reused: the bench config and each model folder's bytes
    (not timestamps: a checkpoint rebuilt or copied with the same bytes keeps its finished units)."""
    return {"config": to_dict(config), "models": {name: content_fingerprint(path) for name, path in models.items()}}


def unit_key(task: str, model: str, seed) -> str:
    return f"{task}\t{model}\t{seed}"


def read_finished(out: Path, identity: dict) -> dict[str, dict]:
    """{unit key: record} from an earlier run of this same bench in `out`; {} when none or another run's."""
    path = Path(out) / UNITS
    if not path.is_file():
        return {}
    lines = path.read_text(encoding="utf-8").splitlines()
    try:
        head = json.loads(lines[0]) if lines else {}
    except json.JSONDecodeError:
        head = {}
    if head.get("identity") != json.loads(json.dumps(identity)):
        path.replace(path.with_name(UNITS + ".stale"))
        print(f"note: {path} came from another bench run (config or models differ); moved aside to "
              f"{UNITS}.stale, starting afresh", file=sys.stderr, flush=True)
        return {}
    finished = {}
    for line in lines[1:]:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:  # the last line of a run killed mid-write
            break
        finished[record["unit"]] = record
    return finished


class UnitLog:
    """Append-only unit records, each flushed to disk before the next unit starts."""

    def __init__(self, out: Path, identity: dict, finished: dict[str, dict]):
        path = Path(out) / UNITS
        self._file = path.open("w", encoding="utf-8")  # rewritten whole: drops a torn last line
        self._write({"identity": identity})
        for record in finished.values():
            self._write(record)

    def _write(self, record: dict) -> None:
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def add(self, key: str, rows: list[dict], predictions: dict, run: dict | None) -> None:
        self._write({"unit": key, "rows": rows, "run": run,
                     "predictions": [[*k, v] for k, v in predictions.items()]})

    def close(self) -> None:
        self._file.close()


def restore(record: dict) -> tuple[list[dict], dict, dict | None]:
    """(rows, {(task, variant, language, model, seed): {"gold", "pred"}}, run facts) of one finished unit."""
    predictions = {tuple(entry[:5]): entry[5] for entry in record["predictions"]}
    return record["rows"], predictions, record["run"]
