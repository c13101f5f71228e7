"""The per-document work (read, clean, hash, sign) and the local multiprocess pool that runs it.

Workers do everything that needs no global state: reading, the generic and domain steps,
decontamination, the content hash and the MinHash signature. They send batches of kept records and
counters to the main process, which does exact and near deduplication (global state) and writes the
shards. The result queue is bounded, so a fast reader cannot fill memory while the writer lags. The main
process takes the batches in source order (`InSourceOrder`), so `--workers N` keeps exactly the documents
of `--workers 1`: the dedup keep rule is sequential, and arrival order would change it.

A worker that raises on a source reports the source as `worker_error` and carries on; a worker that
dies (segfault, OOM kill) is detected by its exit code, its source is counted as `worker_crashed` and a
replacement is started: the pool never hangs.

A source *failed* when it could not be read at all (FAILED_SOURCE_REASONS): every batch carries
`sources_failed`, so the build can refuse a run that lost more than `max_failed_share` of its input.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import queue
import tempfile
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Sequence

import xxhash

from ..domain import Document
from . import steps as S
from .decontaminate import NgramIndex
from .readers import ReadOptions, Skipped, Source, read_source, split_source
from .shared_outcomes import SharedOutcomes

BATCH_DOCS = 256
ORDER_MEMORY_BYTES = 64 << 20  # batches waiting for their turn in memory before they spill to disk
BATCH_CHARS = 4 << 20
SAMPLES_PER_REASON = 3
SAMPLE_CHARS = 300
# Skip reasons that mean "this source was lost", as opposed to content the build chose to leave out
# (empty, binary, excluded, too long, a bad line in an otherwise good file).
FAILED_SOURCE_REASONS = frozenset({"unreadable", "truncated_archive", "corrupt_archive", "invalid_utf8",
                                   "malformed_xml", "hub_unavailable", "worker_error", "worker_crashed"})


@dataclass(frozen=True)
class Plan:
    """Everything a worker needs (picklable: the domain travels by name or path)."""

    domain: str
    read: ReadOptions
    min_chars: int
    max_chars: int
    languages: tuple[str, ...]
    language_id: bool = True  # False: every document is in languages[0] (the recipe declares it)
    cleaner_options: Mapping[str, Any] = field(default_factory=dict)
    collapse_spaces: bool = True
    near_dedup: bool = True
    index: NgramIndex | None = None


_STEPS: dict[str, list] = {}  # built steps per plan (see build_steps)


def build_steps(plan: Plan) -> list[S.Step]:
    """normalise -> length -> language -> the domain's cleaners -> length again (cleaners shorten).

    Cached per plan (the steps are stateless): `prepare` builds them once in the main process, so the
    fixed cost (spaCy's import, ~3 s, and the medical pipeline; tree-sitter grammars) is paid once and
    forked workers inherit the result instead of paying it each.
    """
    from ..registry import get_domain

    key = repr((plan.domain, plan.min_chars, plan.max_chars, plan.languages, plan.language_id,
                sorted(plan.cleaner_options.items()), plan.collapse_spaces))
    if key not in _STEPS:
        domain = get_domain(plan.domain)
        length = S.length(plan.min_chars, plan.max_chars)
        _STEPS[key] = [S.normalize(plan.collapse_spaces), length, S.language(plan.languages, detect=plan.language_id),
                       *domain.cleaners(dict(plan.cleaner_options)), length]
    return _STEPS[key]


def new_batch() -> dict:
    return {"records": [], "skipped": Counter(), "dropped": Counter(), "edits": Counter(), "samples": [],
            "docs_in": 0, "bytes_in": 0, "done_bytes": 0, "sources_done": 0, "sources_failed": 0}


class _Sampler:
    """Up to SAMPLES_PER_REASON examples of each reason per process (the main keeps the first ones)."""

    def __init__(self) -> None:
        self.seen: Counter = Counter()

    def take(self, batch: dict, kind: str, reason: str, source: str, text: str = "", detail: str = "") -> None:
        if self.seen[(kind, reason)] < SAMPLES_PER_REASON:
            self.seen[(kind, reason)] += 1
            batch["samples"].append({"kind": kind, "reason": reason, "source": source,
                                     "text": text[:SAMPLE_CHARS], "detail": detail})


class Processor:
    """Turns one Source into batches; built once per worker process (spaCy, tree-sitter load here)."""

    OUTCOME_CACHE = 2_000_000

    def __init__(self, plan: Plan):
        self.plan = plan
        self.steps = build_steps(plan)
        self.sampler = _Sampler()
        # Raw-text hash -> outcome ("" kept, else the drop reason) of documents this worker has seen:
        # a repeated document (licence texts, vendored copies) skips all the work and gets the same
        # verdict. Global exact dedup still happens in the main process; this is only a shortcut.
        self.outcomes: dict[int, str] = {}
        # The pool's workers also see each other's kept hashes (shared_outcomes.py); None in-process.
        self.shared: SharedOutcomes | None = None
        self.source_index = 0
        self.published: list[int] = []  # kept hashes of the batch being filled, shared when it ships

    def skip(self, batch: dict, item: Skipped) -> None:
        batch["skipped"][item.reason] += 1
        self.sampler.take(batch, "input", item.reason, item.source, detail=item.detail)

    def drop(self, batch: dict, reason: str, doc: Document, key: int) -> None:
        batch["dropped"][reason] += 1
        self.sampler.take(batch, "document", reason, doc.source, doc.text)
        self.outcomes[key] = reason

    def document(self, batch: dict, doc: Document) -> None:
        raw = doc.text.encode("utf-8", "surrogatepass")
        batch["docs_in"] += 1
        batch["bytes_in"] += len(raw)
        key = xxhash.xxh3_64_intdigest(raw)
        seen = self.outcomes.get(key)
        if seen is None and self.shared is not None and self.shared.kept_before(key, self.source_index):
            seen = self.outcomes[key] = ""  # an earlier source, in another worker, kept this very text
        if seen is not None:
            reason = seen or "exact_duplicate"
            batch["dropped"][reason] += 1
            self.sampler.take(batch, "document", reason, doc.source, doc.text)
            return
        if len(self.outcomes) >= self.OUTCOME_CACHE:
            self.outcomes.clear()  # bounded memory; only the shortcut is lost
        result = S.apply_steps(doc, self.steps)
        if isinstance(result, str):
            self.drop(batch, result, doc, key)
            return
        hashes = S.word_hashes(result.text)
        if self.plan.index is not None and self.plan.index.contains(hashes):
            self.drop(batch, "contaminated", result, key)
            return
        self.outcomes[key] = ""
        self.published.append(key)
        batch["edits"].update(result.meta.get("edits", {}))
        batch["records"].append({
            "text": result.text, "source": result.source, "language": result.language or "unknown",
            "hash": S.content_hash(result.text),
            "signature": hashes if self.plan.near_dedup else None,  # word hashes until `sign`
        })

    def sign(self, batch: dict) -> dict:
        """Replace the records' word hashes by their MinHash signatures, the whole batch at once; the
        batch's kept hashes become visible to the other workers as it ships (not before: a worker that
        dies holding an unsent batch must not make others drop copies of documents nobody received)."""
        records = [r for r in batch["records"] if r["signature"] is not None]
        for record, signature in zip(records, S.minhash_signatures([r["signature"] for r in records])):
            record["signature"] = signature
        if self.shared is not None:
            for key in self.published:
                self.shared.add(key, self.source_index)
        self.published = []
        return batch

    def process(self, src: Source, index: int = 0) -> Iterator[dict]:
        """Batches of one source; `index` is its place in the build's source order."""
        self.source_index, self.published = index, []
        batch, chars, failed = new_batch(), 0, False
        for item in read_source(src, self.plan.read):
            if isinstance(item, Skipped):
                self.skip(batch, item)
                failed = failed or item.reason in FAILED_SOURCE_REASONS
                continue
            self.document(batch, item)
            chars += len(item.text)
            if len(batch["records"]) >= BATCH_DOCS or chars >= BATCH_CHARS:
                yield self.sign(batch)
                batch, chars = new_batch(), 0
        yield self.sign(_finished(batch, src, failed))

    def safe_process(self, src: Source, index: int = 0) -> Iterator[dict]:
        """`process`, with an unexpected exception turned into a counted `worker_error` for the source."""
        try:
            yield from self.process(src, index)
        except Exception as exc:  # a bug or a pathological file must cost one source, not the build
            batch = new_batch()
            self.skip(batch, Skipped("worker_error", src.path, f"{type(exc).__name__}: {str(exc)[:120]}"))
            yield _finished(batch, src, True)


