"""Zero-shot probes that use ELECTRA's own pretraining heads, with no fine-tuning.

generator cloze: put [MASK]s where "<mask>" is and pick the choice the generator (MLM) finds likeliest
    (sum of log-probabilities of the choice's tokens).
discriminator judgement ("prompting ELECTRA"): write each choice into the blank and ask the replaced-token
    detector how original it looks; the choice whose tokens get the lowest mean "replaced" logit wins.

A model without the head (e.g. a BERT-layout encoder exported without its MLM head) is reported as
having no such probe rather than scored with a randomly initialised head.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch

MASK = "<mask>"


def _quiet_load(cls, path: Path):
    from ..finetune.models import quiet_hf

    with quiet_hf():
        return cls.from_pretrained(str(path), output_loading_info=True)


def _head_complete(info: dict, head_prefixes: tuple[str, ...]) -> bool:
    missing = list(info.get("missing_keys", []))
    return not any(k.startswith(head_prefixes) for k in missing)


def generator_dir(model_dir: Path) -> Path | None:
    """The MLM generator beside a discriminator export (pretrain output: <out>/discriminator, <out>/generator),
    or the model folder itself when it holds an MLM head."""
    sibling = model_dir.parent / "generator"
    if model_dir.name == "discriminator" and (sibling / "config.json").is_file():
        return sibling
    return model_dir


def load_generator(model_dir: Path):
    from transformers import AutoModelForMaskedLM

    path = generator_dir(model_dir)
    try:
        model, info = _quiet_load(AutoModelForMaskedLM, path)
    except (ValueError, OSError):
        return None, path
    heads = ("generator_lm_head", "generator_predictions", "cls.predictions", "lm_head")
    return (model.eval() if _head_complete(info, heads) else None), path


def load_discriminator(model_dir: Path):
    from transformers import AutoConfig, ElectraForPreTraining

    if AutoConfig.from_pretrained(str(model_dir)).model_type != "electra":
        return None
    model, info = _quiet_load(ElectraForPreTraining, model_dir)
    return model.eval() if _head_complete(info, ("discriminator_predictions",)) else None


def _window(tok, left: str, fill: list[int], right: str, max_length: int) -> tuple[list[int], int]:
    """[CLS] left fill right [SEP], trimmed around the blank so it always survives truncation."""
    a, b = tok.encode(left), tok.encode(right)
    room = max(0, max_length - 2 - len(fill))
    keep_left = min(len(a), max(room // 2, room - len(b)))
    a = a[len(a) - keep_left:]
    b = b[:max(0, room - len(a))]
    return [tok.cls_id, *a, *fill, *b, tok.sep_id], 1 + len(a)


def _best_choice(tok, text: str, choices: Sequence[str], max_length: int, fill_with_mask: bool, score) -> str:
    """The choice whose tokens, placed at the blank (as [MASK]s or as themselves), score highest."""
    left, _, right = text.partition(MASK)
    scores = []
    for choice in choices:
        ids = tok.encode(choice) or [tok.unk_id]
        row, start = _window(tok, left, [tok.mask_id] * len(ids) if fill_with_mask else ids, right, max_length)
        scores.append(score(torch.tensor([row]), start, ids))
    return choices[max(range(len(choices)), key=scores.__getitem__)]


@torch.no_grad()
def generator_choice(model, tok, text: str, choices: Sequence[str], max_length: int = 256) -> str:
    def log_likelihood(row, start, ids):  # of the choice's tokens at the masked blank
        logits = model(input_ids=row).logits[0, start:start + len(ids)]
        return float(logits.log_softmax(-1).gather(1, torch.tensor(ids).unsqueeze(1)).sum())

    return _best_choice(tok, text, choices, max_length, True, log_likelihood)


@torch.no_grad()
def discriminator_choice(model, tok, text: str, choices: Sequence[str], max_length: int = 256) -> str:
    def looks_original(row, start, ids):  # a high logit means "replaced": the fitting choice scores low
        return -float(model(input_ids=row).logits[0, start:start + len(ids)].mean())

    return _best_choice(tok, text, choices, max_length, False, looks_original)


def run_probes(model_dir: str | Path, test: dict[str, Sequence[dict]], max_length: int = 256,
               on_example=None) -> dict[str, dict[str, dict]]:
    """{"generator" | "discriminator": {language: {"gold", "pred"}}} for the heads this model has."""
    from ..finetune.models import load_tokenizer

    model_dir = Path(model_dir)
    tok = load_tokenizer(model_dir)
    generator, gen_path = load_generator(model_dir)
    gen_tok = load_tokenizer(gen_path) if generator is not None and gen_path != model_dir else tok
    probes = {"generator": (generator, gen_tok, generator_choice),
              "discriminator": (load_discriminator(model_dir), tok, discriminator_choice)}
    results: dict[str, dict[str, dict]] = {}
    for name, (model, ptok, choose) in probes.items():
        if model is None:
            continue
        results[name] = {}
        length = min(max_length, getattr(model.config, "max_position_embeddings", max_length))
        for lang, rows in test.items():
            preds = []
            for row in rows:
                preds.append(choose(model, ptok, row["text"], row["choices"], length))
                if on_example:
                    on_example()
            results[name][lang] = {"gold": [r["answer"] for r in rows], "pred": preds}
    return results
