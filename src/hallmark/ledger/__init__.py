"""Hallmark ledger layer (see DESIGN.md, Architecture)."""
