"""Models for each task kind: load a base encoder folder, wrap it with LoRA, save, reload, merge.

Any Hugging Face encoder folder works: ELECTRA discriminator exports (ElectraForPreTraining weights; the
RTD head is dropped and a fresh task head added) and BERT-layout checkpoints. The task head is trained in
full next to the adapters (peft `modules_to_save`), so an adapter folder alone reproduces the model.
"""
from __future__ import annotations

import json
import shutil
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import torch
from torch import nn

from ..errors import UserError
from .config import FinetuneConfig

WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")
HEAD_NAMES = ("classifier", "score", "pre_classifier")  # task heads of the HF encoder classes we load
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt",
                   "sentencepiece.bpe.model", "domain_electra_tokenizer.json")


def check_model_dir(model_dir: str | Path) -> Path:
    """A base model folder must hold a config and weights; fail with one line otherwise."""
    path = Path(model_dir).expanduser()
    if not path.is_dir():
        raise UserError(f"model folder not found: {path} (give a Hugging Face model folder)")
    if not (path / "config.json").is_file():
        raise UserError(f"{path} has no config.json: not a Hugging Face model folder")
    if not any((path / name).is_file() for name in WEIGHT_FILES):
        raise UserError(f"{path} has no weights (expected one of {', '.join(WEIGHT_FILES[::2])}); "
                        "export or download the model first")
    return path


def load_tokenizer(model_dir: str | Path):
    """The project's tokenizer loader (code-aware pre-tokenizer where the folder declares one)."""
    from ..tokenization import load_tokenizer as _load

    return _load(Path(model_dir))


class Pooler(nn.Module):
    """Turns token states into one vector per text for the retrieval bi-encoder (no weights)."""

    def __init__(self, pooling: str) -> None:
        super().__init__()
        self.pooling = pooling

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.pooling == "cls":
            vec = hidden[:, 0]
        else:  # masked mean: padding must not pull every embedding towards the same point
            from ..pretrain.objective import mean_pool  # one definition: pretraining's anchor holds this vector

            vec = mean_pool(hidden, mask)
        return nn.functional.normalize(vec, dim=-1)


def _auto_class(kind: str):
    from transformers import AutoModel, AutoModelForSequenceClassification, AutoModelForTokenClassification

    if kind in ("classification", "multilabel", "pair", "regression"):
        return AutoModelForSequenceClassification
    if kind == "token":
        return AutoModelForTokenClassification
    if kind == "retrieval":
        return AutoModel
    raise UserError(f"task kind '{kind}' cannot be fine-tuned (zero-shot probe tasks are scored with `bench`)")


@contextmanager
def quiet_hf() -> Iterator[None]:
    """Silence transformers' own logging and tqdm bars (ours show progress; "new head" is expected)."""
    from transformers.utils import logging as hf_logging

    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def load_base(model_dir: str | Path, kind: str, num_labels: int = 0, layers: int | None = None) -> nn.Module:
    """The base model with a fresh task head sized for `num_labels` (seed torch before calling); with
    `layers`, only its first `layers` encoder layers (the upper layers' weights are not loaded)."""
    path = check_model_dir(model_dir)
    kwargs: dict = {}
    if layers is not None:
        depth = _depth(path)
        if depth is not None and layers > depth:
            raise UserError(f"finetune layers={layers} but {path} has {depth} encoder layers; use at most {depth}")
        kwargs["num_hidden_layers"] = layers
    if kind != "retrieval":
        kwargs["num_labels"] = num_labels
    if kind == "multilabel":
        kwargs["problem_type"] = "multi_label_classification"
    elif kind in ("classification", "pair"):
        kwargs["problem_type"] = "single_label_classification"
    elif kind == "regression":  # one output, mean-squared-error loss (transformers' own regression head)
        kwargs["problem_type"], kwargs["num_labels"] = "regression", 1
    with quiet_hf():
        try:
            model, info = _auto_class(kind).from_pretrained(str(path), output_loading_info=True, **kwargs)
        except Exception as exc:  # corrupt weights surface as library-specific errors (SafetensorError, ...)
            first = (str(exc).splitlines() or [""])[0]
            # The cause stays attached: `domain-electra --debug` (or DOMAIN_ELECTRA_DEBUG=1) prints its traceback.
            raise UserError(f"cannot load the model in {path}: {type(exc).__name__}: {first} "
                            "(--debug or DOMAIN_ELECTRA_DEBUG=1 shows the traceback)") from exc
    model.fresh_modules = fresh_modules(model, info.get("missing_keys", ()))
    return model


def head_size(kind: str, labels) -> int:
    """Outputs of a kind's task head: one per label, one for a regression score."""
    return 1 if kind == "regression" else len(labels)


