"""Hallmark crypto layer (see DESIGN.md, Architecture)."""
