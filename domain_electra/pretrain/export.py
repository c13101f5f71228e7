"""Export: discriminator and generator as standard Hugging Face folders, a model card, curves.png.

`{out}/discriminator/` loads with AutoModel, ElectraForPreTraining and AutoTokenizer; `{out}/generator/`
with ElectraForMaskedLM. Both get the tokenizer files of the packed tokens' tokenizer (including
domain_electra_tokenizer.json) and a README.md model card. Folders are written to a temporary name and
renamed, so an export is either whole or absent.

What an exported folder tells whoever receives it: the card names the base checkpoint by hub id or
folder name and the corpus by name, counts and a content hash (sha256 of the packed token ids), never a
local path: folder names above a private corpus often name a client or a project. Absolute paths stay
in the run folder's own manifest.json, which is not part of the exported models.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from ..modeling.load import TOKENIZER_FILES
from ..modeling.sharing import plain_discriminator


def copy_tokenizer(source: str | None, folder: Path) -> bool:
    """Copy the tokenizer files (not model weights) of `source` into `folder`."""
    if not source or not Path(source).is_dir():
        return False
    copied = False
    for name in TOKENIZER_FILES:
        if (Path(source) / name).is_file():
            shutil.copy2(Path(source) / name, folder / name)
            copied = True
    return copied


def public_name(source: str | None) -> str:
    """A checkpoint or folder as a card names it: hub ids and scratch presets as given, local folders by
    their own name only (no parent folders)."""
    if not source:
        return "?"
    text = str(source)
    if text.startswith("scratch:"):
        return text
    path = Path(text).expanduser()
    if path.exists() or text.startswith((".", "/", "~")) or text.count("/") > 1 or "\\" in text:
        return path.resolve().name or text
    return text  # a hub id (owner/name)


def corpus_facts(tokens_dir: str | Path, meta: dict) -> dict:
    """Name, counts and content hash of the corpus the model was trained on (no paths)."""
    tokens_dir = Path(tokens_dir)
    name = tokens_dir.name
    try:  # the pack stage's manifest names the corpus folder it read
        name = Path(json.loads((tokens_dir / "manifest.json").read_text())["inputs"]["corpus"]["path"]).name
    except (OSError, ValueError, KeyError, TypeError):
        pass
    digest = hashlib.sha256()
    for split in sorted(meta.get("splits", {})):
        digest.update(split.encode() + b"\0")
        ids = tokens_dir / f"{split}.ids.bin"
        if ids.is_file():
            with ids.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
    splits = meta.get("splits", {})
    return {"name": name, "documents": sum(int(s.get("documents") or 0) for s in splits.values()),
            "tokens": sum(int(s.get("tokens") or 0) for s in splits.values()),
            "sha256": digest.hexdigest()}


def _code_tokenizer_note(folder: Path) -> str:
    """For a code tokenizer: how to get the training-time ids, and what plain AutoTokenizer costs."""
    meta = folder / "domain_electra_tokenizer.json"
    if not meta.is_file() or json.loads(meta.read_text()).get("pretokenizer") != "code":
        return ""
    return f"""
## Tokenization: use domain-electra's loader for the training-time ids

This model was trained on tree-sitter pre-tokens: layout markers for line breaks and indentation
levels ("↵", "⇢", "⇠"), identifiers cut at snake_case/camelCase outside strings and comments. A
tokenizer.json cannot run a parser, so plain `AutoTokenizer.from_pretrained` falls back to regex rules
that reproduce what one line of context can tell and guess the rest: {FALLBACK_COST}
The training-time ids are one call away (`pip install domain-electra`):

