"""Starting points for ELECTRA pretraining: scratch presets, ELECTRA folders, BERT-layout encoders.

`load_pair(...)` returns (generator, discriminator, facts), embeddings shared as requested. The cases, each
with its generator rule (`generator_init` None picks the default of the row):

| case           | init                                   | discriminator        | generator (default rule)      |
|----------------|----------------------------------------|----------------------|-------------------------------|
| scratch        | "scratch:NAME"                         | the preset, random   | random layers at the preset's |
|                |                                        |                      | width fraction                |
| electra-pair   | folder with discriminator/ generator/  | discriminator/       | generator/ (loaded)           |
| electra        | an ELECTRA discriminator alone         | the checkpoint       | copy: its bottom k layers     |
| bert           | a BERT-layout encoder (BERT, MiniLM,   | the encoder mapped   | copy: its bottom k layers,    |
|                | E5, ...): no pooler, fresh RTD head    | onto ELECTRA         | its MLM head when it has one  |

`init_generator` (an ELECTRA generator folder) overrides every rule. `generator_init="random"` gives the
pre-2026-12 generator for any case: the discriminator's embeddings and random layers at
`generator_fraction` width. "copy" builds a FULL-width generator from the checkpoint's bottom
`generator_layers` layers (measured in benchmarks/RESULTS.md, "Generator initialisation for continued
pretraining": random layers leave the generator near the unigram distribution, so the discriminator
learns an easy task and the adapted encoder fine-tunes worse than its base). Its output layer is tied to
the embeddings; the transform before it (dense + LayerNorm) and the output bias come from the
checkpoint's MLM head (`cls.predictions` of a BertForMaskedLM) when there is one, else start fresh.

`load_mlm(...)` is the MLM-only objective's model: the full discriminator encoder (shared, not copied)
under an MLM head chosen by the same rule.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from transformers import AutoConfig, ElectraConfig, ElectraForMaskedLM, ElectraForPreTraining

from ..errors import UserError
from .presets import PRESETS, generator_config, scratch_config, set_dropout
from .sharing import share_embeddings

ATTENTION = "sdpa"  # PyTorch's fused attention kernels (flash / memory-efficient on GPU)
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt",
                   "vocab.json", "merges.txt", "added_tokens.json", "sentencepiece.bpe.model", "spiece.model",
                   "tokenizer.model", "domain_electra_tokenizer.json")


@dataclass(frozen=True)
class InitFacts:
    """Where the weights came from, for the model card and the logs."""

    kind: str  # "scratch" | "electra-pair" | "electra" | "bert"
    source: str
    generator: str  # "loaded" | "random" | "copy-{k}" | "copy-{k}+mlm-head" | "mlm" | "mlm+mlm-head"
    tokenizer_dir: str | None  # the init's tokenizer folder, when it has one


def _local(init: str) -> Path | None:
    path = Path(init).expanduser()
    if path.exists():
        return path
    if init.startswith((".", "/", "~")) or init.count("/") > 1:
        raise UserError(f"init checkpoint not found: {init} (give a model folder, a hub id, or "
                        f"scratch:{'|'.join(PRESETS)})")
    return None


def _model_type(source: str | Path) -> str:
    path = Path(source)
    if path.is_dir():
        config_file = path / "config.json"
        if not config_file.is_file():
            raise UserError(f"{path} has no config.json: not a Hugging Face model folder")
        return json.loads(config_file.read_text(encoding="utf-8")).get("model_type", "")
    try:
        return AutoConfig.from_pretrained(str(source)).model_type
    except OSError as exc:
        raise UserError(f"cannot load init '{source}' from the hub ({exc.__class__.__name__}); "
                        "give a local model folder") from None


def _has_tokenizer(path: Path) -> bool:
    return (path / "tokenizer.json").is_file() or (path / "vocab.txt").is_file()


def bert_to_electra(bert: nn.Module) -> ElectraForPreTraining:
    """Map a BERT-layout encoder (BertModel) into an ElectraForPreTraining with a fresh RTD head.

    ELECTRA's embeddings and encoder are BERT's, module for module; only the pooler is dropped. The
    converted model's hidden states equal the BERT model's (tested on real checkpoints)."""
    c = bert.config
    if getattr(c, "position_embedding_type", "absolute") not in (None, "absolute"):
        raise UserError(f"cannot convert a BERT model with position_embedding_type={c.position_embedding_type!r}; "
                        "only absolute position embeddings map onto ELECTRA")
    config = ElectraConfig(
        vocab_size=c.vocab_size, embedding_size=c.hidden_size, hidden_size=c.hidden_size,
        num_hidden_layers=c.num_hidden_layers, num_attention_heads=c.num_attention_heads,
        intermediate_size=c.intermediate_size, hidden_act=c.hidden_act, hidden_dropout_prob=c.hidden_dropout_prob,
        attention_probs_dropout_prob=c.attention_probs_dropout_prob,
        max_position_embeddings=c.max_position_embeddings, type_vocab_size=c.type_vocab_size,
        initializer_range=c.initializer_range, layer_norm_eps=c.layer_norm_eps, pad_token_id=c.pad_token_id)
    config._attn_implementation = ATTENTION
    disc = ElectraForPreTraining(config)
    state = {k: v for k, v in bert.state_dict().items() if not k.startswith("pooler.")}
    missing, unexpected = disc.electra.load_state_dict(state, strict=False)
    buffers = {name for name, _ in disc.electra.named_buffers()}
    if unexpected or set(missing) - buffers:
        raise UserError(f"{c.name_or_path or 'the BERT checkpoint'} does not have the BERT layout "
                        f"(unexpected: {unexpected[:3]}, missing: {sorted(set(missing) - buffers)[:3]})")
    return disc


def _bert_model(source: str | Path):
    """The BERT-layout checkpoint as transformers' BertModel, without its load report: that report lists the
    pooler (unused here; E5's folder has none, MiniLM's has one) in a table on every run, and
    bert_to_electra checks the layout that matters itself, failing in one line."""
    from transformers import AutoModel

    from ..finetune.models import quiet_hf

    with quiet_hf():
        return AutoModel.from_pretrained(str(source))


def _load_discriminator(source: str | Path, kind: str) -> ElectraForPreTraining:
    if kind == "bert":
        return bert_to_electra(_bert_model(source))
    config = AutoConfig.from_pretrained(str(source))
    if "ElectraForMaskedLM" in (config.architectures or []):
        raise UserError(f"{source} is an ELECTRA generator; pass the discriminator as init and this folder "
                        "as init_generator")
    return ElectraForPreTraining.from_pretrained(str(source), attn_implementation=ATTENTION)


def _new_generator(disc: ElectraForPreTraining, width: float, depth: float) -> ElectraForMaskedLM:
    """generator_init "random": fresh layers at `width` x `depth` of the discriminator."""
    config = generator_config(disc.config, width, depth)
    config._attn_implementation = ATTENTION
    generator = ElectraForMaskedLM(config)
    # Start from the discriminator's (often pretrained) embeddings: shared anyway, and GDES's residual
    # then starts at exactly zero.
    generator.electra.embeddings.load_state_dict(disc.electra.embeddings.state_dict())
    generator.generator_lm_head.weight = generator.electra.embeddings.word_embeddings.weight
    return generator


HEAD_KEYS = {  # BertForMaskedLM's cls.predictions -> ElectraForMaskedLM's head (same maths, gelu)
    "transform.dense.weight": "generator_predictions.dense.weight",
    "transform.dense.bias": "generator_predictions.dense.bias",
    "transform.LayerNorm.weight": "generator_predictions.LayerNorm.weight",
    "transform.LayerNorm.bias": "generator_predictions.LayerNorm.bias",
    "transform.LayerNorm.gamma": "generator_predictions.LayerNorm.weight",  # TF-converted checkpoints
    "transform.LayerNorm.beta": "generator_predictions.LayerNorm.bias",
    "bias": "generator_lm_head.bias",
    "decoder.bias": "generator_lm_head.bias",
}


def _weight_files(source: str | Path) -> list[Path]:
    path = Path(source)
    if not path.is_dir():
        try:
            from transformers.utils import cached_file

            found = cached_file(str(source), "model.safetensors", _raise_exceptions_for_missing_entries=False)
        except OSError:
            found = None
        return [Path(found)] if found else []
    files = sorted(path.glob("*.safetensors"))
    return files or sorted(path.glob("pytorch_model*.bin"))


def mlm_head_state(source: str | Path) -> dict[str, torch.Tensor] | None:
    """The checkpoint's MLM head (`cls.predictions.*`) renamed to ElectraForMaskedLM's, or None when it has
    none (a sentence-embedding model such as MiniLM or E5 ships the encoder alone)."""
    state: dict[str, torch.Tensor] = {}
    for file in _weight_files(source):
        if file.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(file), "pt") as fh:
                tensors = {k: fh.get_tensor(k) for k in fh.keys() if k.startswith("cls.predictions.")}
        else:
            tensors = {k: v for k, v in torch.load(file, map_location="cpu", weights_only=True).items()
                       if k.startswith("cls.predictions.")}
        for key, value in tensors.items():
            name = HEAD_KEYS.get(key[len("cls.predictions."):])
            if name is not None:
                state[name] = value
    needed = {"generator_predictions.dense.weight", "generator_predictions.LayerNorm.weight", "generator_lm_head.bias"}
    return state if needed <= set(state) else None


def _put_head(model: ElectraForMaskedLM, head: dict[str, torch.Tensor] | None) -> None:
    """Load the MLM head's transform and bias (when given), and tie the output layer to the embeddings."""
    if head is not None:
        own = model.state_dict()
        for name, value in head.items():
            if own[name].shape != value.shape:
                raise UserError(f"the checkpoint's MLM head has {name} of shape {tuple(value.shape)}, expected "
                                f"{tuple(own[name].shape)}; use generator_init=random")
        model.load_state_dict(head, strict=False)
    model.generator_lm_head.weight = model.electra.embeddings.word_embeddings.weight


