"""`build_corpus`: sources -> cleaned, deduplicated, decontaminated Parquet shards + stats + summary."""
from __future__ import annotations

import json
from contextlib import closing
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from datasketch import LeanMinHash, MinHashLSH

from ..errors import UserError
from . import steps as S
from .decontaminate import NgramIndex, collect_test_texts
from .pipeline import FAILED_SOURCE_REASONS, SAMPLE_CHARS, Plan, build_steps, run_pool
from .readers import ReadOptions, Skipped, Source, iter_sources
from .stats import print_summary, progress_bar, write_summary
from .writer import ShardWriter, is_validation, settle_splits


@dataclass(frozen=True)
class CorpusConfig:
    """A corpus build (`domain-electra corpus build`, or a recipe in corpora/*.yaml).

    domain: a registered domain name (code, legal, medical, finance, or a plugin) or a plugin path; its
        cleaners, file extensions and eval tasks (for decontamination) are used.
    sources: folders (walked recursively, following symlinks safely, picking the domain's file
        extensions), glob patterns and files (read whatever their extension), a folder written by
        `datasets.save_to_disk`, or a Hugging Face hub id (online users only). Formats by extension:
        text/markdown, HTML, XML, JSONL, JSON arrays, CSV, TSV, Parquet, source code; any of them
        (except Parquet) may be gzip (.gz) or zstd (.zst) compressed.
    exclude: fnmatch patterns of paths to leave out of folder walks and globs (e.g. "*/site-packages",
        "*/build"); counted as "excluded".
    text_field: the JSON key (dotted for nested), CSV/Parquet/dataset column, or XML element holding
        the text (e.g. "sentence" for the FOMC CSVs, "Answer" for MedQuAD's XML).
    join_rows: join the rows of each table file (CSV/TSV/JSONL/JSON/XML) into one document (chunked at
        max_chars), for corpora stored one sentence per row.
    workers: processes on this machine (1 = in-process). Any count keeps the same documents in the same
        order with the same drop counts: batches are taken in source order. Only `edits` can differ: a raw
        repeat that another worker reads is cleaned (and its edits counted) before dedup drops it.
    min_chars / max_chars: documents outside this length (after cleaning) are dropped; a record longer
        than max_chars is skipped while reading, never loaded whole.
    languages: keep-list of languages (ISO 639-1 codes for text, detected with langdetect; programming
        languages for code, from the extension); empty keeps every language.
    language_id: detect the language of each document (true, the default). A recipe whose text is known to
        be in one language may set false with `languages: [that one]`: every document is then labelled with
        it and nothing is dropped for language; detection costs ~25% of a text build (benchmarks/RESULTS.md).
    near_dup_threshold: MinHash-LSH Jaccard threshold on word 5-grams for near-duplicate removal
        (0 disables it; exact duplicates are always removed).
    decontaminate: drop documents sharing a `decontaminate_ngram`-word n-gram with the test split of any
        eval task of the domain (tasks whose data is missing are skipped and noted in stats.json).
    decontaminate_ngram: the n-gram length for decontamination (13, as in GPT-3).
    data_dir: where the data sets live, for the eval tasks and the `data:` and `task:` sources (default
        $DOMAIN_ELECTRA_DATA or ../shared/data).
    val_fraction: share of documents in the validation split (chosen by content hash and seed, so the
        split is the same whatever the order or worker count).
    seed: the split seed.
    max_docs: stop once this many documents are kept (0 = no cap); bounds the time of a quick run.
    shard_docs: documents per Parquet shard.
    max_failed_share: the build fails (after writing stats.json and summary.md) when more than this share
        of the sources could not be read (unreadable, truncated or corrupt archives, invalid UTF-8,
        malformed XML, worker errors and crashes; see pipeline.FAILED_SOURCE_REASONS); 0.05 by default,
        1 accepts any number of failures. Empty, binary or excluded files are not failures.
    cleaner_options: options for the domain's `make_cleaners` (see domains/<name>/cleaners.py), plus
        `collapse_spaces` (default: false for the code domain, true otherwise).
    """

    domain: str
    sources: list[str]
    exclude: list[str] = field(default_factory=list)
    text_field: str = "text"
    join_rows: bool = False
    workers: int = 1
    min_chars: int = 100
    max_chars: int = 1_000_000
    languages: list[str] = field(default_factory=list)
    language_id: bool = True
    near_dup_threshold: float = 0.8
    decontaminate: bool = True
    decontaminate_ngram: int = 13
    data_dir: str | None = None
    val_fraction: float = 0.05
    seed: int = 0
    max_docs: int = 0
    shard_docs: int = 50_000
    max_failed_share: float = 0.05
    cleaner_options: dict = field(default_factory=dict)


