"""Exact and near deduplication spread over tasks: `build.Deduplicator`'s rule, in buckets.

Every record of a distributed build has an id, `rank << 32 | position` (its place in its task's part).
Stage 1 gives task r a contiguous run of the sources, so id order is the local build's order, and the
local rule, read in that order, is:

- *repeat*: an earlier record has the same raw text. The local build's worker never turns it into a
  record (its outcome cache answers "exact_duplicate" first) and does not count its edits; only across
  tasks does a repeat become a record, so here it gets the same count and its edits are taken back.
- *exact_duplicate*: an earlier record, kept or not, has the same content key (the 64 bits of the sha1
  the local exact filter stores).
- *near_duplicate*: an earlier **kept** record has the same key in one of the LSH bands (the very keys
  the local index stores: `build.bloom_band_keys`, or the band's bytes without Bloom filters).
- kept, otherwise.

Stage 1 writes each record as key rows (column, key, id): column RAW the raw-text hash, EXACT the
content key, BAND + i the key of band i; a row goes to task `key % N`. Stage 2 (`collisions`, one task
per key range) sorts its rows and keeps only keys that two records share. Stage 3 (`verdicts`, one task)
applies the rule to those:

- a record whose content key an earlier record has (an exact *follower*) is an exact_duplicate, and it
  shares every band with that first one (same text, same signature), so it cannot change anyone else's
  verdict.
- the others (first of their content key) are joined by union-find (connected components) over the band
  keys they share: a record's verdict depends only on earlier kept records with a shared key, all in its
  cluster. Each cluster is then walked in id order, keeping a record unless one of its keys already
  holds a kept record: the local build's sequential answer, not a transitive "one per cluster".

The only differences left: the local Bloom filters' false positives (capacity >= 1M documents, so
~0 on small corpora, at most the configured rates on large ones); a worker's outcome cache being
cleared after 2M distinct documents (the local build then lets a later raw copy through to dedup, which
drops it as exact_duplicate all the same but counts its edits; here it stays a repeat); and with `max_docs`, the
documents *read* before the stop when a repeat crossed tasks (batches are cut by record count). The
kept documents are the same in all three cases, bar Bloom false positives.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xxhash

RAW, EXACT, BAND = 0, 1, 2  # key columns: band i is column BAND + i
EXACT_DUPLICATE, NEAR_DUPLICATE, REPEAT = 1, 2, 3  # verdict codes of dropped records (kept: absent)
REASONS = {EXACT_DUPLICATE: "exact_duplicate", NEAR_DUPLICATE: "near_duplicate", REPEAT: "exact_duplicate"}
ID_BITS = 32  # id = rank << ID_BITS | position


def record_id(rank: int, position: int) -> int:
    return rank << ID_BITS | position


def content_key(content_hash: str) -> int:
    """The local exact filter's key (build.Deduplicator.check)."""
    return int(content_hash[:16], 16)


def band_keys(signatures: np.ndarray, bands: tuple[int, int], bloom: bool) -> np.ndarray:
    """(documents x b) band keys, as the local LSH index compares them: Bloom sums, or the band's bytes
    (datasketch's in-memory MinHashLSH compares the r values themselves; their 64-bit hash here)."""
    from .build import bloom_band_keys

    b, r = bands
    if bloom:
        return bloom_band_keys(signatures, b, r)
    cut = np.ascontiguousarray(signatures[:, : b * r], dtype="<u8").reshape(len(signatures), b, r)
    return np.array([[xxhash.xxh3_64_intdigest(band.tobytes()) for band in doc] for doc in cut],
                    dtype=np.uint64).reshape(len(signatures), b)


