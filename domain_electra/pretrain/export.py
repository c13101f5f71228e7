"""Export: discriminator and generator as standard Hugging Face folders, a model card, curves.png.

`{out}/discriminator/` loads with AutoModel, ElectraForPreTraining and AutoTokenizer; `{out}/generator/`
with ElectraForMaskedLM. Both get the tokenizer files of the packed tokens' tokenizer (including
domain_electra_tokenizer.json) and a README.md model card. Folders are written to a temporary name and
renamed, so an export is either whole or absent.
"""
from __future__ import annotations

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


def _fmt(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def model_card(role: str, facts: dict) -> str:
    """README.md for one exported model."""
    meta, val, train = facts["meta"], facts.get("validation") or {}, facts.get("train") or {}
    splits = meta.get("splits", {})
    corpus = ", ".join(f"{name}: {s.get('sequences', '?')} sequences, {s.get('tokens', '?')} tokens, "
                       f"{s.get('documents', '?')} documents" for name, s in splits.items())
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

{head}, trained with the ELECTRA objective (generator MLM + {facts['rtd_weight']} x replaced-token detection,
embedding sharing: {facts['embedding_sharing']}).

- Base checkpoint: `{facts['init']}` ({facts['init_kind']}; generator {facts['generator']})
- Corpus (packed tokens `{facts['tokens_dir']}`, sequence length {meta.get('seq_len')}): {corpus}
- Tokenizer: `{meta.get('tokenizer', '?')}` (files copied here)
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
"""


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
    paths = {}
    models = {"discriminator": plain_discriminator(objective.discriminator), "generator": objective.generator}
    for role, model in models.items():
        final, tmp = out / role, out / f".tmp-{role}"
        shutil.rmtree(tmp, ignore_errors=True)
        model.save_pretrained(str(tmp))
        copy_tokenizer(facts["meta"].get("tokenizer"), tmp)
        (tmp / "README.md").write_text(model_card(role, facts), encoding="utf-8")
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
        paths[role] = str(final)
    if (out / "metrics.jsonl").is_file():
        write_curves(out / "metrics.jsonl", out / "curves.png")
    return paths
