"""Retour: open-source returns management for online shops."""

__version__ = "0.1.0"