def check_config(config: CorpusConfig) -> None:
    if not config.sources:
        raise UserError("corpus build needs at least one --source (a folder, file, glob or dataset)")
    if config.workers < 1:
        raise UserError(f"workers must be >= 1, got {config.workers}")
    if not 0 <= config.min_chars < config.max_chars:
        raise UserError(f"need 0 <= min_chars < max_chars, got {config.min_chars} and {config.max_chars}")
    if not config.language_id and len(config.languages) != 1:
        raise UserError(f"language_id: false needs the corpus's one language in languages (e.g. languages: [en]), "
                        f"got languages: {list(config.languages)}")
    if not 0 <= config.near_dup_threshold <= 1:
        raise UserError(f"near_dup_threshold must be in [0, 1] (0 disables), got {config.near_dup_threshold}")
    if not 0 <= config.val_fraction < 1:
        raise UserError(f"val_fraction must be in [0, 1), got {config.val_fraction}")
    if config.shard_docs < 1 or config.max_docs < 0 or config.decontaminate_ngram < 1:
        raise UserError("shard_docs and decontaminate_ngram must be >= 1 and max_docs >= 0")
    if not 0 <= config.max_failed_share <= 1:
        raise UserError(f"max_failed_share must be in [0, 1] (1 accepts any failures), got {config.max_failed_share}")


class Deduplicator:
    """Exact (content hash) and near (MinHash LSH, datasketch) duplicate detection; the first copy wins.

    With pybloomfiltermmap3 installed (datasketch[bloom]) both indexes are Bloom filters sized for
    `capacity` documents: memory is fixed up front (about 25 bytes a document of capacity: 11 bands at
    0.1% false positives, plus the exact-hash filter at 1e-7), whatever the input size. Without it,
    datasketch's in-memory MinHashLSH and a Python set are used (a few KB per kept document).
    LSH bands (11 x 11 for threshold 0.8, false negatives weighted 0.7) catch a pair at Jaccard 0.9
    with probability 0.98, at 0.8 with 0.63 and at 0.6 with 0.04.
    """

    WEIGHTS = (0.3, 0.7)

    def __init__(self, threshold: float, capacity: int = 1_000_000):
        self.threshold, self.keys = threshold, 0
        try:
            import pybloomfilter  # noqa: F401  (datasketch[bloom])
            from datasketch import MinHashLSHBloom

            self.bloom = True
            self.seen = pybloomfilter.BloomFilter(capacity=capacity, error_rate=1e-7)
            with warnings.catch_warnings():  # "index will not be persisted": intended
                warnings.simplefilter("ignore")
                self.lsh = (MinHashLSHBloom(threshold=threshold, num_perm=S.NUM_PERM, n=capacity, fp=0.001,
                                            weights=self.WEIGHTS) if threshold > 0 else None)
        except ImportError:
            self.bloom = False
            self.seen = set()
            self.lsh = MinHashLSH(threshold=threshold, num_perm=S.NUM_PERM, weights=self.WEIGHTS) if threshold > 0 else None

    def check(self, record: dict) -> str | None:
        """exact_duplicate: the same cleaned text as any earlier document (kept or not, as a worker's outcome
        cache answers a raw repeat, so the label does not depend on which worker read the copy);
        near_duplicate: LSH-similar to an earlier kept one."""
        key = int(record["hash"][:16], 16)
        if key in self.seen:
            return "exact_duplicate"
        self.seen.add(key)
        if self.lsh is not None and record["signature"] is not None:
            if self.bloom:
                if self._bloom_seen_or_add(record["signature"]):
                    return "near_duplicate"
            else:
                sig = LeanMinHash(seed=S.MINHASH_SEED, hashvalues=record["signature"], scheme="affine64")
                if self.lsh.query(sig):
                    return "near_duplicate"
                self.lsh.insert(self.keys, sig, check_duplication=False)
        self.keys += 1
        return None

    def _bloom_seen_or_add(self, signature: np.ndarray) -> bool:
        """MinHashLSHBloom.query, then .insert when it misses, with the band hashes of all bands taken in
        one numpy call: datasketch's BloomTable hashes a band as the uint64 sum of its values mod 2^61-1,
        one band (two numpy calls) at a time, which was a quarter of the main process's time (a test
        pins that both see the same index)."""
        b, r = self.lsh.b, self.lsh.r
        bands = (signature[: b * r].reshape(b, r).sum(axis=1, dtype=np.uint64) % _MERSENNE).tolist()
        filters = [table.bloom_filter for table in self.lsh.hashtables]
        if any(band in bloom for band, bloom in zip(bands, filters)):
            return True
        for band, bloom in zip(bands, filters):
            bloom.add(band)
        return False


