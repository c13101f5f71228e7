"""A deterministic train/dev/test split that is stratified by label and never splits identical texts.

Rows whose text is the same after whitespace normalisation form one group and always land on the
same side (38% of LegalBench CUAD rows repeat a text: a per-row split would leak test into train).
Each group is stratified under its most frequent label; within a label, groups are ordered by a seeded
hash of their text (the same on every machine, independent of the file's row order) and dealt to
test, then dev, until each holds its quota of that label's rows: the split's share of all rows,
spread over labels by largest remainder, with at least one row of every label left for train.
Each split keeps the rows' order.
"""
from __future__ import annotations

import collections
import hashlib
from typing import Any, Callable, Hashable, Sequence

from ..errors import UserError

SPLITS = ("train", "dev", "test")


def normalise(text: str) -> str:
    return " ".join(str(text).split())


def _stratum(labels: list[Any]) -> Hashable:
    """A group's stratum: its most frequent label (lists, for multi-label rows, count as one value)."""
    keys = [tuple(sorted(x)) if isinstance(x, (list, tuple)) else x for x in labels]
    counts = collections.Counter(keys)
    return min(counts, key=lambda k: (-counts[k], repr(k)))


def _order(key: str, seed: int) -> str:
    return hashlib.sha1(f"{seed}\x00{key}".encode("utf-8")).hexdigest()


def _quotas(sizes: dict, share: float, room: dict) -> dict:
    """Rows per stratum for a split: round(total * share) in all, spread by largest remainder, each stratum
    keeping at least one row for train (so that every label is seen in training)."""
    want = {st: n * share for st, n in sizes.items()}
    quota = {st: min(int(w), max(room[st], 0)) for st, w in want.items()}
    left = round(sum(sizes.values()) * share) - sum(quota.values())
    for st in sorted(want, key=lambda st: (-(want[st] - int(want[st])), -sizes[st], repr(st))):
        if left <= 0:
            break
        if quota[st] < room[st]:
            quota[st] += 1
            left -= 1
    return quota


def stratified_split(rows: Sequence[dict], dev: float = 0.1, test: float = 0.2, seed: int = 0,
                     text: Callable[[dict], str] = lambda r: r["text"],
                     label: Callable[[dict], Any] | None = lambda r: r["label"]) -> dict[str, list[dict]]:
    """{"train", "dev", "test"} -> rows. `dev`/`test` are shares of the rows (0 gives an empty split);
    `text` gives the text that defines duplicates, `label` the stratum (None: no stratification)."""
    if not (0 <= dev < 1 and 0 <= test < 1 and dev + test < 1):
        raise UserError(f"split shares must be in [0, 1) and sum below 1, got dev={dev}, test={test}")
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(normalise(text(row)), []).append(row)
    strata: dict[Hashable, list[str]] = {}
    for key, members in groups.items():
        stratum = _stratum([label(r) for r in members]) if label is not None else None
        strata.setdefault(stratum, []).append(key)
    order = sorted(strata, key=repr)
    sizes = {st: sum(len(groups[k]) for k in strata[st]) for st in order}
    test_quota = _quotas(sizes, test, {st: n - 1 for st, n in sizes.items()})
    dev_quota = _quotas(sizes, dev, {st: n - 1 - test_quota[st] for st, n in sizes.items()})
    side_of: dict[str, str] = {}
    for stratum in order:
        targets = {"test": test_quota[stratum], "dev": dev_quota[stratum]}
        filled = {"test": 0, "dev": 0}
        for key in sorted(strata[stratum], key=lambda k: _order(k, seed)):
            size = len(groups[key])
            # A group goes where it brings the count closer to the target than leaving it out would.
            side = next((s for s in ("test", "dev") if filled[s] + size / 2 < targets[s]), "train")
            if side != "train":
                filled[side] += size
            side_of[key] = side
    out: dict[str, list[dict]] = {name: [] for name in SPLITS}
    for row in rows:  # each split keeps the file's row order
        out[side_of[normalise(text(row))]].append(row)
    return out