def copied_generator(disc: ElectraForPreTraining, layers: int,
                     head: dict[str, torch.Tensor] | None) -> ElectraForMaskedLM:
    """generator_init "copy": the discriminator's embeddings and bottom `layers` layers at full width,
    copied (the two then train apart), under `head` or a fresh transform; output tied to the embeddings."""
    if not 1 <= layers <= disc.config.num_hidden_layers:
        raise UserError(f"generator_layers must be 1..{disc.config.num_hidden_layers} for this checkpoint "
                        f"(got {layers})")
    config = copy.deepcopy(disc.config)
    config.num_hidden_layers, config.tie_word_embeddings, config.architectures = layers, True, None
    config._attn_implementation = ATTENTION
    generator = ElectraForMaskedLM(config)
    source, target = disc.electra, generator.electra
    target.embeddings.load_state_dict(source.embeddings.state_dict())
    if hasattr(source, "embeddings_project"):  # ELECTRA-small style: embedding_size < hidden_size
        target.embeddings_project.load_state_dict(source.embeddings_project.state_dict())
    for i in range(layers):
        target.encoder.layer[i].load_state_dict(source.encoder.layer[i].state_dict())
    _put_head(generator, head)
    return generator


def mlm_model(disc: ElectraForPreTraining, head: dict[str, torch.Tensor] | None) -> ElectraForMaskedLM:
    """The MLM objective's model: the discriminator's whole encoder (the SAME module, so what MLM trains is
    what the discriminator export holds) under an MLM head (the checkpoint's, or fresh), tied output."""
    config = copy.deepcopy(disc.config)
    config.tie_word_embeddings, config.architectures = True, None
    config._attn_implementation = ATTENTION
    model = ElectraForMaskedLM(config)
    model.electra = disc.electra
    _put_head(model, head)
    return model


