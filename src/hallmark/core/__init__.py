"""Hallmark core layer (see DESIGN.md, Architecture)."""
