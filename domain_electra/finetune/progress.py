"""One progress-bar look for every long loop: description, bar, done/total, rate, elapsed, ETA."""
from __future__ import annotations

from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, \
    TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text


class RateColumn(ProgressColumn):
    """Items per second (rich's own speed column formats bytes)."""

    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        if not speed:
            return Text("  -- it/s", style="cyan")
        return Text(f"{speed:6.2f} it/s" if speed >= 1 else f"{1 / speed:6.1f} s/it", style="cyan")


def make_progress(enabled: bool = True) -> Progress:
    """A rich Progress (use as a context manager); disabled bars cost nothing and print nothing."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), RateColumn(),
                    TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), disable=not enabled)
