"""Hallmark plugins layer (see DESIGN.md, Architecture)."""
