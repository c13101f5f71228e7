"""Stage glue: typed configs in, one artifact folder out, skipped when already complete.

The CLI and `run` both go through these functions, so a stage behaves the same whichever way it is
started. Heavy libraries are imported inside each function to keep `--help` fast.
"""
from __future__ import annotations

import glob
import re
from pathlib import Path
from typing import Any

from .artifacts import StageResult, check_writable, folder_lock, run_stage
from .config import apply_overrides, from_dict, read_yaml
from .errors import UserError


def config_class(kind: str) -> type:
    if kind == "corpus":
        from .corpus import CorpusConfig as cls
    elif kind == "tokenizer":
        from .tokenization import TokenizerTrainConfig as cls
    elif kind == "extend":
        from .tokenization import ExtendConfig as cls
    elif kind == "pack":
        from .tokenization import PackConfig as cls
    elif kind == "pretrain":
        from .pretrain import PretrainConfig as cls
    elif kind == "finetune":
        from .finetune import FinetuneConfig as cls
    elif kind == "bench":
        from .evaluation import BenchConfig as cls
    else:
        raise ValueError(kind)
    return cls


def stage_config(kind: str, path: Path | str | None, overrides: list[str], flags: dict[str, Any],
                 defaults: dict[str, Any] | None = None) -> Any:
    """defaults < YAML file < command-line flags < --set overrides, checked against the stage's dataclass."""
    data = dict(defaults or {})
    data.update(read_yaml(path) if path else {})
    data.update(flags)
    return from_dict(config_class(kind), apply_overrides(data, overrides))


def masking_defaults(domain: str | None) -> dict[str, Any]:
    """The domain plugin's masking policy as PretrainConfig values (a config or flag still wins)."""
    if domain is None:
        return {}
    from .registry import get_domain

    policy = get_domain(domain).masking
    return {"mask_rate": policy.mask_rate, "whole_word": policy.whole_word, "span_masking": policy.spans == "ast",
            "max_span_tokens": policy.max_span_tokens}


def _require_folder(path: Path | str, what: str, hint: str) -> Path:
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"{what} not found: {path} ({hint})")
    return path


_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def check_sources(sources: list[str] | tuple[str, ...], data_dir: str | None = None) -> list[str]:
    """The sources with `data:` ones resolved (readers.resolve_source), each checked to exist."""
    from .corpus.readers import TASK_PREFIX, resolve_source

    if not sources:
        raise UserError("no corpus source given: pass --source FOLDER (repeatable) or `sources:` in the config")
    resolved = [resolve_source(named, data_dir) for named in sources]  # a missing data: folder is refused there
    for source in resolved:
        if source.startswith(TASK_PREFIX):
            continue  # task-adaptive text: the reader checks the domain and task names, in one line
        if any(ch in source for ch in "*?[") and glob.glob(source, recursive=True):
            continue
        if _HUB_ID.match(source) and not Path(source).exists() and not Path(source.split("/")[0]).exists():
            continue  # a dataset hub id (owner/name), for users who are online
        if not Path(source).expanduser().exists():
            raise UserError(f"source not found: {source} (give an existing folder, file or glob)")
    return resolved


def corpus_stage(config: Any, out: Path, force: bool = False, progress: bool = True) -> StageResult:
    from .corpus import build_corpus
    from .registry import get_domain

    get_domain(config.domain)  # an unknown domain fails here, before any work
    resolved = check_sources(config.sources, config.data_dir)
    inputs = {f"source{i}": s for i, s in enumerate(resolved) if Path(s).exists()}

    def build(folder: Path) -> dict:
        stats = build_corpus(config, folder, progress=progress)  # the full stats live in stats.json
        return {k: stats[k] for k in ("documents", "bytes", "duplicate_rate") if k in stats}

    return run_stage("corpus", out, config, inputs, build, force)


def tokenizer_stage(config: Any, corpus: Path, out: Path, force: bool = False, progress: bool = True) -> StageResult:
    from .tokenization import train_tokenizer

    corpus = _require_folder(corpus, "corpus folder", "run `domain-electra corpus build` first")
    return run_stage("tokenizer", out, config, {"corpus": corpus},
                     lambda folder: train_tokenizer(config, corpus, folder, progress=progress), force)


def extend_stage(config: Any, base: Path, corpus: Path, out: Path, force: bool = False) -> StageResult:
    from .tokenization import extend_tokenizer

    base = _require_folder(base, "base checkpoint folder", "give a local Hugging Face model folder")
    corpus = _require_folder(corpus, "corpus folder", "run `domain-electra corpus build` first")
    return run_stage("extend", out, config, {"base": base, "corpus": corpus},
                     lambda folder: extend_tokenizer(config, base, corpus, folder), force)


