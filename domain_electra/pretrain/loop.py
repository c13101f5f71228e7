"""`pretrain(config, tokens_dir, out)`: the one training loop, readable top to bottom.

setup (data, models, optimizer, resume) -> for each optimizer step: stop checks, lr, batch, step,
logging, validation, checkpoint -> final validation, checkpoint, export. Everything that must survive a
kill is in the checkpoint; everything else is recomputed from the step number.
"""
from __future__ import annotations

import json
import math
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel

from ..errors import UserError
from ..modeling import check_vocabulary, load_pair
from ..modeling.load import load_mlm
from ..tokenization.packed import PackedTokens
from .checkpoint import (clean_partial, load_checkpoint, mark_best, newest_intact, read_best,
                         save_checkpoint)
from .config import PretrainConfig, math_fields
from .data import BatchSource, batch_spec, to_device
from .distributed import World, close_world, init_world
from .export import export
from .objective import Corruption, ElectraObjective, FrozenAnchor, MLMObjective, evaluate
from .step import autocast_for, build_optimizer, lr_factor, make_train_step


class TrainingInterrupted(UserError):
    """SIGTERM/SIGINT: a checkpoint was saved; rerunning the same command resumes from it."""


def _device(config: PretrainConfig, world: World) -> torch.device:
    if config.device == "cuda" and not torch.cuda.is_available():
        raise UserError("device=cuda but no CUDA device is visible; use device=auto or cpu")
    if config.device == "cuda" or (config.device == "auto" and torch.cuda.is_available()):
        return torch.device("cuda", world.local_rank)
    return torch.device("cpu")


def _open_tokens(folder: Path, split: str) -> PackedTokens:
    try:
        return PackedTokens(folder, split)
    except (FileNotFoundError, KeyError, ValueError) as exc:
        raise UserError(f"cannot read packed tokens {folder} ({split}): {exc}") from None


def _load_data(config: PretrainConfig, tokens_dir: Path):
    train = _open_tokens(tokens_dir, "train")
    meta = train.meta
    validation = _open_tokens(tokens_dir, "validation") if "validation" in meta["splits"] else None
    replay = None
    if config.replay_tokens and config.replay_ratio > 0:
        replay = _open_tokens(Path(config.replay_tokens), "train")
        same = (replay.seq_len == train.seq_len and replay.meta["vocab_size"] == meta["vocab_size"]
                and replay.meta["special_ids"] == meta["special_ids"])
        if not same:
            raise UserError(f"replay tokens {config.replay_tokens} were packed with another tokenizer or seq_len; "
                            f"pack the general corpus with {meta.get('tokenizer')} at seq_len {train.seq_len}")
    return meta, train, validation, replay


def _objective(config: PretrainConfig, meta: dict, seq_len: int):
    """The objective module (RTD pair or MLM model) for `config`, and where its weights came from."""
    special = meta["special_ids"]
    vocab, pad, mask_id = int(meta["vocab_size"]), int(special["pad"]), int(special["mask"])
    corruption = Corruption(*config.corruption())
    if config.objective == "mlm":
        model, discriminator, facts = load_mlm(config.init, vocab, pad, dropout=config.dropout, seed=config.seed,
                                               max_positions=max(512, seq_len))
        return MLMObjective(model, discriminator, mask_id, corruption, _anchor(config, discriminator)), facts
    generator, discriminator, facts = load_pair(
        config.init, vocab, pad, init_generator=config.init_generator, generator_init=config.generator_init,
        generator_layers=config.generator_layers, generator_fraction=config.generator_fraction,
        generator_depth_fraction=config.generator_depth_fraction, embedding_sharing=config.embedding_sharing,
        dropout=config.dropout, seed=config.seed, max_positions=max(512, seq_len))
    return ElectraObjective(generator, discriminator, mask_id, config.rtd_weight, corruption,
                            _anchor(config, discriminator)), facts


def _anchor(config: PretrainConfig, discriminator) -> FrozenAnchor | None:
    """The frozen starting encoder for anchor_weight > 0, copied before any training step (a resumed run
    rebuilds it from `init` too, so it always holds the starting weights)."""
    return FrozenAnchor(discriminator.electra, config.anchor_weight) if config.anchor_weight > 0 else None


def _budget_steps(config: PretrainConfig, tokens_per_step: int) -> int | None:
    budgets = [config.max_steps] if config.max_steps is not None else []
    if config.max_tokens:
        budgets.append(math.ceil(config.max_tokens / tokens_per_step))
    return min(budgets) if budgets else None