_MERSENNE = np.uint64((1 << 61) - 1)  # datasketch's band-hash modulus


def bloom_band_keys(signatures: np.ndarray, b: int, r: int) -> np.ndarray:
    """The key the Bloom LSH index stores for each band: the uint64 sum of its r values mod 2^61-1, for
    a (documents x NUM_PERM) matrix of signatures (-> documents x b), for the distributed dedup
    (corpus/cluster_dedup.py). `_bloom_seen_or_add` inlines the same sum for one signature (a function
    call there costs ~10% of the look-up); tests/test_corpus_dedup.py pins that both agree."""
    bands = signatures[..., : b * r].reshape(*signatures.shape[:-1], b, r)
    return bands.sum(axis=-1, dtype=np.uint64) % _MERSENNE


def bloom_backend() -> bool:
    """Whether `Deduplicator` runs on Bloom filters (pybloomfiltermmap3 and datasketch's MinHashLSHBloom)."""
    try:
        import pybloomfilter  # noqa: F401
        from datasketch import MinHashLSHBloom  # noqa: F401
    except ImportError:
        return False
    return True


def lsh_bands(threshold: float) -> tuple[int, int]:
    """(bands, rows per band) of `Deduplicator`'s LSH index at `threshold` (both backends use these)."""
    lsh = MinHashLSH(threshold=threshold, num_perm=S.NUM_PERM, weights=Deduplicator.WEIGHTS)
    return lsh.b, lsh.r


def _decontamination_index(config: CorpusConfig, domain) -> tuple[NgramIndex | None, dict]:
    if not config.decontaminate:
        return None, {"enabled": False}
    texts, notes = collect_test_texts(domain, config.data_dir)
    index = NgramIndex(texts, config.decontaminate_ngram) if texts else None
    return index, {"enabled": True, "ngram": config.decontaminate_ngram, "tasks": notes,
                   "test_texts": len(texts), "indexed_ngrams": len(index) if index else 0}


def _enumerate(config: CorpusConfig, extensions: tuple[str, ...]) -> tuple[list[Source], Counter, list]:
    sources, skipped, samples = [], Counter(), []
    for item in iter_sources(config.sources, extensions, tuple(config.exclude), config.data_dir):
        if isinstance(item, Skipped):
            skipped[item.reason] += 1
            if sum(1 for s in samples if s["reason"] == item.reason) < 3:
                samples.append({"kind": "input", "reason": item.reason, "source": item.source, "text": "",
                                "detail": item.detail})
        else:
            sources.append(item)
    return sources, skipped, samples


@dataclass(frozen=True)
class Prepared:
    """What every build needs before the documents flow: the sources and the worker plan."""

    domain: Any
    sources: list[Source]
    input_skips: Counter
    samples: list
    plan: Plan
    decontamination: dict
    started: float


