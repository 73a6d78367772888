"""Hallmark web layer (see DESIGN.md, Architecture)."""