def _finished(batch: dict, src: Source, failed: bool) -> dict:
    """The last batch of `src`: its bytes done; the file counted as read by its last piece only, and as
    failed by each failed piece (the pool counts a file once: `_one_failure_per_file`)."""
    batch["done_bytes"] = src.size
    batch["sources_done"] = int(src.piece is None or src.piece.last)
    batch["sources_failed"] = int(failed)
    if failed:
        batch["failed_path"] = src.path
    return batch


def crashed_batch(src: Source, exitcode: int | None) -> dict:
    batch = new_batch()
    batch["skipped"]["worker_crashed"] += 1
    batch["samples"].append({"kind": "input", "reason": "worker_crashed", "source": src.path, "text": "",
                             "detail": f"worker exit code {exitcode}"})
    return _finished(batch, src, True)


def _one_failure_per_file(batches: Iterator[dict]) -> Iterator[dict]:
    """Batches with a file whose several pieces failed counted as one failed source."""
    failed: set[str] = set()
    with closing(batches):  # an early stop closes the pool too (its finally stops the workers)
        for batch in batches:
            path = batch.get("failed_path")
            if path is not None:
                if path in failed:
                    batch["sources_failed"] = 0
                failed.add(path)
            yield batch


# ----------------------------------------------------------------------------- the pool
def _worker_main(plan: Plan, tasks: Any, results: Any, shared: SharedOutcomes | None, section: int) -> None:
    try:
        processor = Processor(plan)
    except BaseException as exc:  # cleaners failed to build: the main process reports it and stops
        results.put(("fatal", os.getpid(), f"{type(exc).__name__}: {exc}"))
        return
    if shared is not None:
        shared.claim(section)
        processor.shared = shared
    while True:
        job = tasks.get()
        if job is None:
            results.put(("exit", os.getpid(), None))
            return
        index, src = job
        results.put(("start", os.getpid(), index))
        for batch in processor.safe_process(src, index):
            results.put(("batch", os.getpid(), (index, batch)))
        results.put(("done", os.getpid(), index))