```python
from domain_electra.tokenization import load_tokenizer
tokenizer = load_tokenizer("PATH/{folder.name}")
batch = tokenizer.batch([source_code], max_length=512, language="python")  # input_ids, attention_mask, token_type_ids
outputs = model(**batch)
```
"""


# Measured by benchmarks/code_tokenizer_agreement.py (benchmarks/RESULTS.md, "Code tokenizer outside the
# toolkit (2026-12-02)"), on held-out stdlib modules not used to choose the rules.
FALLBACK_COST = ("on 118 held-out Python modules its ids equal the training-time ids for 1 whole file "
                 "(every file with an indented block differs), and reproduce 0.948 of the training-time tokens "
                 "in order (0.882 with the fallback shipped before 2026-12-02).")


def _fmt(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _objective_text(facts: dict) -> str:
    if facts.get("objective") == "mlm":
        return ("masked-language modelling alone (`objective: mlm`: the full-size encoder under an MLM head); the "
                "discriminator folder holds that encoder with an untrained RTD head, the generator folder the "
                "full-size MLM model, with the same encoder weights")
    return (f"the ELECTRA objective (generator MLM + {facts['rtd_weight']} x replaced-token detection, "
            f"embedding sharing: {facts['embedding_sharing']})")


def model_card(role: str, facts: dict) -> str:
    """README.md for one exported model."""
    meta, val, train = facts["meta"], facts.get("validation") or {}, facts.get("train") or {}
    splits = meta.get("splits", {})
    corpus = ", ".join(f"{name}: {s.get('sequences', '?')} sequences, {s.get('tokens', '?')} tokens, "
                       f"{s.get('documents', '?')} documents" for name, s in splits.items())
    about = facts.get("corpus") or corpus_facts(facts["tokens_dir"], meta)
    head = ("ElectraForPreTraining (replaced-token detection)" if role == "discriminator"
            else "ElectraForMaskedLM (masked-language-model generator)")
    losses = "\n".join(f"| {k} | {_fmt(val.get(k, ''))} | {_fmt(train.get(k, ''))} |"
                       for k in ("gen_loss", "gen_acc", "disc_loss", "disc_acc", "disc_auc"))
    usage = ("from transformers import AutoModelForSequenceClassification, AutoTokenizer\n"
             f"model = AutoModelForSequenceClassification.from_pretrained(\"PATH/{role}\", num_labels=2)\n"
             f"tokenizer = AutoTokenizer.from_pretrained(\"PATH/{role}\")") if role == "discriminator" else (
             "from transformers import ElectraForMaskedLM, AutoTokenizer\n"
             f"generator = ElectraForMaskedLM.from_pretrained(\"PATH/{role}\")")
    return f"""---
library_name: transformers
tags: [electra, domain-electra, {role}]
---
# ELECTRA {role}, continued pretraining with domain-electra

{head}, trained with {_objective_text(facts)}.

- Base checkpoint: `{public_name(facts['init'])}` ({facts['init_kind']}; generator {facts['generator']})
- Corpus `{about['name']}`: {about['documents']:,} documents, {about['tokens']:,} tokens; content hash (sha256 of
  the packed token ids) `{about['sha256']}`; sequence length {meta.get('seq_len')}; {corpus}
- Tokenizer: `{public_name(meta.get('tokenizer'))}` (files copied here)
- Optimizer steps: {facts['steps']}; training tokens seen: {facts['tokens']:,}; global batch {facts['batch_size']}
- Stopped by: {facts['stop_reason']}

| metric | validation | training (last window) |
|---|---|---|
{losses}

## Fine-tune

```python
{usage}
```

Or with LoRA and the domain's tasks: `domain-electra finetune --domain DOMAIN --task TASK --model PATH/discriminator --out DIR`.
The discriminator is the model to fine-tune (ELECTRA's recommendation); the generator is for fill-in probes.
{facts.get('tokenization_note', '')}"""


def write_curves(metrics_file: Path, png: Path) -> bool:
    """Training and validation curves (losses, generator accuracy, discriminator AUC) as a PNG."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    rows = [json.loads(line) for line in metrics_file.read_text().splitlines() if line.strip()]
    panels = (("gen_loss", "generator MLM loss"), ("disc_loss", "discriminator RTD loss"),
              ("gen_acc", "generator accuracy (masked tokens)"), ("disc_auc", "discriminator AUC (replaced tokens)"))
    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    for ax, (key, title) in zip(axes.flat, panels):
        for split, style in (("train", "-"), ("validation", "o-")):
            points = [(r["step"], r[key]) for r in rows if r.get("split") == split and r.get(key) is not None]
            if points:
                ax.plot(*zip(*points), style, label=split, markersize=3)
        ax.set_title(title)
        ax.set_xlabel("optimizer step")
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return True


def export(objective, out: Path, facts: dict) -> dict[str, str]:
    """Write discriminator/ and generator/ under `out` (+ curves.png); return their paths."""
    from ..tokenization.loader import upgrade_raw_fallback

    paths = {}
    models = {"discriminator": plain_discriminator(objective.discriminator), "generator": objective.generator}
    facts = {**facts, "corpus": corpus_facts(facts["tokens_dir"], facts["meta"])}
    for role, model in models.items():
        final, tmp = out / role, out / f".tmp-{role}"
        shutil.rmtree(tmp, ignore_errors=True)
        model.save_pretrained(str(tmp))
        copy_tokenizer(facts["meta"].get("tokenizer"), tmp)
        upgrade_raw_fallback(tmp)  # a code tokenizer trained before the current raw-text rules gets them
        card_facts = {**facts, "tokenization_note": _code_tokenizer_note(tmp)}
        (tmp / "README.md").write_text(model_card(role, card_facts), encoding="utf-8")
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
        paths[role] = str(final)
    if (out / "metrics.jsonl").is_file():
        write_curves(out / "metrics.jsonl", out / "curves.png")
    return paths
