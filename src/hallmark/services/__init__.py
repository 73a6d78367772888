"""Hallmark services layer (see DESIGN.md, Architecture)."""
