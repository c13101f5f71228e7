from .plugin import DOMAIN

__all__ = ["DOMAIN"]