def prepare(config: CorpusConfig, with_index: bool = True) -> Prepared:
    """Check the config, list the sources, build the decontamination index and the worker plan."""
    from ..registry import get_domain

    check_config(config)
    domain = get_domain(config.domain)
    t0 = time.time()
    sources, input_skips, samples = _enumerate(config, tuple(domain.file_extensions))
    index, decon = _decontamination_index(config, domain) if with_index else (None, {})
    options = dict(config.cleaner_options)
    collapse = bool(options.pop("collapse_spaces", domain.tokenizer.pretokenizer != "code"))
    plan = Plan(domain=config.domain, read=ReadOptions(config.text_field, tuple(domain.file_extensions),
                                                     config.max_chars, config.join_rows),
                min_chars=config.min_chars, max_chars=config.max_chars, languages=tuple(config.languages),
                language_id=config.language_id,
                cleaner_options=options, collapse_spaces=collapse, near_dedup=config.near_dup_threshold > 0,
                index=index)
    if with_index:  # a processing run: build the cleaners now (fixed cost, shared by forked workers)
        _warm_steps(plan)
        if domain.tokenizer.pretokenizer != "code" and config.language_id:  # code: from the extension
            S.language_detector()  # load the language-id model once, here, not in every worker
        import pyarrow as pa

        pa.array([""])  # pyarrow imports pandas on its first list conversion (~0.3 s): a fixed cost, paid here
    return Prepared(domain, sources, input_skips, samples, plan, decon, t0)


def _warm_steps(plan: Plan) -> None:
    try:
        build_steps(plan)
    except UserError:
        raise
    except Exception as exc:  # a broken plugin: one line, as for any other user-supplied input
        raise UserError(f"the cleaners of domain {plan.domain!r} could not be built: {type(exc).__name__}: {exc}")


def build_corpus(config: CorpusConfig, out: Path, progress: bool = True) -> dict:
    """Build the corpus into `out` (shards, stats.json, summary.md) and return the stats dict.

    Raises UserError when nothing survives, naming the most frequent reasons, or when more than
    `max_failed_share` of the sources could not be read (stats.json and summary.md are written first).
    """
    prep = prepare(config)
    return finish(config, prep, run_pool(prep.sources, prep.plan, config.workers), out, progress)


SAMPLES_PER_REASON = 3


@dataclass
class Tally:
    """What a build has counted so far (an accumulator, so not frozen). Cluster tasks each keep one and
    `finish_stats` adds them in task order: counters keep their first-seen key order and samples their
    first SAMPLES_PER_REASON per reason, so the sum reads exactly like one sequential build's."""

    totals: Counter = field(default_factory=Counter)  # docs_in, bytes_in, sources_done, sources_failed
    skipped: Counter = field(default_factory=Counter)
    dropped: Counter = field(default_factory=Counter)
    edits: Counter = field(default_factory=Counter)
    languages: Counter = field(default_factory=Counter)
    samples: list = field(default_factory=list)
    kept: int = 0
    stopped_early: bool = False

    def sample(self, sample: dict) -> None:
        if sum(1 for s in self.samples if s["reason"] == sample["reason"]) < SAMPLES_PER_REASON:
            self.samples.append(sample)

    def add(self, other: "Tally") -> None:
        for name in _COUNTERS:
            getattr(self, name).update(getattr(other, name))
        for sample in other.samples:
            self.sample(sample)
        self.kept += other.kept
        self.stopped_early |= other.stopped_early

    def to_json(self) -> dict:  # counters as [key, count] pairs: JSON keeps their order
        return {f.name: list(getattr(self, f.name).items()) if f.name in _COUNTERS else getattr(self, f.name)
                for f in fields(self)}

    @classmethod
    def from_json(cls, data: dict) -> "Tally":
        return cls(**{name: Counter(dict(value)) if name in _COUNTERS else value for name, value in data.items()})


_COUNTERS = ("totals", "skipped", "dropped", "edits", "languages")