def apply_dropout(model: nn.Module, dropout: float | None) -> None:
    if dropout is None:
        return
    set_dropout(model.config, dropout)
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = dropout


GENERATOR_RULES = {"scratch": "random", "electra-pair": "copy", "electra": "copy", "bert": "copy"}
"""The default generator of each case when none is loaded (electra-pair: when generator/ is absent)."""


@dataclass(frozen=True)
class _Start:
    discriminator: ElectraForPreTraining
    kind: str
    width: float | None  # the preset's generator width (scratch), else None
    generator: ElectraForMaskedLM | None  # loaded from generator/ or init_generator
    weights: str | Path | None  # where to look for an MLM head
    tokenizer_dir: str | None


def _start(init: str, vocab_size: int, pad_id: int, init_generator: str | None, max_positions: int) -> _Start:
    """Which case `init` is, and its discriminator (and generator, when one is stored)."""
    if init.startswith("scratch:"):
        preset = init.split(":", 1)[1]
        config = scratch_config(preset, vocab_size, pad_id, max_positions)
        config._attn_implementation = ATTENTION
        return _Start(ElectraForPreTraining(config), "scratch", PRESETS[preset]["generator"],
                      _load_generator(init_generator), None, None)
    path = _local(init)
    if path is not None and (path / "discriminator" / "config.json").is_file():
        stored = path / "generator"
        generator = _load_generator(init_generator or (str(stored) if (stored / "config.json").is_file() else None))
        tokenizer_dir = next((str(p) for p in (path / "discriminator", path) if _has_tokenizer(p)), None)
        return _Start(_load_discriminator(path / "discriminator", "electra"), "electra-pair", None, generator,
                      path / "discriminator", tokenizer_dir)
    model_type = _model_type(path or init)
    if model_type not in ("electra", "bert"):
        raise UserError(f"init {init} is a '{model_type}' model; supported: ELECTRA, BERT-layout "
                        f"encoders (model_type bert), or scratch:{'|'.join(PRESETS)}")
    tokenizer_dir = str(path) if path is not None and _has_tokenizer(path) else (None if path else init)
    return _Start(_load_discriminator(path or init, model_type), model_type, None, _load_generator(init_generator),
                  path or init, tokenizer_dir)


