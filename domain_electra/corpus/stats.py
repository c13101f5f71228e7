"""Progress bar and the human summary (summary.md) of a corpus build."""
from __future__ import annotations

from pathlib import Path

from rich.progress import (BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn,
                           TransferSpeedColumn)


def progress_bar(total_bytes: int, enabled: bool = True) -> Progress:
    """Bytes of input read (MB/s from rich's transfer column), documents kept, documents read a second, ETA."""
    return Progress(
        TextColumn("[bold]corpus"), BarColumn(), TextColumn("{task.percentage:>5.1f}%"),
        TransferSpeedColumn(), TextColumn("{task.fields[docs]} kept, {task.fields[dps]:.0f} docs/s"),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), disable=not enabled,
    )


def _table(title: str, counts: dict, total: int | None = None) -> list[str]:
    if not counts:
        return [f"**{title}:** none", ""]
    lines = [f"**{title}**", "", "| | count |" + (" share |" if total else ""), "|---|---:|" + ("---:|" if total else "")]
    for key, value in counts.items():
        share = f" {100 * value / total:.1f}% |" if total else ""
        lines.append(f"| {key} | {value} |{share}")
    return lines + [""]


def write_summary(stats: dict, path: Path) -> None:
    docs, inputs, size = stats["documents"], stats["inputs"], stats["bytes"]
    lines = [
        f"# Corpus: {stats['domain']}", "",
        f"- sources: {inputs['sources']} ({inputs['bytes_on_disk'] / 1e6:.2f} MB on disk), read: {inputs['sources_read']}",
        f"- documents: {docs['read']} read -> {docs['kept']} kept ({docs['train']} train, {docs['validation']} validation)",
        f"- text: {size['in'] / 1e6:.2f} MB in -> {size['out'] / 1e6:.2f} MB out",
        f"- duplicate rate: {100 * stats['duplicate_rate']:.2f}%",
        f"- language identification: {stats.get('language_detector', '')}",
        f"- decontamination: {stats['decontamination'].get('dropped', 0)} documents dropped "
        f"({stats['decontamination'].get('indexed_ngrams', 0)} test n-grams indexed)",
        f"- time: {stats['seconds']} s with {stats['workers']} worker(s), {stats['mb_per_s']} MB/s"
        + (" (stopped at max_docs)" if stats.get("stopped_early") else ""), "",
    ]
    lines += _table("Inputs skipped (files, lines, rows)", inputs["skipped"])
    lines += _table("Documents dropped", docs["dropped"], docs["read"] or None)
    lines += _table("Languages", stats["languages"], docs["kept"] or None)
    lines += _table("Edits (cleaner counters)", stats["edits"])
    if stats["phi"]:
        lines += _table("PHI replaced, by type", stats["phi"])
    tasks = stats["decontamination"].get("tasks", {})
    if tasks:
        lines += ["**Decontamination tasks**", ""] + [f"- {k}: {v}" for k, v in tasks.items()] + [""]
    lines += ["## Samples of what was dropped", ""]
    for sample in stats["samples"]:
        text = sample["text"].replace("\n", " ")[:200]
        detail = f" ({sample['detail']})" if sample.get("detail") else ""
        lines.append(f"- **{sample['reason']}** `{sample['source']}`{detail}" + (f": {text}" if text else ""))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
