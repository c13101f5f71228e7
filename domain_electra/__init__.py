"""domain-electra: adapt ELECTRA encoders to specialised text (code, legal, medical, finance)."""
from pathlib import Path as _Path

__version__ = "0.1.0"

# The built-in plugins live in the top-level `domains/` folder and install as `domain_electra.domains`
# (pyproject's package-dir). When Python imports this package straight from a source checkout (e.g.
# `python -m ...` run in the repository root), that mapping is bypassed; letting the checkout root be
# searched too makes `domain_electra.domains` resolve to the same files. A wheel install has no sibling
# `domains/` folder, so this does nothing there.
_checkout_domains = _Path(__file__).resolve().parent.parent / "domains" / "__init__.py"
if _checkout_domains.is_file() and not (_Path(__file__).resolve().parent / "domains").exists():
    __path__.append(str(_checkout_domains.parent.parent))  # type: ignore[name-defined]