def _load_generator(source: str | None) -> ElectraForMaskedLM | None:
    if source is None:
        return None
    _local(source)
    return ElectraForMaskedLM.from_pretrained(source, attn_implementation=ATTENTION)


def load_pair(init: str, vocab_size: int, pad_id: int, *, init_generator: str | None = None,
              generator_init: str | None = None, generator_layers: int = 2,
              generator_fraction: float | None = None, generator_depth_fraction: float = 1.0,
              embedding_sharing: str = "tied", dropout: float | None = None, seed: int = 0,
              max_positions: int = 512) -> tuple[ElectraForMaskedLM, ElectraForPreTraining, InitFacts]:
    """(generator, discriminator, facts) ready for pretraining, embeddings shared per `embedding_sharing`.
    `vocab_size`/`pad_id` size a scratch model; loaded checkpoints keep their own. The generator follows
    the table in the module docstring."""
    torch.manual_seed(seed)  # fresh weights (scratch models, new generators, RTD heads) are reproducible
    start = _start(init, vocab_size, pad_id, init_generator, max_positions)
    disc, generator = start.discriminator, start.generator
    rule = "loaded" if generator is not None else (generator_init or GENERATOR_RULES[start.kind])
    if rule == "random":
        generator = _new_generator(disc, generator_fraction or start.width or 0.25, generator_depth_fraction)
    elif rule == "copy":
        if start.kind == "scratch":
            raise UserError("generator_init=copy needs a pretrained init (a scratch model has no layers worth "
                            "copying); use generator_init=random")
        head = mlm_head_state(start.weights) if start.weights is not None else None
        generator = copied_generator(disc, generator_layers, head)
        rule = f"copy-{generator_layers}" + ("+mlm-head" if head is not None else "")
    elif rule != "loaded":
        raise UserError(f"generator_init must be 'copy' or 'random' (got {generator_init!r})")
    for model in (generator, disc):
        apply_dropout(model, dropout)
    share_embeddings(generator, disc, embedding_sharing)
    return generator, disc, InitFacts(start.kind, init, rule, start.tokenizer_dir)


