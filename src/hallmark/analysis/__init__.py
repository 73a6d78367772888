"""Automated analysis of works: detectors and their findings (DESIGN.md, "Evidence"; issue #4)."""
