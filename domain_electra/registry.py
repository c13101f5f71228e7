"""Domain discovery, one code path for every plugin.

`get_domain(x)`: if `x` is a filesystem path, load the plugin from it; otherwise look `x` up in the entry
point group `domain_electra.domains` (where the four built-ins register too); otherwise fail with the
list of names that exist.
"""
from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from .domain import Domain
from .errors import UserError

ENTRY_POINT_GROUP = "domain_electra.domains"
BUILTIN_MODULE_PREFIX = "domain_electra.domains."


@dataclass(frozen=True)
class DiscoveredDomain:
    domain: Domain
    source: str  # "built-in" | "entry point (<distribution>)" | "path"
    origin: str  # the entry point value or the path


def _entry_points() -> list[metadata.EntryPoint]:
    return list(metadata.entry_points(group=ENTRY_POINT_GROUP))


def _source_of(ep: metadata.EntryPoint) -> str:
    if ep.value.startswith(BUILTIN_MODULE_PREFIX):
        return "built-in"
    dist = getattr(ep, "dist", None)
    return f"entry point ({dist.name})" if dist is not None else "entry point"


def _check(obj: object, where: str) -> Domain:
    if not isinstance(obj, Domain):
        raise UserError(f"{where} does not define a Domain (expected `DOMAIN = Domain(...)`, got {type(obj).__name__})")
    return obj


def _looks_like_path(name: str) -> bool:
    return "/" in name or "\\" in name or name.endswith(".py") or name.startswith(".") or Path(name).exists()


def load_domain_from_path(path: str | Path) -> Domain:
    """Load `DOMAIN` from a plugin file, a plugin package folder, or a scaffolded project folder."""
    path = Path(path).expanduser().resolve()
    if not path.exists():
        raise UserError(f"domain path not found: {path} (give a plugin file, package folder, or a registered name)")
    if path.is_dir() and not (path / "__init__.py").is_file():
        # A scaffolded project folder (pyproject.toml + one package inside): use that package.
        packages = [p for p in sorted(path.iterdir()) if (p / "__init__.py").is_file() and p.name != "tests"]
        if len(packages) != 1:
            raise UserError(f"{path} is not a plugin package: expected an __init__.py there or exactly one "
                            f"package folder inside it (found {len(packages)})")
        path = packages[0]
    init = path / "__init__.py" if path.is_dir() else path
    module_name = f"_domain_electra_plugin_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(
        module_name, init, submodule_search_locations=[str(path)] if path.is_dir() else None)
    if spec is None or spec.loader is None:
        raise UserError(f"cannot import a plugin from {path} (expected a .py file or a package folder)")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # relative imports inside the plugin package need this
    try:
        spec.loader.exec_module(module)
    except UserError:
        raise
    except Exception as exc:  # a broken third-party plugin: say where, not a traceback
        sys.modules.pop(module_name, None)
        raise UserError(f"importing the domain plugin at {path} failed: {type(exc).__name__}: {exc}") from exc
    return _check(getattr(module, "DOMAIN", None), f"plugin {path}")


def _load_entry_point(ep: metadata.EntryPoint) -> DiscoveredDomain:
    try:
        domain = _check(ep.load(), f"entry point {ep.name} = {ep.value}")
    except UserError:
        raise
    except Exception as exc:  # a broken installed plugin: name it, not a traceback
        raise UserError(f"the domain plugin '{ep.name}' ({ep.value}) failed to import: "
                        f"{type(exc).__name__}: {exc} (reinstall or uninstall that plugin)") from exc
    return DiscoveredDomain(domain, _source_of(ep), ep.value)


def discover(broken: list[str] | None = None) -> list[DiscoveredDomain]:
    """Every domain registered in the entry point group, built-ins first, sorted by name.

    A plugin that fails to import raises, unless a `broken` list is given: then its one-line error is
    appended there and the others are still returned (so `domains list` works beside a broken plugin)."""
    found: dict[str, DiscoveredDomain] = {}
    for ep in _entry_points():
        if ep.name in found:
            continue
        try:
            found[ep.name] = _load_entry_point(ep)
        except UserError as exc:
            if broken is None:
                raise
            broken.append(str(exc))
    return sorted(found.values(), key=lambda d: (d.source != "built-in", d.domain.name))


def available_names() -> list[str]:
    return sorted(ep.name for ep in _entry_points())


def find_domain(name_or_path: str | Path) -> DiscoveredDomain:
    text = str(name_or_path)
    if _looks_like_path(text):
        return DiscoveredDomain(load_domain_from_path(text), "path", str(Path(text).resolve()))
    for ep in _entry_points():
        if ep.name == text:
            return _load_entry_point(ep)
    names = ", ".join(available_names()) or "none (is domain-electra installed with `pip install -e .`?)"
    raise UserError(f"unknown domain '{text}'; available: {names} (or pass a path to a plugin folder)")


def get_domain(name_or_path: str | Path | Domain) -> Domain:
    """The Domain for a registered name or a plugin path (a Domain passes through)."""
    if isinstance(name_or_path, Domain):
        return name_or_path
    return find_domain(name_or_path).domain
