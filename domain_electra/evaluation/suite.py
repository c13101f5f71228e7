"""Benchmark suites: evals/<domain>.yaml names a domain, its tasks, loader options and budgets.

    domain: finance                 # a registered domain name or a plugin path
    finetune: {epochs: 3}           # FinetuneConfig values for every task of the suite
    tasks:
      - task: multifin-highlevel    # a task of that domain (domain.task(name))
        options: {level: high}      # keyword arguments of the task's loader
        finetune: {batch_size: 32}  # per-task FinetuneConfig values (over the suite's)
        probe:                      # optional, classification tasks: zero-shot prompt with label words
          template: "{text} Topic: <mask>."
          words: [business, finance, government, industry, tax, technology]   # one per label, in order
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..config import read_yaml
from ..domain import Domain, EvalTask
from ..errors import UserError


@dataclass(frozen=True)
class SuiteTask:
    task: EvalTask
    options: dict = field(default_factory=dict)
    finetune: dict = field(default_factory=dict)
    probe: dict = field(default_factory=dict)  # {"template": "... {text} ... <mask> ...", "words": [...]}


@dataclass(frozen=True)
class Suite:
    name: str
    domain: Domain
    tasks: tuple[SuiteTask, ...]
    finetune: dict = field(default_factory=dict)


def load_suite(path: str | Path, only: tuple[str, ...] = ()) -> Suite:
    """Parse a suite file; unknown keys, domains and task names are one-line UserErrors."""
    from ..registry import get_domain

    path = Path(path)
    data = read_yaml(path)
    unknown = set(data) - {"domain", "description", "finetune", "tasks"}
    if unknown:
        raise UserError(f"{path}: unknown key '{sorted(unknown)[0]}' (valid: domain, description, finetune, tasks)")
    if "domain" not in data or not isinstance(data.get("tasks"), list) or not data["tasks"]:
        raise UserError(f"{path}: a suite needs 'domain' and a non-empty 'tasks' list")
    domain = get_domain(str(data["domain"]))
    names = ", ".join(t.name for t in domain.eval_tasks) or "none"
    tasks = []
    for i, entry in enumerate(data["tasks"]):
        entry = {"task": entry} if isinstance(entry, str) else entry
        if not isinstance(entry, dict) or "task" not in entry or set(entry) - {"task", "options", "finetune", "probe"}:
            raise UserError(f"{path}: tasks[{i}] must be a task name or {{task, options, finetune, probe}}")
        try:
            task = domain.task(str(entry["task"]))
        except KeyError:
            raise UserError(f"{path}: domain '{domain.name}' has no task '{entry['task']}'; available: {names}") from None
        if only and task.name not in only:
            continue
        probe = dict(entry.get("probe") or {})
        if probe and (task.kind not in ("classification", "pair") or "<mask>" not in str(probe.get("template", ""))
                      or not isinstance(probe.get("words"), list)):
            raise UserError(f"{path}: tasks[{i}].probe needs a classification task, a 'template' holding {{text}} "
                            "and <mask>, and a 'words' list (one label word per label)")
        tasks.append(SuiteTask(task, dict(entry.get("options") or {}), dict(entry.get("finetune") or {}), probe))
    if not tasks:
        raise UserError(f"{path}: no task left to run (asked for {', '.join(only)}; suite tasks: {names})")
    return Suite(name=path.stem, domain=domain, tasks=tuple(tasks), finetune=dict(data.get("finetune") or {}))
