"""The local pool: in-order release (memory, then disk), the kept-hash table shared by workers, and large
JSONL files read as pieces."""
from __future__ import annotations

import gzip
import json
import multiprocessing as mp
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from domain_electra.corpus import CorpusConfig, build_corpus, read_shards
from domain_electra.corpus import readers
from domain_electra.corpus.pipeline import InSourceOrder
from domain_electra.corpus.readers import ReadOptions, Source, read_source, split_source
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


def _licence_jsonl(path: Path, copies: int = 3) -> list[str]:
    """Real licence paragraphs, one JSONL row each, repeated `copies` times (exact duplicates across pieces),
    with blank lines and one over-long line planted; returns the paragraphs."""
    paragraphs = [p.strip() for f in sorted(LICENCES.iterdir()) if f.is_file()
                  for p in f.read_text(errors="ignore").split("\n\n") if len(p.strip()) > 300][:400]
    with open(path, "w") as out:
        for copy in range(copies):
            for i, text in enumerate(paragraphs):
                out.write(json.dumps({"text": text}) + "\n")
                if i % 50 == 7:
                    out.write("\n")
            if copy == 1:
                out.write(json.dumps({"text": "x " * 40_000}) + "\n")  # over max_line_bytes below
    return paragraphs


@pytest.mark.skipif(not LICENCES.is_dir(), reason="needs Debian's /usr/share/common-licenses")
def test_a_large_jsonl_file_is_read_as_pieces_that_match_the_whole_file(tmp_path):
    path = tmp_path / "big.jsonl"
    _licence_jsonl(path)
    whole = Source("file", str(path), path.stat().st_size)
    pieces = split_source(whole, piece_bytes=60_000)
    assert len(pieces) > 5 and pieces[-1].piece.last and not any(p.piece.last for p in pieces[:-1])
    assert [p.piece.start for p in pieces[1:]] == [p.piece.end for p in pieces[:-1]]
    assert sum(p.size for p in pieces) == whole.size
    data = path.read_bytes()
    assert all(data[p.piece.start - 1:p.piece.start] == b"\n" for p in pieces[1:])  # cut after a newline
    assert all(data[:p.piece.start].count(b"\n") + 1 == p.piece.first_line for p in pieces)
    opts = ReadOptions("text", (".jsonl",), max_chars=10_000)  # lines over 64 kB are skipped, counted

    def items(sources):
        return [(type(i).__name__, i.source, getattr(i, "text", "")) for s in sources for i in read_source(s, opts)]

    assert items(pieces) == items([whole])  # the same documents, skips and "file:LINE" ids, in order
    long_line = data[:data.index(b"x x x")].count(b"\n") + 1
    assert ("Skipped", f"{path}:{long_line}", "") in items(pieces)
    gz = tmp_path / "big.jsonl.gz"
    gz.write_bytes(gzip.compress(data))
    assert split_source(Source("file", str(gz), gz.stat().st_size), 60_000) == [Source("file", str(gz), gz.stat().st_size)]


@pytest.mark.skipif(not LICENCES.is_dir(), reason="needs Debian's /usr/share/common-licenses")
def test_pieces_of_one_file_keep_the_same_documents_with_one_or_two_workers(tmp_path, monkeypatch):
    monkeypatch.setattr(readers.split_source, "__defaults__", (80_000,))
    path = tmp_path / "big.jsonl"
    paragraphs = _licence_jsonl(path)
    config = CorpusConfig(domain="legal", sources=[str(path)], decontaminate=False, workers=1)
    one = build_corpus(config, tmp_path / "one", progress=False)
    two = build_corpus(replace(config, workers=2), tmp_path / "two", progress=False)
    assert one["inputs"]["sources"] == one["inputs"]["sources_read"] == 1  # one file, however many pieces
    assert two["documents"] == one["documents"] and two["inputs"] == one["inputs"]
    rows = {name: [(r["source"], r["text"]) for split in ("train", "validation")
                   for r in read_shards(tmp_path / name, split, ("source", "text"))] for name in ("one", "two")}
    assert rows["two"] == rows["one"]
    assert one["documents"]["dropped"]["exact_duplicate"] >= len(paragraphs)  # the second and third copies


def test_a_file_whose_pieces_all_fail_counts_as_one_failed_source(tmp_path, monkeypatch):
    """Fault injection: every piece of the file raises in its reader (read_source counts it unreadable)."""
    monkeypatch.setattr(readers.split_source, "__defaults__", (2_000,))
    path = tmp_path / "notes.jsonl"
    path.write_text("".join(json.dumps({"text": f"note {i} " + "word " * 60}) + "\n" for i in range(200)))
    good = tmp_path / "good.txt"
    good.write_text("A plain paragraph of ordinary English text about a court ruling on contracts. " * 10)
    assert len(split_source(Source("file", str(path), path.stat().st_size))) > 3

    def broken(*args, **kwargs):
        raise RuntimeError("planted reader fault")
        yield

    monkeypatch.setattr(readers, "read_jsonl", broken)
    config = CorpusConfig(domain="legal", sources=[str(path), str(good)], decontaminate=False, workers=2,
                          max_failed_share=1.0)
    stats = build_corpus(config, tmp_path / "out", progress=False)
    assert stats["inputs"]["sources_read"] == 2
    assert stats["failures"]["failed"] == 1, stats["failures"]
    assert stats["failures"]["reasons"]["unreadable"] > 3  # each piece reported its error