def write_rows(config: CorpusConfig, domain_name: str, batches: Iterator[dict], out: Path, dedup: Any,
               tally: Tally, on_batch: Any = None) -> dict:
    """The documents that pass `dedup` -> train/validation shards in `out`; the counts go to `tally`.
    An empty split gets no shard here: `writer.settle_splits` applies the whole-build rules after."""
    writers = {split: ShardWriter(out, split, config.shard_docs) for split in ("train", "validation")}
    with closing(batches):  # closing: an early stop terminates the worker processes at once
        for batch in batches:
            tally.totals.update({key: batch[key] for key in ("docs_in", "bytes_in", "sources_done", "sources_failed")})
            tally.skipped.update(batch["skipped"])
            tally.dropped.update(batch["dropped"])
            tally.edits.update(batch["edits"])
            for sample in batch["samples"]:
                tally.sample(sample)
            for record in batch["records"]:
                reason = dedup.check(record)
                if reason:
                    tally.dropped[reason] += 1
                    tally.sample({"kind": "document", "reason": reason, "source": record["source"],
                                  "text": record["text"][:SAMPLE_CHARS], "detail": ""})
                    continue
                row = {k: record[k] for k in ("text", "source", "language", "hash")} | {"domain": domain_name}
                tally.languages[row["language"]] += 1
                tally.kept += 1
                split = "validation" if is_validation(row["hash"], config.seed, config.val_fraction) else "train"
                writers[split].write(row)
                if config.max_docs and tally.kept >= config.max_docs:
                    tally.stopped_early = True
                    break
            if on_batch is not None:
                on_batch(batch)
            if tally.stopped_early:
                break
    return {split: w.close(empty_shard=False) for split, w in writers.items()}


