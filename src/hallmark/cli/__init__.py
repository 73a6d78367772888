"""Hallmark cli layer (see DESIGN.md, Architecture)."""
