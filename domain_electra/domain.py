"""The Domain contract: what a domain plugin declares, as frozen dataclasses (no base classes).

A plugin is any importable object named ``DOMAIN`` holding a :class:`Domain`. The built-in domains in
``domains/`` are written exactly like a third-party plugin and registered through the same entry-point
group (``domain_electra.domains``), so there is one discovery path for everyone.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence, Union


@dataclass(frozen=True)
class Document:
    """One unit of corpus text flowing through the cleaning steps."""

    text: str
    source: str
    language: str = ""  # natural language (ISO 639-1) or programming language ("python", "java", ...)
    meta: Mapping[str, Any] = field(default_factory=dict)

    def with_text(self, text: str) -> "Document":
        return replace(self, text=text)


# A corpus step keeps a document (possibly edited) or drops it by returning the drop reason, a short
# snake_case string that is counted in stats.json ("too_short", "minified", ...).
Step = Callable[[Document], Union[Document, str]]

# A domain's cleaners are built from the user's options (the corpus recipe's `cleaner_options`), so
# that a plugin can expose switches such as `strip_licence_headers` without a class hierarchy.
CleanerFactory = Callable[[Mapping[str, Any]], Sequence[Step]]


@dataclass(frozen=True)
class TokenizerRecipe:
    """How to build this domain's tokenizer."""

    model: str = "wordpiece"  # "wordpiece" | "unigram"
    vocab_size: int = 16_000
    lowercase: bool = False
    pretokenizer: str = "bert"  # "bert" (whitespace + punctuation) | "code" (tree-sitter)
    special_tokens: tuple[str, ...] = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
    extra_tokens: tuple[str, ...] = ()  # domain tokens that must stay whole (e.g. "[NL]", "[DATE]")
    extension: str = "train"  # "train": a new vocabulary | "extend": add tokens to the base checkpoint's
    max_new_tokens: int = 2_000  # for "extend": K, chosen by fragmentation gain


@dataclass(frozen=True)
class MaskingPolicy:
    """How pretraining chooses the positions the generator must fill in."""

    mask_rate: float = 0.15
    whole_word: bool = True
    spans: str = "none"  # "none" | "ast": mask whole tree-sitter spans (identifiers, literals, ...)
    max_span_tokens: int = 8


@dataclass(frozen=True)
class TaskData:
    """A loaded eval task. Examples are plain dicts whose keys depend on the task kind.

    kind "classification"/"multilabel": {"text", "label"} (label: int, or list[int] for multilabel)
    kind "pair": {"text", "text_pair", "label"}
    kind "token": {"tokens": list[str], "tags": list[str]} (BIO tags)
    kind "retrieval": {"query", "document"} (the document is the query's single relevant item)
    kind "regression": {"text", "label": float} (+ "text_pair" for scored pairs, e.g. sentence similarity)
    kind "cloze": {"text" (with the mask marker "<mask>"), "answer", "choices": list[str]}
    """

    train: Sequence[dict]
    dev: Sequence[dict]
    test: Mapping[str, Sequence[dict]]  # language (or programming language) -> examples
    labels: tuple[str, ...] = ()
    license: str = ""
    citation: str = ""
    # retrieval: per test language, extra candidate documents (a separate corpus). A query is ranked against
    # every distinct document of its test split plus these, deduplicated by text; --limit never shrinks it.
    candidates: Mapping[str, Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class EvalTask:
    """One benchmark task of a domain. `load(data_dir, **options)` parses the original files."""

    name: str
    kind: str  # "classification" | "multilabel" | "pair" | "token" | "retrieval" | "regression" | "cloze"
    description: str
    load: Callable[..., TaskData]
    metric: str = "accuracy"
    train_language: str = "en"
    test_languages: tuple[str, ...] = ("en",)
    data_subdir: str = ""  # where its files live under --data-dir (for the "missing data" message)
    source_url: str = ""  # where a user gets the data set when it is missing
    sanity_check: bool = False  # a task every sensible model aces: reported as a check, not a comparison


@dataclass(frozen=True)
class Domain:
    """A domain plugin."""

    name: str
    description: str
    languages: tuple[str, ...]
    cleaners: CleanerFactory
    tokenizer: TokenizerRecipe
    masking: MaskingPolicy
    eval_tasks: tuple[EvalTask, ...]
    examples: tuple[str, ...]
    file_extensions: tuple[str, ...] = (".txt", ".md")  # what the corpus reader picks up in a folder

    def task(self, name: str) -> EvalTask:
        for task in self.eval_tasks:
            if task.name == name:
                return task
        names = ", ".join(t.name for t in self.eval_tasks) or "none"
        raise KeyError(f"domain '{self.name}' has no eval task '{name}'; available: {names}")


def data_path(data_dir: str | Path | None, subdir: str) -> Path:
    """Resolve a data set folder: --data-dir, else $DOMAIN_ELECTRA_DATA, else ../shared/data."""
    import os

    base = data_dir or os.environ.get("DOMAIN_ELECTRA_DATA") or "../shared/data"
    return Path(base).expanduser() / subdir
