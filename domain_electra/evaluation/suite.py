"""Benchmark suites: a YAML file naming tasks (registered by domains or declared inline), options and budgets.

    name: my-benchmarks             # optional: the report's title (default: the file name)
    domain: finance                 # optional: where bare task names are looked up (a name or a plugin path)
    finetune: {epochs: 3}           # FinetuneConfig values for every task of the suite
    tasks:
      - task: multifin-highlevel    # a task of the suite's domain (domain.task(name))
        options: {level: high}      # keyword arguments of the task's loader (unknown ones are errors)
        finetune: {batch_size: 32}  # per-task FinetuneConfig values (over the suite's)
        probe:                      # optional, classification tasks: zero-shot prompt with label words
          template: "{text} Topic: <mask>."
          words: [business, finance, government, industry, tax, technology]   # one per label, in order
      - task: medical/ncbi-disease  # a task of another domain: <domain>/<task>
      - name: tweets                # a task declared here, no Python: see declared.py
        kind: classification
        files: {train: data/train.csv, test: data/test.csv}
        text: sentence
        label: sentiment

Declared tasks' files are read while the suite loads, so every mistake in them surfaces before training.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path

from ..config import read_yaml
from ..domain import Domain, EvalTask
from ..errors import UserError
from .declared import parse_declared, to_eval_task

SUITE_KEYS = ("name", "domain", "description", "finetune", "tasks")
ENTRY_KEYS = ("task", "options", "finetune", "probe")


@dataclass(frozen=True)
class SuiteTask:
    task: EvalTask
    options: dict = field(default_factory=dict)
    finetune: dict = field(default_factory=dict)
    probe: dict = field(default_factory=dict)  # {"template": "... {text} ... <mask> ...", "words": [...]}
    domain: str = ""  # the domain the task came from ("" for a task declared in the suite)


@dataclass(frozen=True)
class Suite:
    name: str
    domain: Domain | None  # the suite's `domain:` (None when every task is qualified or declared)
    tasks: tuple[SuiteTask, ...]
    finetune: dict = field(default_factory=dict)
    description: str = ""


def _registered(entry: dict, domain: Domain | None, where: str) -> tuple[EvalTask, str]:
    from ..registry import get_domain

    name = str(entry["task"])
    if "/" in name:
        domain_name, name = name.rsplit("/", 1)
        domain = get_domain(domain_name)
    elif domain is None:
        raise UserError(f"{where}: task '{name}' needs a domain: write '<domain>/{name}' or give the suite a "
                        "'domain:'")
    try:
        return domain.task(name), domain.name
    except KeyError:
        names = ", ".join(t.name for t in domain.eval_tasks) or "none"
        raise UserError(f"{where}: domain '{domain.name}' has no task '{name}'; available: {names}") from None


def check_options(task: EvalTask, options: dict, where: str) -> None:
    """Loader options must be parameters of the task's loader (a typo is an error, not silently ignored)."""
    try:
        params = list(inspect.signature(task.load).parameters.values())[1:]  # the first is data_dir
    except (TypeError, ValueError):
        return
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return
    valid = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    unknown = [k for k in options if k not in valid]
    if unknown:
        raise UserError(f"{where}: unknown option 'options.{unknown[0]}' for task '{task.name}' "
                        f"(valid: {', '.join(valid) or 'none'})")


def _check_probe(probe: dict, task: EvalTask, where: str) -> None:
    if probe and (task.kind not in ("classification", "pair") or "<mask>" not in str(probe.get("template", ""))
                  or not isinstance(probe.get("words"), list)):
        raise UserError(f"{where}.probe needs a classification task, a 'template' holding {{text}} "
                        "and <mask>, and a 'words' list (one label word per label)")


def _entry(raw, domain: Domain | None, where: str, suite_dir: Path) -> SuiteTask:
    entry = {"task": raw} if isinstance(raw, str) else raw
    if not isinstance(entry, dict):
        raise UserError(f"{where} must be a task name, {{task, options, finetune, probe}} or a declared task "
                        "{name, kind, format, files, ...}")
    extras = {"finetune": dict(entry.get("finetune") or {}), "probe": dict(entry.get("probe") or {})}
    if "task" in entry:
        unknown = [k for k in entry if k not in ENTRY_KEYS]
        if unknown:
            raise UserError(f"{where}: unknown key '{unknown[0]}' (valid: {', '.join(ENTRY_KEYS)}; a declared task "
                            "has 'name' and 'kind' instead of 'task')")
        task, origin = _registered(entry, domain, where)
        options = entry.get("options") or {}
        if not isinstance(options, dict):
            raise UserError(f"{where}: 'options' must be a mapping of loader arguments")
        check_options(task, options, where)
    else:
        declared = {k: v for k, v in entry.items() if k not in extras}
        task, origin, options = to_eval_task(parse_declared(declared, where, suite_dir)), "", {}
    _check_probe(extras["probe"], task, where)
    return SuiteTask(task, dict(options), extras["finetune"], extras["probe"], origin)


def load_suite(path: str | Path, only: tuple[str, ...] = (), data_dir=None) -> Suite:
    """Parse a suite file and read its declared tasks' files (under `data_dir` when not next to the suite);
    unknown keys, domains, task names and every mistake in a declared task are one-line UserErrors."""
    from ..registry import get_domain

    path = Path(path)
    data = read_yaml(path)
    unknown = [k for k in data if k not in SUITE_KEYS]
    if unknown:
        raise UserError(f"{path}: unknown key '{unknown[0]}' (valid: {', '.join(SUITE_KEYS)})")
    if not isinstance(data.get("tasks"), list) or not data["tasks"]:
        raise UserError(f"{path}: a suite needs a non-empty 'tasks' list")
    domain = get_domain(str(data["domain"])) if data.get("domain") else None
    entries = [_entry(raw, domain, f"{path}: tasks[{i}]", path.parent) for i, raw in enumerate(data["tasks"])]
    seen: dict[str, int] = {}
    for i, st in enumerate(entries):
        if st.task.name in seen:
            raise UserError(f"{path}: tasks[{i}] is named '{st.task.name}' like tasks[{seen[st.task.name]}]; "
                            "task names in a suite must be distinct")
        seen[st.task.name] = i
    tasks = [st for st in entries if not only or st.task.name in only]
    if not tasks:
        raise UserError(f"{path}: no task left to run (asked for {', '.join(only)}; suite tasks: {', '.join(seen)})")
    for st in tasks:
        if not st.domain:
            st.task.load(data_dir)  # read and check the declared files now, before any training (cached)
    return Suite(name=str(data.get("name") or path.stem), domain=domain, tasks=tuple(tasks),
                 finetune=dict(data.get("finetune") or {}), description=str(data.get("description") or ""))
