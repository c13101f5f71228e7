"""Benchmark suites: evals/<domain>.yaml names a domain, its tasks, loader options and budgets.

    domain: finance                 # a registered domain name or a plugin path
    finetune: {epochs: 3}           # FinetuneConfig values for every task of the suite
    tasks:
      - task: multifin-highlevel    # a task of that domain (domain.task(name))
        options: {level: high}      # keyword arguments of the task's loader
        finetune: {batch_size: 32}  # per-task FinetuneConfig values (over the suite's)
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
        if not isinstance(entry, dict) or "task" not in entry or set(entry) - {"task", "options", "finetune"}:
            raise UserError(f"{path}: tasks[{i}] must be a task name or {{task, options, finetune}}")
        try:
            task = domain.task(str(entry["task"]))
        except KeyError:
            raise UserError(f"{path}: domain '{domain.name}' has no task '{entry['task']}'; available: {names}") from None
        if only and task.name not in only:
            continue
        tasks.append(SuiteTask(task, dict(entry.get("options") or {}), dict(entry.get("finetune") or {})))
    if not tasks:
        raise UserError(f"{path}: no task left to run (asked for {', '.join(only)}; suite tasks: {names})")
    return Suite(name=path.stem, domain=domain, tasks=tuple(tasks), finetune=dict(data.get("finetune") or {}))
