"""The plugin conformance check: what every domain, built-in or third-party, must satisfy.

Plugin authors call `check_domain(DOMAIN)` in their own tests (the scaffold writes that test); the
toolkit's suite runs it over every discovered domain.
"""
from __future__ import annotations

import re

from .domain import Document, Domain, EvalTask, MaskingPolicy, TokenizerRecipe

TASK_KINDS = ("classification", "multilabel", "pair", "token", "retrieval", "regression", "cloze")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_-]*$")
REASON_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")


def check_domain(domain: Domain) -> list[str]:
    """Return every problem found (an empty list means the plugin conforms)."""
    problems: list[str] = []
    if not isinstance(domain, Domain):
        return [f"expected a Domain, got {type(domain).__name__}"]
    if not NAME_PATTERN.match(domain.name):
        problems.append(f"name {domain.name!r} must be lowercase letters, digits, '-' or '_'")
    if not domain.description.strip():
        problems.append("description is empty")
    if not domain.languages:
        problems.append("languages is empty")
    if not isinstance(domain.tokenizer, TokenizerRecipe):
        problems.append("tokenizer must be a TokenizerRecipe")
    else:
        if domain.tokenizer.model not in ("wordpiece", "unigram"):
            problems.append(f"tokenizer.model {domain.tokenizer.model!r} is not wordpiece or unigram")
        if domain.tokenizer.pretokenizer not in ("bert", "code"):
            problems.append(f"tokenizer.pretokenizer {domain.tokenizer.pretokenizer!r} is not bert or code")
        if domain.tokenizer.extension not in ("train", "extend"):
            problems.append(f"tokenizer.extension {domain.tokenizer.extension!r} is not train or extend")
        if domain.tokenizer.vocab_size < 100:
            problems.append("tokenizer.vocab_size is below 100")
    if not isinstance(domain.masking, MaskingPolicy):
        problems.append("masking must be a MaskingPolicy")
    elif not 0.0 < domain.masking.mask_rate < 1.0 or domain.masking.spans not in ("none", "ast"):
        problems.append("masking.mask_rate must be in (0, 1) and masking.spans 'none' or 'ast'")
    names = [t.name for t in domain.eval_tasks]
    if len(set(names)) != len(names):
        problems.append(f"duplicate eval task names: {names}")
    for task in domain.eval_tasks:
        if not isinstance(task, EvalTask):
            problems.append(f"eval task {task!r} is not an EvalTask")
        elif task.kind not in TASK_KINDS:
            problems.append(f"eval task {task.name}: kind {task.kind!r} not in {TASK_KINDS}")
        elif not callable(task.load):
            problems.append(f"eval task {task.name}: load is not callable")
        else:
            problems.extend(_check_metric(task))
    if not domain.examples:
        problems.append("examples is empty (give a few texts for smoke tests)")
    problems.extend(_check_cleaners(domain))
    return problems


def _check_metric(task: EvalTask) -> list[str]:
    """A metric the task's kind does not produce would pass loading and fail while scoring dev: flag it now."""
    from .errors import UserError
    from .evaluation.metrics import task_metric

    try:
        task_metric(task.name, task.kind, task.metric)
    except UserError as exc:
        return [f"eval task {task.name}: {exc}".replace(f"task '{task.name}': ", "")]
    return []


def _check_cleaners(domain: Domain) -> list[str]:
    try:
        steps = list(domain.cleaners({}))
    except Exception as exc:  # the plugin's own bug: report it as a problem, not a crash
        return [f"cleaners({{}}) raised {type(exc).__name__}: {exc}"]
    problems = []
    for step in steps:
        if not callable(step):
            problems.append(f"cleaner {step!r} is not callable")
            continue
        for text in domain.examples:
            language = domain.languages[0] if domain.languages else ""
            try:
                result = step(Document(text=text, source="<example>", language=language))
            except Exception as exc:
                problems.append(f"cleaner {getattr(step, '__name__', step)!r} raised {type(exc).__name__}: {exc}")
                continue
            if isinstance(result, str):
                if not REASON_PATTERN.match(result):
                    problems.append(f"cleaner {getattr(step, '__name__', step)!r} drop reason {result!r} "
                                    "is not a snake_case name")
            elif not isinstance(result, Document):
                problems.append(f"cleaner {getattr(step, '__name__', step)!r} returned "
                                f"{type(result).__name__}, expected Document or a reason string")
    return problems
