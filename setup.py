"""Builds the one C extension, domain_electra/tokenization/_fastcode.c (the code pre-tokenizer's parsed
path), against tree-sitter's runtime. Everything else is in pyproject.toml.

The runtime's C sources are not in this repository: they come from the tree-sitter sdist on PyPI
(`pip download`, cached under build/), or, offline, from $DOMAIN_ELECTRA_TREE_SITTER_SRC (a tree-sitter
sdist .tar.gz, or a folder that holds lib/src/lib.c). When neither works, or there is no C compiler,
the package installs without the extension and the pure-Python path is used: same output, about half
the speed. `python -c "from domain_electra.tokenization import code_pretokenizer as c; print(c._fastcode)"`
shows which one you have.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# 0.26 reads grammar ABI 13-15, which covers the grammar wheels pinned in pyproject.toml.
TREE_SITTER_RUNTIME = "0.26.1"
ROOT = Path(__file__).resolve().parent
CACHE = ROOT / "build" / f"tree-sitter-runtime-{TREE_SITTER_RUNTIME}"


def _warn(message: str) -> None:
    print(f"domain-electra setup: {message}", file=sys.stderr)


def _unpack_runtime(sdist: Path) -> None:
    """Copy tree_sitter/core/lib out of a tree-sitter sdist into CACHE."""
    with tarfile.open(sdist) as archive, tempfile.TemporaryDirectory() as tmp:
        members = [m for m in archive.getmembers() if "/tree_sitter/core/lib/" in m.name and m.isfile()]
        try:
            archive.extractall(tmp, members=members, filter="data")
        except TypeError:  # Python < 3.11.4 has no extraction filters; the members are plain files
            archive.extractall(tmp, members=members)
        lib = next(Path(tmp).glob("*/tree_sitter/core/lib"))
        shutil.copytree(lib, CACHE / "lib", dirs_exist_ok=True)


def tree_sitter_runtime() -> Path | None:
    """CACHE, holding tree-sitter's lib/include and lib/src, or None (then no extension is built)."""
    if (CACHE / "lib" / "src" / "lib.c").is_file():
        return CACHE
    given = os.environ.get("DOMAIN_ELECTRA_TREE_SITTER_SRC")
    try:
        if given and Path(given, "lib", "src", "lib.c").is_file():
            shutil.copytree(Path(given, "lib"), CACHE / "lib", dirs_exist_ok=True)
        elif given:
            _unpack_runtime(Path(given))
        else:
            with tempfile.TemporaryDirectory() as tmp:
                subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary",
                                ":all:", f"tree-sitter=={TREE_SITTER_RUNTIME}", "--dest", tmp],
                               check=True, capture_output=True, timeout=300)
                _unpack_runtime(next(Path(tmp).glob("tree_sitter-*.tar.gz")))
        return CACHE
    except Exception as error:  # noqa: BLE001 - any failure means: install the pure-Python path
        _warn(f"tree-sitter runtime sources unavailable ({type(error).__name__}: {error}); installing "
              "without the C pre-tokenizer (set DOMAIN_ELECTRA_TREE_SITTER_SRC to a tree-sitter sdist to build it)")
        return None


class OptionalBuildExt(build_ext):
    """Fetches the runtime only when compiling (not for metadata or an sdist, which therefore never
    contains tree-sitter's sources); a failure is a warning, not a failed install: the Python path does
    the same work."""

    def build_extension(self, ext: Extension) -> None:
        runtime = tree_sitter_runtime()
        if runtime is None:
            return
        lib = runtime / "lib"
        ext.sources = [*ext.sources, os.path.relpath(lib / "src" / "lib.c", ROOT)]
        ext.include_dirs = [*ext.include_dirs, str(lib / "include"), str(lib / "src")]
        if self.compiler.compiler_type != "msvc":
            ext.extra_compile_args = ["-std=c11", "-fvisibility=hidden"]
        try:
            super().build_extension(ext)
        except Exception as error:  # noqa: BLE001
            _warn(f"could not compile {ext.name} ({error}); the pure-Python pre-tokenizer will be used")


setup(
    ext_modules=[Extension("domain_electra.tokenization._fastcode", sources=["domain_electra/tokenization/_fastcode.c"],
                           define_macros=[("_DEFAULT_SOURCE", None)])],
    cmdclass={"build_ext": OptionalBuildExt},
)