def _check_same_run(trainer: dict, config: PretrainConfig, data: dict, path: Path) -> None:
    saved, now = trainer.get("config", {}), json.loads(json.dumps(math_fields(config)))
    changed = sorted(k for k in set(saved) | set(now) if saved.get(k) != now.get(k))
    if changed or trainer.get("data") != data:
        what = f"config field '{changed[0]}'" if changed else "packed tokens"
        raise UserError(f"checkpoint {path} was written with a different {what}; use a new --out folder or "
                        f"delete {path.parent} to start over")


class _Signals:
    """SIGTERM/SIGINT set a flag that the loop checks between steps; a second one aborts at once."""

    def __init__(self):
        self.signum: int | None = None
        self.previous: dict = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum

    def __exit__(self, *exc):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


class _Window:
    """Training metrics summed on the device between two log lines (no per-step host sync)."""

    def __init__(self):
        self.sums, self.steps, self.t0, self.tokens = {}, 0, time.time(), 0

    def add(self, metrics: dict, tokens: int) -> None:
        for key, value in metrics.items():
            self.sums[key] = self.sums.get(key, 0) + value
        self.steps, self.tokens = self.steps + 1, self.tokens + tokens

    def flush(self, world: World) -> dict:
        """Window averages; under DDP summed over processes first (every process must call it)."""
        keys = sorted(self.sums)
        values = torch.stack([torch.as_tensor(self.sums[k], dtype=torch.float64).cpu() for k in keys])
        if world.size > 1:
            values = world.sum(values)
            means = [k for k in ("loss", "gen_loss", "disc_loss", "anchor_loss", "grad_norm", "skipped") if k in keys]
            values[[keys.index(k) for k in means]] /= world.size
        s = dict(zip(keys, values.tolist()))
        n = max(self.steps, 1)
        row = {"loss": s["loss"] / n, "gen_loss": s["gen_loss"] / n, "gen_acc": s["gen_correct"] / max(s["masked"], 1),
               "disc_loss": s["disc_loss"] / n, "disc_acc": s["disc_correct"] / max(s["tokens"], 1),
               "disc_auc": None, "grad_norm": s["grad_norm"] / n, "skipped": int(s["skipped"]),
               "tokens_per_s": self.tokens / max(time.time() - self.t0, 1e-9)}
        if "anchor_loss" in s:
            row["anchor_loss"] = s["anchor_loss"] / n
        self.__init__()
        return row


class _Bar:
    """A rich progress bar over the budget (steps, or minutes when that is the only budget)."""

    def __init__(self, enabled: bool):
        self.progress = None
        if enabled:
            try:
                from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
            except ImportError:
                return
            self.progress = Progress(TextColumn("pretrain"), BarColumn(), TextColumn("{task.percentage:>5.1f}%"),
                                     TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TextColumn("ETA"),
                                     TimeRemainingColumn())
            self.task = self.progress.add_task("pretrain", total=1000, info="starting")
            self.progress.start()

    def update(self, fraction: float, info: str) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=min(1000.0, 1000.0 * fraction), info=info)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def pretrain(config: PretrainConfig, tokens_dir: Path, out: Path, progress: bool = True) -> dict:
    """Pretrain on the packed tokens in `tokens_dir`, writing checkpoints, metrics and exports to `out`.

    Resumes from `out/checkpoints` when it holds a checkpoint of the same run. Returns the final facts
    (steps, tokens, stop reason, last training and validation metrics, export paths). Run it under
    torchrun for several processes/GPUs (see distributed.py)."""
    config.validate()
    world = init_world("cuda" if _device(config, World()).type == "cuda" else "cpu")
    try:
        return _train(config, Path(tokens_dir), Path(out), progress, world)
    finally:
        close_world(world)


