"""Tasks built from the local Python standard library (no download: every Python install has it).

docstring -> function retrieval: the query is a function's docstring summary, the document is the
function's source with the docstring removed (or the answer would be in the document verbatim).
Splits are assigned per top-level module (a package with its submodules counts as one), by a hash of
its name, so no module is in two splits and the split is the same on every machine with this Python.
"""
from __future__ import annotations

import ast
import functools
import hashlib
import re
import sysconfig
import textwrap
from pathlib import Path

from ..domain import TaskData
from ..errors import UserError

LICENSE = "Python Software Foundation License (PSF-2.0), the local standard library's source"
SKIP_PARTS = {"test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__", "lib2to3",
              "turtledemo", "ensurepip", "pydoc_data", "encodings"}
MIN_QUERY_WORDS = 4
MAX_QUERY_WORDS = 64


def stdlib_dir() -> Path:
    path = Path(sysconfig.get_paths()["stdlib"])
    if not (path / "os.py").is_file():
        raise UserError(f"the Python standard library source is not at {path} (a Python without .py sources?)")
    return path


def split_of(module: str, dev_share: int = 10, test_share: int = 20) -> str:
    """train / dev / test from a stable hash of the top-level module name (percent shares)."""
    bucket = int(hashlib.sha1(module.encode()).hexdigest(), 16) % 100
    return "test" if bucket < test_share else "dev" if bucket < test_share + dev_share else "train"


def _summary(doc: str) -> str:
    first = doc.strip().split("\n\n")[0]  # the summary paragraph; the rest is argument details
    words = " ".join(first.split()).split(" ")
    return " ".join(words[:MAX_QUERY_WORDS])


def _without_docstring(source_lines: list[str], node: ast.AST) -> str:
    doc = node.body[0]
    lines = source_lines[node.lineno - 1:node.end_lineno]
    start, end = doc.lineno - node.lineno, doc.end_lineno - node.lineno
    kept = lines[:start] + lines[end + 1:]
    return textwrap.dedent("\n".join(kept)).strip()


def _functions(path: Path) -> list[tuple[str, str, str]]:
    """(qualified name, docstring summary, source without docstring) for each documented function."""
    try:
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
    except (UnicodeDecodeError, SyntaxError, ValueError):
        return []  # a few stdlib files are deliberately invalid (test fixtures); skip them
    lines = text.splitlines()
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or node.name.startswith("test"):
            continue
        doc = ast.get_docstring(node)
        if not doc or len(node.body) < 2:
            continue  # a function that is only a docstring has nothing to retrieve
        query = _summary(doc)
        code = _without_docstring(lines, node)
        if len(query.split()) >= MIN_QUERY_WORDS and code:
            out.append((node.name, query, code))
    return out


@functools.lru_cache(maxsize=2)
def _collect(root: str) -> dict[str, list[dict]]:
    base = Path(root)
    splits: dict[str, list[dict]] = {"train": [], "dev": [], "test": []}
    seen: set[str] = set()
    for path in sorted(base.rglob("*.py")):
        rel = path.relative_to(base)
        if SKIP_PARTS.intersection(rel.parts) or rel.name.startswith("test_"):
            continue
        module = rel.parts[0].removesuffix(".py")
        split = split_of(module)
        for name, query, code in _functions(path):
            if query in seen:  # overridden methods repeat docstrings; keep the first, in every split
                continue
            seen.add(query)
            splits[split].append({"query": query, "document": code, "module": module,
                                  "id": f"{'.'.join(rel.with_suffix('').parts)}.{name}"})
    return splits


def load_docstring_retrieval(data_dir=None, stdlib: str | None = None) -> TaskData:
    """Docstring -> function retrieval from the standard library at `stdlib` (default: this Python's)."""
    root = Path(stdlib) if stdlib else stdlib_dir()
    splits = _collect(str(root))
    return TaskData(train=splits["train"], dev=splits["dev"], test={"python": splits["test"]},
                    license=LICENSE, citation="Python standard library, " + root.name)


MAXMIN_CALL = re.compile(r"\b(max|min)\(")


@functools.lru_cache(maxsize=2)
def _maxmin(root: str) -> tuple[dict, ...]:
    rows = []
    for split in ("train", "dev", "test"):
        for row in _collect(root)[split]:
            code = row["document"]
            match = MAXMIN_CALL.search(code)
            if match is None:
                continue
            masked = code[:match.start()] + "<mask>" + code[match.end(1):]
            rows.append({"text": row["query"] + "\n" + masked, "answer": match.group(1), "choices": ["max", "min"],
                         "id": row["id"]})
    return tuple(rows)


def load_stdlib_cloze_maxmin(data_dir=None, stdlib: str | None = None) -> TaskData:
    """ClozeTest-maxmin built the CodeXGLUE way from the stdlib: the first max/min call is masked."""
    root = Path(stdlib) if stdlib else stdlib_dir()
    return TaskData(train=[], dev=[], test={"python": list(_maxmin(str(root)))}, labels=("max", "min"),
                    license=LICENSE)