def load_mlm(init: str, vocab_size: int, pad_id: int, *, dropout: float | None = None, seed: int = 0,
             max_positions: int = 512) -> tuple[ElectraForMaskedLM, ElectraForPreTraining, InitFacts]:
    """(mlm model, discriminator, facts) for `objective: mlm`: the MLM model IS the discriminator's encoder
    under an MLM head (the checkpoint's `cls.predictions` when it has one, else fresh), output tied to the
    embeddings. Nothing of a stored generator is used."""
    torch.manual_seed(seed)
    start = _start(init, vocab_size, pad_id, None, max_positions)
    disc = start.discriminator
    head = mlm_head_state(start.weights) if start.weights is not None else None
    model = mlm_model(disc, head)
    for module in (model, disc):
        apply_dropout(module, dropout)
    return model, disc, InitFacts(start.kind, init, "mlm" + ("+mlm-head" if head is not None else ""),
                                  start.tokenizer_dir)


def check_vocabulary(meta: dict, vocab_rows: int, facts: InitFacts, required: bool = True) -> None:
    """The packed token ids must mean the same tokens to the init checkpoint (a UserError otherwise).

    A tokenizer that cannot be loaded is never a silent pass: a local folder that fails to load is an
    error; one that is not here (a hub id offline, a folder left on another machine) is an error unless
    `required` is False (PretrainConfig.verify_vocabulary), and then a one-line warning."""
    if facts.kind == "scratch":
        return
    fix = (f"pack the corpus with {facts.source}'s tokenizer, or run `domain-electra tokenizer extend` to add "
           "the domain tokens to the checkpoint and pretrain from the extended checkpoint")
    if int(meta["vocab_size"]) > vocab_rows:
        raise UserError(f"the packed tokens use {meta['vocab_size']} token ids but {facts.source} has only "
                        f"{vocab_rows} embeddings: {fix}")
    packed_with = meta.get("tokenizer")
    if not packed_with or not facts.tokenizer_dir:
        return
    if Path(packed_with).exists() and Path(facts.tokenizer_dir).exists() and \
            Path(packed_with).resolve() == Path(facts.tokenizer_dir).resolve():
        return
    ours = _vocabulary(packed_with, "the packed tokens' tokenizer", facts.source, required)
    theirs = _vocabulary(facts.tokenizer_dir, f"the tokenizer of {facts.source}", facts.source, required)
    if ours is None or theirs is None:
        return
    if ours != theirs:
        differ = sum(1 for t, i in ours.items() if theirs.get(t) != i)
        raise UserError(f"the packed tokens were made with {packed_with}, whose vocabulary differs from "
                        f"{facts.source}'s ({differ} of {len(ours)} tokens differ): {fix}")


def _vocabulary(source: str, role: str, init: str, required: bool) -> dict | None:
    """`source`'s vocabulary; None (with a warning) only when it is not here and the check is opted out."""
    import sys

    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(source)).get_vocab()
    except Exception as exc:  # tokenizers raises bare Exceptions for a broken tokenizer.json
        reason = f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0][:200]}"
        if Path(source).expanduser().exists():
            raise UserError(f"cannot check the packed tokens against {init}: {role} in {source} fails to load "
                            f"({reason}); repair or re-save that folder so that AutoTokenizer.from_pretrained "
                            "loads it, or re-pack the corpus with a tokenizer that loads") from exc
        if required:
            raise UserError(f"cannot check that the packed tokens mean the same tokens to {init}: {role} {source} "
                            f"is not available here ({reason}); make it available (a local folder, or go online "
                            "for a hub id), or skip the check with --set verify_vocabulary=false") from exc
        print(f"warning: vocabulary check skipped (verify_vocabulary=false): {role} {source} is not available "
              "here; only the token-id range was checked", file=sys.stderr, flush=True)
        return None
