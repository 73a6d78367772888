"""Hallmark: prove and check that creative work was made by a human."""

__version__ = "0.1.0"