def _depth(path: Path) -> int | None:
    """num_hidden_layers of a model folder's config.json (None when it does not say)."""
    try:
        return int(json.loads((path / "config.json").read_text(encoding="utf-8"))["num_hidden_layers"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def fresh_modules(model: nn.Module, missing_keys) -> list[str]:
    """Modules whose weights the checkpoint did not hold (randomly initialised), outside the task head.

    Sentence-embedding checkpoints (e5, many sentence-transformers) ship without BERT's pooler, which
    the sequence-classification head reads: left frozen under LoRA it would stay a random projection."""
    heads = set(head_modules(model))
    found = set()
    for key in missing_keys:
        parts = key.split(".")[:-1]  # drop the parameter name
        if parts and parts[0] not in heads:
            found.add(".".join(parts[:2]))  # e.g. "bert.pooler"
    return sorted(found)


def head_modules(model: nn.Module) -> list[str]:
    names = {name.split(".")[0] for name, _ in model.named_children()}
    return [h for h in HEAD_NAMES if h in names]


def wrap_lora(model: nn.Module, kind: str, config: FinetuneConfig) -> nn.Module:
    """Add LoRA adapters to `target_modules`; train the task head, and any module the checkpoint lacked
    (see fresh_modules), in full (modules_to_save)."""
    from peft import LoraConfig, TaskType, get_peft_model

    task_type = {"token": TaskType.TOKEN_CLS, "retrieval": TaskType.FEATURE_EXTRACTION}.get(kind, TaskType.SEQ_CLS)
    present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    missing = [t for t in config.target_modules if t not in present]
    if missing:
        raise UserError(f"LoRA target module '{missing[0]}' is not in this model; linear layers named e.g. "
                        f"{', '.join(sorted(p for p in present if p in ('query', 'key', 'value', 'dense'))) or 'none'}")
    # A retrieval embedding is the mean of the token states: a fresh pooler there is never used.
    fresh = [] if kind == "retrieval" else list(getattr(model, "fresh_modules", ()))
    lora = LoraConfig(task_type=task_type, r=config.r, lora_alpha=config.alpha, lora_dropout=config.dropout,
                      target_modules=list(config.target_modules),
                      modules_to_save=head_modules(model) + fresh or None)
    with quiet_hf():  # peft calls a transformers API that warns of its own deprecation
        return get_peft_model(model, lora)


def count_parameters(model: nn.Module) -> tuple[int, int]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total


def copy_tokenizer(src: Path, dst: Path) -> None:
    for name in TOKENIZER_FILES:
        if (src / name).is_file():
            shutil.copy2(src / name, dst / name)


def save_finetuned(model: nn.Module, out: Path, base_dir: Path, info: dict) -> None:
    """Adapter (LoRA) or full model + tokenizer files + finetune.json (what to rebuild it with)."""
    out.mkdir(parents=True, exist_ok=True)
    with quiet_hf():
        model.save_pretrained(str(out))
    copy_tokenizer(base_dir, out)
    (out / "finetune.json").write_text(json.dumps(info, indent=2), encoding="utf-8")


def read_info(model_dir: Path) -> dict:
    path = Path(model_dir) / "finetune.json"
    if not path.is_file():
        raise UserError(f"{model_dir} has no finetune.json: not a folder written by `domain-electra finetune`")
    return json.loads(path.read_text(encoding="utf-8"))


def load_finetuned(model_dir: str | Path) -> tuple[nn.Module, dict]:
    """Rebuild a fine-tuned model: base + adapter for LoRA, the saved weights for full fine-tuning."""
    model_dir = Path(model_dir)
    info = read_info(model_dir)
    kind, num_labels = info["kind"], head_size(info["kind"], info.get("labels", []))
    if info["method"] == "lora":
        from peft import PeftModel

        base = load_base(info["base_model"], kind, num_labels, info.get("config", {}).get("layers"))
        with quiet_hf():
            model = PeftModel.from_pretrained(base, str(model_dir))
    else:
        model = load_base(model_dir, kind, num_labels)
    model.eval()
    return model, info


def merge_adapter(adapter_dir: str | Path, out: str | Path) -> Path:
    """Fold a LoRA adapter into its base weights and save a plain Hugging Face model folder."""
    model, info = load_finetuned(adapter_dir)
    if info["method"] != "lora":
        raise UserError(f"{adapter_dir} holds a fully fine-tuned model; there is no adapter to merge")
    merged = model.merge_and_unload()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with quiet_hf():
        merged.save_pretrained(str(out))
    copy_tokenizer(Path(adapter_dir), out)
    (out / "finetune.json").write_text(json.dumps({**info, "method": "full", "merged_from": str(adapter_dir)},
                                                  indent=2), encoding="utf-8")
    return out