def _context() -> mp.context.BaseContext:
    # fork: workers inherit the plan (n-gram index) without pickling and need no __main__ guard.
    methods = mp.get_all_start_methods()
    return mp.get_context("fork" if "fork" in methods else "spawn")


class InSourceOrder:
    """Releases the pool's batches in source order, as `--workers 1` yields them.

    The dedup keep rule is sequential (the first copy wins; which member of a near-duplicate chain
    survives depends on what came first), so arrival order would change the kept documents from run to
    run. Batches of a source that is not yet the current one wait in memory up to `memory_bytes`, then in
    a private temporary folder: a slow first file must not make the main process hold the rest of the
    corpus. They are pickled there exactly as the result queue already pickled them, and never leave this
    process. Once a source spills, its later batches spill too, so replaying memory then file keeps order.
    """

    def __init__(self, memory_bytes: int | None = None) -> None:
        self.current = 0
        self.done: set[int] = set()
        self.held: dict[int, list[dict]] = {}  # source index -> batches waiting in memory
        self.held_bytes = 0
        self.memory_bytes = ORDER_MEMORY_BYTES if memory_bytes is None else memory_bytes
        self.waiting: dict[int, Any] = {}  # source index -> its spill file
        self.folder: tempfile.TemporaryDirectory | None = None

    def add(self, index: int, batch: dict) -> Iterator[dict]:
        if index == self.current:
            yield batch
            return
        size = _batch_bytes(batch)
        if index not in self.waiting and self.held_bytes + size <= self.memory_bytes:
            self.held.setdefault(index, []).append(batch)
            self.held_bytes += size
            return
        if index not in self.waiting:
            if self.folder is None:
                self.folder = tempfile.TemporaryDirectory(prefix="domain-electra-order-")
            self.waiting[index] = open(os.path.join(self.folder.name, f"{index}.pkl"), "w+b")
        pickle.dump(batch, self.waiting[index], protocol=pickle.HIGHEST_PROTOCOL)

    def finish(self, index: int) -> Iterator[dict]:
        """Source `index` sent its last batch: release every source that is now next in line."""
        self.done.add(index)
        while self.current in self.done:
            self.current += 1
            yield from self._replay(self.current)  # what the new current source sent meanwhile

    def _replay(self, index: int) -> Iterator[dict]:
        for batch in self.held.pop(index, ()):
            self.held_bytes -= _batch_bytes(batch)
            yield batch
        spill = self.waiting.pop(index, None)
        if spill is None:
            return
        with spill:
            spill.seek(0)
            while True:
                try:
                    yield pickle.load(spill)
                except EOFError:
                    return

    def close(self) -> None:
        for spill in self.waiting.values():
            spill.close()
        if self.folder is not None:
            self.folder.cleanup()


