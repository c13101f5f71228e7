"""One picture of benchmarks/results/dapt_gain.json: every adapted arm's suite-average delta against its
own base, with the paired 95% interval, grouped by domain.

    python benchmarks/dapt_plot.py                       # -> benchmarks/results/dapt_gain.png
    python benchmarks/dapt_plot.py --rows other.json --out figure.png

A row is one (domain, arm, scale, starting checkpoint, recipe changes, steps); when a configuration was
benched twice the later row is drawn. The dashed line is the issue's target (+1 point over base); a bar
that crosses 0 is no evidence either way. Rows recorded before 2026-12-04 averaged a sanity-check task into the
suite (code: Java->C#, medical: MedQuAD question types); they are marked with a dagger, and a hollow diamond
shows their delta without it (a point only: those runs kept no predictions to bootstrap).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ROWS = REPO / "benchmarks" / "results" / "dapt_gain.json"
ARM_COLOURS = {"control": "tab:gray", "rtd": "tab:blue", "mlm": "tab:orange", "rtd-mix": "tab:green"}
TARGET = 1.0  # points over base


def recipe_tag(row: dict) -> str:
    """The run's recipe in a few words: checkpoint, steps and the --pretrain-set changes."""
    changes = ", ".join(f"{k}={v}" for k, v in sorted((row.get("pretrain_set") or {}).items()))
    init = row.get("init", "").replace("-h384-uncased", "")
    return f"{init}, {row.get('pretrain_steps', 0)} steps" + (f", {changes}" if changes else "")


def latest_deltas(rows: list[dict]) -> list[dict]:
    """Adapted arms with an interval, one per configuration (the last recorded), in first-seen order."""
    picked: dict[tuple, dict] = {}
    for row in rows:
        if row.get("arm") == "base" or row.get("delta_vs_base") is None:
            continue
        key = (row["domain"], row["arm"], row.get("scale"), row.get("init"),
               json.dumps(row.get("pretrain_set") or {}, sort_keys=True), row.get("pretrain_steps"))
        picked.pop(key, None)  # re-inserted at the end: a rerun replaces its older row in place of order
        picked[key] = row
    return sorted(picked.values(), key=lambda r: r["domain"])  # stable: runs keep their order per domain


def plot(rows: list[dict], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = latest_deltas(rows)
    if not shown:
        raise SystemExit(f"error: no adapted arm with a delta in the rows given; run benchmarks/dapt_gain.py first")
    fig, ax = plt.subplots(figsize=(9, 0.38 * len(shown) + 1.6))
    labels = []
    for y, row in enumerate(reversed(shown)):
        low, high, mid = row["ci_low"], row["ci_high"], row["delta_vs_base"]
        colour = ARM_COLOURS.get(row["arm"], "black")
        ax.errorbar(mid, y, xerr=[[mid - low], [high - mid]], fmt="o", color=colour, capsize=3)
        ax.annotate(f"{mid:+.1f} [{low:+.1f}, {high:+.1f}]", (high, y), xytext=(6, -3), textcoords="offset points",
                    fontsize=7)
        without = row.get("delta_vs_base_without_checks")
        if without is not None:
            ax.plot(without, y, "D", mfc="none", color=colour, ms=6)
        dagger = " \u2020" if row.get("counted_sanity_checks") else ""
        labels.append(f"{row['domain']} {row['arm']} ({recipe_tag(row)}, {row.get('scale', '')}){dagger}")
    domains = [row["domain"] for row in reversed(shown)]
    for y in range(1, len(domains)):
        if domains[y] != domains[y - 1]:
            ax.axhline(y - 0.5, color="lightgray", lw=0.8)
    ax.set_yticks(range(len(shown)), labels, fontsize=8)
    ax.axvline(0, color="black", lw=0.8)
    ax.axvline(TARGET, color="tab:red", lw=0.8, ls="--", label=f"target: +{TARGET:g} over base")
    lows, highs = [r["ci_low"] for r in shown], [r["ci_high"] for r in shown]
    span = max(max(highs), TARGET) - min(min(lows), 0)
    ax.set_xlim(min(min(lows), 0) - 0.05 * span, max(max(highs), TARGET) + 0.35 * span)  # room for the labels
    ax.set_ylim(-0.7, len(shown) - 0.3)
    ax.set_xlabel("suite average minus base, points\n(paired 95% bootstrap over test examples and seeds)", fontsize=9)
    ax.set_title("Domain-adaptive pretraining: each arm against its own base", fontsize=10)
    if any(r.get("counted_sanity_checks") for r in shown):
        ax.plot([], [], "D", mfc="none", color="gray", label="\u2020 suite counted a sanity check; \u25c7 without it")
    ax.legend(loc="upper left", fontsize=8, framealpha=0.9)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=Path, default=ROWS)
    ap.add_argument("--out", type=Path, default=ROWS.with_suffix(".png"))
    args = ap.parse_args(argv)
    if not args.rows.is_file():
        raise SystemExit(f"error: {args.rows} not found; run benchmarks/dapt_gain.py first (or pass --rows)")
    print(plot(json.loads(args.rows.read_text()), args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
