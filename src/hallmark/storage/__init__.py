"""Hallmark storage layer (see DESIGN.md, Architecture)."""
