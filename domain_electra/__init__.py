"""domain-electra: adapt ELECTRA encoders to specialised text."""
__version__ = "0.1.0"
