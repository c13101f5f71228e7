"""Progress bar and the human summary (summary.md) of a corpus build."""
from __future__ import annotations

from pathlib import Path

from rich.console import Console
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


def failure_line(failures: dict) -> str:
    """'2 of 40 (5.0%, limit 5%): truncated_archive 1, worker_error 1' or '0 of 40'."""
    head = f"{failures['failed']} of {failures['sources']}"
    if not failures["failed"]:
        return head
    reasons = ", ".join(f"{r} {n}" for r, n in list(failures["reasons"].items())[:3])
    return f"{head} ({100 * failures['share']:.1f}%, limit {100 * failures['max_failed_share']:g}%): {reasons}"


def print_summary(stats: dict, out: Path) -> None:
    """The terminal summary: what was kept, and what was lost and why (failures never pass silently)."""
    docs, failures = stats["documents"], stats["failures"]
    console = Console(highlight=False, soft_wrap=True)
    console.print(f"corpus: {docs['read']} documents read -> {docs['kept']} kept; "
                  f"{sum(stats['inputs']['skipped'].values())} inputs skipped; summary in {Path(out) / 'summary.md'}")
    style = "red" if failures["share"] > failures["max_failed_share"] else "yellow"
    if failures["failed"]:
        console.print(f"[{style}]failed sources:[/{style}] {failure_line(failures)}")
        for reason, example in list(failures["examples"].items())[:3]:
            console.print(f"  {reason}: {example[:200]}", markup=False)
    else:
        console.print(f"failed sources: 0 of {failures['sources']}")


def write_summary(stats: dict, path: Path) -> None:
    docs, inputs, size = stats["documents"], stats["inputs"], stats["bytes"]
    lines = [
        f"# Corpus: {stats['domain']}", "",
        f"- sources: {inputs['sources']} ({inputs['bytes_on_disk'] / 1e6:.2f} MB on disk), read: {inputs['sources_read']}",
        f"- documents: {docs['read']} read -> {docs['kept']} kept ({docs['train']} train, {docs['validation']} validation)",
        f"- text: {size['in'] / 1e6:.2f} MB in -> {size['out'] / 1e6:.2f} MB out",
        f"- duplicate rate: {100 * stats['duplicate_rate']:.2f}%",
        f"- language identification: {stats.get('language_detector', '')}",
        *[f"- cleaner: {note}" for note in stats.get("cleaners", [])],
        f"- decontamination: {stats['decontamination'].get('dropped', 0)} documents dropped "
        f"({stats['decontamination'].get('indexed_ngrams', 0)} test n-grams indexed)",
        f"- time: {stats['seconds']} s with {stats['workers']} worker(s), {stats['mb_per_s']} MB/s"
        + (" (stopped at max_docs)" if stats.get("stopped_early") else ""),
        f"- failed sources: {failure_line(stats['failures'])}", "",
    ]
    lines += _table("Sources that could not be read", stats["failures"]["reasons"])
    lines += [f"- {reason}: `{example}`" for reason, example in stats["failures"]["examples"].items()]
    lines += [""] if stats["failures"]["examples"] else []
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