def key_rows(keys: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """(documents x columns) keys and their ids -> rows (column, key, id), uint64."""
    n, columns = keys.shape
    return np.stack([np.repeat(np.arange(columns, dtype=np.uint64)[None, :], n, axis=0).ravel(),
                     keys.ravel(), np.repeat(ids, columns)], axis=1) if n else np.zeros((0, 3), np.uint64)


def partition(rows: np.ndarray, world: int) -> list[np.ndarray]:
    """Rows by owning task: task d owns the keys with key % world == d."""
    owner = rows[:, 1] % np.uint64(world)
    order = np.argsort(owner, kind="stable")
    bounds = np.searchsorted(owner[order], np.arange(world + 1, dtype=np.uint64))
    return [rows[order[bounds[d]: bounds[d + 1]]] for d in range(world)]


@dataclass(frozen=True)
class Collisions:
    """What one task's key range says: raw repeats, exact followers (id, first id), shared bands (group, id)."""

    repeats: np.ndarray
    follows: np.ndarray
    bands: np.ndarray


def collisions(rows: np.ndarray) -> Collisions:
    """Group equal (column, key) rows; keep the groups of two or more ids."""
    rows = rows[np.lexsort((rows[:, 2], rows[:, 1], rows[:, 0]))]
    column, ids = rows[:, 0], rows[:, 2]
    first = np.ones(len(rows), dtype=bool)
    first[1:] = (column[1:] != column[:-1]) | (rows[1:, 1] != rows[:-1, 1])
    group = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    sizes = np.diff(np.append(starts, len(rows)))
    later = ~first
    exact = later & (column == EXACT)
    shared = (sizes[group] >= 2) & (column >= BAND)
    return Collisions(repeats=ids[later & (column == RAW)],
                      follows=np.stack([ids[exact], ids[starts[group[exact]]]], axis=1),
                      bands=np.stack([group[shared].astype(np.uint64), ids[shared]], axis=1))


def _clusters(doc_index: np.ndarray, group_index: np.ndarray, docs: int, groups: int) -> np.ndarray:
    """Union-find over the shared band keys: the connected component of every document."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    nodes = docs + groups
    graph = coo_matrix((np.ones(len(doc_index), dtype=np.int8), (doc_index, docs + group_index)),
                       shape=(nodes, nodes))
    return connected_components(graph, directed=False)[1][:docs]


def _near_in_clusters(doc_ids: np.ndarray, doc_index: np.ndarray, group_index: np.ndarray,
                      groups: int) -> tuple[np.ndarray, np.ndarray]:
    """(near, cluster): near[d] when document d shares a band key with an earlier kept document of its
    cluster (the only documents it can share one with), cluster[d] its cluster."""
    if not len(doc_ids):
        return np.zeros(0, dtype=bool), np.zeros(0, dtype=np.int64)
    cluster = _clusters(doc_index, group_index, len(doc_ids), groups)
    order = np.argsort(doc_index, kind="stable")
    members = group_index[order]  # CSR: the band groups of document d are members[offsets[d]:offsets[d+1]]
    offsets = np.searchsorted(doc_index[order], np.arange(len(doc_ids) + 1))
    near = np.zeros(len(doc_ids), dtype=bool)
    holds_kept = np.zeros(groups, dtype=bool)
    for d in np.lexsort((doc_ids, cluster)).tolist():  # cluster by cluster, each in global (id) order
        mine = members[offsets[d]: offsets[d + 1]]
        if holds_kept[mine].any():
            near[d] = True
        else:
            holds_kept[mine] = True
    return near, cluster


def verdicts(parts: list[Collisions]) -> tuple[np.ndarray, np.ndarray, dict]:
    """(ids, codes) of every dropped record, sorted by id, and a few numbers for the log."""
    repeats = np.concatenate([p.repeats for p in parts]) if parts else np.zeros(0, np.uint64)
    follows = np.concatenate([p.follows for p in parts]) if parts else np.zeros((0, 2), np.uint64)
    offsets = np.cumsum([0] + [int(p.bands[:, 0].max()) + 1 if len(p.bands) else 0 for p in parts])
    bands = (np.concatenate([p.bands + np.array([offsets[i], 0], dtype=np.uint64) for i, p in enumerate(parts)])
             if parts else np.zeros((0, 2), np.uint64))
    follows = follows[~np.isin(follows[:, 0], repeats)]  # a repeat is counted as one, whatever else it is
    firsts = bands[~np.isin(bands[:, 1], np.concatenate([repeats, follows[:, 0]]))]
    labels, group_index, counts = np.unique(firsts[:, 0], return_inverse=True, return_counts=True)
    shared = counts[group_index] >= 2  # groups left with a single first-of-its-text record decide nothing
    firsts, group_index = firsts[shared], np.unique(group_index[shared], return_inverse=True)[1]
    doc_ids, doc_index = np.unique(firsts[:, 1], return_inverse=True)
    groups = int(group_index.max()) + 1 if len(group_index) else 0
    near, cluster = _near_in_clusters(doc_ids, doc_index, group_index, groups)
    near_ids = doc_ids[near]
    follow_codes = np.full(len(follows), EXACT_DUPLICATE)
    ids = np.concatenate([repeats, follows[:, 0], near_ids]).astype(np.uint64)
    codes = np.concatenate([np.full(len(repeats), REPEAT), follow_codes,
                            np.full(len(near_ids), NEAR_DUPLICATE)]).astype(np.uint8)
    order = np.argsort(ids, kind="stable")
    notes = {"repeats": len(repeats), "exact_followers": len(follows), "documents_in_clusters": len(doc_ids),
             "shared_band_keys": groups, "clusters": len(np.unique(cluster)),
             "largest_cluster": int(np.bincount(cluster).max()) if len(cluster) else 0,
             "near_duplicates": len(near_ids)}
    return ids[order], codes[order], notes