def finish(config: CorpusConfig, prep: Prepared, batches: Iterator[dict], out: Path, progress: bool = True,
           dedup: Any = None) -> dict:
    """Global part of a build: exact and near dedup, the split, the shards, stats.json and summary.md.

    `dedup` (anything with `check(record) -> reason | None`) replaces the `Deduplicator`: the distributed
    build passes the verdicts its dedup stages already reached (corpus/cluster.py).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sources = prep.sources
    # Bloom capacity from the input size (~1 document per 500 bytes on disk, at least a million).
    capacity = min(max(sum(s.size for s in sources) // 500, 1_000_000), 200_000_000)
    dedup = Deduplicator(config.near_dup_threshold, capacity) if dedup is None else dedup
    tally = Tally(skipped=Counter(prep.input_skips), samples=list(prep.samples))
    bar = progress_bar(sum(s.size for s in sources), enabled=progress)
    t_setup = time.time() - prep.started  # domain, source listing, decontamination index: fixed cost
    with bar:
        task = bar.add_task("corpus", total=sum(s.size for s in sources) or None, docs=0, dps=0.0)

        def advance(batch: dict) -> None:
            elapsed = max(time.time() - prep.started, 1e-9)
            bar.update(task, advance=batch["done_bytes"], docs=tally.kept, dps=tally.totals["docs_in"] / elapsed)
            if tally.stopped_early:  # max_docs reached: the job is done; end the bar full, keeping the true MB/s
                bar.update(task, total=bar.tasks[task].completed)

        shards = write_rows(config, prep.domain.name, batches, out, dedup, tally, on_batch=advance)
    shards = settle_splits(shards, out, config.shard_docs, config.val_fraction, tally.kept)
    return finish_stats(config, prep, tally, shards, out, time.time() - prep.started, t_setup, progress)


def finish_stats(config: CorpusConfig, prep: Prepared, tally: Tally, shards: dict, out: Path, seconds: float,
                 t_setup: float, progress: bool) -> dict:
    """stats.json and summary.md from the counts; the one-line errors of an empty or failed build."""
    domain, sources, dropped, totals = prep.domain, prep.sources, tally.dropped, tally.totals
    listing_failed = sum(n for reason, n in prep.input_skips.items() if reason in FAILED_SOURCE_REASONS)
    dedup_seen = tally.kept + dropped["exact_duplicate"] + dropped["near_duplicate"]
    stats: dict[str, Any] = {
        "domain": domain.name,
        "config": _plain(config),
        "inputs": {"sources": len(sources), "sources_read": totals["sources_done"],
                   "bytes_on_disk": sum(s.size for s in sources), "skipped": dict(tally.skipped.most_common())},
        "documents": {"read": totals["docs_in"], "kept": tally.kept, "train": shards["train"]["documents"],
                      "validation": shards["validation"]["documents"], "dropped": dict(dropped.most_common())},
        "bytes": {"in": totals["bytes_in"], "out": shards["train"]["bytes"] + shards["validation"]["bytes"]},
        "languages": dict(tally.languages.most_common()),
        "language_detector": ("file extension" if domain.tokenizer.pretokenizer == "code" else
                              S.language_detector()[1] if config.language_id else
                              f"off (language_id: false; every document declared {config.languages[0]})"),
        # What a cleaner says it ran, e.g. the medical PHI detector: "PHI: rules only (no trained pipeline ...)".
        "cleaners": [step.describe() for step in build_steps(prep.plan) if hasattr(step, "describe")],
        "duplicate_rate": round((dropped["exact_duplicate"] + dropped["near_duplicate"]) / dedup_seen, 4)
        if dedup_seen else 0.0,
        "edits": dict(tally.edits.most_common()),
        "phi": {k.split(":", 1)[1]: v for k, v in tally.edits.most_common() if k.startswith("phi:")},
        "decontamination": prep.decontamination | {"dropped": dropped["contaminated"]},
        "shards": {split: s["shards"] for split, s in shards.items()},
        "workers": config.workers,
        "seconds": round(seconds, 2),
        "seconds_setup": round(t_setup, 2),
        "mb_per_s": round(totals["bytes_in"] / 1e6 / max(seconds, 1e-9), 2),
        "mb_per_s_processing": round(totals["bytes_in"] / 1e6 / max(seconds - t_setup, 1e-9), 2),
        "stopped_early": tally.stopped_early,
        # Over the sources actually read (all of them, unless max_docs stopped the build early).
        "failures": _failures(config, totals["sources_done"] + listing_failed,
                              totals["sources_failed"] + listing_failed, tally.skipped, tally.samples),
        "samples": tally.samples,
    }
    (out / "stats.json").write_text(json.dumps(stats, indent=2, ensure_ascii=False, default=_json_default))
    write_summary(stats, out / "summary.md")
    if progress:
        print_summary(stats, out)
    if tally.kept == 0:
        reasons = (tally.skipped + dropped).most_common(3)
        named = ", ".join(f"{r} ({n})" for r, n in reasons) or "no input documents found"
        raise UserError(f"corpus build kept no documents from {', '.join(config.sources)}: top reasons: {named} "
                        f"(see {out / 'stats.json'} for samples)")
    _check_failures(stats["failures"], out)
    return stats


def _failures(config: CorpusConfig, total: int, failed: int, skipped: Counter, samples: list) -> dict:
    """How many sources were lost, why (count per reason) and one example (path: error) per reason."""
    reasons = Counter({r: n for r, n in skipped.items() if r in FAILED_SOURCE_REASONS})
    examples = {}
    for sample in samples:
        if sample["reason"] in reasons and sample["reason"] not in examples:
            detail = " ".join(str(sample.get("detail", "")).split())  # one line, whatever the error said
            examples[sample["reason"]] = f"{sample['source']}: {detail}".rstrip(": ")
    return {"sources": total, "failed": failed, "share": round(failed / total, 4) if total else 0.0,
            "max_failed_share": config.max_failed_share, "reasons": dict(reasons.most_common()),
            "examples": examples}


def _check_failures(failures: dict, out: Path) -> None:
    """One line when more than max_failed_share of the sources were lost (stats are written first)."""
    if failures["failed"] == 0 or failures["share"] <= failures["max_failed_share"]:
        return
    top = ", ".join(f"{r} ({n})" for r, n in list(failures["reasons"].items())[:3])
    first = next(iter(failures["reasons"]), "")
    example = f", e.g. {failures['examples'][first][:160]}" if first in failures["examples"] else ""
    raise UserError(f"corpus build: {failures['failed']} of {failures['sources']} sources failed "
                    f"({100 * failures['share']:.1f}% > max_failed_share {100 * failures['max_failed_share']:g}%): "
                    f"{top}{example}; fix or remove those files, or accept the loss with "
                    f"--set max_failed_share=1 (details in {out / 'stats.json'})")


def _plain(config: CorpusConfig) -> dict:
    from ..config import to_dict

    return to_dict(config)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return str(value)
