"""Weight-space interpolation of an adapted encoder with its starting checkpoint.

    theta = (1 - weight) * theta_base + weight * theta_adapted

Continued pretraining moves every weight of the checkpoint; for a contrastively trained sentence encoder
(MiniLM, E5) that also moves it away from the geometry fine-tuning starts from (benchmarks/RESULTS.md,
"Does domain adaptation help?"). Interpolating the two, as WiSE-FT does for fine-tuned models (Wortsman et
al. 2022, arXiv 2109.01903), keeps part of each at no training cost. The adapted model and the base must
share the architecture and the vocabulary (continued pretraining with the checkpoint's own tokenizer
does); the RTD head, which a BERT-layout base does not have, is taken from the adapted model alone.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import torch

from ..errors import UserError
from .load import TOKENIZER_FILES, _load_discriminator, _model_type

OWN_HEAD = "discriminator_predictions."  # the RTD head: fresh at a BERT-layout start, so never mixed


def mixed_state(base: dict[str, torch.Tensor], adapted: dict[str, torch.Tensor], weight: float,
                own: tuple[str, ...] = ()) -> dict[str, torch.Tensor]:
    """Adapted's state dict with every floating tensor it shares with `base` interpolated; keys starting
    with a prefix in `own` (and integer buffers) are adapted's as they are."""
    missing = sorted(k for k in adapted if k not in base and not k.startswith(own))
    if missing:
        raise UserError(f"cannot interpolate: the base has no {missing[0]} ({len(missing)} tensors missing); "
                        "both models must have the same architecture")
    mixed = {}
    for key, tensor in adapted.items():
        if key.startswith(own) or not tensor.is_floating_point():
            mixed[key] = tensor.clone()
            continue
        if base[key].shape != tensor.shape:
            raise UserError(f"cannot interpolate {key}: shape {tuple(base[key].shape)} in the base, "
                            f"{tuple(tensor.shape)} adapted (a changed vocabulary or size); use the same tokenizer")
        mixed[key] = torch.lerp(base[key].to(tensor.dtype), tensor, weight)
    return mixed


def _base_discriminator(base: str | Path):
    """The starting checkpoint as an ElectraForPreTraining, as pretraining loaded it, and its case."""
    path = Path(base)
    if (path / "discriminator" / "config.json").is_file():  # an exported ELECTRA pair
        return _load_discriminator(path / "discriminator", "electra"), "electra"
    kind = _model_type(base)
    if kind not in ("electra", "bert"):
        raise UserError(f"base {base} is a '{kind}' model; interpolation takes the ELECTRA or BERT-layout "
                        "checkpoint the adapted model was pretrained from")
    return _load_discriminator(base, kind), kind


def interpolate(base: str | Path, adapted: str | Path, weight: float, out: str | Path) -> Path:
    """Write the interpolated discriminator to `out` (Hugging Face folder: config, weights, tokenizer)."""
    from transformers import ElectraForPreTraining

    if not 0.0 <= weight <= 1.0:
        raise UserError(f"interpolation weight must be in [0, 1] (share of the adapted model), got {weight}")
    adapted, out = Path(adapted), Path(out)
    if not (adapted / "config.json").is_file():
        raise UserError(f"{adapted} is not a model folder (no config.json): give the adapted discriminator/")
    start, kind = _base_discriminator(base)
    model = ElectraForPreTraining.from_pretrained(str(adapted))
    own = (OWN_HEAD,) if kind == "bert" else ()
    model.load_state_dict(mixed_state(start.state_dict(), model.state_dict(), weight, own))
    tmp = out.with_name(f".tmp-{out.name}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp))
    for name in TOKENIZER_FILES:
        if (adapted / name).is_file():
            shutil.copy2(adapted / name, tmp / name)
    (tmp / "README.md").write_text(
        f"# Interpolated ELECTRA discriminator\n\n{weight:g} x the adapted model `{adapted.name}` + "
        f"{1 - weight:g} x its starting checkpoint `{Path(str(base)).name}` (every shared weight; the RTD head "
        "from the adapted model). Made by `domain-electra interpolate`. Load with `AutoModel.from_pretrained`.\n",
        encoding="utf-8")
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return out
