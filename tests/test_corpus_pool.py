"""The local pool's pieces: in-order release (memory, then disk) and the kept-hash table shared by workers."""
from __future__ import annotations

import multiprocessing as mp
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from domain_electra.corpus import CorpusConfig, build_corpus, read_shards
from domain_electra.corpus.pipeline import InSourceOrder
from domain_electra.corpus.shared_outcomes import SharedOutcomes

LICENCES = Path("/usr/share/common-licenses")


def _batch(source: int, part: int, chars: int = 100) -> dict:
    return {"records": [{"text": "x" * chars, "id": (source, part)}]}


@pytest.mark.parametrize("memory_bytes", [0, 3300, 1 << 30], ids=["all-spilled", "mixed", "all-in-memory"])
def test_batches_come_out_in_source_order_whatever_waits_where(memory_bytes):
    """A waiting batch counts ~1.6 kB, so the 3,300-byte budget holds two. In the mixed case source 2's first
    batch waits in memory and its second spills; when memory frees up, its third must still go to disk
    (behind the second), not into memory ahead of it."""
    order = InSourceOrder(memory_bytes)
    events = [("add", 2, 0), ("add", 1, 0), ("add", 2, 1), ("add", 0, 0), ("finish", 0, None), ("add", 2, 2),
              ("add", 3, 0), ("add", 1, 1), ("finish", 2, None), ("finish", 1, None), ("finish", 3, None)]
    released = []
    for event, source, part in events:
        out = order.add(source, _batch(source, part)) if event == "add" else order.finish(source)
        released += [batch["records"][0]["id"] for batch in out]
    order.close()
    assert released == [(0, 0), (1, 0), (1, 1), (2, 0), (2, 1), (2, 2), (3, 0)]
    assert order.held_bytes == 0 and not order.held and not order.waiting
    assert (order.folder is not None) == (memory_bytes < 1 << 30)


def _add_in_a_forked_worker(shared: SharedOutcomes, pairs: list[tuple[int, int]]) -> None:
    shared.claim(0)
    for key, source in pairs:
        shared.add(key, source)


def test_a_kept_hash_written_in_one_worker_is_seen_in_another_only_for_later_sources():
    if "fork" not in mp.get_all_start_methods():
        pytest.skip("the shared table needs fork")
    shared = SharedOutcomes(workers=2, slots=8)  # 8 slots: keys 3, 11 and 19 collide and probe onwards
    child = mp.get_context("fork").Process(target=_add_in_a_forked_worker,
                                           args=(shared, [(3, 5), (11, 7), (19, 2), (0, 4)]))
    child.start()
    child.join(10)
    assert child.exitcode == 0
    shared.claim(1)  # this process is worker 1: it reads worker 0's section
    assert shared.kept_before(3, 6) and shared.kept_before(11, 8) and shared.kept_before(19, 3)
    assert not shared.kept_before(3, 5)  # the same source: never the other worker's (and never happens)
    assert not shared.kept_before(11, 2)  # kept in a later source: the one-worker build keeps this copy
    assert not shared.kept_before(27, 99)  # never kept
    assert shared.kept_before(0, 5)  # hash 0 is stored as 1: still found
    shared.add(42, 1)
    assert not shared.kept_before(42, 9)  # its own section is not consulted (its own dict covers it)


def test_a_full_section_stops_taking_keys_instead_of_failing():
    shared = SharedOutcomes(workers=2, slots=4)
    shared.claim(0)
    for key in range(1, 10):
        shared.add(key, 0)
    assert shared.used == 2  # half full: the rest is left out, and lookups still end
    shared.claim(1)
    assert shared.kept_before(1, 3) and not shared.kept_before(9, 3)


@pytest.mark.skipif(not LICENCES.is_dir(), reason="needs Debian's /usr/share/common-licenses")
def test_two_workers_on_copy_heavy_input_keep_the_one_worker_documents(tmp_path):
    """Debian copyright files repeat whole licences: 8 real licence texts, each in 4 files spread over the
    source order. Whatever the shortcut catches in time, 2 workers keep what 1 worker keeps, with the same
    drop counts (every later copy is an exact duplicate)."""
    texts = sorted(p for p in LICENCES.iterdir() if p.is_file() and p.stat().st_size > 5000)[:8]
    src = tmp_path / "src"
    src.mkdir()
    for copy in range(4):
        for i, text in enumerate(texts):
            shutil.copy(text, src / f"{copy * len(texts) + i:03d}_{text.name}.txt")
    config = CorpusConfig(domain="legal", sources=[str(src)], decontaminate=False, workers=1)
    one = build_corpus(config, tmp_path / "one", progress=False)
    two = build_corpus(replace(config, workers=2), tmp_path / "two", progress=False)
    assert two["documents"] == one["documents"]
    rows = {name: [(r["source"], r["text"]) for split in ("train", "validation")
                   for r in read_shards(tmp_path / name, split, ("source", "text"))] for name in ("one", "two")}
    assert rows["two"] == rows["one"] and rows["one"]
    assert all(int(Path(source).name[:3]) < len(texts) for source, _ in rows["one"])  # first copies kept
    assert one["documents"]["dropped"]["exact_duplicate"] >= 3 * len(rows["one"])