def _train(config: PretrainConfig, tokens_dir: Path, out: Path, progress: bool, world: World) -> dict:
    device = _device(config, world)
    meta, train, validation, replay = _load_data(config, tokens_dir)
    spec = batch_spec(meta, config.mask_rate, config.whole_word, config.span_masking, config.max_span_tokens)
    per_process, rest = divmod(config.batch_size, world.size * config.grad_accum)
    if per_process == 0 or rest:
        raise UserError(f"batch_size {config.batch_size} must be a multiple of processes x grad_accum "
                        f"({world.size} x {config.grad_accum})")
    source = BatchSource(spec, train, config.batch_size, config.seed, replay, config.replay_ratio, validation)
    objective, facts = _objective(config, meta, spec.seq_len)
    discriminator = objective.discriminator
    check_vocabulary(meta, discriminator.config.vocab_size, facts, required=config.verify_vocabulary)
    if spec.seq_len > discriminator.config.max_position_embeddings:
        raise UserError(f"seq_len {spec.seq_len} exceeds {config.init}'s {discriminator.config.max_position_embeddings} "
                        "positions; pack with a smaller --seq-len")
    objective = objective.to(device)
    optimizer = build_optimizer(objective, config, device)

    # --- resume -----------------------------------------------------------------------------------------
    ckpt_dir, data_sig = out / "checkpoints", {"seq_len": spec.seq_len, "vocab_size": int(meta["vocab_size"]),
                                               "train_sequences": len(train)}
    state = {"step": 0, "tokens": 0, "elapsed_s": 0.0, "skipped": 0}
    if world.main:
        out.mkdir(parents=True, exist_ok=True)
        clean_partial(ckpt_dir)
    world.barrier()
    found = newest_intact(ckpt_dir, report=world.main)  # damaged newer checkpoints are skipped, said in one line
    if found:
        trainer = load_checkpoint(found[-1], objective, optimizer, device, world.rank)
        _check_same_run(trainer, config, data_sig, found[-1])
        state.update({k: trainer[k] for k in state})
    else:
        torch.manual_seed(config.seed * 1009 + world.rank + 1)  # dropout stream, distinct per process
    metrics_file = out / "metrics.jsonl"
    if world.main:  # drop lines logged after the checkpoint we resume from (they will be redone)
        old = metrics_file.read_text().splitlines() if metrics_file.is_file() else []
        keep = [line for line in old if found and json.loads(line)["step"] <= state["step"]]
        metrics_file.write_text("".join(line + "\n" for line in keep))
    # Parameters without a gradient in some steps (MLM: the RTD head; a generator warm-up: the discriminator)
    unused = config.objective == "mlm" or config.generator_warmup_steps > 0
    model = (DistributedDataParallel(objective, device_ids=[device.index] if device.type == "cuda" else None,
                                     find_unused_parameters=unused) if world.size > 1 else objective)
    step_fn = make_train_step(model, optimizer, config, device)
    autocast = autocast_for(device)
    eval_set = [to_device(b, device) for b in (source.eval_batch(i, per_process) for i in range(config.eval_batches))
                if b is not None] if world.main else []

    writer = None
    if world.main:
        try:
            from torch.utils.tensorboard import SummaryWriter

            writer = SummaryWriter(str(out / "tensorboard"))
        except ImportError:
            pass

    def log(split: str, row: dict) -> None:
        if not world.main:
            return
        row = {"step": state["step"], "tokens": state["tokens"], "split": split, **row}
        if config.objective == "mlm":  # no discriminator is trained: its metrics are absent, not 0
            row.update({k: None for k in ("disc_loss", "disc_acc", "disc_auc")})
        with metrics_file.open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        if writer is not None:
            for key, value in row.items():
                if isinstance(value, (int, float)) and key not in ("step", "split"):
                    writer.add_scalar(f"{split}/{key}", value, state["step"])

    def save() -> Path:
        trainer = {**state, "config": math_fields(config), "data": data_sig, "world_size": world.size}
        return save_checkpoint(ckpt_dir, state["step"], objective, optimizer, trainer, config.keep_last,
                               world.rank, world.barrier)

    def validate() -> dict:
        result = evaluate(objective, eval_set, autocast) if world.main and eval_set else {}
        if result:
            log("validation", {**result, "lr": lr, "tokens_per_s": None})
        return result

    # --- the loop -----------------------------------------------------------------------------------------
    tokens_per_step = config.batch_size * spec.seq_len
    total_steps = _budget_steps(config, tokens_per_step)
    max_seconds = config.max_minutes * 60 if config.max_minutes else None
    rows = slice(world.rank * per_process * config.grad_accum, (world.rank + 1) * per_process * config.grad_accum)
    start = time.time() - state["elapsed_s"]
    window, bar = _Window(), _Bar(progress and world.main)
    last_saved = state["step"] if found else -1
    last_eval, last_train, last_val, reason, lr = -1, {}, {}, None, config.lr
    streak = max_streak = torch.zeros((), device=device)
    best = read_best(ckpt_dir)
    if state["step"] == 0:
        last_val = validate()  # the starting point, so curves show what training changed
    window.t0 = time.time()  # tokens/s counts training time only
    pool = ThreadPoolExecutor(max_workers=1)  # builds the next batch while the device runs this one
    future = pool.submit(source.global_batch, state["step"], rows)
    try:
        with _Signals() as signals:
            while True:
                state["elapsed_s"] = time.time() - start
                reason = ("max_steps" if total_steps is not None and state["step"] >= total_steps else
                          "max_minutes" if max_seconds is not None and state["elapsed_s"] >= max_seconds else None)
                interrupted = world.any(signals.signum is not None)
                if world.any(reason is not None) and reason is None:
                    reason = "max_minutes"  # another process ran out of time first: all stop together
                if interrupted:
                    path = save() if last_saved != state["step"] else ckpt_dir
                    name = signal.Signals(signals.signum).name if signals.signum else "a signal on another process"
                    raise TrainingInterrupted(f"interrupted by {name} at step {state['step']}; checkpoint saved in "
                                              f"{path}; rerun the same command to resume")
                if reason is not None:
                    break
                step = state["step"]
                fraction = step / total_steps if total_steps else state["elapsed_s"] / max_seconds
                lr = config.lr * lr_factor(step, config.warmup_steps, fraction)
                objective.joint = step >= config.generator_warmup_steps  # ElectraObjective only reads it
                host = future.result()
                future = pool.submit(source.global_batch, step + 1, rows)
                metrics = step_fn(to_device(host, device, pin=device.type == "cuda"), lr)
                state["step"], state["tokens"] = step + 1, state["tokens"] + tokens_per_step
                state["elapsed_s"] = time.time() - start
                window.add(metrics, tokens_per_step)
                streak = (streak + metrics["skipped"]) * metrics["skipped"]
                max_streak = torch.maximum(max_streak, streak)
                at_log = state["step"] % config.log_every == 0
                if (device.type == "cpu" or at_log) and float(max_streak) >= config.max_nonfinite_steps:
                    raise UserError(f"stopped at step {state['step']}: the loss or gradient was non-finite for "
                                    f"{config.max_nonfinite_steps} consecutive steps (each skipped); lower lr "
                                    f"(now {config.lr}) or check the packed tokens; the last checkpoint is kept")
                if at_log:
                    last_train = window.flush(world)
                    state["skipped"] += last_train["skipped"]
                    log("train", {**last_train, "lr": lr, "elapsed_s": round(state["elapsed_s"], 2)})
                    bar.update(max(state["step"] / total_steps if total_steps else 0.0,
                                   state["elapsed_s"] / max_seconds if max_seconds else 0.0),
                               f"step {state['step']} | {last_train['tokens_per_s']:,.0f} tok/s | "
                               f"gen {last_train['gen_loss']:.3f} | disc {last_train['disc_loss']:.4f}")
                if state["step"] % config.eval_every == 0:
                    last_val, last_eval = validate(), state["step"]
                    improved = bool(last_val) and (best is None or last_val["loss"] < best["loss"])
                    if world.any(improved):  # every process joins the save, so all must agree
                        if last_saved != state["step"]:
                            save()
                            last_saved = state["step"]
                        if world.main:
                            best = {"step": state["step"], "loss": last_val["loss"]}
                            mark_best(ckpt_dir, best["step"], best["loss"])
                if state["step"] % config.save_every == 0 and last_saved != state["step"]:
                    save()
                    last_saved = state["step"]
    finally:
        future.cancel()
        pool.shutdown(wait=True)
        bar.close()

    # --- the end: final validation, checkpoint, export ----------------------------------------------------
    if window.steps:
        last_train = window.flush(world)
        state["skipped"] += last_train["skipped"]
        log("train", {**last_train, "lr": lr, "elapsed_s": round(state["elapsed_s"], 2)})
    if last_eval != state["step"]:
        last_val = validate()
    if last_saved != state["step"]:
        save()
    if writer is not None:
        writer.close()
    result = {"steps": state["step"], "tokens": state["tokens"], "stop_reason": reason,
              "seconds": round(time.time() - start, 2), "nonfinite_skipped": state["skipped"],
              "train": last_train, "validation": last_val}
    if world.main:
        facts_card = {"meta": meta, "validation": last_val, "train": last_train, "init": config.init,
                      "init_kind": facts.kind, "generator": facts.generator, "tokens_dir": str(tokens_dir),
                      "steps": state["step"], "tokens": state["tokens"], "batch_size": config.batch_size,
                      "stop_reason": reason, "rtd_weight": config.rtd_weight, "objective": config.objective,
                      "embedding_sharing": config.embedding_sharing, "anchor_weight": config.anchor_weight}
        result.update(export(objective, out, facts_card))
    world.barrier()
    return result