def pack_stage(config: Any, corpus: Path, tokenizer: Path, out: Path, force: bool = False,
               progress: bool = True) -> StageResult:
    from .tokenization import pack_corpus

    corpus = _require_folder(corpus, "corpus folder", "run `domain-electra corpus build` first")
    tokenizer = _require_folder(tokenizer, "tokenizer folder", "train one with `domain-electra tokenizer train`")
    return run_stage("pack", out, config, {"corpus": corpus, "tokenizer": tokenizer},
                     lambda folder: pack_corpus(config, corpus, tokenizer, folder, progress=progress), force)


def pretrain_stage(config: Any, tokens: Path, out: Path, force: bool = False, progress: bool = True) -> StageResult:
    from .pretrain import pretrain

    tokens = _require_folder(tokens, "packed tokens folder", "run `domain-electra tokenizer pack` or pass --corpus")
    inputs: dict[str, Any] = {"tokens": tokens}
    if Path(str(config.init)).exists():
        inputs["init"] = config.init
    # Packed tokens inside the run folder (`pretrain --corpus`) are the pack stage's, never wiped by this one.
    inside = Path(tokens).resolve().parent == Path(out).resolve()
    return run_stage("pretrain", out, config, inputs, lambda folder: pretrain(config, tokens, folder, progress=progress),
                     force, keep=(Path(tokens).name,) if inside else ())


TOKENS_SUBFOLDER = "tokens"


def pretrain_command(config: Any, domain: str | None, corpus: Path | None, tokens: Path | None,
                     tokenizer: Path | None, seq_len: int, out: Path, force: bool) -> StageResult:
    """`pretrain`: pack --corpus first (a cached stage in `<out>/tokens`, so every artifact stays under the
    folder the user named) unless --tokens is given. `out` is locked for both stages."""
    if tokens is None:
        if corpus is None:
            raise UserError("pretrain needs --corpus (a corpus folder) or --tokens (a packed-tokens folder)")
        tokenizer = tokenizer or (Path(config.init) if Path(str(config.init)).is_dir() else None)
        if tokenizer is None:
            raise UserError("pretraining from scratch needs --tokenizer (train one with `domain-electra tokenizer train`)")
    check_writable(Path(out), keep=(TOKENS_SUBFOLDER,) if tokens is None else ())  # before anything is written there
    with folder_lock(out):
        if tokens is None:
            tokens = Path(out) / TOKENS_SUBFOLDER
            pack_stage(from_dict(config_class("pack"), {"seq_len": seq_len}), corpus, tokenizer, tokens, force)
        return pretrain_stage(config, tokens, out, force)


def inspect_command(tokenizers: list[Path], corpus: Path, json_out: Path | None, max_docs: int) -> dict:
    from .tokenization import InspectConfig, inspect_tokenizers

    for tok in tokenizers:
        _require_folder(tok, "tokenizer folder", "give a tokenizer or checkpoint folder")
    corpus = _require_folder(corpus, "corpus folder", "run `domain-electra corpus build` first")
    config = InspectConfig(max_docs=max_docs)
    return inspect_tokenizers(config, [Path(t) for t in tokenizers], corpus, json_out)


def finetune_command(config: Any, domain: str, task: str, model: Path, out: Path, data_dir: Path | None) -> dict:
    from .finetune import finetune
    from .registry import get_domain

    eval_task = _task(get_domain(domain), task)
    _require_folder(model, "model folder", "give a Hugging Face model folder")
    data = eval_task.load(data_dir)
    return finetune(eval_task, data, model, Path(out), config)


def evaluate_command(domain: str, task: str, adapter: Path, out: Path, data_dir: Path | None) -> dict:
    from .finetune import evaluate
    from .registry import get_domain

    eval_task = _task(get_domain(domain), task)
    _require_folder(adapter, "fine-tuned folder", "run `domain-electra finetune` first")
    return evaluate(eval_task, eval_task.load(data_dir), adapter, Path(out))


def bench_command(suite: Path, models: list[str], out: Path, data_dir: Path | None, limit: int | None,
                  seeds: int | None, config_path: Path | None, overrides: list[str]) -> dict:
    from .evaluation import run_bench

    flags: dict[str, Any] = {"suite": str(suite), "models": parse_models(models)}
    if data_dir is not None:
        flags["data_dir"] = str(data_dir)
    if limit is not None:
        flags["limit"] = limit
    if seeds is not None:
        flags["seeds"] = seeds
    return run_bench(stage_config("bench", config_path, overrides, flags), Path(out))


def parse_models(items: list[str]) -> dict[str, str]:
    models: dict[str, str] = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise UserError(f"--model {item!r} must look like NAME=PATH (e.g. base=ckpt/minilm-l6-h384-uncased)")
        models[name] = path
    return models


def _task(domain: Any, name: str) -> Any:
    try:
        return domain.task(name)
    except KeyError as exc:
        raise UserError(str(exc.args[0])) from None