def _batch_bytes(batch: dict) -> int:
    """About what a waiting batch holds: its texts plus a MinHash signature (1 KB) per record."""
    return sum(len(r["text"]) + 1024 for r in batch["records"]) + 512


def run_pool(sources: Sequence[Source], plan: Plan, workers: int) -> Iterator[dict]:
    """Batches from all sources, in source order whatever the worker count (workers <= 1: in-process).
    Large JSONL files are read as pieces (readers.split_source), the same pieces for every worker count;
    a file's rows joined into documents (join_rows) are read whole."""
    return _one_failure_per_file(_pool_batches(reading_units(sources, plan.read.join_rows), plan, workers))


def reading_units(sources: Sequence[Source], join_rows: bool) -> list[Source]:
    """The sources as the units a worker reads: large JSONL files as pieces (readers.split_source), except
    when a file's rows are joined into documents (join_rows): then it is read whole."""
    return list(sources) if join_rows else [piece for src in sources for piece in split_source(src)]


def _pool_batches(sources: Sequence[Source], plan: Plan, workers: int) -> Iterator[dict]:
    if workers <= 1:
        processor = Processor(plan)
        for src in sources:
            yield from processor.safe_process(src)
        return
    ctx = _context()
    tasks, results = ctx.Queue(), ctx.Queue(maxsize=4 * workers)
    for job in enumerate(sources):
        tasks.put(job)
    for _ in range(workers):
        tasks.put(None)
    procs: dict[int, Any] = {}
    running: dict[int, int] = {}  # pid -> index of the source it is working on
    order = InSourceOrder()
    restarts = 0
    # Fork shares the mapping; spawn would copy it, so there each worker keeps its own shortcut only.
    shared = SharedOutcomes(workers) if ctx.get_start_method() == "fork" else None
    sections: dict[int, int] = {}  # pid -> its section of the shared table (a replacement takes it over)

    def start(section: int) -> None:
        proc = ctx.Process(target=_worker_main, args=(plan, tasks, results, shared, section), daemon=True)
        proc.start()
        procs[proc.pid], sections[proc.pid] = proc, section

    def crashed(index: int, exitcode: int | None) -> Iterator[dict]:
        yield from order.add(index, crashed_batch(sources[index], exitcode))
        yield from order.finish(index)

    for section in range(min(workers, max(len(sources), 1))):
        start(section)
    try:
        while procs:
            try:
                kind, pid, payload = results.get(timeout=0.5)
            except queue.Empty:
                for pid, proc in list(procs.items()):
                    if proc.exitcode not in (None, 0):  # died without saying goodbye
                        del procs[pid]
                        if pid in running:
                            yield from crashed(running.pop(pid), proc.exitcode)
                        restarts += 1
                        if restarts > 3 * workers:
                            from ..errors import UserError

                            raise UserError(f"corpus workers keep dying (last exit code {proc.exitcode}); "
                                            "rerun with --workers 1 to see the error")
                        start(sections[pid])  # it never took its stop sentinel, so the replacement will
                continue
            if kind == "batch":
                yield from order.add(*payload)
            elif kind == "start":
                running[pid] = payload
            elif kind == "done":
                running.pop(pid, None)
                yield from order.finish(payload)
            elif kind == "exit":
                proc = procs.pop(pid, None)
                if proc is not None:
                    proc.join(timeout=5)
            elif kind == "fatal":
                from ..errors import UserError

                raise UserError(f"corpus workers could not start: {payload}")
        # A worker killed outright may not have flushed its last messages (even "start"): every source
        # that never reported "done" is counted as crashed, so no source disappears silently.
        for index in sorted(set(range(len(sources))) - order.done):
            yield from crashed(index, None)
    finally:
        for proc in procs.values():
            if proc.is_alive():
                proc.terminate()
        for proc in procs.values():
            proc.join(timeout=5)
        tasks.cancel_join_thread()
        results.cancel_join_thread()
        order.close()
